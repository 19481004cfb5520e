//! Stage 2: the settings for the chosen placement — split mode, threads (by predicted
//! speed), the placement's own options (`-ngl`, `--n-cpu-moe`, `-ot`, `--tensor-split`),
//! memory locking, the engine extras its planning rules call for, and the prompt-cache
//! cap. Each decision is a small pure function; [`settle`] applies them in order and
//! keeps the words that justify the ones whose reason is computed here (threads, mlock).
//!
//! Engine differences come from the engine's description (`engine::info`): which options
//! it has, how it reads `--n-cpu-moe`, which `-mla` mode to ask for. Nothing here reads
//! a file, a device or the clock.

use super::devices::Devices;
use super::expert_overrides;
use super::memory::weights::Placement;
use super::memory::{self, MemoryConfig};
use super::placement::Candidate;
use super::request::{PlanRequest, SplitMode};
use super::search::Choice;
use super::{PlanError, Scorer};
use crate::engine::{self, split_modes, EngineKind, OptionKind};
use crate::hardware::HardwareSnapshot;
use crate::model::ModelSpec;
use crate::plan::{Backend, DeviceId, EngineExtras, Layout, Settings, Speed};
use crate::units::Bytes;

/// The chosen placement with its final settings.
#[derive(Clone, Debug)]
pub struct Settled {
    /// The candidate, its speed re-predicted with the chosen thread count.
    pub cand: Candidate,
    pub cfg: MemoryConfig,
    pub settings: Settings,
    /// Why this many threads.
    pub threads_why: String,
    /// Why memory is (or is not) locked.
    pub mlock_why: String,
    /// Why this backend (`backend::choose`).
    pub backend_why: String,
    /// Host RAM the plan leaves free: the CPU's budget minus what the CPU side holds.
    pub host_free: Bytes,
}

/// Applies the stage's decisions in order to the search's best choice. `threads` is the
/// default thread count and its reason (pinned, or [`threads`]).
pub fn settle(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    req: &PlanRequest,
    best: Choice,
    (threads, threads_why): (u32, String),
    scorer: &Scorer<'_>,
) -> Result<Settled, PlanError> {
    let Choice {
        mut cand,
        cfg,
        settings: mut s,
    } = best;
    s.split_mode = split_mode(&cand.placement, req);
    let mut threads_why = threads_why;
    if req.threads.is_none() {
        if let Some((t, speed, why)) = fewer_threads(hw, &cand, &s, threads, scorer) {
            s.threads = t;
            cand.speed = speed;
            threads_why = why;
        }
    }
    placement_settings(&mut s, spec, hw, req.engine, &cand.placement)?;
    let host = cand
        .memory
        .iter()
        .find(|(d, _)| *d == DeviceId::CPU)
        .map(|(_, b)| b.total())
        .unwrap_or(Bytes::ZERO);
    let host_budget = devices.budget(DeviceId::CPU);
    let (mlock, mlock_why) = mlock(hw, host.0, host_budget.0);
    s.mlock = mlock;
    s.mmap = !mlock;
    s.extras = engine_extras(spec, req.engine, &cand.layout);
    if s.extras.run_time_repack {
        // Repacked rows are copied into RAM at load: no mmap.
        s.mmap = false;
    }
    let host_free = host_budget - host;
    s.extras.cache_ram_mib = cache_ram_cap(host_free);
    Ok(Settled {
        cand,
        cfg,
        settings: s,
        threads_why,
        mlock_why,
        backend_why: String::new(),
        host_free,
    })
}

/// The engine's tensor-parallel mode for a parallel placement, else a layer split (or
/// the pinned row/attn variant, laid out as a layer split) over several GPUs, `none` on
/// one GPU.
pub fn split_mode(p: &Placement, req: &PlanRequest) -> String {
    if p.is_parallel() {
        split_modes::parallel_mode(req.engine).name.into()
    } else if p.gpus.len() > 1 && p.n_gpu_layers > 0 {
        match req.split_mode {
            Some(m @ (SplitMode::Row | SplitMode::Attn | SplitMode::None)) => m.name().into(),
            _ => "layer".into(),
        }
    } else {
        "none".into()
    }
}

