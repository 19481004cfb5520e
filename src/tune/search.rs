//! The search: which configurations to measure, in what order, and when to stop.
//!
//! [`neighbourhood`] builds a [`SearchSpace`] around the plan's settings: a handful of
//! alternatives per knob, ordered by how unsure the speed model is about that knob
//! (threads and expert offload first, batch sizes and load mode last) — never the whole
//! grid. [`coordinate_descent`] starts from the plan, tries each knob's alternatives with
//! the others held at the incumbent, moves only on a gain larger than the noise, and
//! repeats until a full pass changes nothing (settled) or the time budget is spent.
//! [`exhaustive`] measures every valid combination of the same space, for benchmarks.
//! Both are deterministic given the runner's answers: time is the runners' reported
//! elapsed time, never the clock.

use crate::tune::bench::{BenchRunner, RunOutcome, RunResult};
use crate::tune::config::{BenchConfig, LoadMode};
use std::fmt;
use std::time::Duration;

/// One alternative value of one knob.
#[derive(Clone, Debug, PartialEq)]
pub enum KnobValue {
    Threads(u32),
    /// Physical batch size; the logical batch is raised to at least this.
    Ubatch(u32),
    NCpuMoe(u32),
    /// K and V cache types together.
    KvTypes(String, String),
    FlashAttn(bool),
    Load(LoadMode),
    SplitMode(String),
}

impl KnobValue {
    pub fn apply(&self, base: &BenchConfig) -> BenchConfig {
        let mut c = base.clone();
        match self {
            KnobValue::Threads(t) => c.threads = *t,
            KnobValue::Ubatch(u) => {
                c.ubatch = *u;
                c.batch = c.batch.max(*u);
            }
            KnobValue::NCpuMoe(n) => {
                c.n_cpu_moe = *n;
                // One expert-placement mechanism at a time: `--n-cpu-moe` replaces a
                // plan's per-GPU `-ot` patterns rather than stacking on them.
                if *n > 0 {
                    c.override_tensors.clear();
                }
            }
            KnobValue::KvTypes(k, v) => {
                c.cache_type_k = k.clone();
                c.cache_type_v = v.clone();
            }
            KnobValue::FlashAttn(on) => c.flash_attn = *on,
            KnobValue::Load(m) => c.load_mode = *m,
            KnobValue::SplitMode(m) => c.split_mode = m.clone(),
        }
        // Turning flash attention off under a quantized V cache (or quantizing V with it
        // off) lands on the nearest valid configuration rather than a refused one.
        c.repaired()
    }
}

/// A knob and the values worth trying for it, the plan's own value included.
#[derive(Clone, Debug, PartialEq)]
pub struct Dimension {
    pub name: &'static str,
    pub values: Vec<KnobValue>,
}

/// The plan's configuration and the knobs around it, most uncertain first.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpace {
    pub base: BenchConfig,
    pub dimensions: Vec<Dimension>,
}

impl SearchSpace {
    /// Every valid combination of the dimensions' values (the exhaustive grid), deduplicated,
    /// in a fixed order with the base first.
    pub fn grid(&self) -> Vec<BenchConfig> {
        let mut out: Vec<BenchConfig> = vec![self.base.clone()];
        let mut frontier = vec![self.base.clone()];
        for dim in &self.dimensions {
            let mut next = Vec::with_capacity(frontier.len() * dim.values.len());
            for c in &frontier {
                for v in &dim.values {
                    next.push(v.apply(c));
                }
            }
            frontier = next;
        }
        for c in frontier {
            if c.is_valid() && !out.contains(&c) {
                out.push(c);
            }
        }
        if !self.base.is_valid() {
            out.remove(0);
        }
        out
    }
}

/// What the neighbourhood needs to know about the machine and model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NeighbourhoodFacts {
    pub physical_cores: u32,
    pub logical_threads: u32,
    /// Blocks holding routed experts (0 for dense models).
    pub moe_layers: u32,
    /// GPUs in use by the plan.
    pub gpus: u32,
    /// `--mlock` can pin the model (RLIMIT_MEMLOCK unlimited or large enough).
    pub mlock_possible: bool,
}

fn push_unique(values: &mut Vec<KnobValue>, v: KnobValue) {
    if !values.contains(&v) {
        values.push(v);
    }
}

