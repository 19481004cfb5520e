//! A separate draft model (`--draft MODEL`, or the catalog's drafter) as a speculative
//! candidate: the engine's vocabulary check, where the engine puts it (the main model's
//! GPUs and split, all layers, on what the main placement leaves; else, with `-devd none`,
//! the CPU alone), its weights, cache and compute buffers as `memory::breakdown` lays
//! them out for the engine's draft context, and its per-token cost from the speed model
//! run on that placement. A draft that fits nowhere beside the main model is refused,
//! never placed by moving the main model's layers or experts; an EAGLE-3 drafter is
//! refused with the reason. Pure.

use super::{alpha_for, device_room, row_of, step_costs, tg, Decision, MAX_DRAFT};
use crate::engine::options::OptionKind;
use crate::engine::speculative::{support, DraftCacheDefault, DraftContext, EAGLE3_ARCHITECTURE};
use crate::hardware::HardwareSnapshot;
use crate::model::ModelSpec;
use crate::perf::speculative as spec_perf;
use crate::plan::{HfDownload, Speculative, SpeculativeKind};
use crate::planner::devices::Devices;
use crate::planner::memory::{self, weights::Placement, MemoryConfig};
use crate::planner::request::{DraftModel, PlanRequest};
use crate::planner::settings::Settled;

/// common/speculative.cpp `SPEC_VOCAB_MAX_SIZE_DIFFERENCE`: the most the draft's
/// vocabulary may differ in size from the target's (`common_speculative_are_compatible`).
const VOCAB_MAX_SIZE_DIFFERENCE: u64 = 128;

/// The draft (or MTP) context as the engine makes it
/// (`engine::speculative::DraftContext`), in the main context's cache types, with one
/// output per slot where the engine says so (`draft_outputs_per_slot`).
pub(super) fn draft_config(req: &PlanRequest, settled: &Settled) -> MemoryConfig {
    let mut cfg = settled.cfg;
    if support(req.engine).draft_outputs_per_slot {
        cfg.n_outputs_max = u64::from(settled.settings.parallel.max(1));
    }
    if support(req.engine).draft_context == DraftContext::OneSlot {
        // ik server-context.cpp `load_model`: n_ctx / n_parallel, one sequence,
        // n_batch = n_ctx.
        cfg.n_ctx = settled.settings.ctx / u64::from(settled.settings.parallel.max(1));
        cfg.n_seq = 1;
        cfg.n_batch = cfg.n_ctx;
        cfg.n_ubatch = cfg.n_ubatch.min(cfg.n_batch);
    }
    cfg
}

/// The draft's placement: every layer on the main model's GPUs with its split (the
/// engine's draft follows `--device`, `-sm` and `-ts` of the main model:
/// common/speculative.cpp `common_base_params_to_speculative`), or the CPU for a
/// CPU-only plan.
pub(super) fn draft_placement(draft: &ModelSpec, settled: &Settled) -> Placement {
    let main = &settled.cand.placement;
    if main.gpus.is_empty() || main.n_gpu_layers == 0 {
        return Placement::cpu_only();
    }
    Placement {
        n_gpu_layers: draft.n_layer + 1,
        gpus: main.gpus.clone(),
        tensor_split: main.tensor_split.clone(),
        n_cpu_moe: 0,
        expert_overrides: Vec::new(),
        gpu_split: main.gpu_split,
    }
}

/// Seconds per drafted token: the speed model run on the draft's own placement (its
/// weights on its devices, its cache at half its context, the main plan's threads and
/// backend), one token per draft step, as `common_speculative_impl_draft_simple` decodes
/// (common/speculative.cpp `draft`). A `tune` calibration applies as to the main model.
fn draft_token_seconds(
    draft: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
    settled: &Settled,
    placement: &Placement,
    cfg: &MemoryConfig,
    bytes: &[(crate::plan::DeviceId, memory::DeviceBytes)],
) -> f64 {
    let layout = crate::planner::placement::layout_for(draft, placement, cfg, bytes);
    let scorer = crate::perf::scorer(draft, req.engine);
    let speed = scorer(&layout, hw, &settled.settings);
    let speed = match &req.speed_correction {
        Some(c) => c.apply(speed, settled.settings.threads),
        None => speed,
    };
    1.0 / speed.tg_tokens_per_s.max(1e-9)
}