/// Fewer threads than `n` by predicted speed on the chosen layout: the speed model
/// saturates CPU bandwidth with thread count and charges SMT oversubscription, so fewer
/// threads than cores can win on a starved memory system. Tries n/4, n/2 and 3n/4; one
/// must beat all `n` by more than 2% (ties keep the default). Returns the count, its
/// speed and the reason.
pub fn fewer_threads(
    hw: &HardwareSnapshot,
    cand: &Candidate,
    s: &Settings,
    n: u32,
    scorer: &Scorer<'_>,
) -> Option<(u32, Speed, String)> {
    let default_tg = cand.speed.tg_tokens_per_s;
    let n = n.max(1);
    let mut options: Vec<u32> = vec![n / 4, n / 2, (3 * n) / 4];
    options.retain(|&t| t >= 1 && t < n);
    options.dedup();
    let mut best = (n, cand.speed.clone());
    for t in options {
        let trial = Settings {
            threads: t,
            ..s.clone()
        };
        let speed = scorer(&cand.layout, hw, &trial);
        if speed.tg_tokens_per_s > best.1.tg_tokens_per_s.max(default_tg * 1.02) {
            best = (t, speed);
        }
    }
    (best.0 != n).then(|| {
        let why = format!(
            "{} threads: predicted {:.1} tok/s against {default_tg:.1} with all {n} cores (the memory system saturates first)",
            best.0, best.1.tg_tokens_per_s
        );
        (best.0, best.1, why)
    })
}

/// The placement's own options: `-ngl` (999 for every layer and the output), `--n-cpu-moe`,
/// the GPUs used and their `--tensor-split`, and `-ot` patterns for experts moved per
/// block. An engine that spreads `--n-cpu-moe` over the GPUs of a layer split (ik
/// `create_tensors_helper`, src/llama-load-tensors.cpp) gets those blocks named with `-ot`
/// instead, so it holds the experts this plan counted.
fn placement_settings(
    s: &mut Settings,
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    engine: EngineKind,
    p: &Placement,
) -> Result<(), PlanError> {
    s.n_gpu_layers = if p.n_gpu_layers > spec.n_layer {
        999
    } else {
        p.n_gpu_layers
    };
    s.n_cpu_moe = p.n_cpu_moe;
    s.gpu_indices = if p.n_gpu_layers > 0 {
        p.gpus.clone()
    } else {
        Vec::new()
    };
    // The backend was chosen before this stage (`backend::choose`); CPU without a GPU
    // (with GPUs and `-ngl 0` the GPU backend still runs the large prompt batches).
    if hw.gpus.is_empty() {
        s.backend = Backend::Cpu;
    }
    let prefix = engine::backends::support(engine, s.backend).and_then(|b| b.buffer_type_prefix);
    s.tensor_split = if p.gpus.len() > 1 {
        p.tensor_split.clone()
    } else {
        Vec::new()
    };
    s.override_tensors =
        expert_overrides::patterns_on(spec, hw, p, prefix).map_err(PlanError::Invalid)?;
    let spreads = engine::info(engine).planning.n_cpu_moe_spreads_over_gpus;
    if spreads
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
        s.override_tensors = expert_overrides::patterns_on(spec, hw, &explicit, prefix)
            .map_err(PlanError::Invalid)?;
        s.n_cpu_moe = 0;
    }
    Ok(())
}

/// The engine-specific options the plan uses, each only where the engine has it:
/// `--fit off` where the engine fits layers to free memory itself (the plan is already
/// fitted); `-rtr` when the CPU reads more than a third of each token's weight bytes
/// (repacked rows are faster); the engine's `-mla` mode and `-amb` cap on an MLA model;
/// `-muge` (merged up/gate expert matmuls) on an MoE model.
pub fn engine_extras(spec: &ModelSpec, engine: EngineKind, layout: &Layout) -> EngineExtras {
    let e = engine::info(engine);
    let mut x = EngineExtras {
        fit_off: e.server_accepts(OptionKind::Fit),
        ..Default::default()
    };
    if e.server_accepts(OptionKind::RunTimeRepack) {
        let cpu_read = layout
            .device(DeviceId::CPU)
            .map_or(0, |d| d.active_weight_bytes_per_token.0);
        let all_read: u64 = layout
            .devices
            .iter()
            .map(|d| d.active_weight_bytes_per_token.0)
            .sum();
        x.run_time_repack = cpu_read * 3 > all_read;
    }
    if let (Some(m), Some(_)) = (e.planning.mla_mode, spec.mla) {
        x.mla = Some(m.mode);
        x.attention_max_batch = Some(m.attention_max_batch_mib);
    }
    x.merge_up_gate_experts = spec.is_moe() && e.server_accepts(OptionKind::MergeUpGateExperts);
    x
}

/// `--cache-ram N` when llama-server's default prompt cache would outgrow the RAM the
/// plan leaves (`memory::server_cache_ram_cap`; 0 disables it), else the default.
pub fn cache_ram_cap(host_free: Bytes) -> Option<u64> {
    (host_free < memory::SERVER_CACHE_RAM_DEFAULT).then(|| memory::server_cache_ram_cap(host_free))
}

