//! Machines as the planner sees them.
//!
//! [`snapshot::HardwareSnapshot`] is the only thing the planner knows about a machine.
//! `detect` produces one by probing this machine through injectable roots; a saved TOML
//! or JSON file, a bundled preset, or the what-if options (`--gpu`, `--ram-gib`, ...)
//! produce one just as well. Planning for hardware you do not own and testing without
//! hardware go through the same code path.

pub mod snapshot;

pub use snapshot::{
    CpuInfo, GpuInfo, GpuVendor, HardwareSnapshot, MemoryInfo, PcieLink, SystemInfo,
};
