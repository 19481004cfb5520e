//! The planner: a pure function from (ModelSpec, HardwareSnapshot, PlanRequest) to a
//! [`Plan`], as a short pipeline of named stages.
//!
//! ```text
//!  request ─► space ─► search ─► settings ─► explain ─► assemble ─► Plan
//!             (what     (fastest  (split,     (reasons,  (memory rows,
//!              to try)   fitting   threads,    warnings)  speed,
//!                        choice)   options)               alternatives)
//! ```
//!
//! - [`space`]: the contexts, KV cache types and ubatches the request leaves open.
//! - [`search`]: for each, the scored placements from [`placement`] (which asks
//!   [`memory`] what each costs on every device of [`devices`]); keeps the best that fits.
//! - [`settings`]: the settings for the chosen placement.
//! - [`explain`]: one reason per setting, and the warnings.
//! - [`assemble`]: the Plan itself.
//! - [`quants`]: several quants of one model, one chosen by `--prefer`.
//!
//! Architecture invariant: no files, no devices, no clock, no argv. The speed of a
//! placement comes from the [`Scorer`] passed in (`perf::scorer` unless a caller gives
//! another); engine differences come from the engine's description (`engine::info`);
//! the launch command is rendered from the Plan by `engine` and `generate`, not here.

pub mod assemble;
pub mod devices;
pub mod expert_overrides;
pub mod explain;
pub mod memory;
pub mod placement;
pub mod quants;
pub mod request;
pub mod search;
pub mod settings;
pub mod space;
pub mod summary;
#[cfg(test)]
pub(crate) mod testing;

pub use quants::{plan_quants, plan_variants};
pub use request::PlanRequest;

use crate::engine::split_modes::{self, SplitContext};
use crate::hardware::{GpuVendor, HardwareSnapshot};
use crate::model::ModelSpec;
use crate::plan::{Layout, Plan, Settings, Speed};
use request::SplitMode;

/// A speed scorer: the planner ranks placements with whatever it is given
/// (`perf::scorer` in production, `perf::roofline::roofline` or a test's own).
pub type Scorer<'a> = dyn Fn(&Layout, &HardwareSnapshot, &Settings) -> Speed + 'a;

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Well-formed but impossible on this hardware (exit 1); says by how much it misses.
    #[error("{0}")]
    Unsatisfiable(String),
    /// The model or request is not something the engine can run (exit 2).
    #[error("{0}")]
    Invalid(String),
}

/// A plan that cannot be made is unsatisfiable (exit 1) or, for a request or model the
/// engine cannot run, bad input (exit 2); the message is kept as it is.
impl From<PlanError> for crate::error::Error {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Unsatisfiable(m) => crate::error::Error::Unsatisfiable(m),
            PlanError::Invalid(m) => crate::error::Error::BadInput(m),
        }
    }
}

/// Plans with the speed model (`perf::scorer`).
pub fn plan(spec: &ModelSpec, hw: &HardwareSnapshot, req: &PlanRequest) -> Result<Plan, PlanError> {
    let scorer = crate::perf::scorer(spec, req.engine);
    plan_with(spec, hw, req, &scorer)
}

/// Plans with a given speed scorer.
pub fn plan_with(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
    scorer: &Scorer<'_>,
) -> Result<Plan, PlanError> {
    plan_with_layout(spec, hw, req, scorer).map(|(plan, _)| plan)
}

/// [`plan_with`], also returning the [`Layout`] of the chosen placement (what `tune`
/// predicts its neighbours on; the Plan does not carry it). The whole pipeline.
pub fn plan_with_layout(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &PlanRequest,
    scorer: &Scorer<'_>,
) -> Result<(Plan, Layout), PlanError> {
    check(spec, hw, req)?;
    let devices = devices::Devices::local(hw);
    let space = space::SearchSpace::new(spec, hw, req)?;
    let threads = match req.threads {
        Some(t) => (t, "pinned".to_string()),
        None => settings::threads(hw),
    };
    let found = search::search(spec, hw, &devices, req, &space, threads.0, scorer)?;
    let settled = settings::settle(spec, hw, &devices, req, found.best, threads, scorer)?;
    let facts = explain::Facts {
        spec,
        hw,
        devices: &devices,
        req,
        space: &space,
        settled: &settled,
        runners: &found.runners,
    };
    let explanation = assemble::Explanation {
        reasons: explain::reasons(&facts),
        warnings: explain::warnings(&facts),
    };
    let plan = assemble::assemble(
        spec,
        hw,
        &devices,
        req,
        &settled,
        found.runners,
        explanation,
    );
    Ok((plan, settled.cand.layout))
}

/// Pins that cannot be meant for this model and machine: more `--tensor-split` shares
/// than GPUs (the engine would drop the rest silently), `--n-cpu-moe` on a dense model
/// (it has no experts to keep on the CPU; refused rather than ignored, since the user
/// evidently planned for a different model).
fn check_pins(spec: &ModelSpec, hw: &HardwareSnapshot, req: &PlanRequest) -> Result<(), PlanError> {
    if let Some(ts) = &req.tensor_split {
        if ts.len() > hw.gpus.len() {
            return Err(PlanError::Invalid(format!(
                "--tensor-split has {} shares but this machine has {} GPU(s): give at most one per GPU",
                ts.len(),
                hw.gpus.len()
            )));
        }
    }
    if let Some(n) = req.n_cpu_moe.filter(|&n| n > 0) {
        if !spec.is_moe() {
            return Err(PlanError::Invalid(format!(
                "--n-cpu-moe {n}: model '{}' is dense (no experts to keep on the CPU); use --ngl to keep layers there",
                spec.name
            )));
        }
    }
    Ok(())
}

/// What makes a request bad input before any search: a model without layers, or a
/// pinned split mode the engine would refuse (or silently replace) for this model and
/// machine (`engine::split_modes::check`).
fn check(spec: &ModelSpec, hw: &HardwareSnapshot, req: &PlanRequest) -> Result<(), PlanError> {
    if spec.n_layer == 0 || spec.layers.is_empty() {
        return Err(PlanError::Invalid(format!(
            "model '{}' has no layers",
            spec.name
        )));
    }
    check_pins(spec, hw, req)?;
    let Some(m) = req.split_mode else {
        return Ok(());
    };
    if matches!(m, SplitMode::None | SplitMode::Layer) {
        return Ok(());
    }
    let vendors: Vec<GpuVendor> = hw.gpus.iter().map(|g| g.vendor).collect();
    let ctx = SplitContext {
        architecture: &spec.architecture,
        gpu_vendors: &vendors,
        flash_attn: req.flash_attn.unwrap_or(true),
        cpu_experts: req.n_cpu_moe.is_some_and(|n| n > 0),
    };
    match split_modes::check(req.engine, m.name(), &ctx) {
        Some(why) => Err(PlanError::Invalid(why)),
        None => Ok(()),
    }
}
