//! The planner: pure functions from (ModelSpec, HardwareSnapshot, Request) to a Plan.
//!
//! No files, no devices, no clock. `memory` holds the engine's own arithmetic for
//! weights, KV cache and compute buffers; `placement` searches where tensors live;
//! `settings` chooses the rest; `choose` puts it together; `plan` is the plain-data
//! result generators render; `roofline` is the default speed scorer.

pub mod choose;
pub mod expert_overrides;
pub mod memory;
pub mod placement;
pub mod request;
pub mod settings;

pub use choose::{
    perf_scorer, plan, plan_quants, plan_roofline, plan_variants, plan_with, plan_with_layout,
    PlanError,
};
pub use request::{resolve, PlanRequest};

use crate::hardware::HardwareSnapshot;
use crate::plan::{Layout, Settings, Speed};

/// A speed scorer: the planner ranks placements with whatever it is given
/// (`perf::scorer` in production, `perf::roofline::roofline` or a test's own).
pub type Scorer<'a> = dyn Fn(&Layout, &HardwareSnapshot, &Settings) -> Speed + 'a;

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
