//! Stage 1: the search. For each context, KV cache type and ubatch of the
//! [`SearchSpace`] it asks `placement::search` for scored candidates and keeps the
//! fastest that fits, preferring the higher-precision cache and the default ubatch unless
//! the other buys a clear gain ([`improves`]); it collects runners-up for the
//! alternatives and the split-mode reason. When nothing fits it fails with the closest
//! miss, by how much and on which device. Pure.

use super::devices::Devices;
use super::memory::MemoryConfig;
use super::placement::{self, Candidate, PlacementPins};
use super::request::{PlanRequest, SplitMode};
use super::space::SearchSpace;
use super::summary::summary;
use super::{PlanError, Scorer};
use crate::engine::split_modes;
use crate::engine::{self, EngineKind};
use crate::gguf::GgmlType;
use crate::hardware::HardwareSnapshot;
use crate::model::ModelSpec;
use crate::plan::Settings;

/// A fitting candidate with the context configuration and settings it was scored with.
#[derive(Clone, Debug)]
pub struct Choice {
    pub cand: Candidate,
    pub cfg: MemoryConfig,
    pub settings: Settings,
}

/// What the search found: the best choice and the runners-up, unsorted.
#[derive(Clone, Debug)]
pub struct Found {
    pub best: Choice,
    pub runners: Vec<Choice>,
}

/// Searches the space; `threads` is the thread count candidates are scored with.
pub fn search(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    req: &PlanRequest,
    space: &SearchSpace,
    threads: u32,
    scorer: &Scorer<'_>,
) -> Result<Found, PlanError> {
    let pins = PlacementPins {
        ngl: req.ngl,
        n_cpu_moe: req.n_cpu_moe,
        tensor_split: req.tensor_split.clone(),
        gpu_split: req.split_mode.map(SplitMode::gpu_split),
    };
    let mut best: Option<Choice> = None;
    let mut runners: Vec<Choice> = Vec::new();
    let mut closest: Option<Candidate> = None;
    'ctx: for &ctx in &space.contexts {
        for &kv in &space.kv_types {
            // A smaller cache buys speed through a better placement, or through fewer KV
            // bytes read per token where the cache lives in slow memory (CPU-only plans).
            // With everything already on the GPUs the KV read is a small share of the
            // token time at the use cases' depths, so the search is skipped there; so is
            // a bigger ubatch, which only helps hybrid prompt processing.
            for (i, &ub) in space.ubatches.iter().enumerate() {
                if best
                    .as_ref()
                    .is_some_and(|b| all_layers_on_gpu(&b.cand, spec))
                {
                    if i == 0 {
                        break;
                    }
                    continue;
                }
                let cfg = memory_config(spec, req, space, ctx, kv, ub);
                let draft = draft_settings(spec, space, &cfg, threads);
                let mut cands = placement::search(spec, hw, devices, &cfg, &draft, &pins, scorer)
                    .map_err(PlanError::Invalid)?;
                prefer_established_split(&mut cands, req.engine, req.split_mode.is_some());
                let Some(top) = cands.first() else {
                    continue;
                };
                if !top.fits() {
                    if closest.as_ref().is_none_or(|b| top.shortfall < b.shortfall) {
                        closest = Some(top.clone());
                    }
                } else {
                    let choice = Choice {
                        cand: top.clone(),
                        cfg,
                        settings: draft.clone(),
                    };
                    let take = best.as_ref().is_none_or(|b| improves(b, &choice));
                    if take {
                        if let Some(old) = best.replace(choice) {
                            runners.push(old);
                        }
                    } else {
                        runners.push(choice);
                    }
                }
                collect_runners_up(&mut runners, &cands, &cfg, &draft, spec);
            }
            if best.is_some() && space.stop_at_first_fit {
                break 'ctx;
            }
        }
        if best.is_some() {
            break;
        }
    }
    match best {
        Some(best) => Ok(Found { best, runners }),
        None => Err(no_fit(spec, devices, space, closest)),
    }
}

