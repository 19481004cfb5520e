//! Library operations: what each verb does once its arguments are validated, as calls a
//! program (or a test) can make without a command line. Each takes plain requests and
//! returns data; `commands` turns arguments into those requests and renders the result.
//!
//! This is the one layer that combines the pure stages with the outside world: reading a
//! model's header, a machine's snapshot or a saved calibration, attaching the engine's
//! argv and the shell command to a plan. The planner stays pure because this does the
//! rest.

pub mod compare;
pub mod export;
pub mod plan;
pub mod projector;
pub mod sweep;
pub mod tune;
pub mod verify;
