//! `rigplan plan ... --sweep ctx|ngl|n-cpu-moe|quant|parallel`: one plan per value of one
//! setting, each made by the pure planner with that value pinned (and the quant, and for
//! all but a context sweep the context, pinned to the baseline plan's so one thing varies),
//! reduced to what the question needs: memory per device and the predicted speeds.
//!
//! A value that cannot fit is a point with the planner's reason, not an error. The
//! `parallel` sweep pins `-np N` with N times the per-slot context (`--ctx`, else the
//! baseline's) — `-c` is shared by the slots — and adds the aggregate generation rate of N
//! slots decoding together (`perf::batched`). Rendering is `commands`'.

use crate::error::{user_error, Result};
use crate::hardware::HardwareSnapshot;
use crate::model::{variants, ModelSpec};
use crate::plan::Plan;
use crate::planner::{self, PlanRequest};
use serde::Serialize;

/// The setting a sweep varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SweepKind {
    Ctx,
    Ngl,
    NCpuMoe,
    Quant,
    Parallel,
}

impl SweepKind {
    pub fn name(self) -> &'static str {
        match self {
            SweepKind::Ctx => "ctx",
            SweepKind::Ngl => "ngl",
            SweepKind::NCpuMoe => "n-cpu-moe",
            SweepKind::Quant => "quant",
            SweepKind::Parallel => "parallel",
        }
    }
}

/// One device's memory at one point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointMemory {
    pub name: String,
    pub total_bytes: u64,
    pub capacity_bytes: u64,
}

/// One value of the swept setting and what the plan for it holds and predicts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepPoint {
    /// The value as the option takes it (`8192`, `Q4_K_M`).
    pub value: String,
    pub fits: bool,
    /// Why it does not fit (the planner's message).
    pub error: Option<String>,
    /// The plan's own choices at this point.
    pub quant: Option<String>,
    pub ctx: Option<u64>,
    pub n_gpu_layers: Option<u32>,
    pub n_cpu_moe: Option<u32>,
    pub parallel: Option<u32>,
    pub memory: Vec<PointMemory>,
    pub tg_tokens_per_s: Option<f64>,
    pub pp_tokens_per_s: Option<f64>,
    /// `parallel` sweeps: tokens/s of all slots generating at once.
    pub aggregate_tg_tokens_per_s: Option<f64>,
}

/// A whole sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sweep {
    pub sweep: SweepKind,
    pub model: String,
    pub hardware: String,
    pub engine: String,
    /// What stays pinned across the points.
    pub pinned: Vec<String>,
    pub points: Vec<SweepPoint>,
    /// `parallel`: the per-slot context, and the most slots that fit.
    pub slot_ctx: Option<u64>,
    pub max_slots: Option<u32>,
}

/// Plans `model` (the catalog default when `None`) at each value of `kind`.
pub fn sweep(
    model: Option<&str>,
    hw: &HardwareSnapshot,
    req: PlanRequest,
    kind: SweepKind,
) -> Result<Sweep> {
    let baseline = super::plan::plan_model(model, hw, req.clone())?;
    // Without a MODEL the baseline may be another catalog model than the default (the
    // largest that fits): sweep that one.
    let reference = baseline.model.reference.clone();
    let model = if reference.is_empty() {
        model
    } else {
        Some(reference.as_str())
    };
    let quant = baseline.settings.quant.clone();
    let v = variants::for_reference(model, quant.as_deref())?;
    let spec = v
        .specs
        .first()
        .map(|(s, _)| s.clone())
        .ok_or_else(|| user_error("no model variant to sweep"))?;
    let mut base = req.clone();
    base.model_reference = v.reference.clone();
    let mut pinned = Vec::new();
    if kind != SweepKind::Quant {
        base.quant = quant.clone();
        pinned.push(format!("quant {}", quant.as_deref().unwrap_or("?")));
    }
    if !matches!(kind, SweepKind::Ctx | SweepKind::Parallel) {
        base.ctx = Some(baseline.settings.ctx);
        pinned.push(format!("ctx {}", baseline.settings.ctx));
    }
    let slot_ctx = req.ctx.unwrap_or(baseline.settings.ctx);
    let values = values(kind, &spec, model, &v.reference)?;
    let mut points = Vec::new();
    for value in values {
        let mut r = base.clone();
        match kind {
            SweepKind::Ctx => r.ctx = Some(parse(&value)?),
            SweepKind::Ngl => r.ngl = Some(parse::<u32>(&value)?),
            SweepKind::NCpuMoe => r.n_cpu_moe = Some(parse::<u32>(&value)?),
            SweepKind::Quant => r.quant = Some(value.clone()),
            SweepKind::Parallel => {
                let n: u32 = parse(&value)?;
                r.parallel = Some(n);
                r.ctx = Some(slot_ctx.saturating_mul(u64::from(n)));
            }
        }
        points.push(point(model, hw, &r, kind, value, &spec));
    }
    let max_slots = (kind == SweepKind::Parallel).then(|| {
        points
            .iter()
            .filter(|p| p.fits)
            .filter_map(|p| p.parallel)
            .max()
            .unwrap_or(0)
    });
    Ok(Sweep {
        sweep: kind,
        model: baseline.model.name.clone(),
        hardware: baseline.hardware.clone(),
        engine: baseline.engine.name.clone(),
        pinned,
        points,
        slot_ctx: (kind == SweepKind::Parallel).then_some(slot_ctx),
        max_slots,
    })
}

