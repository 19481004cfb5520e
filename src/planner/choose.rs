//! `plan`: the whole decision for one model on one machine, as a pure function.
//!
//! For each allowed KV cache type and ubatch it searches placements (`placement`),
//! keeps the fastest that fits, prefers the higher-quality cache unless a smaller one
//! buys a clearly faster placement or the requested context, and fills a [`Plan`] with
//! memory per device, predicted speed, one reason per setting, warnings and runners-up.
//! No files, no devices, no clock.

use super::expert_overrides;
use super::memory::weights::{layer_device, GpuSplit, Placement};
use super::memory::{self, MemoryConfig};
use super::placement::{self, Candidate, PlacementPins};
use super::request::{PlanRequest, SplitMode, UseCase};
use super::settings;
use super::Scorer;
use crate::engine::split_modes::{self, SplitContext};
use crate::engine::EngineKind;
use crate::gguf::GgmlType;
use crate::hardware::{GpuVendor, HardwareSnapshot};
use crate::model::ModelSpec;
use crate::perf::quality::{choose_quant, quant_quality, ChoiceRules, Preference, QuantCandidate};
use crate::perf::roofline;
use crate::plan::{
    Alternative, DeviceMemory, EngineRef, MemoryReport, ModelRef, Performance, Plan, Reason,
    Settings,
};
use crate::plan::{DeviceId, Unit};
use crate::units::Bytes;

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Well-formed but impossible on this hardware (exit 1); says by how much it misses.
    #[error("{0}")]
    Unsatisfiable(String),
    /// The model or request is not something the engine can run (exit 2).
    #[error("{0}")]
    Invalid(String),
}

/// Engine version strings the plan targets (the pinned sources, DESIGN.md).
fn engine_version(e: EngineKind) -> &'static str {
    match e {
        EngineKind::LlamaCpp => "llama-cpp-python 0.3.36 (2026-10-01)",
        EngineKind::IkLlamaCpp => "ik-llama-cpp-python 0.1.5",
    }
}

struct Choice {
    cand: Candidate,
    cfg: MemoryConfig,
    settings: Settings,
}

fn ty(name: &str) -> Result<GgmlType, PlanError> {
    GgmlType::from_name(name)
        .ok_or_else(|| PlanError::Invalid(format!("the ggml type table lacks {name}")))
}

fn all_layers_on_gpu(c: &Candidate, spec: &ModelSpec) -> bool {
    let p = &c.placement;
    !p.gpus.is_empty()
        && p.n_gpu_layers > spec.n_layer
        && p.n_cpu_moe == 0
        && p.expert_overrides.is_empty()
}

fn device_name(hw: &HardwareSnapshot, d: DeviceId) -> String {
    match d.unit {
        Unit::Cpu => format!("CPU + RAM ({})", hw.cpu.brand),
        Unit::Gpu(i) => hw
            .gpus
            .iter()
            .find(|g| g.index == i)
            .map(|g| {
                if g.unified_memory {
                    format!("GPU {i}: {} (shares system RAM)", g.name)
                } else {
                    format!("GPU {i}: {}", g.name)
                }
            })
            .unwrap_or_else(|| format!("GPU {i}")),
    }
}

fn summary(c: &Candidate, spec: &ModelSpec) -> String {
    let p = &c.placement;
    if p.gpus.is_empty() || p.n_gpu_layers == 0 {
        return "CPU only".into();
    }
    let all = p.n_gpu_layers > spec.n_layer;
    let gpus = if p.is_parallel() {
        format!(" tensor-parallel over {} GPUs", p.gpus.len())
    } else if p.gpus.len() > 1 {
        format!(" split over {} GPUs", p.gpus.len())
    } else {
        format!(" on GPU {}", p.gpus[0])
    };
    let moves = expert_moves(p, spec);
    if all && !moves.is_empty() {
        let from = |home: &DeviceId| match home.unit {
            Unit::Gpu(g) => format!("GPU {g}"),
            Unit::Cpu => "the CPU".to_string(),
        };
        let in_ram: Vec<String> = moves
            .iter()
            .filter(|(_, d, _)| *d == DeviceId::CPU)
            .map(|(home, _, n)| format!("{n} of {}", from(home)))
            .collect();
        let in_ram_total: u32 = moves
            .iter()
            .filter(|(_, d, _)| *d == DeviceId::CPU)
            .map(|(_, _, n)| n)
            .sum();
        let mut parts: Vec<String> = Vec::new();
        if in_ram_total > 0 {
            parts.push(format!(
                "experts of {in_ram_total} layers in RAM ({})",
                in_ram.join(", ")
            ));
        }
        for (home, dest, n) in moves.iter().filter(|(_, d, _)| *d != DeviceId::CPU) {
            if let Some(g) = dest.gpu_index() {
                parts.push(format!("experts of {n} {} layers on GPU {g}", from(home)));
            }
        }
        format!("all layers{gpus}, {} by -ot", parts.join(", "))
    } else if all && p.n_cpu_moe > 0 {
        format!("all layers{gpus}, experts of {} layers in RAM", p.n_cpu_moe)
    } else if all {
        format!("everything{gpus}")
    } else {
        format!("{} of {} layers{gpus}", p.n_gpu_layers, spec.n_layer + 1)
    }
}

/// Blocks whose routed experts `-ot` moves off their block's device, counted per (block
/// device, expert device), in placement order.
fn expert_moves(p: &Placement, spec: &ModelSpec) -> Vec<(DeviceId, DeviceId, u32)> {
    let mut out: Vec<(DeviceId, DeviceId, u32)> = Vec::new();
    for (il, dest) in p
        .expert_overrides
        .iter()
        .filter(|(il, _)| *il >= p.n_cpu_moe)
    {
        let home = layer_device(p, spec.n_layer, *il);
        if home == *dest {
            continue;
        }
        match out.iter_mut().find(|(h, d, _)| *h == home && d == dest) {
            Some((_, _, n)) => *n += 1,
            None => out.push((home, *dest, 1)),
        }
    }
    out
}

