//! Compare machines for one model: on each, every quant variant planned with the speed
//! model and the one `--prefer` picks (`perf::quality::choose_quant`), as a row. A
//! machine the model does not fit is a row saying by how much, not an error.
//!
//! Quants are tried best quality first, so `quality` can stop at the first plan above the
//! interactive floor and `balanced` and `speed` skip quants whose bandwidth bound cannot
//! beat the best so far. The candidate quants are `model::variants`' (the list `plan`
//! uses). Decides nothing beyond that choice; rendering is the command's.

use crate::error::Result;
use crate::hardware::HardwareSnapshot;
use crate::model::reference::{self, ModelRef};
use crate::model::{catalog, variants, ModelSpec, TensorClass};
use crate::perf;
use crate::perf::quality::{
    choose_quant, quant_quality, ChoiceRules, Preference, QuantCandidate, BALANCED_KLD_WEIGHT,
};
use crate::plan::Plan;
use crate::planner::{PlanError, PlanRequest};
use serde::Serialize;

/// One machine's result.
#[derive(Clone, Debug, Serialize)]
pub struct CompareRow {
    pub machine: String,
    pub hardware: String,
    /// The chosen plan, `None` when the model fits nowhere on this machine.
    pub plan: Option<RowPlan>,
    /// Why there is no plan.
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RowPlan {
    pub quant: Option<String>,
    pub placement: String,
    /// Smallest free memory left on any device used, bytes (capacity − planned total).
    pub headroom_bytes: i64,
    pub tg_tokens_per_s: f64,
    pub pp_tokens_per_s: f64,
    pub bottleneck: String,
    pub quant_choice: String,
    pub settings: crate::plan::Settings,
}

/// `compare --format json`: the model, the engine and one row per machine.
#[derive(Serialize)]
pub struct CompareReport<'a> {
    pub model: &'a str,
    pub engine: &'a str,
    pub machines: &'a [CompareRow],
}

/// The model's name and the specs to choose among: the candidate quants
/// (`model::variants`, as `plan` plans them) for a catalog id without a quant, else the
/// one spec the reference (or `--quant`) names.
pub fn model_variants(
    reference: Option<&str>,
    req: &PlanRequest,
) -> Result<(String, Vec<ModelSpec>)> {
    let catalog_id = match reference.map(reference::parse) {
        Some(ModelRef::Catalog { id, quant: None }) => Some(id),
        None => catalog::default_entry().map(|e| e.id),
        _ => None,
    };
    if let Some(entry) = catalog_id.as_deref().and_then(catalog::find) {
        if let Some(q) = &req.quant {
            return Ok((format!("{}:{q}", entry.id), vec![entry.spec(Some(q))?]));
        }
        return Ok((entry.id.clone(), variants::candidate_specs(&entry)?));
    }
    let resolved = match reference {
        Some(r) => reference::resolve(r)?,
        None => reference::resolve_or_default(None)?,
    };
    Ok((resolved.source.clone(), vec![resolved.spec]))
}