fn parse<T: std::str::FromStr>(v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| user_error(format!("sweep value '{v}' is not a number")))
}

/// The values a sweep visits: contexts by powers of two up to the model's training
/// context; `-ngl` and `--n-cpu-moe` in about eight steps from 0 to every layer; each
/// candidate quant; 1 to 64 slots by powers of two.
fn values(
    kind: SweepKind,
    spec: &ModelSpec,
    model: Option<&str>,
    reference: &str,
) -> Result<Vec<String>> {
    let steps = |max: u32| -> Vec<String> {
        let step = max.div_ceil(8).max(1);
        let mut v: Vec<u32> = (0..max).step_by(step as usize).collect();
        v.push(max);
        v.iter().map(u32::to_string).collect()
    };
    Ok(match kind {
        SweepKind::Ctx => {
            let top = if spec.n_ctx_train > 0 {
                spec.n_ctx_train
            } else {
                131_072
            };
            let mut v = Vec::new();
            let mut c = 2048u64;
            while c < top {
                v.push(c.to_string());
                c *= 2;
            }
            v.push(top.to_string());
            v
        }
        // -ngl counts the output layer as one more.
        SweepKind::Ngl => steps(spec.n_layer + 1),
        SweepKind::NCpuMoe => {
            if spec.expert_count <= 1 {
                return Err(user_error(format!(
                    "--sweep n-cpu-moe: '{}' has no routed experts",
                    spec.name
                )));
            }
            steps(spec.n_layer)
        }
        SweepKind::Quant => match crate::model::catalog::find(reference) {
            Some(e) => variants::candidate_quants(&e),
            None => {
                let v = variants::for_reference(model, None)?;
                v.specs
                    .iter()
                    .filter_map(|(s, _)| s.quant.clone())
                    .collect()
            }
        },
        SweepKind::Parallel => [1, 2, 4, 8, 16, 32, 64]
            .map(|n: u32| n.to_string())
            .to_vec(),
    })
}

/// The plan at one value, reduced to a point; a plan that cannot be made is a point that
/// does not fit.
fn point(
    model: Option<&str>,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
    kind: SweepKind,
    value: String,
    spec: &ModelSpec,
) -> SweepPoint {
    let planned = plan_point(model, hw, req, kind, spec);
    match planned {
        Ok((plan, aggregate)) => SweepPoint {
            value,
            fits: true,
            error: None,
            quant: plan.settings.quant.clone(),
            ctx: Some(plan.settings.ctx),
            n_gpu_layers: Some(plan.settings.n_gpu_layers),
            n_cpu_moe: Some(plan.settings.n_cpu_moe),
            parallel: Some(plan.settings.parallel),
            memory: plan
                .memory
                .devices
                .iter()
                .map(|d| PointMemory {
                    name: d.name.clone(),
                    total_bytes: d.total_bytes,
                    capacity_bytes: d.capacity_bytes,
                })
                .collect(),
            tg_tokens_per_s: Some(plan.performance.tg_tokens_per_s),
            pp_tokens_per_s: Some(plan.performance.pp_tokens_per_s),
            aggregate_tg_tokens_per_s: aggregate,
        },
        Err(e) => SweepPoint {
            value,
            fits: false,
            error: Some(e.to_string()),
            quant: None,
            ctx: None,
            n_gpu_layers: None,
            n_cpu_moe: None,
            parallel: None,
            memory: Vec::new(),
            tg_tokens_per_s: None,
            pp_tokens_per_s: None,
            aggregate_tg_tokens_per_s: None,
        },
    }
}

