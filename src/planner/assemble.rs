//! Stage 4: the [`Plan`] — the settled choice with its memory per device, its predicted
//! speed, the explanation, and up to three runners-up of other shapes as alternatives.
//!
//! The launch command is not made here: the engine renders argv from the plan's
//! settings and `generate` renders text (`ops::plan` attaches both). Pure.

use super::devices::Devices;
use super::memory;
use super::quants::spec_kld;
use super::request::PlanRequest;
use super::search::Choice;
use super::settings::Settled;
use super::summary::summary;
use crate::engine;
use crate::hardware::HardwareSnapshot;
use crate::model::ModelSpec;
use crate::plan::{
    Alternative, DeviceMemory, EngineRef, MemoryReport, ModelRef, Performance, Plan, Reason,
};
use crate::plan::{DeviceId, Unit};
use crate::units::Bytes;

/// What the plan shows besides the settled choice.
pub struct Explanation {
    pub reasons: Vec<Reason>,
    pub warnings: Vec<String>,
}

/// The Plan of the settled choice; the model reference and path are the request's
/// (kept for `export --plan`).
pub fn assemble(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    req: &PlanRequest,
    settled: &Settled,
    runners: Vec<Choice>,
    explanation: Explanation,
) -> Plan {
    let cand = &settled.cand;
    let engine = req.engine;
    Plan {
        model: ModelRef {
            name: spec.name.clone(),
            architecture: spec.architecture.clone(),
            reference: req.model_reference.clone(),
            path: req.model_path.clone(),
            download: None,
        },
        hardware: hw.source.clone(),
        engine: EngineRef {
            name: engine.name().into(),
            version: engine::info(engine).version.into(),
        },
        settings: settled.settings.clone(),
        memory: MemoryReport {
            devices: memory_rows(devices, settled),
        },
        performance: Performance {
            tg_tokens_per_s: cand.speed.tg_tokens_per_s,
            pp_tokens_per_s: cand.speed.pp_tokens_per_s,
            bottleneck: cand.speed.bottleneck.clone(),
            ceiling_tg_tokens_per_s: cand.speed.ceiling_tg_tokens_per_s,
            calibration: None,
            tg_tokens_per_s_without_speculation: None,
        },
        args: Vec::new(),
        command: String::new(),
        reasons: explanation.reasons,
        warnings: explanation.warnings,
        alternatives: alternatives(spec, settled, runners),
        projector: None,
        cluster: None,
    }
}

/// One row per device the placement uses, as `plan` shows them: capacity, what it holds
/// by kind, the margin kept free, and (CPU) what the GPU runtime page-locks.
fn memory_rows(devices: &Devices, settled: &Settled) -> Vec<DeviceMemory> {
    let cand = &settled.cand;
    cand.memory
        .iter()
        .map(|(d, b)| {
            let known = devices.get(*d);
            let pinned = if *d == DeviceId::CPU {
                memory::pinned_host_bytes(&cand.placement, &cand.memory, settled.settings.mmap)
            } else {
                Bytes::ZERO
            };
            DeviceMemory {
                name: devices.name(*d),
                host: None,
                kind: match d.unit() {
                    Unit::Cpu => "cpu",
                    Unit::Gpu(_) => "gpu",
                }
                .into(),
                capacity_bytes: known.map_or(0, |k| k.capacity.0),
                weights_bytes: b.weights.0,
                kv_bytes: b.kv.0,
                compute_bytes: b.compute.0,
                overhead_bytes: b.overhead.0,
                total_bytes: b.total().0,
                margin_bytes: known.map_or(memory::GPU_MARGIN, |k| k.margin).0,
                pinned_bytes: pinned.0,
            }
        })
        .collect()
}

/// Up to three runners-up of other shapes, fastest first, each with its tg change
/// against the chosen plan.
fn alternatives(spec: &ModelSpec, settled: &Settled, mut runners: Vec<Choice>) -> Vec<Alternative> {
    runners.sort_by(|a, b| {
        b.cand
            .speed
            .tg_tokens_per_s
            .partial_cmp(&a.cand.speed.tg_tokens_per_s)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let tg = settled.cand.speed.tg_tokens_per_s;
    let mut out: Vec<Alternative> = Vec::new();
    for r in &runners {
        let sum = format!(
            "{}, KV {}, ubatch {}",
            summary(&r.cand.placement, spec),
            r.cfg.type_k.name().to_ascii_lowercase(),
            r.cfg.n_ubatch
        );
        if out.iter().any(|a| a.summary.starts_with(&sum)) {
            continue;
        }
        let delta = (r.cand.speed.tg_tokens_per_s / tg.max(1e-9) - 1.0) * 100.0;
        out.push(Alternative {
            summary: format!("{sum} ({delta:+.0}% tg)"),
            quant: spec.quant.clone(),
            tg_tokens_per_s: r.cand.speed.tg_tokens_per_s,
            pp_tokens_per_s: r.cand.speed.pp_tokens_per_s,
            mean_kld: spec_kld(spec),
        });
        if out.len() >= 3 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::testing::{model, rig, stages};

    #[test]
    fn memory_rows_and_alternatives_of_a_settled_choice() {
        // (model, rig) -> (device rows, kinds)
        let cases = [
            ("qwen3.5-35b-a3b", "z440-2x3060", vec!["cpu", "gpu", "gpu"]),
            ("llama-3.1-8b", "xeon-e5-2620v4-cpu", vec!["cpu"]),
        ];
        for (id, rig_name, kinds) in cases {
            let (spec, hw, req) = (model(id, "Q4_K_M"), rig(rig_name), PlanRequest::default());
            let staged = stages(&spec, &hw, &req);
            let rows = memory_rows(&staged.devices, &staged.settled);
            let got: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
            assert_eq!(got, kinds, "{id} on {rig_name}");
            for r in &rows {
                let parts = r.weights_bytes + r.kv_bytes + r.compute_bytes + r.overhead_bytes;
                assert_eq!(r.total_bytes, parts, "{}", r.name);
                assert!(
                    r.total_bytes <= r.capacity_bytes - r.margin_bytes,
                    "{}",
                    r.name
                );
                // The GPU runtime pins host memory only where there is a GPU runtime.
                let pinned_here = r.kind == "cpu" && !hw.gpus.is_empty();
                assert_eq!(r.pinned_bytes > 0, pinned_here, "{}", r.name);
            }
            let alts = alternatives(&spec, &staged.settled, staged.found.runners.clone());
            assert!(alts.len() <= 3);
            let tg = staged.settled.cand.speed.tg_tokens_per_s;
            for (i, a) in alts.iter().enumerate() {
                assert!(i == 0 || a.tg_tokens_per_s <= alts[i - 1].tg_tokens_per_s);
                let delta = (a.tg_tokens_per_s / tg - 1.0) * 100.0;
                assert!(
                    a.summary.ends_with(&format!("({delta:+.0}% tg)")),
                    "{}",
                    a.summary
                );
                assert!(!alts[..i].iter().any(|b| b.summary == a.summary));
            }
        }
    }
}
