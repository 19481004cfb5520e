//! Stage 5: speculative decoding — whether the settled plan drafts tokens, with which
//! kind (the model's MTP head, a draft model, n-gram lookup), how many per step, and what
//! the drafter adds to memory; then the Plan's settings, memory rows, speed and reasons
//! say so.
//!
//! Candidates: an MTP head where the model has nextn layers and the engine has an MTP
//! graph for its architecture (`engine::speculative`); a draft model given with
//! `--draft`, or the catalog's smaller model of the same family where the engine can
//! download it itself (`draft`); n-gram lookup for `--use-case coding`. Each is scored
//! with `perf::speculative` on the settled placement's speed (verify step of k+1 tokens,
//! the drafter's cost, published acceptance rates) and k is the fastest draft length. A
//! kind is refused where it does not pay, where many parallel slots share the verify
//! step, or where the drafter and its cache do not fit in what the main placement leaves
//! (the main placement is never moved for it). Pure.

mod draft;

use super::devices::Devices;
use super::memory::DeviceBytes;
use super::request::{PlanRequest, UseCase};
use super::settings::Settled;
use super::PlanError;
use crate::engine::speculative::{support, DraftCacheDefault, DraftContext};
use crate::gguf::GgmlType;
use crate::hardware::HardwareSnapshot;
use crate::model::spec::AttentionKind;
use crate::model::ModelSpec;
use crate::perf::speculative::{self as spec_perf, StepCosts};
use crate::plan::{DeviceId, Plan, Reason, Speculative, SpeculativeKind, Unit};
use crate::units::Bytes;

/// Longest draft tried when choosing k.
const MAX_DRAFT: u32 = 8;
/// A gain below this is not worth a second context: stay with plain decoding.
const MIN_GAIN: f64 = 1.03;
/// More slots than this share every verify step: speculation is not planned.
const MAX_SLOTS: u32 = 2;

/// The decision: settings, speed with it, what it adds to which device, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub settings: Speculative,
    /// Decode speed with speculation; `None` when the plan does not speculate.
    pub tg_tokens_per_s: Option<f64>,
    /// What the drafter adds per device (MTP head and its cache, or a draft model's
    /// weights, cache and compute buffers), by index among the plan's memory rows (the
    /// settled placement's devices, in order).
    pub extra: Vec<(usize, DeviceBytes)>,
    pub why: String,
}

impl Decision {
    fn none(why: String) -> Decision {
        Decision {
            settings: Speculative::default(),
            tg_tokens_per_s: None,
            extra: Vec::new(),
            why,
        }
    }
}

/// Decides speculative decoding for the settled plan; an explicit `--speculative` the
/// model or engine cannot run is bad input.
pub fn decide(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    req: &PlanRequest,
    settled: &Settled,
) -> Result<Decision, PlanError> {
    let pinned = req.speculative;
    if pinned == Some(SpeculativeKind::None) {
        return Ok(Decision::none("pinned: no speculative decoding".into()));
    }
    // Without --draft, a smaller model of the same family from the catalog.
    let catalog = match (&req.draft, pinned) {
        (None, None | Some(SpeculativeKind::Draft)) => draft::catalog_drafter(spec),
        _ => None,
    };
    let Some(d) = catalog else {
        return decide_with(spec, hw, devices, req, settled);
    };
    let with_catalog = PlanRequest {
        draft: Some(d.clone()),
        ..req.clone()
    };
    if pinned == Some(SpeculativeKind::Draft) || draft::engine_downloads(req, &d) {
        // Asked for, or the engine downloads it itself (mainline `-hfd`): the command
        // names the catalog model's repository and file, or (asked for, on an engine
        // that cannot download it) the catalog model, and a warning says to download it
        // and pass its path.
        return decide_with(spec, hw, devices, &with_catalog, settled);
    }
    // Chosen on its own, a catalog drafter the engine cannot download would make a
    // launch command naming a file that is not here: plan without it and say what it
    // would give.
    let mut chosen = decide_with(spec, hw, devices, req, settled)?;
    let now = chosen.tg_tokens_per_s.unwrap_or(tg(settled));
    if let Ok(alt) = draft::candidate(spec, hw, devices, &with_catalog, settled) {
        let alt_tg = alt.tg_tokens_per_s.unwrap_or(0.0);
        if pays(&alt, settled) && alt_tg > now {
            chosen.why += &format!(
                "; the catalog's '{}' as a draft model is predicted {alt_tg:.1} tok/s (k={}): \
                 download it and plan with --draft PATH to use it",
                d.reference, alt.settings.draft_max
            );
        }
    }
    Ok(chosen)
}

