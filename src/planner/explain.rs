//! Stage 3: the explanation — one reason per setting and the warnings a person should
//! read, from what the earlier stages decided.
//!
//! Two tables of small functions, [`REASONS`] and [`WARNINGS`], each entry looking at the
//! [`Facts`] of the plan and returning its line or nothing; the order of the tables is
//! the order the plan shows. Nothing here changes a setting. Pure.

use super::devices::Devices;
use super::memory;
use super::placement::Candidate;
use super::request::{PlanRequest, SplitMode, UseCase};
use super::search::Choice;
use super::settings::Settled;
use super::space::SearchSpace;
use super::summary::summary;
use crate::engine::split_modes;
use crate::hardware::{GpuVendor, HardwareSnapshot};
use crate::model::ModelSpec;
use crate::plan::{DeviceId, Reason, Settings};
use crate::units::Bytes;

/// Everything the explanation looks at.
pub struct Facts<'a> {
    pub spec: &'a ModelSpec,
    pub hw: &'a HardwareSnapshot,
    pub devices: &'a Devices,
    pub req: &'a PlanRequest,
    pub space: &'a SearchSpace,
    pub settled: &'a Settled,
    /// The search's runners-up.
    pub runners: &'a [Choice],
}

impl Facts<'_> {
    fn s(&self) -> &Settings {
        &self.settled.settings
    }

    fn cand(&self) -> &Candidate {
        &self.settled.cand
    }
}

type ReasonFn = fn(&Facts) -> Option<Reason>;
type WarningFn = fn(&Facts) -> Option<String>;

/// The reasons, in the order the plan lists them.
pub const REASONS: &[(&str, ReasonFn)] = &[
    ("placement", placement),
    ("backend", backend),
    ("n_gpu_layers", n_gpu_layers),
    ("n_cpu_moe", n_cpu_moe),
    ("override_tensors", override_tensors),
    ("ctx", ctx),
    ("predict", predict),
    ("cache_type_k/v", cache_types),
    ("flash_attn", flash_attn),
    ("threads", threads),
    ("batch/ubatch", batches),
    ("parallel", parallel),
    ("split_mode", split_mode),
    ("mlock/mmap", mlock_mmap),
    ("fit", fit),
    ("rtr", run_time_repack),
    ("mla/amb", mla),
    ("muge", merge_up_gate),
    ("cache_ram", cache_ram),
    ("shared memory", shared_memory),
];

/// The warnings, in the order the plan lists them.
pub const WARNINGS: &[WarningFn] = &[
    ctx_beyond_training,
    threads_beyond_hardware,
    mapped_weights,
    no_gpu,
    row_or_attn_split,
    experimental_split,
    parallel_split_with_overrides,
    metal_working_set,
];

/// Every reason that applies.
pub fn reasons(f: &Facts) -> Vec<Reason> {
    REASONS.iter().filter_map(|(_, r)| r(f)).collect()
}

/// Every warning that applies.
pub fn warnings(f: &Facts) -> Vec<String> {
    WARNINGS.iter().filter_map(|w| w(f)).collect()
}

/// The runner-up with the highest predicted tg (the last of equals, as `max_by` keeps).
fn fastest<'a>(runners: impl Iterator<Item = &'a Choice>) -> Option<&'a Choice> {
    runners.max_by(|a, b| {
        a.cand
            .speed
            .tg_tokens_per_s
            .total_cmp(&b.cand.speed.tg_tokens_per_s)
    })
}

fn reason(setting: &str, why: impl Into<String>) -> Option<Reason> {
    Some(Reason {
        setting: setting.into(),
        why: why.into(),
    })
}

fn pinned_or(pinned: bool, why: impl FnOnce() -> String) -> String {
    if pinned {
        "pinned".into()
    } else {
        why()
    }
}

fn placement(f: &Facts) -> Option<Reason> {
    reason(
        "placement",
        format!(
            "{}: fastest placement that fits every device with its margin",
            summary(&f.cand().placement, f.spec)
        ),
    )
}

fn backend(f: &Facts) -> Option<Reason> {
    reason("backend", f.settled.backend_why.clone())
}

fn n_gpu_layers(f: &Facts) -> Option<Reason> {
    let p = &f.cand().placement;
    let why = if f.s().gpu_indices.is_empty() {
        "no GPU used".into()
    } else if p.n_gpu_layers > f.spec.n_layer {
        "all layers and the output on the GPU(s)".into()
    } else {
        format!(
            "the last {} blocks (output counts as one) fit on the GPU(s)",
            p.n_gpu_layers
        )
    };
    reason("n_gpu_layers", why)
}