/// Threads = physical cores, never SMT siblings; on hybrid Intel CPUs the P-cores only
/// (DESIGN.md domain facts; a seed measured 16 SMT threads 8x slower than 8).
pub fn threads(hw: &HardwareSnapshot) -> (u32, String) {
    if let Some(p) = hw.cpu.performance_cores.filter(|p| *p > 0) {
        return (
            p,
            format!(
                "{p} performance cores; efficiency cores and SMT siblings slow memory-bound decode"
            ),
        );
    }
    let n = hw.cpu.physical_cores.max(1);
    (
        n,
        format!("{n} physical cores; SMT siblings add no memory bandwidth"),
    )
}

/// `--mlock` when everything the host holds fits in RAM and in RLIMIT_MEMLOCK
/// (`None` = unlimited or unknown, see the snapshot notes).
pub fn mlock(hw: &HardwareSnapshot, host_bytes: u64, host_budget: u64) -> (bool, String) {
    if host_bytes > host_budget {
        return (
            false,
            "host memory is tight: locking would starve the system".into(),
        );
    }
    match hw.memory.memlock_limit_bytes {
        Some(l) if l < host_bytes => (
            false,
            format!(
                "RLIMIT_MEMLOCK is {} MiB, below the {} MiB to lock (raise LimitMEMLOCK to enable)",
                l / (1 << 20),
                host_bytes / (1 << 20)
            ),
        ),
        _ => (
            true,
            "fits in RAM and the memlock limit: keeps weights from being paged out".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::memory::weights::GpuSplit;
    use crate::planner::testing::{model, rig, stages};

    fn placement(gpus: usize, split: GpuSplit, ngl: u32) -> Placement {
        Placement {
            n_gpu_layers: ngl,
            gpus: (0..gpus as u32).collect(),
            gpu_split: split,
            ..Default::default()
        }
    }

    #[test]
    fn split_mode_follows_the_placement() {
        let ik = EngineKind::IkLlamaCpp;
        let main = EngineKind::LlamaCpp;
        // (GPUs, split, ngl, engine, pinned) -> -sm
        let cases = [
            (0, GpuSplit::Layer, 0, main, None, "none"),
            (1, GpuSplit::Layer, 41, main, None, "none"),
            (2, GpuSplit::Layer, 0, main, None, "none"),
            (2, GpuSplit::Layer, 41, main, None, "layer"),
            (2, GpuSplit::Layer, 41, main, Some(SplitMode::Row), "row"),
            (2, GpuSplit::Layer, 41, ik, Some(SplitMode::Attn), "attn"),
            (
                2,
                GpuSplit::Layer,
                41,
                main,
                Some(SplitMode::Layer),
                "layer",
            ),
            (2, GpuSplit::Parallel, 41, main, None, "tensor"),
            (2, GpuSplit::Parallel, 41, ik, None, "graph"),
            // A parallel placement on one GPU is a single-GPU plan.
            (1, GpuSplit::Parallel, 41, ik, None, "none"),
        ];
        for (gpus, split, ngl, engine, pinned, want) in cases {
            let req = PlanRequest {
                engine,
                split_mode: pinned,
                ..Default::default()
            };
            let p = placement(gpus, split, ngl);
            assert_eq!(
                split_mode(&p, &req),
                want,
                "{gpus} GPUs {split:?} {pinned:?}"
            );
        }
    }

    #[test]
    fn fewer_threads_must_beat_all_cores_by_two_percent() {
        let hw = rig("xeon-e5-2620v4-cpu");
        let staged = stages(
            &model("llama-3.1-8b", "Q4_K_M"),
            &hw,
            &PlanRequest::default(),
        );
        let cand = &staged.settled.cand;
        let s = &staged.settled.settings;
        let at = |tg: fn(u32) -> f64| {
            move |_: &Layout, _: &HardwareSnapshot, s: &Settings| Speed {
                tg_tokens_per_s: tg(s.threads),
                pp_tokens_per_s: 0.0,
                bottleneck: String::new(),
                ceiling_tg_tokens_per_s: None,
            }
        };
        // The candidate's own speed is the all-cores figure the trials must beat.
        let mut cand = cand.clone();
        cand.speed.tg_tokens_per_s = 10.0;
        // (speed by thread count, n) -> chosen
        type SpeedByThreads = fn(u32) -> f64;
        let cases: [(SpeedByThreads, u32, Option<u32>); 5] = [
            (|t| if t == 4 { 12.0 } else { 6.0 }, 16, Some(4)),
            (|t| if t == 8 { 10.1 } else { 6.0 }, 16, None),
            (|t| if t == 8 { 10.3 } else { 6.0 }, 16, Some(8)),
            (|t| f64::from(t), 16, Some(12)),
            (|_| 99.0, 1, None),
        ];
        for (tg, n, want) in cases {
            let got = fewer_threads(&hw, &cand, s, n, &at(tg)).map(|(t, _, _)| t);
            assert_eq!(got, want, "n = {n}");
        }
        let (t, speed, why) = fewer_threads(&hw, &cand, s, 16, &at(|t| f64::from(32 - t))).unwrap();
        assert_eq!((t, speed.tg_tokens_per_s), (4, 28.0));
        assert!(
            why.starts_with("4 threads: predicted 28.0 tok/s against 10.0 with all 16 cores"),
            "{why}"
        );
    }

    /// A layout where the CPU reads `cpu` and GPU 0 reads `gpu` weight bytes per token.
    fn reads(cpu: u64, gpu: u64) -> Layout {
        let load = |device: DeviceId, bytes: u64| crate::plan::DeviceLoad {
            device,
            weight_bytes: Bytes(bytes),
            active_weight_bytes_per_token: Bytes(bytes),
            routed_expert_bytes: Bytes::ZERO,
            kv_bytes: Bytes::ZERO,
            kv_read_bytes_per_token: Bytes::ZERO,
            compute_bytes: Bytes::ZERO,
            layers: 1,
            active_params: 0,
        };
        Layout {
            devices: vec![load(DeviceId::CPU, cpu), load(DeviceId::gpu(0), gpu)],
            boundary_crossings: 0,
            host_experts_offloaded_bytes: Bytes::ZERO,
            depth_tokens: 0,
            n_embd: 0,
        }
    }

    #[test]
    fn extras_only_where_the_engine_has_them() {
        let (main, ik) = (EngineKind::LlamaCpp, EngineKind::IkLlamaCpp);
        // (model, CPU and GPU bytes read per token, engine) -> (fit off, -rtr, -mla/-amb, -muge)
        let cases = [
            ("qwen3.5-35b-a3b", (1, 1), main, (true, false, None, false)),
            ("qwen3.5-35b-a3b", (1, 1), ik, (false, true, None, true)),
            ("qwen3.5-35b-a3b", (1, 2), ik, (false, false, None, true)),
            ("llama-3.1-8b", (0, 1), ik, (false, false, None, false)),
            ("llama-3.1-8b", (1, 0), ik, (false, true, None, false)),
            (
                "deepseek-r1",
                (1, 0),
                ik,
                (false, true, Some((3, 512)), true),
            ),
            ("deepseek-r1", (1, 0), main, (true, false, None, false)),
        ];
        for (id, (cpu, gpu), engine, want) in cases {
            let spec = model(id, "Q4_K_M");
            let x = engine_extras(&spec, engine, &reads(cpu, gpu));
            let mla = x.mla.zip(x.attention_max_batch);
            assert_eq!(
                (x.fit_off, x.run_time_repack, mla, x.merge_up_gate_experts),
                want,
                "{id} reading {cpu}:{gpu} with {engine}"
            );
        }
    }

    #[test]
    fn prompt_cache_is_capped_to_what_the_plan_leaves() {
        const MIB: u64 = 1 << 20;
        // RAM left -> --cache-ram
        let cases = [
            (Bytes(8192 * MIB), None),
            (Bytes(8191 * MIB), Some(7936)),
            (Bytes(600 * MIB), Some(512)),
            (Bytes(511 * MIB), Some(0)),
            (Bytes::ZERO, Some(0)),
        ];
        for (left, want) in cases {
            assert_eq!(cache_ram_cap(left), want, "{left}");
        }
    }

    #[test]
    fn ik_names_n_cpu_moe_blocks_on_a_layer_split() {
        let hw = rig("z440-2x3060");
        let spec = model("qwen3.5-35b-a3b", "Q5_K_M");
        // engine -> (--n-cpu-moe, -ot patterns)
        let cases = [(EngineKind::LlamaCpp, 6, 0), (EngineKind::IkLlamaCpp, 0, 1)];
        for (engine, ncmoe, patterns) in cases {
            let req = PlanRequest {
                engine,
                n_cpu_moe: Some(6),
                ..Default::default()
            };
            let s = stages(&spec, &hw, &req).settled.settings;
            assert_eq!(s.n_cpu_moe, ncmoe, "{engine}");
            assert_eq!(s.override_tensors.len(), patterns, "{engine}");
            assert_eq!(s.gpu_indices, [0, 1]);
        }
    }
}
