//! The planner: pure functions from (ModelSpec, HardwareSnapshot, Request) to a Plan.
//!
//! No files, no devices, no clock. `memory` holds the engine's own arithmetic for
//! weights, KV cache and compute buffers; `placement` searches where tensors live;
//! `settings` chooses the rest; `plan` is the plain-data result generators render.

pub mod layout;
pub mod memory;
pub mod plan;

pub use plan::{DeviceMemory, Plan, Reason, Settings};