fn n_cpu_moe(f: &Facts) -> Option<Reason> {
    if !f.spec.is_moe() {
        return None;
    }
    let (p, s) = (&f.cand().placement, f.s());
    let why = if p.n_cpu_moe == 0 && !s.override_tensors.is_empty() {
        "0: the experts that leave the GPUs are named per block with -ot instead (override_tensors)"
            .into()
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
            p.n_cpu_moe, f.spec.expert_used, f.spec.expert_count
        )
    };
    reason("n_cpu_moe", why)
}

/// Per-GPU `-ot` fill, against the best `--n-cpu-moe` placement the search also scored
/// with the same cache and ubatch.
fn override_tensors(f: &Facts) -> Option<Reason> {
    let cand = f.cand();
    if cand.placement.expert_overrides.is_empty() {
        return None;
    }
    let ncmoe = fastest(f.runners.iter().filter(|r| {
        let p = &r.cand.placement;
        p.expert_overrides.is_empty()
            && p.n_cpu_moe > 0
            && p.gpus.len() > 1
            && r.cfg == f.settled.cfg
    }));
    let versus = match ncmoe {
        Some(r) => format!(
            "; predicted {:.1} tok/s against {:.1} with --n-cpu-moe {} (same cache and ubatch), which takes every expert from the first layers",
            cand.speed.tg_tokens_per_s, r.cand.speed.tg_tokens_per_s, r.cand.placement.n_cpu_moe
        ),
        None => String::new(),
    };
    reason(
        "override_tensors",
        format!(
            "each GPU filled to its own budget: the routed experts of just enough of its own layers move out ({}){versus}",
            summary(&cand.placement, f.spec)
        ),
    )
}

fn ctx(f: &Facts) -> Option<Reason> {
    let why = match (f.req.ctx, f.req.use_case) {
        (Some(_), _) => "pinned".into(),
        (None, UseCase::Long) => format!(
            "largest context that fits (trained context {})",
            f.space.n_ctx_train
        ),
        (None, u) => format!("use case '{}'", u.name()),
    };
    reason("ctx", why)
}

fn predict(f: &Facts) -> Option<Reason> {
    let why = pinned_or(f.req.predict.is_some(), || {
        format!("use case '{}'", f.req.use_case.name())
    });
    reason("predict", why)
}

fn cache_types(f: &Facts) -> Option<Reason> {
    let s = f.s();
    let why = if f.req.ctk.is_some() || f.req.ctv.is_some() {
        "pinned".to_string()
    } else if s.cache_type_k == "f16" {
        let mut w =
            "f16: full precision; a q8_0 cache is not predicted >5% faster here".to_string();
        let arch = &f.spec.architecture;
        if arch.starts_with("qwen35") || arch == "qwen3next" {
            w.push_str("; bf16 not needed for Qwen3.5 (only anecdotal reports, e.g. LostRuins/koboldcpp#2074; 3 in 4 layers are recurrent with an F32 state, ikawrakow/ik_llama.cpp#1509)");
        }
        w
    } else {
        format!(
            "{}: predicted more than 5% faster than an f16 cache here (more weights on the GPUs, or fewer KV bytes read per token), or needed for the requested context",
            s.cache_type_k
        )
    };
    reason("cache_type_k/v", why)
}

fn flash_attn(f: &Facts) -> Option<Reason> {
    let why = pinned_or(f.req.flash_attn.is_some(), || {
        "on: smaller compute buffers, and required for a quantized V cache".into()
    });
    reason("flash_attn", why)
}

fn threads(f: &Facts) -> Option<Reason> {
    reason("threads", f.settled.threads_why.clone())
}

fn batches(f: &Facts) -> Option<Reason> {
    let why = if f.req.ubatch.is_some() {
        "pinned"
    } else if f.s().ubatch > 512 {
        "larger ubatch: experts in RAM are copied over PCIe once per ubatch, so prompt processing gets faster"
    } else {
        "engine defaults 2048/512: the compute buffer grows with ubatch"
    };
    reason("batch/ubatch", why)
}

fn parallel(f: &Facts) -> Option<Reason> {
    let why = pinned_or(f.req.parallel.is_some(), || {
        "1 slot: all memory to one context".into()
    });
    reason("parallel", why)
}

