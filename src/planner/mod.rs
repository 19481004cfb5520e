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
//! - [`backend`]: the fastest backend all the chosen placement's GPUs can use (or the
//!   pinned one); when it is not the one the search scored with, the search runs again
//!   with it.
//! - [`settings`]: the settings for the chosen placement.
//! - [`explain`]: one reason per setting, and the warnings.
//! - [`assemble`]: the Plan itself.
//! - [`speculative`]: whether it drafts tokens (MTP head, n-gram lookup), how many, and
//!   what that adds to memory and speed.
//! - [`quants`]: several quants of one model, one chosen by `--prefer`.
//! - [`cluster`]: the same pipeline over the main host plus RPC workers, against the
//!   main host alone (`plan --worker`).
//!
//! Architecture invariant: no files, no devices, no clock, no argv. The speed of a
//! placement comes from the [`Scorer`] passed in (`perf::scorer` unless a caller gives
//! another); engine differences come from the engine's description (`engine::info`);
//! the launch command is rendered from the Plan by `engine` and `generate`, not here.

pub mod assemble;
pub mod backend;
pub mod cluster;
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
pub mod speculative;
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
/// With a [`request::SpeedCorrection`] (a `tune` calibration) every speed the search and
/// the settings compare is the corrected one.
pub fn plan(spec: &ModelSpec, hw: &HardwareSnapshot, req: &PlanRequest) -> Result<Plan, PlanError> {
    let scorer = crate::perf::scorer(spec, req.engine);
    let scored = |l: &Layout, h: &HardwareSnapshot, s: &Settings| match &req.speed_correction {
        None => scorer(l, h, s),
        Some(c) => c.apply(scorer(l, h, s), s.threads),
    };
    let mut plan = if req.cluster.is_some() {
        cluster::plan_cluster(spec, hw, req, &scored)?
    } else {
        plan_with(spec, hw, req, &scored)?
    };
    if let Some(c) = &req.speed_correction {
        plan.performance.calibration = Some(c.label.clone());
    }
    Ok(plan)
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
    // `--backend cpu` plans the machine without its GPUs.
    let without_gpus;
    let hw = if req.backend == Some(crate::plan::Backend::Cpu) && !hw.gpus.is_empty() {
        without_gpus = HardwareSnapshot {
            gpus: Vec::new(),
            ..hw.clone()
        };
        &without_gpus
    } else {
        hw
    };
    let devices = devices::Devices::local(hw);
    let space = space::SearchSpace::new(spec, hw, req)?;
    let threads = match req.threads {
        Some(t) => (t, "pinned".to_string()),
        None => settings::threads(hw),
    };
    let mut found = search::search(spec, hw, &devices, req, &space, threads.0, scorer)?;
    let best = &found.best;
    let chosen = backend::choose(hw, req, &best.cand, &best.settings, space.backend, scorer)?;
    if chosen.backend != space.backend && req.backend.is_none() {
        // Another backend is predicted faster on this placement: place again with it
        // (its memory and speed may choose differently), then keep this reason.
        let again = PlanRequest {
            backend: Some(chosen.backend),
            ..req.clone()
        };
        // A placement the backend cannot run (the new search may choose one) keeps
        // this placement, which it can.
        if let Ok((mut plan, layout)) = plan_with_layout(spec, hw, &again, scorer) {
            if let Some(r) = plan.reasons.iter_mut().find(|r| r.setting == "backend") {
                r.why = chosen.why;
            }
            return Ok((plan, layout));
        }
    }
    found.best.settings.backend = chosen.backend;
    found.best.cand.speed = chosen.speed;
    let mut settled = settings::settle(spec, hw, &devices, req, found.best, threads, scorer)?;
    settled.backend_why = chosen.why;
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
    let drafting = speculative::decide(spec, hw, &devices, req, &settled)?;
    let mut plan = assemble::assemble(
        spec,
        hw,
        &devices,
        req,
        &settled,
        found.runners,
        explanation,
    );
    speculative::apply(&mut plan, &drafting);
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
    backend::check_pin(hw, req)?;
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