/// A drafter from the bundled catalog for a model without `--draft`: an entry of the
/// same architecture and vocabulary (the engine's check) at most half the model's
/// parameters, the smallest such, at its default quant. Catalog data is compiled in,
/// so this reads no file.
pub(super) fn catalog_drafter(spec: &ModelSpec) -> Option<DraftModel> {
    let total = spec.total_parameters();
    // A drafter of at most half the parameters is narrower or shallower: entries of the
    // same width and depth (the model itself, its siblings) are skipped before their
    // spec, which costs a full tensor assignment, is built.
    let smaller_shape = |e: &crate::model::catalog::CatalogEntry| {
        e.hparam("embedding_length").is_none_or(|w| w < spec.n_embd)
            || e.hparam("block_count")
                .is_none_or(|n| n < u64::from(spec.n_layer))
    };
    crate::model::catalog::all()
        .iter()
        .filter(|e| e.architecture() == spec.architecture)
        .filter(|e| smaller_shape(e))
        .filter_map(|e| {
            let d = e.spec(None).ok()?;
            let fits = d.n_vocab.abs_diff(spec.n_vocab) <= VOCAB_MAX_SIZE_DIFFERENCE
                && d.total_parameters().saturating_mul(2) <= total;
            let download = e.hf_location(&e.default_quant).map(|l| HfDownload {
                repo: l.repo,
                file: l.file,
                quant: Some(l.quant),
                shards: l.shards,
            });
            fits.then(|| (format!("{}:{}", e.id, e.default_quant), d, download))
        })
        .min_by_key(|(_, d, _)| d.total_parameters())
        .map(|(reference, spec, download)| DraftModel {
            reference,
            path: None,
            spec,
            download,
        })
}

/// What the draft holds on each device under `placement` and its share of the plan's
/// memory rows, or why it does not fit in what the main placement leaves.
#[allow(clippy::type_complexity)]
fn placed(
    draft: &ModelSpec,
    devices: &Devices,
    settled: &Settled,
    cfg: &MemoryConfig,
    placement: Placement,
) -> Result<
    (
        Placement,
        Vec<(crate::plan::DeviceId, memory::DeviceBytes)>,
        Vec<(usize, memory::DeviceBytes)>,
    ),
    String,
> {
    let bytes = memory::breakdown(draft, &placement, cfg)?;
    let mut extra = Vec::new();
    for (dev, b) in &bytes {
        if b.total() == crate::units::Bytes::ZERO {
            continue;
        }
        let room = device_room(devices, settled, *dev);
        if b.total() > room {
            return Err(format!(
                "the draft model needs {} on {} and only {room} is left: it would push \
                 the main model's layers or experts off it",
                b.total(),
                super::device_label(*dev)
            ));
        }
        let i = row_of(settled, *dev)
            .ok_or_else(|| format!("no memory row for {}", super::device_label(*dev)))?;
        // The GPU runtime's own overhead is per process, already counted for the main model.
        extra.push((
            i,
            memory::DeviceBytes {
                overhead: crate::units::Bytes::ZERO,
                ..b.clone()
            },
        ));
    }
    Ok((placement, bytes, extra))
}

/// Whether the engine downloads this draft itself: no local file, a recorded repository,
/// and a draft download option in the pinned engine (mainline `-hfd`; ik has none).
pub(super) fn engine_downloads(req: &PlanRequest, d: &DraftModel) -> bool {
    d.path.is_none()
        && d.download.is_some()
        && crate::engine::info(req.engine).server_accepts(OptionKind::DraftHfRepo)
}