/// The knobs worth measuring around `base`, most uncertain first. Uncertainty ranking:
/// threads (a seed measured 16 threads 8x slower than 8 on a memory-bound decode — no
/// formula predicts the knee), expert offload (PCIe and RAM contention), KV type and flash
/// attention (kernel quality differs per CPU/GPU), split mode, then ubatch and load mode
/// (mostly prompt processing and start-up).
pub fn neighbourhood(base: &BenchConfig, facts: &NeighbourhoodFacts) -> SearchSpace {
    let mut dims = Vec::new();

    let cores = facts.physical_cores.max(1);
    let max_threads = facts.logical_threads.max(cores);
    let mut threads = vec![KnobValue::Threads(base.threads)];
    for t in [cores, cores / 2, cores.saturating_sub(1), cores + cores / 2] {
        if (1..=max_threads).contains(&t) {
            push_unique(&mut threads, KnobValue::Threads(t));
        }
    }
    dims.push(Dimension {
        name: "threads",
        values: threads,
    });

    if facts.moe_layers > 0 && facts.gpus > 0 {
        // ±k and ±2k layers of experts, k about 1/16 of the MoE blocks (at least one).
        let k = (facts.moe_layers / 16).max(1);
        let mut v = vec![KnobValue::NCpuMoe(base.n_cpu_moe)];
        // A plan with per-GPU `-ot` patterns: the `--n-cpu-moe` alternatives start at the
        // number of blocks those patterns move (all taken from the first blocks instead).
        let moved: u32 = base
            .override_tensors
            .iter()
            .map(|o| crate::planner::expert_overrides::blocks_in(o).len() as u32)
            .sum();
        let (centre, deltas) = if moved > 0 {
            (moved, [0, k as i64, 2 * k as i64, 3 * k as i64])
        } else {
            (
                base.n_cpu_moe,
                [-(k as i64), k as i64, -2 * k as i64, 2 * k as i64],
            )
        };
        for delta in deltas {
            let n = centre as i64 + delta;
            if (0..=facts.moe_layers as i64).contains(&n) {
                push_unique(&mut v, KnobValue::NCpuMoe(n as u32));
            }
        }
        dims.push(Dimension {
            name: "n_cpu_moe",
            values: v,
        });
    }

    let mut kv = vec![KnobValue::KvTypes(
        base.cache_type_k.clone(),
        base.cache_type_v.clone(),
    )];
    for t in ["f16", "q8_0"] {
        push_unique(&mut kv, KnobValue::KvTypes(t.into(), t.into()));
    }
    dims.push(Dimension {
        name: "kv_type",
        values: kv,
    });

    dims.push(Dimension {
        name: "flash_attn",
        values: vec![
            KnobValue::FlashAttn(base.flash_attn),
            KnobValue::FlashAttn(!base.flash_attn),
        ],
    });

    if facts.gpus >= 2 {
        let mut v = vec![KnobValue::SplitMode(base.split_mode.clone())];
        for m in ["layer", "row"] {
            push_unique(&mut v, KnobValue::SplitMode(m.into()));
        }
        dims.push(Dimension {
            name: "split_mode",
            values: v,
        });
    }

    let mut ub = vec![KnobValue::Ubatch(base.ubatch)];
    for u in [base.ubatch / 2, base.ubatch.saturating_mul(2)] {
        // llama.cpp's useful range: below 32 the matmul kernels fall back to vector paths;
        // above 4096 compute buffers grow without gain (common/arg.cpp default 512).
        if (32..=4096).contains(&u) {
            push_unique(&mut ub, KnobValue::Ubatch(u));
        }
    }
    dims.push(Dimension {
        name: "ubatch",
        values: ub,
    });

    let mut lm = vec![KnobValue::Load(base.load_mode)];
    push_unique(&mut lm, KnobValue::Load(LoadMode::Mmap));
    push_unique(&mut lm, KnobValue::Load(LoadMode::Read));
    if facts.mlock_possible {
        push_unique(&mut lm, KnobValue::Load(LoadMode::MmapMlock));
    }
    dims.push(Dimension {
        name: "load_mode",
        values: lm,
    });

    SearchSpace {
        base: base.clone(),
        dimensions: dims.into_iter().filter(|d| d.values.len() > 1).collect(),
    }
}

/// One measured configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    pub config: BenchConfig,
    pub outcome: RunOutcome,
}

impl Trial {
    pub fn tg(&self) -> Option<f64> {
        self.outcome.measurement().map(|m| m.tg.mean.0)
    }
}