/// The multi-GPU split the user pinned, as the placement search sees it.
fn pinned_gpu_split(req: &PlanRequest) -> Option<GpuSplit> {
    match req.split_mode? {
        SplitMode::Tensor | SplitMode::Graph => Some(GpuSplit::Parallel),
        SplitMode::None | SplitMode::Layer | SplitMode::Row | SplitMode::Attn => {
            Some(GpuSplit::Layer)
        }
    }
}

/// A pinned split mode the engine would refuse (or silently replace) here is bad input.
fn check_pinned_split(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
) -> Result<(), PlanError> {
    let Some(m) = req.split_mode else {
        return Ok(());
    };
    if matches!(m, SplitMode::None | SplitMode::Layer) {
        return Ok(());
    }
    let vendors: Vec<GpuVendor> = hw.gpus.iter().map(|g| g.vendor).collect();
    let ctx = SplitContext {
        architecture: &spec.architecture,
        gpu_vendors: &vendors,
        flash_attn: req.flash_attn.unwrap_or(true),
        cpu_experts: req.n_cpu_moe.is_some_and(|n| n > 0),
    };
    match split_modes::check(req.engine, m.name(), &ctx) {
        Some(why) => Err(PlanError::Invalid(why)),
        None => Ok(()),
    }
}

/// An experimental split mode (mainline `-sm tensor`) leads only when it is predicted
/// `EXPERIMENTAL_MIN_GAIN` faster than the best fitting established placement; otherwise
/// that placement moves to the front. A pinned split mode is left alone.
fn prefer_established_split(cands: &mut [Candidate], engine: EngineKind, pinned: bool) {
    let Some(top) = cands.first() else {
        return;
    };
    let experimental =
        top.placement.is_parallel() && split_modes::parallel_mode(engine).experimental;
    if pinned || !experimental || !top.fits() {
        return;
    }
    let established = cands
        .iter()
        .position(|c| c.fits() && !c.placement.is_parallel());
    if let Some(i) = established {
        let gain = top.speed.tg_tokens_per_s / cands[i].speed.tg_tokens_per_s.max(1e-9);
        if gain < split_modes::EXPERIMENTAL_MIN_GAIN {
            cands[..=i].rotate_right(1);
        }
    }
}

/// Best fitting candidate of the other multi-GPU split kind than `top`'s, if any.
fn other_split<'a>(cands: &'a [Candidate], top: &Candidate) -> Option<&'a Candidate> {
    cands.iter().find(|c| {
        c.fits()
            && c.placement.gpus.len() > 1
            && c.placement.n_gpu_layers > 0
            && c.placement.is_parallel() != top.placement.is_parallel()
    })
}

/// Plans with the speed model (`perf::predict`).
pub fn plan(spec: &ModelSpec, hw: &HardwareSnapshot, req: &PlanRequest) -> Result<Plan, PlanError> {
    let scorer = perf_scorer(spec, req.engine);
    plan_with(spec, hw, req, &scorer)
}

/// Plans with the bandwidth roofline (no fitted factors), for comparison and tests.
pub fn plan_roofline(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
) -> Result<Plan, PlanError> {
    plan_with(spec, hw, req, &roofline::roofline)
}

/// `perf::predict` as a scorer for one model and engine.
pub fn perf_scorer(
    spec: &ModelSpec,
    engine: EngineKind,
) -> impl Fn(&crate::plan::Layout, &HardwareSnapshot, &Settings) -> crate::plan::Speed + '_ {
    move |l, h, s| crate::perf::predict(l, h, s, spec, engine).into()
}

/// Plans with a given speed scorer (e.g. `perf::predict`).
pub fn plan_with(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
    scorer: &Scorer<'_>,
) -> Result<Plan, PlanError> {
    plan_with_layout(spec, hw, req, scorer).map(|(plan, _)| plan)
}