/// The draft-model candidate, or why there is none.
pub(super) fn candidate(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    req: &PlanRequest,
    settled: &Settled,
) -> Result<Decision, String> {
    if settled.settings.parallel > super::MAX_SLOTS {
        return Err(format!(
            "{} parallel slots share each verify step",
            settled.settings.parallel
        ));
    }
    let Some(d) = &req.draft else {
        return Err(
            "no --draft model given and no smaller model of this family and \
                    vocabulary in the catalog"
                .into(),
        );
    };
    let sup = support(req.engine);
    if d.spec.n_vocab.abs_diff(spec.n_vocab) > VOCAB_MAX_SIZE_DIFFERENCE {
        return Err(format!(
            "draft '{}' has a vocabulary of {} tokens, the model {}: the engine refuses a \
             draft whose vocabulary differs by more than {VOCAB_MAX_SIZE_DIFFERENCE}",
            d.reference, d.spec.n_vocab, spec.n_vocab
        ));
    }
    if d.spec.architecture == EAGLE3_ARCHITECTURE {
        let engine = format!(
            "{} {}",
            req.engine,
            crate::engine::info(req.engine).short_commit()
        );
        return Err(match sup.eagle3_spec_type {
            Some(t) => format!(
                "'{}' is an EAGLE-3 drafter: {engine} runs it with -md FILE --spec-type {t}, \
                 but rigplan does not plan EAGLE-3 (its context reads the target's hidden \
                 states; its memory and acceptance are not modelled): launch it by hand, \
                 or plan with --speculative none",
                d.reference
            ),
            None => format!(
                "'{}' is an EAGLE-3 drafter and {engine} has no EAGLE-3 speculative type",
                d.reference
            ),
        });
    }
    let kind = if sup.runs_external_mtp(&d.spec.architecture) {
        SpeculativeKind::Mtp
    } else if d.spec.architecture.ends_with("-assistant") {
        return Err(format!(
            "{} {} cannot run a '{}' drafter",
            req.engine,
            crate::engine::info(req.engine).short_commit(),
            d.spec.architecture
        ));
    } else {
        SpeculativeKind::Draft
    };
    let cfg = draft_config(req, settled);
    // On the main model's GPUs, else (it would push the main model off them) the CPU
    // alone, if the host has room: the speed model then says whether it still pays.
    let on_gpus = draft_placement(&d.spec, settled);
    let (placement, bytes, extra) = match placed(&d.spec, devices, settled, &cfg, on_gpus) {
        Ok(p) => p,
        Err(gpu_err) if !settled.cand.placement.gpus.is_empty() => {
            placed(&d.spec, devices, settled, &cfg, Placement::cpu_only())
                .map_err(|cpu_err| format!("{gpu_err}; on the CPU alone, {cpu_err}"))?
        }
        Err(e) => return Err(e),
    };
    let on_cpu = placement.gpus.is_empty() && !settled.cand.placement.gpus.is_empty();
    let mut costs = step_costs(spec, settled);
    costs.draft_s = draft_token_seconds(&d.spec, hw, req, settled, &placement, &cfg, &bytes);
    let (alpha, source) = alpha_for(SpeculativeKind::Draft, spec, req);
    let (k, with) = match req.draft_max {
        Some(k) => (k, spec_perf::tokens_per_second(&costs, alpha, k)),
        None => spec_perf::best_draft_length(&costs, alpha, MAX_DRAFT),
    };
    let download = engine_downloads(req, d)
        .then(|| d.download.clone())
        .flatten();
    let types = (sup.draft_cache_default == DraftCacheDefault::F16)
        .then(|| settled.settings.cache_type_k.clone());
    let types_v = (sup.draft_cache_default == DraftCacheDefault::F16)
        .then(|| settled.settings.cache_type_v.clone());
    Ok(Decision {
        settings: Speculative {
            kind,
            draft_model: match &download {
                // -hfd REPO -md FILE: the file in the repository.
                Some(dl) => dl.file.clone(),
                None => Some(d.path.clone().unwrap_or_else(|| d.reference.clone())),
            },
            draft_max: k,
            draft_min: 0,
            p_min: sup.default_p_min,
            draft_gpu_layers: Some(if on_cpu { 0 } else { placement.n_gpu_layers }),
            draft_cache_type_k: types,
            draft_cache_type_v: types_v,
            autotune: false,
            draft_download: download,
            draft_on_cpu: on_cpu,
            draft_ctx: crate::engine::info(req.engine)
                .server_accepts(OptionKind::DraftCtxSize)
                .then_some(cfg.n_ctx),
        },
        tg_tokens_per_s: Some(with),
        extra,
        why: format!(
            "draft model '{}' drafts {k} token(s) per step: {with:.1} vs {:.1} tok/s without \
             (acceptance α={alpha:.2} per token from {source}; a drafted token costs {:.2} \
             decode steps{})",
            d.reference,
            tg(settled),
            costs.draft_s / costs.decode_s,
            if on_cpu {
                " on the CPU, where it runs because it does not fit beside the main model \
                 on the GPU"
            } else {
                ""
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;
    use crate::planner::testing::{model, rig, stages};

    fn with_draft(id: &str, quant: &str) -> PlanRequest {
        PlanRequest {
            draft: Some(DraftModel {
                reference: format!("{id}:{quant}"),
                path: None,
                spec: model(id, quant),
                download: None,
            }),
            ..PlanRequest::default()
        }
    }

    #[test]
    fn a_same_vocabulary_draft_is_placed_on_what_the_main_model_leaves() {
        let main = model("llama-3.1-8b", "Q4_K_M");
        let req = with_draft("llama-3.2-3b", "Q4_K_M");
        let hw = rig("desktop-3090");
        let st = stages(&main, &hw, &req);
        let d = candidate(&main, &hw, &st.devices, &req, &st.settled).unwrap();
        assert_eq!(d.settings.kind, SpeculativeKind::Draft);
        assert_eq!(d.settings.draft_gpu_layers, Some(29));
        // Its weights, cache and compute are the engine layout of the draft context.
        let draft = &req.draft.as_ref().unwrap().spec;
        let cfg = draft_config(&req, &st.settled);
        let want = memory::breakdown(draft, &draft_placement(draft, &st.settled), &cfg).unwrap();
        let gpu_want = &want
            .iter()
            .find(|(x, _)| *x != crate::plan::DeviceId::CPU)
            .unwrap()
            .1;
        let gpu_got = &d.extra.iter().find(|(i, _)| *i > 0).unwrap().1;
        assert_eq!(gpu_got.weights, gpu_want.weights);
        assert_eq!(gpu_got.kv, gpu_want.kv);
        assert_eq!(gpu_got.overhead, crate::units::Bytes::ZERO);
    }

    /// The drafted token's cost is the speed model on the draft's own placement: the
    /// draft planned alone on the same rig (all layers on the GPU, the same context)
    /// decodes at the speed the candidate charges per drafted token. On a GPU that is
    /// far more than the draft's share of bytes (per-layer launch costs do not shrink
    /// with the model).
    #[test]
    fn a_drafted_token_costs_the_drafts_own_predicted_decode_step() {
        let main = model("llama-3.1-8b", "Q4_K_M");
        let req = with_draft("llama-3.2-1b", "Q4_K_M");
        let hw = rig("desktop-3090");
        let st = stages(&main, &hw, &req);
        let d = candidate(&main, &hw, &st.devices, &req, &st.settled).unwrap();
        let mut costs = step_costs(&main, &st.settled);
        let draft = &req.draft.as_ref().unwrap().spec;
        let cfg = draft_config(&req, &st.settled);
        let placement = draft_placement(draft, &st.settled);
        let bytes = memory::breakdown(draft, &placement, &cfg).unwrap();
        costs.draft_s =
            draft_token_seconds(draft, &hw, &req, &st.settled, &placement, &cfg, &bytes);
        let alone = crate::planner::plan(
            draft,
            &hw,
            &PlanRequest {
                ctx: Some(st.settled.settings.ctx),
                speculative: Some(SpeculativeKind::None),
                ..PlanRequest::default()
            },
        )
        .unwrap();
        assert!(alone.settings.n_gpu_layers > draft.n_layer);
        let alone_s = 1.0 / alone.performance.tg_tokens_per_s;
        assert!(
            (costs.draft_s / alone_s - 1.0).abs() < 0.05,
            "{} vs {alone_s}",
            costs.draft_s
        );
        let k = d.settings.draft_max;
        let want = spec_perf::tokens_per_second(
            &costs,
            alpha_for(SpeculativeKind::Draft, &main, &req).0,
            k,
        );
        assert!((d.tg_tokens_per_s.unwrap() / want - 1.0).abs() < 1e-9);
        let bytes_ratio = super::super::active_bytes(draft) / super::super::active_bytes(&main);
        assert!(
            costs.draft_s / costs.decode_s > 1.2 * bytes_ratio,
            "{costs:?}"
        );
    }

    /// A draft that does not fit beside the main model on the GPU runs on the CPU
    /// (`-devd none -ngld 0`), its weights, cache and compute on the CPU row, and the
    /// speed model prices its token there; ik also gets the draft context size (`-cd`).
    #[test]
    fn a_draft_that_misses_the_gpu_runs_on_the_cpu() {
        let hw = rig("desktop-3070-8gb");
        let main = model("llama-3.1-8b", "Q4_K_M");
        for engine in [EngineKind::LlamaCpp, EngineKind::IkLlamaCpp] {
            let req = PlanRequest {
                engine,
                ..with_draft("llama-3.2-3b", "Q4_K_M")
            };
            let st = stages(&main, &hw, &req);
            let d = candidate(&main, &hw, &st.devices, &req, &st.settled).unwrap();
            assert!(d.settings.draft_on_cpu, "{engine}: {}", d.why);
            assert_eq!(d.settings.draft_gpu_layers, Some(0));
            assert!(d.why.contains("on the CPU"), "{}", d.why);
            let draft = &req.draft.as_ref().unwrap().spec;
            let cfg = draft_config(&req, &st.settled);
            let want = memory::breakdown(draft, &Placement::cpu_only(), &cfg).unwrap();
            assert_eq!(d.extra.len(), 1);
            assert_eq!(d.extra[0].0, 0, "the CPU row");
            assert_eq!(d.extra[0].1.weights, want[0].1.weights);
            assert_eq!(d.extra[0].1.kv, want[0].1.kv);
            // A token of the 3B on the CPU costs more than the 8B's on the GPU.
            assert!(d.why.contains("decode steps on the CPU"), "{}", d.why);
            let settings = crate::plan::Settings {
                speculative: d.settings.clone(),
                ..st.settled.settings.clone()
            };
            let args = crate::engine::launch_args(engine, &settings, "/m.gguf", None);
            let joined = args.join(" ");
            assert!(
                joined.contains("-devd none") && joined.contains("-ngld 0"),
                "{joined}"
            );
            assert_eq!(
                joined.contains(&format!("-cd {}", cfg.n_ctx)),
                engine == EngineKind::IkLlamaCpp,
                "{joined}"
            );
        }
    }

    /// An EAGLE-3 drafter is refused with the reason: mainline runs it with
    /// `--spec-type draft-eagle3`, which rigplan does not plan; ik has no such type.
    #[test]
    fn an_eagle3_drafter_is_refused_with_the_reason() {
        let hw = rig("desktop-3090");
        let main = model("llama-3.1-8b", "Q4_K_M");
        for (engine, says) in [
            (EngineKind::LlamaCpp, "--spec-type draft-eagle3"),
            (EngineKind::IkLlamaCpp, "no EAGLE-3 speculative type"),
        ] {
            let mut req = PlanRequest {
                engine,
                ..with_draft("llama-3.2-1b", "Q4_K_M")
            };
            req.draft.as_mut().unwrap().spec.architecture = EAGLE3_ARCHITECTURE.into();
            let st = stages(&main, &hw, &req);
            let e = candidate(&main, &hw, &st.devices, &req, &st.settled).unwrap_err();
            assert!(e.contains("EAGLE-3") && e.contains(says), "{e}");
        }
    }

    #[test]
    fn a_draft_with_another_vocabulary_or_no_room_is_refused() {
        let hw = rig("desktop-3090");
        let main = model("qwen3.5-27b", "Q4_K_M");
        let req = with_draft("llama-3.2-3b", "Q4_K_M");
        let st = stages(&main, &hw, &req);
        let e = candidate(&main, &hw, &st.devices, &req, &st.settled).unwrap_err();
        assert!(e.contains("vocabulary"), "{e}");
        // An 8 GB card full of the main model has no room for a 70B "draft".
        let small = rig("desktop-3070-8gb");
        let main = model("llama-3.1-8b", "Q4_K_M");
        let req = with_draft("llama-3.3-70b", "Q4_K_M");
        let st = stages(&main, &small, &req);
        let e = candidate(&main, &small, &st.devices, &req, &st.settled).unwrap_err();
        assert!(e.contains("would push"), "{e}");
    }
}