/// Whether `new` should replace `best`: with the same cache, a bigger ubatch must buy >5%
/// tg, or >5% pp at equal tg; a lower-precision cache only when it is predicted >5%
/// faster (a better placement, or fewer KV bytes read).
pub fn improves(best: &Choice, new: &Choice) -> bool {
    let (b, c) = (&best.cand.speed, &new.cand.speed);
    let tg_gain = c.tg_tokens_per_s / b.tg_tokens_per_s.max(1e-9);
    let same_kv = best.cfg.type_k == new.cfg.type_k && best.cfg.type_v == new.cfg.type_v;
    if same_kv {
        tg_gain > 1.05 || (tg_gain > 0.99 && c.pp_tokens_per_s > b.pp_tokens_per_s * 1.05)
    } else {
        tg_gain > 1.05
    }
}

/// Runners-up from one search: the best of the other multi-GPU split kind (so the
/// split-mode reason and the alternatives can compare layer and tensor-parallel splits),
/// then up to three fitting candidates of other shapes. A shape already collected is
/// skipped.
fn collect_runners_up(
    runners: &mut Vec<Choice>,
    cands: &[Candidate],
    cfg: &MemoryConfig,
    draft: &Settings,
    spec: &ModelSpec,
) {
    let known = |runners: &[Choice], c: &Candidate| {
        let shape = summary(&c.placement, spec);
        runners
            .iter()
            .any(|r| summary(&r.cand.placement, spec) == shape)
    };
    let choice = |c: &Candidate| Choice {
        cand: c.clone(),
        cfg: *cfg,
        settings: draft.clone(),
    };
    if let Some(o) = cands.first().and_then(|top| other_split(cands, top)) {
        if !known(runners, o) {
            runners.push(choice(o));
        }
    }
    let mut seen = 0;
    for c in cands.iter().skip(1).filter(|c| c.fits()) {
        if known(runners, c) {
            continue;
        }
        runners.push(choice(c));
        seen += 1;
        if seen >= 3 {
            break;
        }
    }
}

/// The context configuration of one point of the space: the request's batch (at least
/// the ubatch) and parallel slots, and the `-mla` mode the engine's planning rules ask
/// for on an MLA model.
fn memory_config(
    spec: &ModelSpec,
    req: &PlanRequest,
    space: &SearchSpace,
    ctx: u64,
    (type_k, type_v): (GgmlType, GgmlType),
    ubatch: u32,
) -> MemoryConfig {
    let mla = engine::info(req.engine).planning.mla_mode;
    MemoryConfig {
        engine: req.engine,
        n_ctx: ctx,
        n_batch: u64::from(req.batch.unwrap_or(2048).max(ubatch)),
        n_ubatch: u64::from(ubatch),
        n_seq: u64::from(req.parallel.unwrap_or(1)),
        n_outputs_max: 0,
        kv_unified: false,
        type_k,
        type_v,
        flash_attn: space.flash_attn,
        swa_full: false,
        mla_mode: match (mla, spec.mla) {
            (Some(m), Some(_)) => m.mode,
            _ => 0,
        },
    }
}

/// The settings candidates are scored with: the point's context configuration (its
/// batch, ubatch and slots as `memory_config` set them, all from `u32` values), a layer
/// split, the default threads; placement fields are filled once one is chosen.
fn draft_settings(
    spec: &ModelSpec,
    space: &SearchSpace,
    cfg: &MemoryConfig,
    threads: u32,
) -> Settings {
    Settings {
        quant: spec.quant.clone(),
        n_gpu_layers: 0,
        n_cpu_moe: 0,
        ctx: cfg.padded_ctx(),
        predict: space.predict,
        cache_type_k: cfg.type_k.name().to_ascii_lowercase(),
        cache_type_v: cfg.type_v.name().to_ascii_lowercase(),
        threads,
        batch: cfg.n_batch as u32,
        ubatch: cfg.n_ubatch as u32,
        parallel: cfg.n_seq as u32,
        split_mode: "layer".into(),
        tensor_split: Vec::new(),
        flash_attn: space.flash_attn,
        mlock: false,
        mmap: true,
        override_tensors: Vec::new(),
        gpu_indices: Vec::new(),
        backend: space.backend,
        extras: Default::default(),
        speculative: Default::default(),
    }
}