/// Why a search stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// A full pass over the knobs changed nothing.
    Settled,
    /// The next run would not fit in the time budget.
    Budget,
    /// The pass limit was reached.
    PassLimit,
    /// Every configuration of an exhaustive sweep was measured.
    Exhausted,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::Settled => "settled: a full pass found nothing faster",
            StopReason::Budget => "time budget spent",
            StopReason::PassLimit => "pass limit reached",
            StopReason::Exhausted => "every configuration measured",
        })
    }
}

/// How long and how carefully to search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchOptions {
    pub budget: Duration,
    pub max_passes: u32,
    /// A move needs at least this relative tg gain (and more than the runs' noise).
    pub min_relative_gain: f64,
}

impl Default for SearchOptions {
    fn default() -> SearchOptions {
        SearchOptions {
            budget: Duration::from_secs(300),
            max_passes: 3,
            // 1%: below what two repetitions of a short llama-bench run resolve on a
            // quiet machine (measured stddev 0.5-2% on the 2-core dev box, docs/tune.md).
            min_relative_gain: 0.01,
        }
    }
}

/// The measurements and the winner.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    /// Every run in the order measured; the plan's configuration is first.
    pub trials: Vec<Trial>,
    /// Index into `trials` of the best configuration, if any run succeeded.
    pub best: Option<usize>,
    pub stopped: StopReason,
    /// Wall time the runs took (sum of their elapsed times).
    pub spent: Duration,
}

impl SearchResult {
    pub fn best_trial(&self) -> Option<&Trial> {
        self.best.and_then(|i| self.trials.get(i))
    }

    pub fn plan_trial(&self) -> Option<&Trial> {
        self.trials.first()
    }

    pub fn failed(&self) -> usize {
        self.trials.iter().filter(|t| t.tg().is_none()).count()
    }
}

/// Progress after each run, for bars and plain lines.
#[derive(Clone, Debug)]
pub struct Progress<'a> {
    pub trial: &'a Trial,
    pub runs_done: usize,
    pub spent: Duration,
    pub budget: Duration,
    /// Upper bound on runs still to come (for an ETA).
    pub runs_left_estimate: usize,
}

/// Is `cand` better than `inc`? Generation speed decides: tg higher by more than the
/// noise (sum of the stddevs) and more than `min_gain` of the incumbent. Knobs that only
/// move prompt processing (ubatch, load mode) are settled by pp instead: a candidate whose
/// tg is not lower and whose pp is higher by more than the noise and [`PP_MIN_GAIN`] wins.
fn clearly_better(cand: &Trial, inc: Option<&Trial>, min_gain: f64) -> bool {
    let Some(c) = cand.outcome.measurement() else {
        return false;
    };
    let Some(i) = inc.and_then(|t| t.outcome.measurement()) else {
        return true;
    };
    let threshold = (i.tg.mean.0 * min_gain).max(c.tg.stddev + i.tg.stddev);
    if c.tg.mean.0 > i.tg.mean.0 + threshold {
        return true;
    }
    let pp_threshold = (i.pp.mean.0 * PP_MIN_GAIN).max(c.pp.stddev + i.pp.stddev);
    c.tg.mean.0 >= i.tg.mean.0 && c.pp.mean.0 > i.pp.mean.0 + pp_threshold
}

/// Relative pp gain needed to move on a knob that leaves tg unchanged (5%: well above the
/// 1-3% pp spread of repeated short runs measured on the dev box, docs/tune.md).
const PP_MIN_GAIN: f64 = 0.05;

struct Measurer<'r, 'o> {
    runner: &'r mut dyn BenchRunner,
    trials: Vec<Trial>,
    spent: Duration,
    budget: Duration,
    on_progress: &'o mut dyn FnMut(&Progress),
}

impl Measurer<'_, '_> {
    fn index_of(&self, c: &BenchConfig) -> Option<usize> {
        self.trials.iter().position(|t| &t.config == c)
    }

    /// Would one more run (at the mean cost so far) exceed the budget?
    fn out_of_budget(&self) -> bool {
        if self.trials.is_empty() {
            return false;
        }
        let mean = self.spent / self.trials.len() as u32;
        self.spent + mean > self.budget
    }

    /// The trial for `c`, measuring it if new. None when the budget forbids a new run.
    fn measure(&mut self, c: &BenchConfig, runs_left: usize) -> Option<usize> {
        if let Some(i) = self.index_of(c) {
            return Some(i);
        }
        if self.out_of_budget() {
            return None;
        }
        let outcome = self.runner.run(c);
        self.spent += outcome.elapsed;
        self.trials.push(Trial {
            config: c.clone(),
            outcome,
        });
        let i = self.trials.len() - 1;
        (self.on_progress)(&Progress {
            trial: &self.trials[i],
            runs_done: self.trials.len(),
            spent: self.spent,
            budget: self.budget,
            runs_left_estimate: runs_left,
        });
        Some(i)
    }
}