/// The plan (with a saved calibration applied) and, for `parallel`, the aggregate rate.
fn plan_point(
    model: Option<&str>,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
    kind: SweepKind,
    spec: &ModelSpec,
) -> Result<(Plan, Option<f64>)> {
    let v = variants::for_reference(model, req.quant.as_deref())?;
    // A saved `rigplan tune` calibration corrects the speeds compared and predicted, as
    // for `plan` (ops::plan).
    let mut req = req.clone();
    req.speed_correction = crate::tune::calibration::correction_for(hw)?;
    let req = &req;
    let plan = planner::plan_variants(&v.specs, hw, req)?;
    if kind != SweepKind::Parallel {
        return Ok((plan, None));
    }
    let scorer = crate::perf::scorer(spec, req.engine);
    let (_, layout) = planner::plan_with_layout(spec, hw, req, &scorer)?;
    let aggregate = crate::perf::batched::aggregate_tg(
        &layout,
        hw,
        plan.performance.tg_tokens_per_s,
        plan.performance.pp_tokens_per_s,
        plan.settings.parallel,
        spec.expert_used,
        spec.expert_count,
    );
    Ok((plan, Some(aggregate)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hw() -> HardwareSnapshot {
        crate::hardware::presets::get("desktop-3090")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_context_sweep_grows_kv_memory_and_stops_fitting_past_a_point() {
        let s = sweep(
            Some("qwen3-30b-a3b"),
            &hw(),
            PlanRequest::default(),
            SweepKind::Ctx,
        )
        .unwrap();
        assert_eq!(s.points.first().unwrap().value, "2048");
        assert_eq!(s.points.last().unwrap().value, "40960");
        let fitting: Vec<&SweepPoint> = s.points.iter().filter(|p| p.fits).collect();
        assert!(fitting.len() >= 2);
        // Memory on the GPU never shrinks as the context grows at the same placement.
        let quant = fitting[0].quant.clone();
        assert!(fitting.iter().all(|p| p.quant == quant), "quant is pinned");
        for p in &s.points {
            if p.fits {
                assert_eq!(p.ctx.unwrap(), p.value.parse::<u64>().unwrap());
            } else {
                assert!(p
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("does not fit")));
            }
        }
    }

    #[test]
    fn a_parallel_sweep_multiplies_the_context_and_counts_the_slots_that_fit() {
        let req = PlanRequest {
            ctx: Some(8192),
            ..Default::default()
        };
        let s = sweep(Some("llama-3.1-8b"), &hw(), req, SweepKind::Parallel).unwrap();
        assert_eq!(s.slot_ctx, Some(8192));
        let max = s.max_slots.unwrap();
        assert!(max >= 2, "{max}");
        for p in s.points.iter().filter(|p| p.fits) {
            let n = p.parallel.unwrap();
            assert_eq!(p.ctx.unwrap(), 8192 * u64::from(n));
            let agg = p.aggregate_tg_tokens_per_s.unwrap();
            let one = p.tg_tokens_per_s.unwrap();
            assert!(
                agg >= one * 0.999 && agg <= one * f64::from(n) + 1e-9,
                "{n}: {agg} vs {one}"
            );
        }
        // The most slots that fit is the largest fitting point, and every point past it fails.
        assert!(s
            .points
            .iter()
            .filter(|p| p.value.parse::<u32>().unwrap() > max)
            .all(|p| !p.fits));
    }

    #[test]
    fn ngl_and_quant_sweeps_pin_what_they_vary() {
        let s = sweep(
            Some("llama-3.1-8b"),
            &hw(),
            PlanRequest::default(),
            SweepKind::Ngl,
        )
        .unwrap();
        assert_eq!(s.points.first().unwrap().value, "0");
        assert_eq!(s.points.last().unwrap().value, "33");
        let gpu = |p: &SweepPoint| {
            p.memory
                .iter()
                .find(|m| m.name.starts_with("GPU"))
                .unwrap()
                .total_bytes
        };
        let fitting: Vec<&SweepPoint> = s.points.iter().filter(|p| p.fits).collect();
        for w in fitting.windows(2) {
            assert!(gpu(w[1]) >= gpu(w[0]), "more layers, more VRAM");
        }
        let q = sweep(
            Some("llama-3.1-8b"),
            &hw(),
            PlanRequest::default(),
            SweepKind::Quant,
        )
        .unwrap();
        assert!(q
            .points
            .iter()
            .any(|p| p.value == "Q8_0" && p.quant.as_deref() == Some("Q8_0")));
        let e = sweep(
            Some("llama-3.1-8b"),
            &hw(),
            PlanRequest::default(),
            SweepKind::NCpuMoe,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_BAD_INPUT);
    }
}