/// Pinned, or the predicted tg of the layer split against the tensor-parallel split (the
/// best fitting candidate of each kind that was scored).
fn split_mode(f: &Facts) -> Option<Reason> {
    let (cand, s, engine) = (f.cand(), f.s(), f.req.engine);
    if s.gpu_indices.len() <= 1 {
        return None;
    }
    let parallel_name = split_modes::parallel_mode(engine).name;
    let other = fastest(f.runners.iter().filter(|r| {
        let p = &r.cand.placement;
        p.gpus.len() > 1 && p.n_gpu_layers > 0 && p.is_parallel() != cand.placement.is_parallel()
    }));
    let tg = cand.speed.tg_tokens_per_s;
    let head = if f.req.split_mode.is_some() {
        "pinned; "
    } else {
        ""
    };
    let shares = format!("{:?}", s.tensor_split);
    let why = match (cand.placement.is_parallel(), other) {
        (true, Some(o)) => format!(
            "{head}{parallel_name}: tensor-parallel split (every layer cut across the GPUs by {shares}) predicted {tg:.1} tok/s against {:.1} for the best layer split ({})",
            o.cand.speed.tg_tokens_per_s,
            summary(&o.cand.placement, f.spec)
        ),
        (true, None) => format!(
            "{head}{parallel_name}: tensor-parallel split by {shares}, predicted {tg:.1} tok/s; no layer split fits"
        ),
        (false, Some(o)) => {
            let o_tg = o.cand.speed.tg_tokens_per_s;
            let mut why = format!(
                "{head}layer split weighted by free memory ({shares}): predicted {tg:.1} tok/s against {o_tg:.1} for -sm {parallel_name} ({})",
                summary(&o.cand.placement, f.spec)
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
    };
    reason("split_mode", why)
}

fn mlock_mmap(f: &Facts) -> Option<Reason> {
    reason("mlock/mmap", f.settled.mlock_why.clone())
}

fn fit(f: &Facts) -> Option<Reason> {
    f.s().extras.fit_off.then(|| Reason {
        setting: "fit".into(),
        why: "--fit off: the plan is already fitted; the engine must not move layers".into(),
    })
}

fn run_time_repack(f: &Facts) -> Option<Reason> {
    f.s().extras.run_time_repack.then(|| Reason {
        setting: "rtr".into(),
        why: "-rtr: the CPU reads a large share of each token's weights; repacked rows are faster (loads into RAM, no mmap)".into(),
    })
}

fn mla(f: &Facts) -> Option<Reason> {
    let x = &f.s().extras;
    let (mode, amb) = (x.mla?, x.attention_max_batch?);
    reason(
        "mla/amb",
        format!("-mla {mode} -amb {amb}: ik's MLA mode keeps only the latent cache and bounds the attention buffer"),
    )
}

fn merge_up_gate(f: &Facts) -> Option<Reason> {
    f.s().extras.merge_up_gate_experts.then(|| Reason {
        setting: "muge".into(),
        why: "-muge: merged up/gate expert matmuls, one pass over the expert input".into(),
    })
}

fn cache_ram(f: &Facts) -> Option<Reason> {
    let mib = f.s().extras.cache_ram_mib?;
    let host_free = f.settled.host_free;
    let why = if mib == 0 {
        format!("--cache-ram 0: only {host_free} of RAM is left after the plan, too little for llama-server's prompt cache, so it is disabled")
    } else {
        format!("--cache-ram {mib}: llama-server's prompt cache (default 8192 MiB) would outgrow the {host_free} of RAM the plan leaves")
    };
    reason("cache_ram", why)
}

/// A used GPU that shares system RAM: the GPU of the plan that does.
fn unified_gpu<'a>(f: &'a Facts) -> Option<&'a crate::hardware::GpuInfo> {
    let gpus = &f.cand().placement.gpus;
    f.hw.gpus
        .iter()
        .find(|g| g.unified_memory && gpus.contains(&g.index))
}

fn shared_memory(f: &Facts) -> Option<Reason> {
    let g = unified_gpu(f)?;
    let together = f
        .devices
        .shared_ram_bytes(&f.cand().memory)
        .map(|(t, _)| t)
        .unwrap_or(Bytes::ZERO);
    reason(
        "shared memory",
        format!(
            "{} shares system RAM: CPU and GPU together hold {together} of the {} RAM left after the host margin",
            g.name,
            f.devices.budget(DeviceId::CPU)
        ),
    )
}