/// Coordinate descent from the plan's configuration (see the module doc). Knobs are
/// visited in a cycle; the search is settled once every knob has been visited since the
/// last move without another move, so a move costs one more round of the other knobs,
/// not a whole new pass.
pub fn coordinate_descent(
    space: &SearchSpace,
    runner: &mut dyn BenchRunner,
    opts: &SearchOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> SearchResult {
    let mut m = Measurer {
        runner,
        trials: Vec::new(),
        spent: Duration::ZERO,
        budget: opts.budget,
        on_progress,
    };
    let n_dims = space.dimensions.len();
    let alternatives = |from: usize, count: usize| -> usize {
        (0..count)
            .map(|k| space.dimensions[(from + k) % n_dims].values.len() - 1)
            .sum()
    };
    let mut incumbent = m.measure(&space.base, alternatives(0, n_dims));
    let mut current = space.base.clone();
    let mut stopped = StopReason::Settled;
    // Consecutive knobs visited without a move; settled when it reaches n_dims.
    let mut unchanged = 0usize;
    let max_visits = n_dims * opts.max_passes.max(1) as usize;
    let mut visit = 0usize;
    while unchanged < n_dims {
        if visit >= max_visits {
            stopped = StopReason::PassLimit;
            break;
        }
        let d = visit % n_dims;
        visit += 1;
        let dim = &space.dimensions[d];
        let mut dim_best = incumbent;
        for value in &dim.values {
            let cand = value.apply(&current);
            if !cand.is_valid() || cand == current {
                continue;
            }
            let Some(i) = m.measure(&cand, alternatives(d, n_dims - unchanged)) else {
                stopped = StopReason::Budget;
                break;
            };
            let better = match dim_best {
                Some(b) => clearly_better(&m.trials[i], Some(&m.trials[b]), 0.0),
                None => m.trials[i].tg().is_some(),
            };
            if better {
                dim_best = Some(i);
            }
        }
        let moved = match dim_best {
            Some(b) if Some(b) != incumbent => clearly_better(
                &m.trials[b],
                incumbent.map(|i| &m.trials[i]),
                opts.min_relative_gain,
            ),
            _ => false,
        };
        if moved {
            incumbent = dim_best;
            if let Some(b) = dim_best {
                current = m.trials[b].config.clone();
            }
            unchanged = 1;
        } else {
            unchanged += 1;
        }
        if stopped == StopReason::Budget {
            break;
        }
    }
    // The incumbent may be a failed plan run when nothing else succeeded before the end.
    let best = incumbent
        .filter(|&i| m.trials[i].tg().is_some())
        .or_else(|| best_by_tg(&m.trials));
    SearchResult {
        trials: m.trials,
        best,
        stopped,
        spent: m.spent,
    }
}

fn best_by_tg(trials: &[Trial]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, t) in trials.iter().enumerate() {
        if let Some(tg) = t.tg() {
            if best.is_none_or(|(_, b)| tg > b) {
                best = Some((i, tg));
            }
        }
    }
    best.map(|(i, _)| i)
}

/// Measures every valid combination of the space (the grid), the plan first. Best is the
/// highest measured tg. No budget: this is the benchmark's reference.
pub fn exhaustive(
    space: &SearchSpace,
    runner: &mut dyn BenchRunner,
    on_progress: &mut dyn FnMut(&Progress),
) -> SearchResult {
    let grid = space.grid();
    let mut m = Measurer {
        runner,
        trials: Vec::new(),
        spent: Duration::ZERO,
        budget: Duration::MAX,
        on_progress,
    };
    for (i, c) in grid.iter().enumerate() {
        m.measure(c, grid.len() - i - 1);
    }
    let best = best_by_tg(&m.trials);
    SearchResult {
        trials: m.trials,
        best,
        stopped: StopReason::Exhausted,
        spent: m.spent,
    }
}

