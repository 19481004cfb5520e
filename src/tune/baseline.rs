//! The baseline tune starts from: the planner's plan for this model and machine, and the
//! speed model (`perf::predict`) evaluated on that plan's placement for every neighbour.
//!
//! [`plan_baseline`] runs `planner::plan_with_layout` with `perf::predict` as the scorer
//! and keeps the [`Layout`] of the chosen placement (the Plan itself does not carry it).
//! [`PerfSpeedModel`] then predicts each measured configuration with the real speed model,
//! on that layout, at llama-bench's conditions (tg at depth ≈ n_gen/2, not the plan's
//! half-context depth). Pure: no files, no clock, no processes.

use crate::engine::EngineKind;
use crate::hardware::HardwareSnapshot;
use crate::model::spec::ModelSpec;
use crate::perf;
use crate::perf::devices::{cpu_effective_bandwidth, gpu_effective_bandwidth};
use crate::perf::factors::DEFAULT_FACTORS;
use crate::plan::Layout;
use crate::plan::Speed;
use crate::plan::{Performance, Plan, Settings};
use crate::planner::request::PlanRequest;
use crate::planner::{plan_with_layout, PlanError};
use crate::tune::calibration::AssumedBandwidths;
use crate::tune::config::BenchConfig;
use crate::tune::predict::SpeedModel;
use crate::units::Bytes;

/// The plan and the layout of its placement.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub plan: Plan,
    pub layout: Layout,
}

/// Plans with `perf::predict` as the scorer and returns the plan with its layout.
pub fn plan_baseline(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
) -> Result<Baseline, PlanError> {
    let engine = req.engine;
    let scorer = move |layout: &Layout, hw: &HardwareSnapshot, settings: &Settings| {
        Speed::from(perf::predict(layout, hw, settings, spec, engine))
    };
    let (plan, layout) = plan_with_layout(spec, hw, req, &scorer)?;
    Ok(Baseline { plan, layout })
}

/// The layout at another decode depth: KV reads scale with the cells read.
pub fn at_depth(layout: &Layout, depth: u64) -> Layout {
    let mut l = layout.clone();
    let old = layout.depth_tokens.max(1) as f64;
    for d in &mut l.devices {
        d.kv_read_bytes_per_token =
            Bytes((d.kv_read_bytes_per_token.as_u64() as f64 * depth as f64 / old) as u64);
    }
    l.depth_tokens = depth;
    l
}

/// `perf::predict` on the plan's layout for each measured configuration.
pub struct PerfSpeedModel<'a> {
    pub spec: &'a ModelSpec,
    pub hw: &'a HardwareSnapshot,
    pub engine: EngineKind,
    pub plan_settings: &'a Settings,
    /// The plan's layout re-expressed at llama-bench's tg depth.
    pub layout: Layout,
}

impl<'a> PerfSpeedModel<'a> {
    /// `n_gen`: llama-bench's generated tokens; tg is measured from an empty cache, so the
    /// mean depth is n_gen / 2.
    pub fn new(
        spec: &'a ModelSpec,
        hw: &'a HardwareSnapshot,
        engine: EngineKind,
        baseline: &'a Baseline,
        n_gen: u32,
    ) -> PerfSpeedModel<'a> {
        PerfSpeedModel {
            spec,
            hw,
            engine,
            plan_settings: &baseline.plan.settings,
            layout: at_depth(&baseline.layout, u64::from(n_gen / 2)),
        }
    }
}