/// [`decide`] with the draft model (if any) already in the request.
fn decide_with(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    req: &PlanRequest,
    settled: &Settled,
) -> Result<Decision, PlanError> {
    let pinned = req.speculative;
    let drafted = draft::candidate(spec, hw, devices, req, settled);
    let mtp = match (&drafted, req.draft.is_some()) {
        // A drafter the engine runs as MTP (Gemma 4 assistant) is the MTP candidate.
        (Ok(d), true) if d.settings.kind == SpeculativeKind::Mtp => drafted.clone(),
        _ => mtp_candidate(spec, devices, req, settled),
    };
    let ngram = ngram_candidate(spec, req, settled);
    let chosen = match pinned {
        Some(SpeculativeKind::Mtp) => mtp.map_err(PlanError::Invalid)?,
        Some(SpeculativeKind::Ngram) => ngram.map_err(PlanError::Invalid)?,
        Some(SpeculativeKind::Draft) => {
            drafted.map_err(|e| PlanError::Invalid(format!("--speculative draft: {e}")))?
        }
        _ => {
            let found: Vec<Decision> = [drafted, mtp, ngram]
                .into_iter()
                .filter_map(Result::ok)
                .collect();
            let best = found.into_iter().max_by(|a, b| {
                a.tg_tokens_per_s
                    .partial_cmp(&b.tg_tokens_per_s)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            match best {
                Some(d) if pays(&d, settled) => d,
                Some(d) => {
                    return Ok(Decision::none(format!(
                        "no speculative decoding: the best, {} at k={}, would give {:.1} \
                         against {:.1} tok/s without",
                        d.settings.kind.as_str(),
                        d.settings.draft_max,
                        d.tg_tokens_per_s.unwrap_or(0.0),
                        tg(settled)
                    )))
                }
                None => {
                    return Ok(Decision::none(auto_none_reason(
                        spec, hw, devices, req, settled,
                    )))
                }
            }
        }
    };
    Ok(with_autotune(chosen, req))
}

/// ik_llama.cpp's `--spec-autotune` (common/spec-tuner.h) adapts the draft length at run
/// time, as seed 002 ran it: planned k is where it starts.
fn with_autotune(mut d: Decision, req: &PlanRequest) -> Decision {
    let drafts = matches!(
        d.settings.kind,
        SpeculativeKind::Mtp | SpeculativeKind::Draft
    );
    if drafts && support(req.engine).autotune {
        d.settings.autotune = true;
        d.why += "; --spec-autotune adapts k at run time from there";
    }
    d
}

fn tg(settled: &Settled) -> f64 {
    settled.cand.speed.tg_tokens_per_s
}

fn pays(d: &Decision, settled: &Settled) -> bool {
    d.tg_tokens_per_s.unwrap_or(0.0) >= tg(settled) * MIN_GAIN
}

fn auto_none_reason(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    req: &PlanRequest,
    settled: &Settled,
) -> String {
    if settled.settings.parallel > MAX_SLOTS {
        return format!(
            "no speculative decoding: {} parallel slots share each verify step",
            settled.settings.parallel
        );
    }
    let mut why = "no speculative decoding: ".to_string();
    why += &match mtp_candidate(spec, devices, req, settled) {
        Err(e) => e,
        Ok(_) => String::new(),
    };
    if let (Some(_), Err(e)) = (
        &req.draft,
        draft::candidate(spec, hw, devices, req, settled),
    ) {
        why += &format!("; {e}");
    }
    if req.use_case != UseCase::Coding {
        why += "; n-gram lookup is planned for --use-case coding only";
    }
    why
}

/// Decode costs of the settled placement, as the verify model needs them.
/// The drafter's cost (`draft_s`) is left at zero for the caller to set.
fn step_costs(spec: &ModelSpec, settled: &Settled) -> StepCosts {
    let speed = &settled.cand.speed;
    let decode_s = 1.0 / speed.tg_tokens_per_s.max(1e-9);
    let on_gpu = settled
        .cand
        .memory
        .iter()
        .any(|(d, b)| matches!(d.unit(), Unit::Gpu(_)) && b.weights > Bytes::ZERO)
        && settled.settings.n_gpu_layers > 0;
    let active = active_bytes(spec);
    let expert_share = if spec.is_moe() && active > 0.0 {
        routed_active_bytes(spec) / active
    } else {
        0.0
    };
    StepCosts {
        decode_s,
        token_compute_s: 1.0 / speed.pp_tokens_per_s.max(1e-9),
        on_gpu,
        expert_share,
        experts_used: if spec.is_moe() { spec.expert_used } else { 0 },
        experts_total: if spec.is_moe() { spec.expert_count } else { 0 },
        draft_s: 0.0,
    }
}

/// Bytes one decode step reads: everything but MTP and the unused experts.
fn active_bytes(spec: &ModelSpec) -> f64 {
    let trunk: f64 = spec
        .layers
        .iter()
        .filter(|l| !l.mtp)
        .map(|l| l.bytes.0 as f64)
        .sum();
    let experts: f64 = spec
        .layers
        .iter()
        .filter(|l| !l.mtp)
        .map(|l| l.expert_bytes.0 as f64)
        .sum();
    let other = spec.output_layer_bytes().0 as f64;
    trunk - experts + routed_active_bytes(spec) + other
}

fn routed_active_bytes(spec: &ModelSpec) -> f64 {
    if !spec.is_moe() || spec.expert_count == 0 {
        return 0.0;
    }
    let experts: f64 = spec
        .layers
        .iter()
        .filter(|l| !l.mtp)
        .map(|l| l.expert_bytes.0 as f64)
        .sum();
    experts * f64::from(spec.expert_used) / f64::from(spec.expert_count)
}

/// The built-in MTP head, if the model has one and the engine runs it.
fn mtp_candidate(
    spec: &ModelSpec,
    devices: &Devices,
    req: &PlanRequest,
    settled: &Settled,
) -> Result<Decision, String> {
    let s = support(req.engine);
    if spec.nextn_layers == 0 {
        return Err(format!("'{}' has no MTP (nextn) layers", spec.name));
    }
    if !s.runs_mtp_head(&spec.architecture) {
        return Err(format!(
            "{} {} has no MTP graph for architecture '{}'",
            req.engine,
            crate::engine::info(req.engine).short_commit(),
            spec.architecture
        ));
    }
    if settled.settings.parallel > MAX_SLOTS {
        return Err(format!(
            "{} parallel slots share each verify step",
            settled.settings.parallel
        ));
    }
    // The head reads its own block and the shared output matrix per drafted token.
    let head = spec.mtp_bytes().0 as f64 + spec.output_layer_bytes().0 as f64;
    let mut costs = step_costs(spec, settled);
    costs.draft_s = costs.decode_s * head / active_bytes(spec).max(1.0);
    let (alpha, source) = alpha_for(SpeculativeKind::Mtp, spec, req);
    let without = tg(settled);
    let (k, with) = match req.draft_max {
        Some(k) => (k, spec_perf::tokens_per_second(&costs, alpha, k)),
        None => spec_perf::best_draft_length(&costs, alpha, MAX_DRAFT),
    };
    let m = mtp_memory(spec, req, settled, k);
    let room = device_room(devices, settled, m.device);
    if m.on_device.total() > room {
        return Err(format!(
            "the MTP head ({} weights, {} KV, {} compute) does not fit in the {} left on {}",
            m.on_device.weights,
            m.on_device.kv,
            m.on_device.compute,
            room,
            device_label(m.device)
        ));
    }
    let mut extra: Vec<(usize, DeviceBytes)> = row_of(settled, m.device)
        .map(|i| (i, m.on_device.clone()))
        .into_iter()
        .collect();
    if m.host_compute > Bytes::ZERO {
        if let Some(i) = row_of(settled, DeviceId::CPU) {
            extra.push((
                i,
                DeviceBytes {
                    compute: m.host_compute,
                    ..DeviceBytes::default()
                },
            ));
        }
    }
    Ok(Decision {
        settings: Speculative {
            kind: SpeculativeKind::Mtp,
            draft_model: None,
            draft_max: k,
            draft_min: 0,
            p_min: s.default_p_min,
            draft_gpu_layers: None,
            draft_cache_type_k: m.kv_types.clone(),
            draft_cache_type_v: m.kv_types,
            ..Speculative::default()
        },
        tg_tokens_per_s: Some(with),
        extra,
        why: format!(
            "MTP head drafts {k} token(s) per step: {with:.1} vs {without:.1} tok/s without \
             (acceptance α={alpha:.2} per token from {source}; verify of {} tokens costs {:.2} \
             decode steps)",
            k + 1,
            spec_perf::verify_seconds(&costs, k) / costs.decode_s
        ),
    })
}

/// n-gram lookup: no drafter, the published coding speedup, charged the cost of
/// verifying one more token than a plain step.
fn ngram_candidate(
    spec: &ModelSpec,
    req: &PlanRequest,
    settled: &Settled,
) -> Result<Decision, String> {
    if req.use_case != UseCase::Coding && req.speculative != Some(SpeculativeKind::Ngram) {
        return Err("n-gram lookup is planned for --use-case coding".into());
    }
    if settled.settings.parallel > MAX_SLOTS {
        return Err(format!(
            "{} parallel slots share each verify step",
            settled.settings.parallel
        ));
    }
    let s = support(req.engine);
    let costs = step_costs(spec, settled);
    if !costs.on_gpu {
        // Measured on GPUs only; on a CPU each long n-gram draft is verified at prompt
        // speed (a 48-token verify here costs this many decode steps).
        let steps = spec_perf::verify_seconds(&costs, s.ngram_draft_min.max(1)) / costs.decode_s;
        return Err(format!(
            "n-gram lookup verifies drafts of up to {} tokens: on this CPU one such verify \
             costs {steps:.1} decode steps, and its gain was measured on GPUs only",
            s.ngram_draft_max
        ));
    }
    // The published gain is end to end on a GPU, verify cost included.
    let gain = if req.use_case == UseCase::Coding {
        spec_perf::NGRAM_CODING_TOKENS_PER_STEP
    } else {
        1.0
    };
    let tg_with = tg(settled) * gain;
    Ok(Decision {
        settings: Speculative {
            kind: SpeculativeKind::Ngram,
            draft_max: s.ngram_draft_max,
            draft_min: s.ngram_draft_min,
            ..Speculative::default()
        },
        tg_tokens_per_s: Some(tg_with),
        extra: Vec::new(),
        why: format!(
            "n-gram lookup ({}): {tg_with:.1} vs {:.1} tok/s without ({gain:.2} tokens per \
             step on code edits, https://github.com/ggml-org/llama.cpp/pull/22168)",
            s.ngram_spec_type,
            tg(settled)
        ),
    })
}

/// α for this kind and model: the published rate converted to per-token acceptance,
/// or the conservative default, with where it came from.
fn alpha_for(kind: SpeculativeKind, spec: &ModelSpec, req: &PlanRequest) -> (f64, String) {
    match spec_perf::acceptance_for(kind, &spec.architecture, req.use_case.name()) {
        Some(r) => (
            spec_perf::alpha_from_acceptance(r.accepted_per_drafted, r.draft_max),
            r.source.to_string(),
        ),
        None => (
            spec_perf::DEFAULT_ALPHA,
            "no published rate for this family: conservative default".to_string(),
        ),
    }
}

/// What the MTP head adds: its block, its context's cache and compute buffers on the
/// device that runs the block, and the context's host input buffer when that is a GPU.
struct MtpMemory {
    device: DeviceId,
    on_device: DeviceBytes,
    host_compute: Bytes,
    /// The draft cache types rigplan writes (`-ctkd/-ctvd`), where the engine's default
    /// differs from the main context's.
    kv_types: Option<String>,
}

/// Where the MTP head goes and what it holds: the nextn blocks follow the last trunk
/// layer (on the GPU when `-ngl` covers it, else the CPU); its own context caches the
/// nextn layers for its cells (`engine::speculative::DraftContext`) in the main
/// context's cache types, which rigplan writes as the draft types where the engine's
/// default differs (mainline: F16), and reserves its own graph's compute buffers
/// (`memory::compute::mtp_context`, one output per slot on mainline).
fn mtp_memory(spec: &ModelSpec, req: &PlanRequest, settled: &Settled, k: u32) -> MtpMemory {
    let s = &settled.settings;
    let trunk = spec.n_layer.saturating_sub(spec.nextn_layers);
    let device = if s.n_gpu_layers > 0 && s.n_gpu_layers >= trunk {
        settled
            .cand
            .memory
            .iter()
            .rev()
            .map(|(d, _)| *d)
            .find(|d| matches!(d.unit(), Unit::Gpu(_)))
            .unwrap_or(DeviceId::CPU)
    } else {
        DeviceId::CPU
    };
    let sup = support(req.engine);
    let cells = match sup.draft_context {
        DraftContext::SameAsMain => s.ctx,
        DraftContext::OneSlot => s.ctx / u64::from(s.parallel.max(1)),
    };
    // A nextn block is a full-attention layer with the model's attention shape (its
    // `LayerSpec` has no cache width, since the main context skips it): the widths of
    // the last full-attention trunk layer, once per nextn layer.
    let (tk, tv) = (settled.cfg.type_k, settled.cfg.type_v);
    let widths = spec
        .layers
        .iter()
        .rev()
        .find(|l| !l.mtp && l.attention == AttentionKind::Full)
        .map_or((0, 0), |l| (l.n_embd_k_gqa, l.n_embd_v_gqa));
    let per_cell = (row(tk, widths.0) + row(tv, widths.1)) * u64::from(spec.nextn_layers);
    let mut kv = Bytes(per_cell.saturating_mul(cells));
    if sup.mtp_recurrent_snapshots {
        // The main context keeps k more recurrent states per sequence to roll back
        // rejected drafts (common/common.h `need_n_rs_seq`; src/llama-memory-recurrent.cpp
        // `n_rows = mem_size * (1 + n_rs_seq)`), counted with the head.
        let per_seq = spec.recurrent_state_bytes().0;
        let seqs = u64::from(s.parallel.max(1)) * u64::from(k);
        kv += Bytes(per_seq.saturating_mul(seqs));
    }
    let cfg = draft::draft_config(req, settled);
    let (compute, host_compute) = crate::planner::memory::compute::mtp_context(
        spec,
        &cfg,
        cfg.cells_and_streams().0,
        device.is_gpu(),
    );
    let kv_types = match sup.draft_cache_default {
        DraftCacheDefault::F16 => Some(s.cache_type_k.clone()),
        DraftCacheDefault::SameAsMain => None,
    };
    MtpMemory {
        device,
        on_device: DeviceBytes {
            weights: spec.mtp_bytes(),
            kv,
            compute,
            ..DeviceBytes::default()
        },
        host_compute,
        kv_types,
    }
}

/// The index of a device among the settled placement's memory rows.
fn row_of(settled: &Settled, device: DeviceId) -> Option<usize> {
    settled.cand.memory.iter().position(|(d, _)| *d == device)
}

fn row(t: GgmlType, n: u64) -> u64 {
    t.row_size(n).unwrap_or(0)
}

/// Budget left on a device after the settled placement: the same table less what the
/// main model holds ([`Devices::with_taken`]); on the CPU, the host RAM the plan leaves.
fn device_room(devices: &Devices, settled: &Settled, device: DeviceId) -> Bytes {
    match device.unit() {
        Unit::Cpu => settled.host_free,
        Unit::Gpu(_) => devices
            .with_taken(&settled.cand.memory)
            .get(device)
            .map_or(Bytes::ZERO, |d| d.budget),
    }
}

fn device_label(d: DeviceId) -> String {
    match d.unit() {
        Unit::Cpu => "the CPU".into(),
        Unit::Gpu(i) => format!("GPU {i}"),
    }
}

/// Writes the decision into the Plan: settings, the extra bytes on their device's
/// memory row, the speed with and without, and the reason.
pub fn apply(plan: &mut Plan, d: &Decision) {
    plan.settings.speculative = d.settings.clone();
    if let Some(tg) = d.tg_tokens_per_s {
        plan.performance.tg_tokens_per_s_without_speculation =
            Some(plan.performance.tg_tokens_per_s);
        plan.performance.tg_tokens_per_s = tg;
    }
    for (i, b) in &d.extra {
        if let Some(row) = plan.memory.devices.get_mut(*i) {
            row.weights_bytes += b.weights.0;
            row.kv_bytes += b.kv.0;
            row.compute_bytes += b.compute.0;
            row.overhead_bytes += b.overhead.0;
            row.total_bytes += b.total().0;
        }
    }
    plan.reasons.push(Reason {
        setting: "speculative".into(),
        why: d.why.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;
    use crate::model::catalog;
    use crate::planner::testing::{model, rig, stages};

    /// Qwen3.5-27B's catalog shape with its MTP block written into the GGUF (block_count
    /// 65, nextn_predict_layers 1), as the MTP GGUF of seed 003 carries it.
    pub(crate) fn qwen35_27b_with_mtp(quant: &str) -> ModelSpec {
        let mut e = catalog::find("qwen3.5-27b").unwrap();
        e.gguf
            .insert("block_count".into(), toml::Value::Integer(65));
        e.gguf
            .insert("nextn_predict_layers".into(), toml::Value::Integer(1));
        e.spec(Some(quant)).unwrap()
    }

    fn decide_for(spec: &ModelSpec, rig_name: &str, req: &PlanRequest) -> Decision {
        let hw = rig(rig_name);
        let st = stages(spec, &hw, req);
        decide(spec, &hw, &st.devices, req, &st.settled).unwrap()
    }

    #[test]
    fn mtp_is_chosen_where_the_model_has_a_head_and_the_engine_a_graph() {
        let spec = qwen35_27b_with_mtp("Q4_K_M");
        assert_eq!(spec.nextn_layers, 1);
        assert!(spec.mtp_bytes() > Bytes::ZERO);
        let d = decide_for(&spec, "ms02-rtxpro4000", &PlanRequest::default());
        assert_eq!(d.settings.kind, SpeculativeKind::Mtp, "{}", d.why);
        assert!((1..=MAX_DRAFT).contains(&d.settings.draft_max));
        let (_, b) = &d.extra[0];
        assert_eq!(b.weights, spec.mtp_bytes());
        assert!(b.kv > Bytes::ZERO);
        // ik's pinned graph has no MTP branch for qwen35: refused when pinned.
        let ik = PlanRequest {
            engine: EngineKind::IkLlamaCpp,
            speculative: Some(SpeculativeKind::Mtp),
            ..PlanRequest::default()
        };
        let hw = rig("ms02-rtxpro4000");
        let st = stages(&spec, &hw, &ik);
        let err = decide(&spec, &hw, &st.devices, &ik, &st.settled).unwrap_err();
        assert!(err.to_string().contains("no MTP graph"), "{err}");
    }

    #[test]
    fn none_without_a_head_many_slots_or_a_pin() {
        // (model, rig, request) -> kind
        // No MTP head and no smaller catalog model of its architecture and vocabulary.
        let plain = model("phi-4", "Q4_K_M");
        let mtp = qwen35_27b_with_mtp("Q4_K_M");
        let cases = [
            (&plain, PlanRequest::default(), SpeculativeKind::None),
            (
                &mtp,
                PlanRequest {
                    parallel: Some(4),
                    ..PlanRequest::default()
                },
                SpeculativeKind::None,
            ),
            (
                &mtp,
                PlanRequest {
                    speculative: Some(SpeculativeKind::None),
                    ..PlanRequest::default()
                },
                SpeculativeKind::None,
            ),
            (
                &plain,
                PlanRequest {
                    use_case: UseCase::Coding,
                    ..PlanRequest::default()
                },
                SpeculativeKind::Ngram,
            ),
        ];
        for (spec, req, want) in cases {
            let d = decide_for(spec, "ms02-rtxpro4000", &req);
            assert_eq!(d.settings.kind, want, "{req:?}: {}", d.why);
            assert!(!d.why.is_empty());
        }
    }

    /// Auto mode takes the catalog's drafter where the engine downloads it itself
    /// (mainline `-hfd` with its recorded file), and on ik (no draft download option)
    /// only names it in the reason.
    #[test]
    fn a_catalog_drafter_is_chosen_where_the_engine_downloads_it() {
        let spec = model("llama-3.1-8b", "Q4_K_M");
        let d = decide_for(&spec, "desktop-3090", &PlanRequest::default());
        assert_eq!(d.settings.kind, SpeculativeKind::Draft, "{}", d.why);
        let dl = d.settings.draft_download.as_ref().unwrap();
        assert!(dl.repo.contains("Llama-3.2-1B"), "{dl:?}");
        assert_eq!(d.settings.draft_model, dl.file);
        let ik = PlanRequest {
            engine: EngineKind::IkLlamaCpp,
            ..PlanRequest::default()
        };
        let d = decide_for(&spec, "desktop-3090", &ik);
        assert_eq!(d.settings.kind, SpeculativeKind::None, "{}", d.why);
        assert!(
            d.why.contains("download it and plan with --draft PATH"),
            "{}",
            d.why
        );
    }

    #[test]
    fn a_pinned_draft_length_is_kept_and_ngram_is_refused_on_a_cpu() {
        let spec = qwen35_27b_with_mtp("Q4_K_M");
        let req = PlanRequest {
            draft_max: Some(5),
            ..PlanRequest::default()
        };
        assert_eq!(
            decide_for(&spec, "ms02-rtxpro4000", &req)
                .settings
                .draft_max,
            5
        );
        let coding = PlanRequest {
            use_case: UseCase::Coding,
            speculative: Some(SpeculativeKind::Ngram),
            ..PlanRequest::default()
        };
        let hw = rig("xeon-e5-2620v4-cpu");
        let plain = model("llama-3.1-8b", "Q4_K_M");
        let st = stages(&plain, &hw, &coding);
        let err = decide(&plain, &hw, &st.devices, &coding, &st.settled).unwrap_err();
        assert!(err.to_string().contains("n-gram"), "{err}");
    }
}