/// Recorded outcomes of failed runs, for reports.
pub fn failure_of(t: &Trial) -> Option<&str> {
    match &t.outcome.result {
        RunResult::Failed { error, .. } => Some(error),
        RunResult::Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::bench::{Measurement, SpeedStat};
    use crate::tune::config::tests::cpu_settings;
    use crate::units::TokensPerSec;

    /// A fake machine: tg peaks at 8 threads and collapses above (the seed's trap), q8_0
    /// KV is 4% faster, flash attention 3% faster, ubatch and load mode only touch pp.
    /// Configurations with 12 threads crash (out of memory).
    struct Surface {
        calls: usize,
    }

    fn surface_tg(c: &BenchConfig) -> f64 {
        let t = c.threads as f64;
        let mut tg = if t <= 8.0 { 10.0 * t } else { 80.0 / (t - 7.0) };
        if c.cache_type_k == "q8_0" {
            tg *= 1.04;
        }
        if c.flash_attn {
            tg *= 1.03;
        }
        tg
    }

    impl BenchRunner for Surface {
        fn run(&mut self, c: &BenchConfig) -> RunOutcome {
            self.calls += 1;
            let result = if c.threads == 12 {
                RunResult::Failed {
                    error: "killed by SIGKILL (the out-of-memory killer?)".into(),
                    stderr_tail: vec!["oom".into()],
                }
            } else {
                RunResult::Ok(Measurement {
                    tg: SpeedStat {
                        mean: TokensPerSec(surface_tg(c)),
                        stddev: 0.1,
                    },
                    pp: SpeedStat {
                        mean: TokensPerSec(c.ubatch as f64),
                        stddev: 1.0,
                    },
                })
            };
            RunOutcome {
                result,
                elapsed: Duration::from_secs(2),
            }
        }
        fn engine_build(&self) -> String {
            "fake".into()
        }
    }

    fn facts() -> NeighbourhoodFacts {
        NeighbourhoodFacts {
            physical_cores: 8,
            logical_threads: 16,
            moe_layers: 0,
            gpus: 0,
            mlock_possible: false,
        }
    }

    fn base() -> BenchConfig {
        let mut c = BenchConfig::from_settings(&cpu_settings());
        c.threads = 16;
        c.flash_attn = false;
        c
    }

    #[test]
    fn neighbourhood_is_small_and_keeps_the_plan() {
        let s = neighbourhood(&base(), &facts());
        let names: Vec<_> = s.dimensions.iter().map(|d| d.name).collect();
        assert_eq!(
            names,
            ["threads", "kv_type", "flash_attn", "ubatch", "load_mode"]
        );
        let threads = &s.dimensions[0].values;
        assert_eq!(threads, &[16, 8, 4, 7, 12].map(KnobValue::Threads).to_vec());
        // 5 threads x {f16/f16 fa on, f16/f16 off, q8_0/q8_0 on, q8_0/f16 off} x 3 ub
        // x 2 load modes.
        assert_eq!(s.grid().len(), 120);
        assert_eq!(s.grid()[0], base());
    }

    #[test]
    fn moe_and_multi_gpu_add_knobs() {
        let mut f = facts();
        f.moe_layers = 40;
        f.gpus = 2;
        f.mlock_possible = true;
        let mut b = base();
        b.n_cpu_moe = 1;
        let s = neighbourhood(&b, &f);
        let moe = s.dimensions.iter().find(|d| d.name == "n_cpu_moe").unwrap();
        // k = 40/16 = 2: 1-2 < 0 is dropped.
        assert_eq!(moe.values, [1, 3, 5].map(KnobValue::NCpuMoe).to_vec());
        assert!(s.dimensions.iter().any(|d| d.name == "split_mode"));
        let lm = s.dimensions.iter().find(|d| d.name == "load_mode").unwrap();
        assert!(lm.values.contains(&KnobValue::Load(LoadMode::MmapMlock)));
    }

    /// A plan with per-GPU `-ot` patterns moving 11 blocks: the `--n-cpu-moe`
    /// alternatives start at 11 and replace the patterns instead of stacking on them.
    #[test]
    fn expert_overrides_are_replaced_not_stacked() {
        let mut f = facts();
        f.moe_layers = 40;
        f.gpus = 2;
        let mut b = base();
        b.override_tensors = vec![
            "^blk\\.(0|1|2|3|4|5|21|22|23|24)\\.ffn_(down|gate|up)_exps\\.=CPU".into(),
            "^blk\\.25\\.ffn_(down|gate|up)_exps\\.=CUDA0".into(),
        ];
        let s = neighbourhood(&b, &f);
        let moe = s.dimensions.iter().find(|d| d.name == "n_cpu_moe").unwrap();
        // k = 40/16 = 2: the plan (0, keeping -ot), then 11, 13, 15, 17.
        assert_eq!(
            moe.values,
            [0, 11, 13, 15, 17].map(KnobValue::NCpuMoe).to_vec()
        );
        assert_eq!(moe.values[0].apply(&b).override_tensors, b.override_tensors);
        let n = moe.values[1].apply(&b);
        assert_eq!((n.n_cpu_moe, n.override_tensors.len()), (11, 0));
    }

    #[test]
    fn descent_escapes_the_thread_trap_with_few_runs() {
        let s = neighbourhood(&base(), &facts());
        let mut fake = Surface { calls: 0 };
        let mut lines = Vec::new();
        let r = coordinate_descent(&s, &mut fake, &SearchOptions::default(), &mut |p| {
            lines.push(p.runs_done)
        });
        let best = r.best_trial().unwrap();
        assert_eq!(best.config.threads, 8);
        assert_eq!(best.config.cache_type_k, "q8_0");
        assert!(best.config.flash_attn);
        assert_eq!(r.stopped, StopReason::Settled);
        // The best of the whole grid, with far fewer runs than the grid.
        let grid_best = s.grid().iter().map(surface_tg).fold(0.0, f64::max);
        assert!((best.tg().unwrap() - grid_best).abs() < 1e-9);
        assert!(
            r.trials.len() * 3 <= s.grid().len(),
            "{} runs",
            r.trials.len()
        );
        // The 12-thread crash was recorded and did not stop anything.
        let twelve = r.trials.iter().filter(|t| t.config.threads == 12).count();
        assert!(twelve >= 1);
        assert_eq!(r.failed(), twelve);
        assert_eq!(lines.len(), r.trials.len());
        assert_eq!(fake.calls, r.trials.len());
    }

    #[test]
    fn descent_is_deterministic() {
        let s = neighbourhood(&base(), &facts());
        let a = coordinate_descent(
            &s,
            &mut Surface { calls: 0 },
            &SearchOptions::default(),
            &mut |_| {},
        );
        let b = coordinate_descent(
            &s,
            &mut Surface { calls: 0 },
            &SearchOptions::default(),
            &mut |_| {},
        );
        assert_eq!(a, b);
    }

    #[test]
    fn budget_stops_the_search() {
        let s = neighbourhood(&base(), &facts());
        let opts = SearchOptions {
            budget: Duration::from_secs(7),
            ..SearchOptions::default()
        };
        let r = coordinate_descent(&s, &mut Surface { calls: 0 }, &opts, &mut |_| {});
        // 2 s per run: runs at 0, 2, 4 fit; a fourth would end at 8 s > 7 s.
        assert_eq!(r.trials.len(), 3);
        assert_eq!(r.stopped, StopReason::Budget);
        assert_eq!(r.spent, Duration::from_secs(6));
    }

    #[test]
    fn exhaustive_measures_every_valid_configuration() {
        let s = neighbourhood(&base(), &facts());
        let mut fake = Surface { calls: 0 };
        let r = exhaustive(&s, &mut fake, &mut |_| {});
        assert_eq!(r.trials.len(), 120);
        assert_eq!(r.stopped, StopReason::Exhausted);
        assert_eq!(r.best_trial().unwrap().config.threads, 8);
        assert_eq!(r.failed(), 24);
    }

    #[test]
    fn noise_does_not_move_the_incumbent() {
        struct Flat;
        impl BenchRunner for Flat {
            fn run(&mut self, c: &BenchConfig) -> RunOutcome {
                // 0.5% differences with 1 tok/s noise: nothing is clearly better.
                let tg = 100.0 + 0.5 * c.threads as f64 / 16.0;
                RunOutcome {
                    result: RunResult::Ok(Measurement {
                        tg: SpeedStat {
                            mean: TokensPerSec(tg),
                            stddev: 1.0,
                        },
                        pp: SpeedStat {
                            mean: TokensPerSec(1.0),
                            stddev: 0.0,
                        },
                    }),
                    elapsed: Duration::from_secs(1),
                }
            }
            fn engine_build(&self) -> String {
                "flat".into()
            }
        }
        let mut b = base();
        b.threads = 8;
        let s = neighbourhood(&b, &facts());
        let r = coordinate_descent(&s, &mut Flat, &SearchOptions::default(), &mut |_| {});
        assert_eq!(r.best, Some(0));
        assert_eq!(r.stopped, StopReason::Settled);
    }
}