impl SpeedModel for PerfSpeedModel<'_> {
    /// Configurations that move tensors (another `--n-cpu-moe`, `-ngl` or split) are
    /// predicted on the plan's layout: exact for threads, batch sizes, flash attention and
    /// load mode, approximate for placement changes.
    fn predict(&self, config: &BenchConfig) -> Performance {
        let settings = config.apply_to(self.plan_settings);
        perf::predict(&self.layout, self.hw, &settings, self.spec, self.engine)
    }

    fn assumed_bandwidths(&self) -> AssumedBandwidths {
        let threads = self.plan_settings.threads;
        AssumedBandwidths {
            cpu_gbs: Some(cpu_effective_bandwidth(self.hw, threads, &DEFAULT_FACTORS).0 / 1e9),
            gpu_gbs: self
                .hw
                .gpus
                .first()
                .map(|g| gpu_effective_bandwidth(g, &DEFAULT_FACTORS).0 / 1e9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::resolve::load;
    use crate::model::reference::resolve;

    #[test]
    fn baseline_keeps_the_plans_layout_and_perf_predicts_neighbours() {
        let spec = resolve("llama-3.2-3b").unwrap().spec;
        let hw = load("xeon-e5-2620v4-cpu").unwrap();
        let req = PlanRequest::default();
        let b = plan_baseline(&spec, &hw, &req).unwrap();
        assert!(!b.layout.devices.is_empty());
        assert_eq!(b.layout.depth_tokens, b.plan.settings.ctx / 2);
        let model = PerfSpeedModel::new(&spec, &hw, req.engine, &b, 16);
        assert_eq!(model.layout.depth_tokens, 8);
        let plan_cfg = BenchConfig::from_settings(&b.plan.settings);
        let at_plan = model.predict(&plan_cfg).tg_tokens_per_s;
        // At llama-bench's shallow depth the plan's settings decode faster than at the
        // plan's half-context depth, and one thread is slower than all the cores.
        // (The plan's figure without speculative decoding: llama-bench runs none.)
        let plan_tg = b
            .plan
            .performance
            .tg_tokens_per_s_without_speculation
            .unwrap_or(b.plan.performance.tg_tokens_per_s);
        assert!(at_plan >= plan_tg * 0.999, "{at_plan} vs {plan_tg}");
        let mut one = plan_cfg.clone();
        one.threads = 1;
        assert!(model.predict(&one).tg_tokens_per_s < at_plan);
        assert!(model.assumed_bandwidths().cpu_gbs.unwrap() > 0.0);
    }

    /// A GPU plan with per-GPU `-ot` overrides: the baseline is the chosen placement's
    /// own layout (experts of GPU blocks in RAM), not a CPU-only one.
    #[test]
    fn baseline_of_a_gpu_plan_with_expert_overrides() {
        let spec = crate::model::catalog::find("qwen3.5-35b-a3b")
            .unwrap()
            .spec(Some("Q6_K"))
            .unwrap();
        let hw = load("z440-2x3060").unwrap();
        let b = plan_baseline(&spec, &hw, &PlanRequest::default()).unwrap();
        assert!(!b.plan.settings.override_tensors.is_empty());
        assert!(b.layout.host_experts_offloaded_bytes > Bytes::ZERO);
        assert_eq!(b.layout.devices.len(), 3);
        let model = PerfSpeedModel::new(&spec, &hw, EngineKind::LlamaCpp, &b, 16);
        let at_plan = model.predict(&BenchConfig::from_settings(&b.plan.settings));
        assert!(at_plan.tg_tokens_per_s >= b.plan.performance.tg_tokens_per_s * 0.999);
    }

    #[test]
    fn at_depth_scales_kv_reads() {
        let spec = resolve("llama-3.2-3b").unwrap().spec;
        let hw = load("xeon-e5-2620v4-cpu").unwrap();
        let b = plan_baseline(&spec, &hw, &PlanRequest::default()).unwrap();
        let half = at_depth(&b.layout, b.layout.depth_tokens / 2);
        let kv = |l: &Layout| -> u64 {
            l.devices
                .iter()
                .map(|d| d.kv_read_bytes_per_token.as_u64())
                .sum()
        };
        assert!(kv(&b.layout) > 0);
        let ratio = kv(&half) as f64 / kv(&b.layout) as f64;
        assert!((ratio - 0.5).abs() < 0.01, "{ratio}");
    }
}
