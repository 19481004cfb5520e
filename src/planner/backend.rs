//! The backend stage: which ggml backend (CUDA, ROCm, Vulkan, Metal, SYCL, or none) runs
//! the plan's GPUs. The search places weights with the first backend every GPU can use
//! (the vendor's runtime where it is there, [`search_backend`]); [`choose`] then scores
//! the chosen placement on every backend all its GPUs can use and that runs its settings
//! in the pinned engine (`engine::backends::support`), and keeps the fastest by
//! predicted generation speed, the earlier of equals. `--backend` pins one.
//!
//! Pure: the available backends are what the snapshot records per GPU
//! (`GpuInfo::usable_backends`), the speed is the scorer's.

use super::placement::Candidate;
use super::request::PlanRequest;
use super::{PlanError, Scorer};
use crate::engine::{backends, split_modes, EngineKind};
use crate::hardware::HardwareSnapshot;
use crate::plan::{Backend, Settings, Speed};

/// The backends every one of these GPUs can use, in the first GPU's order of preference;
/// empty without GPUs.
pub fn common(hw: &HardwareSnapshot, gpus: &[u32]) -> Vec<Backend> {
    let lists: Vec<Vec<Backend>> = gpus
        .iter()
        .filter_map(|i| hw.gpus.iter().find(|g| g.index == *i))
        .map(|g| g.usable_backends())
        .collect();
    let Some(first) = lists.first() else {
        return Vec::new();
    };
    first
        .iter()
        .copied()
        .filter(|b| lists.iter().all(|l| l.contains(b)))
        .collect()
}

fn all_gpus(hw: &HardwareSnapshot) -> Vec<u32> {
    hw.gpus.iter().map(|g| g.index).collect()
}

/// The backend the placement search scores with: the pinned one, else the first every
/// GPU can use (the first GPU's first when they share none), `cpu` without a GPU.
pub fn search_backend(hw: &HardwareSnapshot, req: &PlanRequest) -> Backend {
    if let Some(b) = req.backend {
        return b;
    }
    common(hw, &all_gpus(hw))
        .first()
        .copied()
        .or_else(|| hw.gpus.first().map(|g| g.usable_backends()[0]))
        .unwrap_or(Backend::Cpu)
}