/// Plans every variant on one machine with the perf model and keeps the preferred one.
pub fn compare_one(
    label: &str,
    hw: &HardwareSnapshot,
    specs: &[ModelSpec],
    req: &PlanRequest,
) -> CompareRow {
    let mut plans: Vec<Plan> = Vec::new();
    let mut cands: Vec<QuantCandidate> = Vec::new();
    let mut last_error = None;
    let rules = ChoiceRules {
        min_tg_tokens_per_s: req
            .min_tg
            .unwrap_or(ChoiceRules::default().min_tg_tokens_per_s),
        ..ChoiceRules::default()
    };
    let pref = req.prefer.preference();
    // With RPC workers the bounds below count their devices too.
    let cluster_hw;
    let hw_all = match &req.cluster {
        Some(c) => {
            cluster_hw = crate::planner::cluster::view(hw, c).hw;
            &cluster_hw
        }
        None => hw,
    };
    // Weights alone larger than all the machine's memory cannot fit: skip the search.
    let memory: u64 = hw_all.memory.total_bytes
        + req
            .cluster
            .iter()
            .flat_map(|c| &c.workers)
            .filter(|w| !w.hw.gpus.is_empty())
            .map(|w| w.hw.memory.total_bytes)
            .sum::<u64>()
        + hw_all
            .gpus
            .iter()
            .filter(|g| !g.unified_memory)
            .map(|g| g.vram_bytes)
            .sum::<u64>();
    let fastest_read = fastest_device_bandwidth(hw_all);
    // Best quality first, so `quality` can stop at the first plan above the floor and
    // `balanced` can skip quants whose optimistic bound cannot beat the best score.
    let mut order: Vec<(&ModelSpec, f64, f64)> = specs
        .iter()
        .map(|s| {
            let bpw = bits_per_weight(s);
            let kld = quant_quality(s.quant.as_deref().unwrap_or(""), Some(bpw))
                .map(|q| q.mean_kld)
                .unwrap_or(f64::INFINITY);
            (s, bpw, kld)
        })
        .collect();
    order.sort_by(|a, b| a.2.total_cmp(&b.2));
    let mut best_balanced = f64::NEG_INFINITY;
    let mut best_tg: f64 = 0.0;
    for (spec, bpw, kld) in order {
        if spec.total_bytes().as_u64() > memory {
            last_error = Some(format!(
                "{} needs {} for weights alone; the machine has {} in all",
                spec.quant.as_deref().unwrap_or("the model"),
                spec.total_bytes(),
                crate::units::Bytes(memory)
            ));
            continue;
        }
        // No plan can beat every active byte read at the fastest device's peak.
        let bound = fastest_read / active_bytes_per_token(spec).max(1.0);
        let pinned = req.quant.is_some();
        match pref {
            Preference::Balanced if bound.ln() - BALANCED_KLD_WEIGHT * kld <= best_balanced => {
                continue
            }
            Preference::Speed if bound <= best_tg && !pinned => continue,
            Preference::Speed if bpw < rules.min_bits_per_weight && !pinned && best_tg > 0.0 => {
                continue
            }
            _ => {}
        }
        let scorer = perf::scorer(spec, req.engine);
        match crate::planner::cluster::plan_cluster(spec, hw, req, &scorer) {
            Ok(plan) => {
                let tg = plan.performance.tg_tokens_per_s;
                best_balanced = best_balanced.max(tg.max(1e-9).ln() - BALANCED_KLD_WEIGHT * kld);
                if bpw >= rules.min_bits_per_weight || pinned {
                    best_tg = best_tg.max(tg);
                }
                cands.push(QuantCandidate {
                    quant: spec.quant.clone().unwrap_or_default(),
                    tg_tokens_per_s: tg,
                    bits_per_weight: bpw,
                    pinned,
                });
                plans.push(plan);
                if pref == Preference::Quality && tg >= rules.min_tg_tokens_per_s {
                    break;
                }
            }
            Err(PlanError::Unsatisfiable(m)) | Err(PlanError::Invalid(m)) => last_error = Some(m),
        }
    }
    let Some(choice) = choose_quant(&cands, pref, rules) else {
        return CompareRow {
            machine: label.to_string(),
            hardware: hw.source.clone(),
            plan: None,
            error: Some(last_error.unwrap_or_else(|| "no plan".into())),
        };
    };
    let plan = &plans[choice.index];
    CompareRow {
        machine: label.to_string(),
        hardware: hw.source.clone(),
        plan: Some(RowPlan {
            quant: plan.settings.quant.clone(),
            placement: match &plan.cluster {
                // The main host's own share reads "CPU only" when the workers hold
                // every layer: say what -ngl covers instead.
                Some(c) if c.uses_workers && plan.settings.gpu_indices.is_empty() => {
                    format!("-ngl {}", plan.settings.n_gpu_layers) + &cluster_summary(plan)
                }
                _ => placement_summary(plan) + &cluster_summary(plan),
            },
            headroom_bytes: plan
                .memory
                .devices
                .iter()
                .filter(|d| d.total_bytes > 0)
                .map(|d| d.capacity_bytes as i64 - d.total_bytes as i64)
                .min()
                .unwrap_or(0),
            tg_tokens_per_s: plan.performance.tg_tokens_per_s,
            pp_tokens_per_s: plan.performance.pp_tokens_per_s,
            bottleneck: plan.performance.bottleneck.clone(),
            quant_choice: choice.why,
            settings: plan.settings.clone(),
        }),
        error: None,
    }
}

/// What the workers do in a row planned with them: their share, or why they do not pay.
fn cluster_summary(plan: &Plan) -> String {
    match &plan.cluster {
        Some(c) if c.uses_workers => format!(
            " + layers on {} via RPC ({:.2} ms/token on the {} link)",
            c.workers
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            c.network_ms_per_token,
            c.link.name
        ),
        Some(c) => format!(
            " (workers do not pay: {:.1} tok/s with them)",
            c.with_workers_tg_tokens_per_s
        ),
        None => String::new(),
    }
}

fn bits_per_weight(spec: &ModelSpec) -> f64 {
    spec.total_bytes().as_u64() as f64 * 8.0 / spec.total_parameters().max(1) as f64
}

/// Weight bytes every token reads: all tensors but the token embeddings, routed experts
/// scaled by expert_used / expert_count.
fn active_bytes_per_token(spec: &ModelSpec) -> f64 {
    let used = if spec.is_moe() && spec.expert_count > 0 {
        spec.expert_used as f64 / spec.expert_count as f64
    } else {
        1.0
    };
    spec.tensors
        .iter()
        .filter(|t| t.class != TensorClass::TokenEmbedding)
        .map(|t| {
            let b = t.bytes.as_u64() as f64;
            if t.class == TensorClass::RoutedExperts {
                b * used
            } else {
                b
            }
        })
        .sum()
}

/// Peak read bandwidth of the machine's fastest memory, bytes/s.
fn fastest_device_bandwidth(hw: &HardwareSnapshot) -> f64 {
    let ram = hw
        .memory
        .theoretical_bandwidth_gbs
        .or(hw.memory.measured_bandwidth_gbs)
        .unwrap_or(0.0);
    hw.gpus
        .iter()
        .filter_map(|g| g.bandwidth_gbs)
        .fold(ram, f64::max)
        .max(1.0)
        * 1e9
}

fn placement_summary(plan: &Plan) -> String {
    let s = &plan.settings;
    let gpus = s.gpu_indices.len();
    if gpus == 0 || s.n_gpu_layers == 0 {
        return "CPU only".into();
    }
    let on = if gpus > 1 {
        format!("{gpus} GPUs ({} split)", s.split_mode)
    } else {
        "GPU".into()
    };
    // Blocks whose experts per-GPU `-ot` patterns move (to RAM or another GPU).
    let moved: usize = s
        .override_tensors
        .iter()
        .map(|o| crate::planner::expert_overrides::blocks_in(o).len())
        .sum();
    if s.n_cpu_moe > 0 {
        format!(
            "-ngl {} on {on}, experts of {} layers in RAM",
            s.n_gpu_layers, s.n_cpu_moe
        )
    } else if moved > 0 {
        format!(
            "-ngl {} on {on}, experts of {moved} layers moved by -ot",
            s.n_gpu_layers
        )
    } else {
        format!("-ngl {} on {on}", s.n_gpu_layers)
    }
}