/// Every block and the output on the GPUs, no expert elsewhere.
pub fn all_layers_on_gpu(c: &Candidate, spec: &ModelSpec) -> bool {
    let p = &c.placement;
    !p.gpus.is_empty()
        && p.n_gpu_layers > spec.n_layer
        && p.n_cpu_moe == 0
        && p.expert_overrides.is_empty()
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

/// Nothing fits: the closest miss, by how much and on which device, at the last (most
/// permissive) context and cache type of the space.
fn no_fit(
    spec: &ModelSpec,
    devices: &Devices,
    space: &SearchSpace,
    closest: Option<Candidate>,
) -> PlanError {
    let msg = match closest {
        Some(c) => {
            let dev = c.short_device.map(|d| devices.name(d)).unwrap_or_default();
            format!(
                "'{}' does not fit: the closest placement ({}) needs {} more on {dev} (context {}, KV {})",
                spec.name,
                summary(&c.placement, spec),
                c.shortfall,
                space.contexts.last().copied().unwrap_or(0),
                space.kv_types.last().map(|k| k.0.name()).unwrap_or("F16")
            )
        }
        None => format!("'{}' has no placement that honours the pins", spec.name),
    };
    PlanError::Unsatisfiable(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Layout, Speed};
    use crate::planner::memory::weights::{GpuSplit, Placement};
    use crate::units::Bytes;

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

    fn choice(kv: &str, tg: f64, pp: f64) -> Choice {
        let t = GgmlType::from_name(kv).unwrap();
        let mut c = cand(false, tg, true);
        c.speed.pp_tokens_per_s = pp;
        Choice {
            cand: c,
            cfg: MemoryConfig::mainline(8192, t, true),
            settings: draft_settings(
                &crate::planner::testing::model("llama-3.1-8b", "Q4_K_M"),
                &SearchSpace {
                    contexts: vec![8192],
                    kv_types: vec![(t, t)],
                    ubatches: vec![512],
                    predict: 1,
                    flash_attn: true,
                    backend: Default::default(),
                    n_ctx_train: 8192,
                    stop_at_first_fit: false,
                },
                &MemoryConfig::mainline(8192, t, true),
                4,
            ),
        }
    }

    #[test]
    fn a_choice_must_buy_a_clear_gain() {
        // (best, new) -> replaces
        let cases = [
            // Same cache (another ubatch): >5% tg, or >5% pp at (almost) equal tg.
            (("F16", 50.0, 100.0), ("F16", 52.0, 100.0), false),
            (("F16", 50.0, 100.0), ("F16", 53.0, 100.0), true),
            (("F16", 50.0, 100.0), ("F16", 49.8, 106.0), true),
            (("F16", 50.0, 100.0), ("F16", 49.0, 200.0), false),
            // A lower-precision cache: >5% tg only; pp does not count.
            (("F16", 50.0, 100.0), ("Q8_0", 52.0, 300.0), false),
            (("F16", 50.0, 100.0), ("Q8_0", 53.0, 100.0), true),
        ];
        for ((bk, btg, bpp), (nk, ntg, npp), want) in cases {
            let (b, n) = (choice(bk, btg, bpp), choice(nk, ntg, npp));
            assert_eq!(
                improves(&b, &n),
                want,
                "{bk} {btg}/{bpp} -> {nk} {ntg}/{npp}"
            );
        }
    }
}