fn ctx_beyond_training(f: &Facts) -> Option<String> {
    let c = f.req.ctx?;
    let trained = f.space.n_ctx_train;
    (c > trained).then(|| {
        format!("--ctx {c} is beyond the model's trained context of {trained}: quality may degrade")
    })
}

fn threads_beyond_hardware(f: &Facts) -> Option<String> {
    let t = f.req.threads?;
    let hw = f.hw.cpu.threads;
    (t > hw).then(|| {
        format!("--threads {t} is more than the {hw} hardware threads: threads will share cores and decode slows")
    })
}

fn mapped_weights(f: &Facts) -> Option<String> {
    let cpu_weights = f
        .cand()
        .memory
        .iter()
        .any(|(d, b)| *d == DeviceId::CPU && b.weights.0 > 0);
    (f.s().mmap && cpu_weights).then(|| {
        "CPU-resident weights are memory-mapped: they live in the page cache and can be evicted under memory pressure".into()
    })
}

fn no_gpu(f: &Facts) -> Option<String> {
    f.hw.gpus
        .is_empty()
        .then(|| "no GPU in this hardware description: CPU-only plan".into())
}

fn row_or_attn_split(f: &Facts) -> Option<String> {
    let pinned = matches!(f.req.split_mode, Some(SplitMode::Row | SplitMode::Attn));
    (pinned && f.s().gpu_indices.len() > 1).then(|| {
        format!(
            "--split-mode {}: memory is estimated as for a layer split; this split spreads each layer's matrices and buffers differently",
            f.s().split_mode
        )
    })
}

fn experimental_split(f: &Facts) -> Option<String> {
    let mode = split_modes::parallel_mode(f.req.engine);
    (f.cand().placement.is_parallel() && mode.experimental).then(|| {
        format!(
            "-sm {} is marked EXPERIMENTAL in this {}; `--split-mode layer` plans the established layer split",
            mode.name, f.req.engine
        )
    })
}

/// ik src/llama.cpp `llama_init_from_model`: graph scheduling only without tensor
/// overrides (which `--n-cpu-moe` adds) unless `-smgs` forces it.
fn parallel_split_with_overrides(f: &Facts) -> Option<String> {
    let p = &f.cand().placement;
    let mode = split_modes::parallel_mode(f.req.engine);
    (p.is_parallel() && p.n_cpu_moe > 0 && mode.scheduler_off_with_overrides).then(|| {
        "-sm graph with experts in RAM: ik_llama.cpp turns its split-mode-graph scheduler off when tensors are overridden (--n-cpu-moe), so the gain over a layer split may be smaller than predicted".into()
    })
}