/// A pinned backend every GPU must be able to use (exit 2 saying which they can).
pub fn check_pin(hw: &HardwareSnapshot, req: &PlanRequest) -> Result<(), PlanError> {
    let Some(b) = req.backend else {
        return Ok(());
    };
    if b == Backend::Cpu {
        return Ok(());
    }
    if hw.gpus.is_empty() {
        return Err(PlanError::Invalid(format!(
            "--backend '{b}': this machine has no GPU (use --backend cpu, or describe a GPU with --gpu/--gpu-spec)"
        )));
    }
    for g in &hw.gpus {
        let usable = g.usable_backends();
        if !usable.contains(&b) {
            let names: Vec<&str> = usable.iter().map(|b| b.as_str()).collect();
            return Err(PlanError::Invalid(format!(
                "--backend '{b}' is not available for GPU {} '{}' on this machine (available: {}, cpu)",
                g.index,
                g.name,
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Why `b` cannot run these settings and placement in the engine, or `None`.
pub fn refusal(engine: EngineKind, b: Backend, cand: &Candidate, s: &Settings) -> Option<String> {
    let support = backends::support(engine, b)?;
    let split = if cand.placement.is_parallel() {
        split_modes::parallel_mode(engine).name
    } else {
        s.split_mode.as_str()
    };
    if let Some(why) = support.refuses(split, s.flash_attn, &s.cache_type_k, &s.cache_type_v) {
        return Some(why);
    }
    let experts_on_gpus = cand
        .placement
        .expert_overrides
        .iter()
        .any(|(_, d)| d.is_gpu());
    if experts_on_gpus && support.buffer_type_prefix.is_none() {
        return Some(format!(
            "{b}'s buffer types cannot be named per GPU for -ot ({})",
            support.source
        ));
    }
    None
}

/// How much faster (generation) another backend must be predicted than the GPUs' own
/// runtime to be chosen: the speed model's leave-one-source-out median tg error per
/// backend is 8–37% (docs/calibration.md), so a smaller predicted gain is noise.
pub const SWITCH_MARGIN: f64 = 1.15;

/// The chosen backend, its speed on the placement and the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendChoice {
    pub backend: Backend,
    pub speed: Speed,
    pub why: String,
}

/// Scores the placement on each backend its GPUs can use and keeps the fastest.
/// `searched` is the backend the placement was found with.
pub fn choose(
    hw: &HardwareSnapshot,
    req: &PlanRequest,
    cand: &Candidate,
    s: &Settings,
    searched: Backend,
    scorer: &Scorer<'_>,
) -> Result<BackendChoice, PlanError> {
    if cand.placement.n_gpu_layers == 0 || cand.placement.gpus.is_empty() {
        // With GPUs in the build, `-ngl 0` still leaves them a compute buffer and the
        // large prompt batches (ggml's scheduler offloads those ops to the GPU backend),
        // so the GPU backend stays; only a pin or a GPU-less machine is CPU-only.
        let (backend, why) = match req.backend {
            Some(Backend::Cpu) => (Backend::Cpu, "pinned: the GPUs are left out".to_string()),
            _ if hw.gpus.is_empty() => (
                Backend::Cpu,
                "no GPU: the CPU backend runs everything".to_string(),
            ),
            _ => (
                searched,
                format!("no layer on a GPU: {searched} holds only the compute buffer and runs the large prompt batches"),
            ),
        };
        return Ok(BackendChoice {
            backend,
            speed: cand.speed.clone(),
            why,
        });
    }
    let candidates = match req.backend {
        Some(b) => vec![b],
        None => common(hw, &cand.placement.gpus),
    };
    let mut scored: Vec<(Backend, Speed)> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for b in candidates {
        if let Some(why) = refusal(req.engine, b, cand, s) {
            if req.backend.is_some() {
                return Err(PlanError::Invalid(format!("--backend '{b}': {why}")));
            }
            refused.push(why);
            continue;
        }
        let speed = if b == searched {
            cand.speed.clone()
        } else {
            // Scored as `placement::evaluate` scored it: a parallel placement with the
            // engine's tensor-parallel split mode.
            let mut trial = Settings {
                backend: b,
                ..s.clone()
            };
            if cand.placement.is_parallel() {
                trial.split_mode = split_modes::parallel_mode(req.engine).name.into();
            }
            scorer(&cand.layout, hw, &trial)
        };
        scored.push((b, speed));
    }
    // The first scored (the GPUs' own runtime where they have it) unless another is
    // predicted faster by more than the speed model's backend error: switching means
    // building another engine, and a 1% prediction is not worth that.
    let mut best: Option<(Backend, Speed)> = None;
    for (b, sp) in &scored {
        let margin = if best.is_some() { SWITCH_MARGIN } else { 1.0 };
        if best
            .as_ref()
            .is_none_or(|(_, bs)| sp.tg_tokens_per_s > bs.tg_tokens_per_s * margin)
        {
            best = Some((*b, sp.clone()));
        }
    }
    let Some((backend, speed)) = best else {
        // Nothing runs these settings: keep the searched backend and say why.
        return Ok(BackendChoice {
            backend: searched,
            speed: cand.speed.clone(),
            why: format!("no backend runs every setting ({})", refused.join("; ")),
        });
    };
    let mut why = if req.backend.is_some() {
        "pinned".to_string()
    } else {
        explain(backend, &speed, &scored, &refused)
    };
    // `rigplan build` builds each GPU's first usable backend unless told otherwise.
    let build_default = cand
        .placement
        .gpus
        .iter()
        .filter_map(|i| hw.gpus.iter().find(|g| g.index == *i))
        .any(|g| g.usable_backends().first() != Some(&backend));
    if build_default {
        why.push_str(&format!(
            "; build the engine with `rigplan build --backend {backend}`"
        ));
    }
    Ok(BackendChoice {
        backend,
        speed,
        why,
    })
}

/// "fastest backend the GPUs can use here, predicted 41.2 tok/s; runner-up vulkan 33.0
/// tok/s".
fn explain(
    chosen: Backend,
    speed: &Speed,
    scored: &[(Backend, Speed)],
    refused: &[String],
) -> String {
    let mut why = format!(
        "{chosen}: predicted {:.1} tok/s (another backend must be predicted {:.0}% faster than the GPUs' own runtime to replace it)",
        speed.tg_tokens_per_s,
        (SWITCH_MARGIN - 1.0) * 100.0
    );
    let runner = scored
        .iter()
        .filter(|(b, _)| *b != chosen)
        .max_by(|a, b| a.1.tg_tokens_per_s.total_cmp(&b.1.tg_tokens_per_s));
    match runner {
        Some((b, sp)) => why.push_str(&format!("; runner-up {b} {:.1} tok/s", sp.tg_tokens_per_s)),
        None if refused.is_empty() => why.push_str("; the only backend available"),
        None => {}
    }
    if !refused.is_empty() {
        why.push_str(&format!("; not: {}", refused.join("; ")));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Layout;
    use crate::planner::testing::{model, rig};

    fn backend_reason(plan: &crate::plan::Plan) -> String {
        plan.reasons
            .iter()
            .find(|r| r.setting == "backend")
            .map(|r| r.why.clone())
            .unwrap_or_default()
    }

    #[test]
    fn the_fastest_backend_wins_and_names_the_runner_up() {
        let spec = model("llama-3.1-8b", "Q4_K_M");
        let hw = rig("z440-2x3060");
        let base = crate::perf::scorer(&spec, EngineKind::LlamaCpp);
        // A scorer that predicts Vulkan twice as fast on these GPUs (its own layer split
        // must beat CUDA's tensor-parallel one by the 15% margin).
        let vulkan_faster = |l: &Layout, h: &HardwareSnapshot, s: &Settings| {
            let mut sp = base(l, h, s);
            if s.backend == Backend::Vulkan {
                sp.tg_tokens_per_s *= 2.0;
            }
            sp
        };
        let req = PlanRequest::default();
        let plan = crate::planner::plan_with(&spec, &hw, &req, &vulkan_faster).unwrap();
        assert_eq!(plan.settings.backend, Backend::Vulkan, "{:?}", plan.reasons);
        assert!(plan.performance.tg_tokens_per_s > 0.0);
        let why = backend_reason(&plan);
        assert!(why.contains("runner-up cuda"), "{why}");
        assert!(why.contains("rigplan build --backend vulkan"), "{why}");
        // Equal predictions keep the vendor's runtime.
        let plan = crate::planner::plan_with(&spec, &hw, &req, &base).unwrap();
        assert_eq!(plan.settings.backend, Backend::Cuda);
    }

    #[test]
    fn common_backends_follow_the_first_gpu() {
        let mut hw = rig("z440-2x3060");
        assert_eq!(common(&hw, &[0, 1]), vec![Backend::Cuda, Backend::Vulkan]);
        hw.gpus[1].backends = vec![Backend::Vulkan];
        assert_eq!(common(&hw, &[0, 1]), vec![Backend::Vulkan]);
        assert_eq!(
            search_backend(&hw, &PlanRequest::default()),
            Backend::Vulkan
        );
        assert!(common(&hw, &[]).is_empty());
    }
}