/// [`plan_with`], also returning the [`Layout`](crate::plan::Layout) of the
/// chosen placement (what `tune` predicts its neighbours on; the Plan does not carry it).
pub fn plan_with_layout(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
    scorer: &Scorer<'_>,
) -> Result<(Plan, crate::plan::Layout), PlanError> {
    if spec.n_layer == 0 || spec.layers.is_empty() {
        return Err(PlanError::Invalid(format!(
            "model '{}' has no layers",
            spec.name
        )));
    }
    check_pinned_split(spec, hw, req)?;
    let mut reasons: Vec<Reason> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let engine = req.engine;
    let fa = req.flash_attn.unwrap_or(true);
    let (uc_ctx, uc_predict) = req.use_case.ctx_predict();
    let predict = req.predict.unwrap_or(uc_predict);
    let n_ctx_train = spec.n_ctx_train.max(256);
    let ctx_options: Vec<u64> = match (req.ctx, req.use_case) {
        (Some(c), _) => vec![c],
        (None, UseCase::Long) => {
            let mut v = vec![n_ctx_train];
            let mut c = n_ctx_train / 2;
            while c >= 8192 {
                v.push(c);
                c /= 2;
            }
            v
        }
        (None, _) => vec![uc_ctx.min(n_ctx_train)],
    };
    if let Some(c) = req.ctx {
        if c > n_ctx_train {
            warnings.push(format!(
                "--ctx {c} is beyond the model's trained context of {n_ctx_train}: quality may degrade"
            ));
        }
    }
    let kv_options: Vec<(GgmlType, GgmlType)> = match (req.ctk, req.ctv) {
        (Some(k), Some(v)) => vec![(k, v)],
        (Some(k), None) => vec![(k, ty("F16")?)],
        (None, Some(v)) => vec![(ty("F16")?, v)],
        (None, None) if !fa => vec![(ty("F16")?, ty("F16")?)],
        (None, None) if req.use_case == UseCase::Long => vec![
            (ty("F16")?, ty("F16")?),
            (ty("Q8_0")?, ty("Q8_0")?),
            (ty("Q4_0")?, ty("Q4_0")?),
        ],
        (None, None) => vec![(ty("F16")?, ty("F16")?), (ty("Q8_0")?, ty("Q8_0")?)],
    };
    let moe_hybrid_possible = spec.is_moe() && !hw.gpus.is_empty();
    let ub_options: Vec<u32> = match req.ubatch {
        Some(u) => vec![u],
        None if moe_hybrid_possible => vec![512, 1024],
        None => vec![512],
    };
    let pins = PlacementPins {
        ngl: req.ngl,
        n_cpu_moe: req.n_cpu_moe,
        tensor_split: req.tensor_split.clone(),
        gpu_split: pinned_gpu_split(req),
    };
    let (threads, threads_why) = match req.threads {
        Some(t) => (t, "pinned".to_string()),
        None => settings::threads(hw),
    };
    let parallel = req.parallel.unwrap_or(1);

    let mut best: Option<Choice> = None;
    let mut runners: Vec<Choice> = Vec::new();
    let mut closest: Option<Candidate> = None;
    'ctx: for &ctx in &ctx_options {
        for &(tk, tv) in &kv_options {
            // A smaller cache buys speed through a better placement, or through fewer KV
            // bytes read per token where the cache lives in slow memory (CPU-only plans).
            // With everything already on the GPUs the KV read is a small share of the
            // token time at the use cases' depths, so the search is skipped there.
            if best
                .as_ref()
                .is_some_and(|b| all_layers_on_gpu(&b.cand, spec))
            {
                continue;
            }
            for &ub in &ub_options {
                // A bigger ubatch only helps hybrid prompt processing.
                if ub > ub_options[0]
                    && best
                        .as_ref()
                        .is_some_and(|b| all_layers_on_gpu(&b.cand, spec))
                {
                    continue;
                }
                let batch = req.batch.unwrap_or(2048).max(ub);
                let cfg = MemoryConfig {
                    engine,
                    n_ctx: ctx,
                    n_batch: u64::from(batch),
                    n_ubatch: u64::from(ub),
                    n_seq: u64::from(parallel),
                    kv_unified: false,
                    type_k: tk,
                    type_v: tv,
                    flash_attn: fa,
                    swa_full: false,
                    ik_mla: if engine == EngineKind::IkLlamaCpp && spec.mla.is_some() {
                        3
                    } else {
                        0
                    },
                };
                let draft = Settings {
                    quant: spec.quant.clone(),
                    n_gpu_layers: 0,
                    n_cpu_moe: 0,
                    ctx: cfg.padded_ctx(),
                    predict,
                    cache_type_k: tk.name().to_ascii_lowercase(),
                    cache_type_v: tv.name().to_ascii_lowercase(),
                    threads,
                    batch,
                    ubatch: ub,
                    parallel,
                    split_mode: "layer".into(),
                    tensor_split: Vec::new(),
                    flash_attn: fa,
                    mlock: false,
                    mmap: true,
                    override_tensors: Vec::new(),
                    gpu_indices: Vec::new(),
                    extras: Default::default(),
                };
                let mut cands = placement::search(spec, hw, &cfg, &draft, &pins, scorer)
                    .map_err(PlanError::Invalid)?;
                prefer_established_split(&mut cands, engine, req.split_mode.is_some());
                for c in cands.iter().take(1) {
                    if !c.fits() {
                        let better = closest.as_ref().is_none_or(|b| c.shortfall < b.shortfall);
                        if better {
                            closest = Some(c.clone());
                        }
                        continue;
                    }
                    let choice = Choice {
                        cand: c.clone(),
                        cfg,
                        settings: draft.clone(),
                    };
                    let take = match &best {
                        None => true,
                        Some(b) => {
                            let tg_gain =
                                c.speed.tg_tokens_per_s / b.cand.speed.tg_tokens_per_s.max(1e-9);
                            let same_kv = b.cfg.type_k == tk && b.cfg.type_v == tv;
                            if same_kv {
                                // A bigger ubatch must buy >5% tg, or >5% pp at equal tg.
                                tg_gain > 1.05
                                    || (tg_gain > 0.99
                                        && c.speed.pp_tokens_per_s
                                            > b.cand.speed.pp_tokens_per_s * 1.05)
                            } else {
                                // A lower-precision cache only when it is predicted >5%
                                // faster (a better placement, or fewer KV bytes read).
                                tg_gain > 1.05
                            }
                        }
                    };
                    if take {
                        if let Some(old) = best.take() {
                            runners.push(old);
                        }
                        best = Some(choice);
                    } else {
                        runners.push(choice);
                    }
                }
                // The best of the other multi-GPU split kind, so the split_mode reason
                // and the alternatives can compare layer and tensor-parallel splits.
                if let Some(o) = cands.first().and_then(|top| other_split(&cands, top)) {
                    if !runners
                        .iter()
                        .any(|r| summary(&r.cand, spec) == summary(o, spec))
                    {
                        runners.push(Choice {
                            cand: o.clone(),
                            cfg,
                            settings: draft.clone(),
                        });
                    }
                }
                // Runners-up of other shapes from this search.
                let mut seen = 0;
                for c in cands.iter().skip(1).filter(|c| c.fits()) {
                    if runners
                        .iter()
                        .any(|r| summary(&r.cand, spec) == summary(c, spec))
                    {
                        continue;
                    }
                    runners.push(Choice {
                        cand: c.clone(),
                        cfg,
                        settings: draft.clone(),
                    });
                    seen += 1;
                    if seen >= 3 {
                        break;
                    }
                }
            }
            if best.is_some() && req.use_case == UseCase::Long && req.ctx.is_none() {
                break 'ctx;
            }
        }
        if best.is_some() {
            break;
        }
    }
    let Some(best) = best else {
        let msg = match closest {
            Some(c) => {
                let dev = c
                    .short_device
                    .map(|d| device_name(hw, d))
                    .unwrap_or_default();
                format!(
                    "'{}' does not fit: the closest placement ({}) needs {} more on {dev} (context {}, KV {})",
                    spec.name,
                    summary(&c, spec),
                    c.shortfall,
                    ctx_options.last().copied().unwrap_or(0),
                    kv_options.last().map(|k| k.0.name()).unwrap_or("F16")
                )
            }
            None => format!("'{}' has no placement that honours the pins", spec.name),
        };
        return Err(PlanError::Unsatisfiable(msg));
    };

    let Choice {
        mut cand,
        cfg: best_cfg,
        settings: mut s,
    } = best;
    // The split mode comes from the chosen candidate: the engine's tensor-parallel mode
    // for a parallel placement, else a layer split (or the pinned row/attn variant, laid
    // out as a layer split), `none` on one GPU.
    let multi_gpu = cand.placement.gpus.len() > 1 && cand.placement.n_gpu_layers > 0;
    s.split_mode = if cand.placement.is_parallel() {
        split_modes::parallel_mode(engine).name.into()
    } else if multi_gpu {
        match req.split_mode {
            Some(m @ (SplitMode::Row | SplitMode::Attn | SplitMode::None)) => m.name().into(),
            _ => "layer".into(),
        }
    } else {
        "none".into()
    };
    // Threads by predicted speed on the chosen layout: the speed model saturates CPU
    // bandwidth with thread count and charges SMT oversubscription, so fewer threads
    // than cores can win on a starved memory system. Ties (within 2%) keep the default.
    let mut threads_why = threads_why;
    if req.threads.is_none() {
        let default_tg = cand.speed.tg_tokens_per_s;
        let n = threads.max(1);
        let mut options: Vec<u32> = vec![n / 4, n / 2, (3 * n) / 4];
        options.retain(|&t| t >= 1 && t < n);
        options.dedup();
        let mut best_t = (n, cand.speed.clone());
        for t in options {
            let trial = Settings {
                threads: t,
                ..s.clone()
            };
            let speed = scorer(&cand.layout, hw, &trial);
            if speed.tg_tokens_per_s > best_t.1.tg_tokens_per_s.max(default_tg * 1.02) {
                best_t = (t, speed);
            }
        }
        if best_t.0 != n {
            threads_why = format!(
                "{} threads: predicted {:.1} tok/s against {default_tg:.1} with all {n} cores (the memory system saturates first)",
                best_t.0, best_t.1.tg_tokens_per_s
            );
            s.threads = best_t.0;
            cand.speed = best_t.1;
        }
    }
    let p = &cand.placement;
    let all_layers = p.n_gpu_layers > spec.n_layer;
    s.n_gpu_layers = if all_layers { 999 } else { p.n_gpu_layers };
    s.n_cpu_moe = p.n_cpu_moe;
    s.gpu_indices = if p.n_gpu_layers > 0 {
        p.gpus.clone()
    } else {
        Vec::new()
    };
    s.tensor_split = if p.gpus.len() > 1 {
        p.tensor_split.clone()
    } else {
        Vec::new()
    };
    s.override_tensors = expert_overrides::patterns(spec, hw, p).map_err(PlanError::Invalid)?;
    // ik_llama.cpp spreads `--n-cpu-moe N` over the GPUs of a layer split, in proportion
    // to their blocks and from the last block down (`create_tensors_helper` constructor,
    // src/llama-load-tensors.cpp), not over blocks 0..N as mainline and this plan do:
    // there the same blocks are named explicitly.
    if engine == EngineKind::IkLlamaCpp
        && p.n_cpu_moe > 0
        && p.n_cpu_moe < spec.n_layer
        && p.gpus.len() > 1
        && s.split_mode == "layer"
    {
        let mut explicit = p.clone();
        explicit.expert_overrides = (0..p.n_cpu_moe)
            .map(|il| (il, DeviceId::CPU))
            .chain(p.expert_overrides.iter().copied())
            .collect();
        explicit.n_cpu_moe = 0;
        s.override_tensors =
            expert_overrides::patterns(spec, hw, &explicit).map_err(PlanError::Invalid)?;
        s.n_cpu_moe = 0;
    }
    // Host side: CPU-resident weights + KV + compute against RAM.
    let cpu = cand
        .memory
        .iter()
        .find(|(d, _)| *d == DeviceId::CPU)
        .map(|(_, b)| b.total())
        .unwrap_or(Bytes::ZERO);
    let host_budget = placement::budget(hw, DeviceId::CPU);
    let (mlock, mlock_why) = settings::mlock(hw, cpu.0, host_budget.0);
    s.mlock = mlock;
    s.mmap = !mlock;

    reasons.push(Reason {
        setting: "placement".into(),
        why: format!(
            "{}: fastest placement that fits every device with its margin",
            summary(&cand, spec)
        ),
    });
    reasons.push(Reason {
        setting: "n_gpu_layers".into(),
        why: if s.gpu_indices.is_empty() {
            "no GPU used".into()
        } else if all_layers {
            "all layers and the output on the GPU(s)".into()
        } else {
            format!(
                "the last {} blocks (output counts as one) fit on the GPU(s)",
                p.n_gpu_layers
            )
        },
    });
    if spec.is_moe() {
        reasons.push(Reason {
            setting: "n_cpu_moe".into(),
            why: if p.n_cpu_moe == 0 && !s.override_tensors.is_empty() {
                "0: the experts that leave the GPUs are named per block with -ot instead (override_tensors)".into()
            } else if s.n_cpu_moe == 0 && p.n_cpu_moe > 0 {
                format!(
                    "routed experts of the first {} layers stay in RAM, named with -ot: ik_llama.cpp would spread --n-cpu-moe over the GPUs of a layer split",
                    p.n_cpu_moe
                )
            } else if p.n_cpu_moe == 0 {
                "no routed experts need to stay in system RAM".into()
            } else {
                format!(
                    "routed experts of the first {} layers stay in RAM; only {} of {} experts are read per token, so this costs less than moving whole layers",
                    p.n_cpu_moe, spec.expert_used, spec.expert_count
                )
            },
        });
    }
    if !p.expert_overrides.is_empty() {
        // The best `--n-cpu-moe` placement this search also scored, for comparison.
        let ncmoe = runners
            .iter()
            .filter(|r| r.cand.placement.expert_overrides.is_empty())
            .filter(|r| r.cand.placement.n_cpu_moe > 0 && r.cand.placement.gpus.len() > 1)
            .filter(|r| r.cfg == best_cfg)
            .max_by(|a, b| {
                a.cand
                    .speed
                    .tg_tokens_per_s
                    .total_cmp(&b.cand.speed.tg_tokens_per_s)
            });
        let versus = match ncmoe {
            Some(r) => format!(
                "; predicted {:.1} tok/s against {:.1} with --n-cpu-moe {} (same cache and ubatch), which takes every expert from the first layers",
                cand.speed.tg_tokens_per_s, r.cand.speed.tg_tokens_per_s, r.cand.placement.n_cpu_moe
            ),
            None => String::new(),
        };
        reasons.push(Reason {
            setting: "override_tensors".into(),
            why: format!(
                "each GPU filled to its own budget: the routed experts of just enough of its own layers move out ({}){versus}",
                summary(&cand, spec)
            ),
        });
    }
    reasons.push(Reason {
        setting: "ctx".into(),
        why: match (req.ctx, req.use_case) {
            (Some(_), _) => "pinned".into(),
            (None, UseCase::Long) => {
                format!("largest context that fits (trained context {n_ctx_train})")
            }
            (None, u) => format!("use case '{}'", u.name()),
        },
    });
    reasons.push(Reason {
        setting: "predict".into(),
        why: if req.predict.is_some() {
            "pinned".into()
        } else {
            format!("use case '{}'", req.use_case.name())
        },
    });
    let kv_why = if req.ctk.is_some() || req.ctv.is_some() {
        "pinned".to_string()
    } else if s.cache_type_k == "f16" {
        let mut w =
            "f16: full precision; a q8_0 cache is not predicted >5% faster here".to_string();
        if spec.architecture.starts_with("qwen35") || spec.architecture == "qwen3next" {
            w.push_str("; bf16 not needed for Qwen3.5 (only anecdotal reports, e.g. LostRuins/koboldcpp#2074; 3 in 4 layers are recurrent with an F32 state, ikawrakow/ik_llama.cpp#1509)");
        }
        w
    } else {
        format!(
            "{}: predicted more than 5% faster than an f16 cache here (more weights on the GPUs, or fewer KV bytes read per token), or needed for the requested context",
            s.cache_type_k
        )
    };
    reasons.push(Reason {
        setting: "cache_type_k/v".into(),
        why: kv_why,
    });
    reasons.push(Reason {
        setting: "flash_attn".into(),
        why: if req.flash_attn.is_some() {
            "pinned".into()
        } else {
            "on: smaller compute buffers, and required for a quantized V cache".into()
        },
    });
    reasons.push(Reason {
        setting: "threads".into(),
        why: threads_why,
    });
    reasons.push(Reason {
        setting: "batch/ubatch".into(),
        why: if req.ubatch.is_some() {
            "pinned".into()
        } else if s.ubatch > 512 {
            "larger ubatch: experts in RAM are copied over PCIe once per ubatch, so prompt processing gets faster".into()
        } else {
            "engine defaults 2048/512: the compute buffer grows with ubatch".into()
        },
    });
    reasons.push(Reason {
        setting: "parallel".into(),
        why: if req.parallel.is_some() {
            "pinned".into()
        } else {
            "1 slot: all memory to one context".into()
        },
    });
    if s.gpu_indices.len() > 1 {
        reasons.push(Reason {
            setting: "split_mode".into(),
            why: split_mode_why(&cand, &runners, &s, req, engine, spec),
        });
    }
    reasons.push(Reason {
        setting: "mlock/mmap".into(),
        why: mlock_why,
    });
    match engine {
        EngineKind::LlamaCpp => {
            s.extras.fit_off = true;
            reasons.push(Reason {
                setting: "fit".into(),
                why: "--fit off: the plan is already fitted; the engine must not move layers"
                    .into(),
            });
        }
        EngineKind::IkLlamaCpp => {
            // CPU-heavy: the CPU reads more than a third of the per-token bytes.
            let cpu_read: u64 = cand
                .layout
                .device(DeviceId::CPU)
                .map(|d| d.active_weight_bytes_per_token.0)
                .unwrap_or(0);
            let all_read: u64 = cand
                .layout
                .devices
                .iter()
                .map(|d| d.active_weight_bytes_per_token.0)
                .sum();
            if cpu_read * 3 > all_read {
                s.extras.run_time_repack = true;
                s.mmap = false;
                reasons.push(Reason {
                    setting: "rtr".into(),
                    why: "-rtr: the CPU reads a large share of each token's weights; repacked rows are faster (loads into RAM, no mmap)".into(),
                });
            }
            if spec.mla.is_some() {
                s.extras.mla = Some(3);
                // ik_llama.cpp README/PR #241: -amb 512 caps the MLA attention buffer.
                s.extras.attention_max_batch = Some(512);
                reasons.push(Reason {
                    setting: "mla/amb".into(),
                    why: "-mla 3 -amb 512: ik's MLA mode keeps only the latent cache and bounds the attention buffer".into(),
                });
            }
            if spec.is_moe() {
                s.extras.merge_up_gate_experts = true;
                reasons.push(Reason {
                    setting: "muge".into(),
                    why: "-muge: merged up/gate expert matmuls, one pass over the expert input"
                        .into(),
                });
            }
        }
    }

    let mut devices = Vec::new();
    for (d, b) in &cand.memory {
        let (kind, cap) = match d.unit {
            Unit::Cpu => ("cpu", hw.memory.total_bytes),
            Unit::Gpu(i) => (
                "gpu",
                hw.gpus
                    .iter()
                    .find(|g| g.index == i)
                    .map(|g| g.vram_bytes)
                    .unwrap_or(0),
            ),
        };
        let margin = match d.unit {
            Unit::Cpu => memory::host_margin(Bytes(hw.memory.total_bytes)),
            Unit::Gpu(_) => memory::GPU_MARGIN,
        };
        let pinned = if *d == DeviceId::CPU {
            memory::pinned_host_bytes(&cand.placement, &cand.memory, s.mmap)
        } else {
            Bytes::ZERO
        };
        devices.push(DeviceMemory {
            name: device_name(hw, *d),
            kind: kind.into(),
            capacity_bytes: cap,
            weights_bytes: b.weights.0,
            kv_bytes: b.kv.0,
            compute_bytes: b.compute.0,
            overhead_bytes: b.overhead.0,
            total_bytes: b.total().0,
            margin_bytes: margin.0,
            pinned_bytes: pinned.0,
        });
    }
    if s.mmap
        && cand
            .memory
            .iter()
            .any(|(d, b)| *d == DeviceId::CPU && b.weights.0 > 0)
    {
        warnings.push(
            "CPU-resident weights are memory-mapped: they live in the page cache and can be evicted under memory pressure".into(),
        );
    }
    let host_free = host_budget - cpu;
    if host_free < memory::SERVER_CACHE_RAM_DEFAULT {
        let mib = memory::server_cache_ram_cap(host_free);
        s.extras.cache_ram_mib = Some(mib);
        reasons.push(Reason {
            setting: "cache_ram".into(),
            why: if mib == 0 {
                format!("--cache-ram 0: only {host_free} of RAM is left after the plan, too little for llama-server's prompt cache, so it is disabled")
            } else {
                format!("--cache-ram {mib}: llama-server's prompt cache (default 8192 MiB) would outgrow the {host_free} of RAM the plan leaves")
            },
        });
    }
    if hw.gpus.is_empty() {
        warnings.push("no GPU in this hardware description: CPU-only plan".into());
    }
    if matches!(req.split_mode, Some(SplitMode::Row | SplitMode::Attn)) && s.gpu_indices.len() > 1 {
        warnings.push(format!(
            "--split-mode {}: memory is estimated as for a layer split; this split spreads each layer's matrices and buffers differently",
            s.split_mode
        ));
    }
    if cand.placement.is_parallel() && split_modes::parallel_mode(engine).experimental {
        warnings.push(format!(
            "-sm {} is marked EXPERIMENTAL in this {engine}; `--split-mode layer` plans the established layer split",
            split_modes::parallel_mode(engine).name
        ));
    }
    if cand.placement.is_parallel()
        && cand.placement.n_cpu_moe > 0
        && engine == EngineKind::IkLlamaCpp
    {
        // src/llama.cpp llama_init_from_model: graph scheduling only without tensor
        // overrides (which --n-cpu-moe adds) unless -smgs forces it.
        warnings.push(
            "-sm graph with experts in RAM: ik_llama.cpp turns its split-mode-graph scheduler off when tensors are overridden (--n-cpu-moe), so the gain over a layer split may be smaller than predicted".into(),
        );
    }
    if let Some(g) = hw
        .gpus
        .iter()
        .find(|g| g.unified_memory && cand.placement.gpus.contains(&g.index))
    {
        let together = placement::shared_ram_bytes(hw, &cand.memory)
            .map(|(t, _)| t)
            .unwrap_or(Bytes::ZERO);
        reasons.push(Reason {
            setting: "shared memory".into(),
            why: format!(
                "{} shares system RAM: CPU and GPU together hold {together} of the {host_budget} RAM left after the host margin",
                g.name
            ),
        });
        if g.vendor == crate::hardware::GpuVendor::Apple {
            warnings.push(format!(
                "Metal lets the GPU wire about {} of {} RAM by default (recommendedMaxWorkingSetSize); `sudo sysctl iogpu.wired_limit_mb=N` raises it",
                memory::apple_working_set(Bytes(hw.memory.total_bytes)),
                Bytes(hw.memory.total_bytes)
            ));
        }
    }

    runners.sort_by(|a, b| {
        b.cand
            .speed
            .tg_tokens_per_s
            .partial_cmp(&a.cand.speed.tg_tokens_per_s)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut alternatives = Vec::new();
    for r in &runners {
        let sum = format!(
            "{}, KV {}, ubatch {}",
            summary(&r.cand, spec),
            r.cfg.type_k.name().to_ascii_lowercase(),
            r.cfg.n_ubatch
        );
        if alternatives
            .iter()
            .any(|a: &Alternative| a.summary.starts_with(&sum))
        {
            continue;
        }
        let delta =
            (r.cand.speed.tg_tokens_per_s / cand.speed.tg_tokens_per_s.max(1e-9) - 1.0) * 100.0;
        alternatives.push(Alternative {
            summary: format!("{sum} ({delta:+.0}% tg)"),
            quant: spec.quant.clone(),
            tg_tokens_per_s: r.cand.speed.tg_tokens_per_s,
            pp_tokens_per_s: r.cand.speed.pp_tokens_per_s,
            mean_kld: spec_kld(spec),
        });
        if alternatives.len() >= 3 {
            break;
        }
    }

    // The engine argv, rendered by the engine tables (only options the pinned version
    // accepts). Without a local file the model path is a placeholder named after the
    // reference, and a warning says so.
    let model_path = match &req.model_path {
        Some(p) => p.clone(),
        None => {
            let name = format!(
                "{}-{}.gguf",
                if req.model_reference.is_empty() {
                    spec.name.as_str()
                } else {
                    req.model_reference.as_str()
                },
                s.quant.as_deref().unwrap_or("model")
            );
            warnings.push(format!(
                "no local file for this model yet: the command uses the placeholder '{name}'; download the GGUF and pass its path"
            ));
            name
        }
    };
    for problem in crate::engine::unsupported_settings(engine, &s) {
        warnings.push(problem);
    }
    let args = crate::engine::launch_args(engine, &s, &model_path, None);
    let command = crate::generate::shell::command_line("llama-server", &args);

    let layout = cand.layout.clone();
    let plan = Plan {
        model: ModelRef {
            name: spec.name.clone(),
            architecture: spec.architecture.clone(),
            reference: req.model_reference.clone(),
            path: req.model_path.clone(),
        },
        hardware: hw.source.clone(),
        engine: EngineRef {
            name: engine.name().into(),
            version: engine_version(engine).into(),
        },
        settings: s,
        memory: MemoryReport { devices },
        performance: Performance {
            tg_tokens_per_s: cand.speed.tg_tokens_per_s,
            pp_tokens_per_s: cand.speed.pp_tokens_per_s,
            bottleneck: cand.speed.bottleneck.clone(),
            ceiling_tg_tokens_per_s: cand.speed.ceiling_tg_tokens_per_s,
            calibration: None,
        },
        args,
        command,
        reasons,
        warnings,
        alternatives,
    };
    Ok((plan, layout))
}

/// Mean KLD of a model's quant, for the alternatives (None without a quant label).
fn spec_kld(spec: &ModelSpec) -> Option<f64> {
    quant_kld(spec.quant.as_deref(), bits_per_weight(spec))
}

/// Mean KLD of a quant label at `bits` per weight (`perf::quality`).
fn quant_kld(quant: Option<&str>, bits: f64) -> Option<f64> {
    quant_quality(quant?, Some(bits)).map(|q| q.mean_kld)
}

/// Why this split mode: pinned, or the predicted tg of the layer split against the
/// tensor-parallel split (the best fitting candidate of each kind that was scored).
fn split_mode_why(
    cand: &Candidate,
    runners: &[Choice],
    s: &Settings,
    req: &PlanRequest,
    engine: EngineKind,
    spec: &ModelSpec,
) -> String {
    let parallel_name = split_modes::parallel_mode(engine).name;
    let other = runners
        .iter()
        .filter(|r| {
            r.cand.placement.gpus.len() > 1
                && r.cand.placement.n_gpu_layers > 0
                && r.cand.placement.is_parallel() != cand.placement.is_parallel()
        })
        .max_by(|a, b| {
            a.cand
                .speed
                .tg_tokens_per_s
                .total_cmp(&b.cand.speed.tg_tokens_per_s)
        });
    let tg = cand.speed.tg_tokens_per_s;
    let head = if req.split_mode.is_some() {
        "pinned; ".to_string()
    } else {
        String::new()
    };
    let shares = format!("{:?}", s.tensor_split);
    match (cand.placement.is_parallel(), other) {
        (true, Some(o)) => format!(
            "{head}{parallel_name}: tensor-parallel split (every layer cut across the GPUs by {shares}) predicted {tg:.1} tok/s against {:.1} for the best layer split ({})",
            o.cand.speed.tg_tokens_per_s,
            summary(&o.cand, spec)
        ),
        (true, None) => format!(
            "{head}{parallel_name}: tensor-parallel split by {shares}, predicted {tg:.1} tok/s; no layer split fits"
        ),
        (false, Some(o)) => {
            let o_tg = o.cand.speed.tg_tokens_per_s;
            let mut why = format!(
                "{head}layer split weighted by free memory ({shares}): predicted {tg:.1} tok/s against {o_tg:.1} for -sm {parallel_name} ({})",
                summary(&o.cand, spec)
            );
            if o_tg > tg && split_modes::parallel_mode(engine).experimental {
                why.push_str(&format!(
                    "; -sm {parallel_name} is marked EXPERIMENTAL by this engine, so it must be predicted {:.0}% faster to be chosen",
                    (split_modes::EXPERIMENTAL_MIN_GAIN - 1.0) * 100.0
                ));
            }
            why
        }
        (false, None) => format!(
            "{head}layer split weighted by free memory ({shares}); no -sm {parallel_name} placement of {engine} fits or runs this architecture here"
        ),
    }
}

/// File bits per weight of one quant of a model: what the `speed` floor is measured in.
fn bits_per_weight(spec: &ModelSpec) -> f64 {
    spec.total_bytes().0 as f64 * 8.0 / spec.total_parameters().max(1) as f64
}

/// Plans each candidate quant of one model (`specs`, any order) and picks one by
/// `--prefer` through `perf::quality::choose_quant`. The others become alternatives. Pure.
pub fn plan_quants(
    specs: &[ModelSpec],
    hw: &HardwareSnapshot,
    req: &PlanRequest,
) -> Result<Plan, PlanError> {
    let variants: Vec<(ModelSpec, Option<String>)> =
        specs.iter().map(|s| (s.clone(), None)).collect();
    plan_variants(&variants, hw, req)
}

/// Like [`plan_quants`] for candidate files that each have their own path (the quants
/// of an `hf:` repository or of a local directory): a variant's path, when given,
/// replaces the request's model path in that variant's plan and command. Pure.
pub fn plan_variants(
    variants: &[(ModelSpec, Option<String>)],
    hw: &HardwareSnapshot,
    req: &PlanRequest,
) -> Result<Plan, PlanError> {
    let specs: Vec<&ModelSpec> = variants.iter().map(|(s, _)| s).collect();
    let mut plans: Vec<(f64, Plan)> = Vec::new();
    let mut last_err = None;
    // Weights alone beyond every device's budget together cannot fit: skip the search.
    let all_budgets: Bytes = std::iter::once(DeviceId::CPU)
        .chain(hw.gpus.iter().map(|g| DeviceId::gpu(g.index)))
        .map(|d| placement::budget(hw, d))
        .sum();
    let smallest = specs
        .iter()
        .map(|s| s.loaded_weight_bytes())
        .min()
        .unwrap_or(Bytes::ZERO);
    for (s, path) in variants {
        if specs.len() > 1
            && s.loaded_weight_bytes() > all_budgets
            && s.loaded_weight_bytes() > smallest
        {
            continue;
        }
        let own;
        let r = match path {
            Some(p) => {
                let mut r = req.clone();
                r.model_path = Some(p.clone());
                own = r;
                &own
            }
            None => req,
        };
        match plan(s, hw, r) {
            Ok(p) => plans.push((bits_per_weight(s), p)),
            Err(e) => last_err = Some(e),
        }
    }
    if plans.is_empty() {
        return Err(last_err.unwrap_or_else(|| PlanError::Invalid("no quant to plan".into())));
    }
    // Quant choice by `--prefer`, with quality from published KLD measurements
    // (perf::quality cites them): `quality` the best quant whose plan reaches the
    // interactive floor, `speed` the fastest of at least 3 bits per weight, `balanced` the
    // best documented score ln(tg) - 5 x KLD.
    let rules = ChoiceRules {
        min_tg_tokens_per_s: req
            .min_tg
            .unwrap_or(ChoiceRules::default().min_tg_tokens_per_s),
        ..ChoiceRules::default()
    };
    let candidates: Vec<QuantCandidate> = plans
        .iter()
        .map(|(bits, p)| QuantCandidate {
            quant: p.settings.quant.clone().unwrap_or_default(),
            tg_tokens_per_s: p.performance.tg_tokens_per_s,
            bits_per_weight: *bits,
            pinned: req.quant.is_some(),
        })
        .collect();
    let preference = match req.prefer {
        super::request::Prefer::Speed => Preference::Speed,
        super::request::Prefer::Quality => Preference::Quality,
        super::request::Prefer::Balanced => Preference::Balanced,
    };
    let (pick, why) = match choose_quant(&candidates, preference, rules) {
        Some(c) => (c.index, c.why),
        None => return Err(PlanError::Invalid("no quant to plan".into())),
    };
    let (chosen_bits, mut chosen) = plans.remove(pick);
    // Alternatives: the neighbouring quants, nearest in bits per weight first.
    plans.sort_by(|a, b| {
        (a.0 - chosen_bits)
            .abs()
            .total_cmp(&(b.0 - chosen_bits).abs())
    });
    if specs.len() > 1 {
        chosen.reasons.insert(
            0,
            Reason {
                setting: "quant".into(),
                why,
            },
        );
        for (bits, p) in plans.iter().take(4) {
            let delta = (p.performance.tg_tokens_per_s
                / chosen.performance.tg_tokens_per_s.max(1e-9)
                - 1.0)
                * 100.0;
            chosen.alternatives.push(Alternative {
                summary: format!(
                    "{}: {} ({delta:+.0}% tg)",
                    p.settings.quant.clone().unwrap_or_default(),
                    p.reasons
                        .iter()
                        .find(|r| r.setting == "placement")
                        .map(|r| r.why.split(':').next().unwrap_or("").to_string())
                        .unwrap_or_default()
                ),
                quant: p.settings.quant.clone(),
                tg_tokens_per_s: p.performance.tg_tokens_per_s,
                pp_tokens_per_s: p.performance.pp_tokens_per_s,
                mean_kld: quant_kld(p.settings.quant.as_deref(), *bits),
            });
        }
    } else if req.quant.is_some() {
        chosen.reasons.insert(
            0,
            Reason {
                setting: "quant".into(),
                why: "pinned".into(),
            },
        );
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Layout;
    use crate::plan::Speed;
    use crate::planner::memory::weights::{GpuSplit, Placement};

    fn cand(parallel: bool, tg: f64, fits: bool) -> Candidate {
        Candidate {
            placement: Placement {
                n_gpu_layers: 41,
                gpus: vec![0, 1],
                gpu_split: if parallel {
                    GpuSplit::Parallel
                } else {
                    GpuSplit::Layer
                },
                ..Default::default()
            },
            memory: Vec::new(),
            layout: Layout {
                devices: Vec::new(),
                boundary_crossings: 0,
                host_experts_offloaded_bytes: Bytes::ZERO,
                depth_tokens: 0,
                n_embd: 0,
            },
            speed: Speed {
                tg_tokens_per_s: tg,
                pp_tokens_per_s: 0.0,
                bottleneck: String::new(),
                ceiling_tg_tokens_per_s: None,
            },
            shortfall: if fits { Bytes::ZERO } else { Bytes(1) },
            short_device: None,
        }
    }

    fn tgs(c: &[Candidate]) -> Vec<f64> {
        c.iter().map(|c| c.speed.tg_tokens_per_s).collect()
    }

    #[test]
    fn experimental_split_must_win_by_ten_percent() {
        // mainline -sm tensor (experimental) 8% ahead of the best layer split: the layer
        // split leads, the rest keeps its order.
        let mut c = vec![
            cand(true, 54.0, true),
            cand(false, 51.0, false),
            cand(false, 50.0, true),
        ];
        prefer_established_split(&mut c, EngineKind::LlamaCpp, false);
        assert_eq!(tgs(&c), [50.0, 54.0, 51.0]);
        // 20% ahead: it stays first.
        let mut c = vec![cand(true, 60.0, true), cand(false, 50.0, true)];
        prefer_established_split(&mut c, EngineKind::LlamaCpp, false);
        assert_eq!(tgs(&c), [60.0, 50.0]);
        // Pinned, or ik's graph split (not experimental): untouched.
        let mut c = vec![cand(true, 54.0, true), cand(false, 50.0, true)];
        prefer_established_split(&mut c, EngineKind::LlamaCpp, true);
        assert_eq!(tgs(&c), [54.0, 50.0]);
        prefer_established_split(&mut c, EngineKind::IkLlamaCpp, false);
        assert_eq!(tgs(&c), [54.0, 50.0]);
    }
}