fn metal_working_set(f: &Facts) -> Option<String> {
    let g = unified_gpu(f)?;
    let ram = Bytes(f.hw.memory.total_bytes);
    (g.vendor == GpuVendor::Apple).then(|| {
        format!(
            "Metal lets the GPU wire about {} of {} RAM by default (recommendedMaxWorkingSetSize); `sudo sysctl iogpu.wired_limit_mb=N` raises it",
            memory::apple_working_set(ram),
            ram
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;
    use crate::planner::testing::{model, rig, rig_with_gpu, stages, Staged};

    /// The explanation of one request, with the stages it came from. `rig_name` is a
    /// preset, `M4 Max` (64 GiB, unified memory), or `memlock 8 MiB` (the 8 GB 3070 rig
    /// with RLIMIT_MEMLOCK at 8 MiB).
    fn explained(
        id: &str,
        quant: &str,
        rig_name: &str,
        req: PlanRequest,
    ) -> (Vec<Reason>, Vec<String>) {
        let spec = model(id, quant);
        let hw = match rig_name {
            "M4 Max" => rig_with_gpu("M4 Max", 64),
            "memlock 8 MiB" => {
                let mut hw = rig("desktop-3070-8gb");
                hw.memory.memlock_limit_bytes = Some(8 << 20);
                hw
            }
            preset => rig(preset),
        };
        let Staged {
            devices,
            space,
            found,
            settled,
        } = stages(&spec, &hw, &req);
        let f = Facts {
            spec: &spec,
            hw: &hw,
            devices: &devices,
            req: &req,
            space: &space,
            settled: &settled,
            runners: &found.runners,
        };
        // Each table entry explains the setting it is named after.
        for (name, r) in REASONS {
            if let Some(r) = r(&f) {
                assert_eq!(r.setting, *name);
            }
        }
        (reasons(&f), warnings(&f))
    }

    /// (model, quant, rig, request) and what it should give.
    type Case<T> = ((&'static str, &'static str, &'static str, PlanRequest), T);

    fn settings_of(r: &[Reason]) -> Vec<&str> {
        r.iter().map(|r| r.setting.as_str()).collect()
    }

    #[test]
    fn one_reason_per_setting_that_applies() {
        let ik = PlanRequest {
            engine: EngineKind::IkLlamaCpp,
            ..Default::default()
        };
        let base = [
            "placement",
            "backend",
            "n_gpu_layers",
            "ctx",
            "predict",
            "cache_type_k/v",
            "flash_attn",
            "threads",
            "batch/ubatch",
            "parallel",
        ];
        let with = |extra: &[&'static str]| -> Vec<&'static str> {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            v
        };
        // (model, quant, rig, request) -> reasons in order
        let cases: Vec<Case<Vec<&str>>> = vec![
            (
                (
                    "llama-3.1-8b",
                    "Q4_K_M",
                    "desktop-3090",
                    PlanRequest::default(),
                ),
                with(&["mlock/mmap", "fit"]),
            ),
            (
                ("llama-3.1-8b", "Q4_K_M", "xeon-e5-2620v4-cpu", ik.clone()),
                with(&["mlock/mmap", "rtr"]),
            ),
            (
                (
                    "qwen3.5-35b-a3b",
                    "Q4_K_M",
                    "z440-2x3060",
                    PlanRequest::default(),
                ),
                {
                    let mut v = with(&["split_mode", "mlock/mmap", "fit"]);
                    v.insert(3, "n_cpu_moe");
                    v
                },
            ),
            (
                ("qwen3.5-35b-a3b", "IQ3_XXS", "desktop-3070-8gb", ik.clone()),
                {
                    let mut v = with(&["mlock/mmap", "muge", "cache_ram"]);
                    v.insert(3, "n_cpu_moe");
                    v
                },
            ),
            (
                ("qwen3.5-27b", "IQ4_XS", "M4 Max", ik.clone()),
                with(&["mlock/mmap", "shared memory"]),
            ),
        ];
        for ((id, quant, rig_name, req), want) in cases {
            let (r, _) = explained(id, quant, rig_name, req);
            assert_eq!(settings_of(&r), want, "{id}:{quant} on {rig_name}");
        }
    }

    #[test]
    fn warnings_that_apply() {
        // (model, quant, rig, request) -> the start of each warning, in order
        let cases: Vec<Case<Vec<&str>>> = vec![
            (
                (
                    "llama-3.1-8b",
                    "Q4_K_M",
                    "desktop-3090",
                    PlanRequest::default(),
                ),
                vec![],
            ),
            (
                (
                    "llama-3.1-8b",
                    "Q4_K_M",
                    "xeon-e5-2620v4-cpu",
                    PlanRequest {
                        ctx: Some(262144),
                        ..Default::default()
                    },
                ),
                vec![
                    "--ctx 262144 is beyond the model's trained context of 131072",
                    "no GPU in this hardware description",
                ],
            ),
            (
                (
                    "qwen3.5-35b-a3b",
                    "IQ3_XXS",
                    "memlock 8 MiB",
                    PlanRequest::default(),
                ),
                vec!["CPU-resident weights are memory-mapped"],
            ),
            (
                ("qwen3.5-27b", "IQ4_XS", "M4 Max", PlanRequest::default()),
                vec!["Metal lets the GPU wire about 53.8 GiB of 64.0 GiB RAM by default"],
            ),
            (
                (
                    "qwen3.5-27b",
                    "Q4_K_M",
                    "z440-2x3060",
                    PlanRequest {
                        split_mode: Some(SplitMode::Tensor),
                        ..Default::default()
                    },
                ),
                vec!["-sm tensor is marked EXPERIMENTAL in this llama.cpp"],
            ),
        ];
        for ((id, quant, rig_name, req), want) in cases {
            let (_, w) = explained(id, quant, rig_name, req);
            assert_eq!(w.len(), want.len(), "{id} on {rig_name}: {w:?}");
            for (w, start) in w.iter().zip(want) {
                assert!(w.starts_with(start), "{w} does not start with {start}");
            }
        }
    }
}
