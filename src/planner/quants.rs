//! Several quants of one model: each planned on its own, then one chosen by `--prefer`
//! with quality from published KLD measurements (`perf::quality::choose_quant`), the
//! neighbours in bits per weight kept as alternatives. Pure.

use super::devices::Devices;
use super::{plan, PlanError, PlanRequest};
use crate::hardware::HardwareSnapshot;
use crate::model::ModelSpec;
use crate::perf::quality::{choose_quant, quant_quality, ChoiceRules, QuantCandidate};
use crate::plan::{Alternative, Plan, Reason};
use crate::units::Bytes;

/// Mean KLD of a model's quant, for the alternatives (None without a quant label).
pub(crate) fn spec_kld(spec: &ModelSpec) -> Option<f64> {
    quant_kld(spec.quant.as_deref(), bits_per_weight(spec))
}

/// Mean KLD of a quant label at `bits` per weight (`perf::quality`).
fn quant_kld(quant: Option<&str>, bits: f64) -> Option<f64> {
    quant_quality(quant?, Some(bits)).map(|q| q.mean_kld)
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
    let table = match &req.cluster {
        Some(c) => Devices::local(&super::cluster::view(hw, c).hw),
        None => Devices::local(hw),
    };
    let skip = beyond_every_budget(variants, &table);
    let mut plans: Vec<(f64, Plan)> = Vec::new();
    let mut last_err = None;
    for ((s, path), skip) in variants.iter().zip(skip) {
        if skip {
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
    let (pick, why) = pick(&plans, req)?;
    let (chosen_bits, mut chosen) = plans.remove(pick);
    // Alternatives: the neighbouring quants, nearest in bits per weight first.
    plans.sort_by(|a, b| {
        (a.0 - chosen_bits)
            .abs()
            .total_cmp(&(b.0 - chosen_bits).abs())
    });
    let why = if variants.len() > 1 {
        let alternatives = quant_alternatives(&chosen, &plans);
        chosen.alternatives.extend(alternatives);
        Some(why)
    } else {
        req.quant.as_ref().map(|_| "pinned".to_string())
    };
    if let Some(why) = why {
        let quant = Reason {
            setting: "quant".into(),
            why,
        };
        chosen.reasons.insert(0, quant);
    }
    Ok(chosen)
}

/// Variants whose weights alone exceed every device's budget together cannot fit: with
/// more than one variant their search is skipped (all but the smallest, which is planned
/// so the error says by how much it misses).
fn beyond_every_budget(variants: &[(ModelSpec, Option<String>)], devices: &Devices) -> Vec<bool> {
    let all_budgets: Bytes = devices.iter().map(|d| d.budget).sum();
    let smallest = variants
        .iter()
        .map(|(s, _)| s.loaded_weight_bytes())
        .min()
        .unwrap_or(Bytes::ZERO);
    variants
        .iter()
        .map(|(s, _)| {
            let w = s.loaded_weight_bytes();
            variants.len() > 1 && w > all_budgets && w > smallest
        })
        .collect()
}

/// The quant `--prefer` picks among the plans (index and reason), with quality from
/// published KLD measurements (`perf::quality` cites them): `quality` the best quant whose
/// plan reaches the interactive floor, `speed` the fastest of at least 3 bits per weight,
/// `balanced` the best documented score ln(tg) - 5 x KLD.
fn pick(plans: &[(f64, Plan)], req: &PlanRequest) -> Result<(usize, String), PlanError> {
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
    match choose_quant(&candidates, req.prefer.preference(), rules) {
        Some(c) => Ok((c.index, c.why)),
        None => Err(PlanError::Invalid("no quant to plan".into())),
    }
}

/// The four nearest other quants (`plans` sorted nearest first) as alternatives of
/// `chosen`, each with its placement and tg change.
fn quant_alternatives(chosen: &Plan, plans: &[(f64, Plan)]) -> Vec<Alternative> {
    plans
        .iter()
        .take(4)
        .map(|(bits, p)| {
            let delta = (p.performance.tg_tokens_per_s
                / chosen.performance.tg_tokens_per_s.max(1e-9)
                - 1.0)
                * 100.0;
            let placement = p
                .reasons
                .iter()
                .find(|r| r.setting == "placement")
                .map(|r| r.why.split(':').next().unwrap_or("").to_string())
                .unwrap_or_default();
            Alternative {
                summary: format!(
                    "{}: {placement} ({delta:+.0}% tg)",
                    p.settings.quant.clone().unwrap_or_default(),
                ),
                quant: p.settings.quant.clone(),
                tg_tokens_per_s: p.performance.tg_tokens_per_s,
                pp_tokens_per_s: p.performance.pp_tokens_per_s,
                mean_kld: quant_kld(p.settings.quant.as_deref(), *bits),
            }
        })
        .collect()
}
