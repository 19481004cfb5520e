//! Machines as the planner sees them.
//!
//! [`snapshot::HardwareSnapshot`] is the only thing the planner knows about a machine.
//! `detect` produces one by probing this machine through injectable roots; a saved TOML
//! or JSON file, a bundled preset, or the what-if options (`--gpu`, `--ram-gib`, ...)
//! produce one just as well. Planning for hardware you do not own and testing without
//! hardware go through the same code path: [`resolve::resolve`].
//!
//! - [`root`]: the injectable filesystem root every probe reads through.
//! - [`cpu`], [`uarch`], [`memory`], [`dmi`], [`gpu`], [`system`]: the probes and tables.
//! - [`bandwidth`]: the `--measure` read-bandwidth probe.
//! - [`gpu_table`], [`presets`]: the embedded GPU table and the seeds' rigs.
//! - [`snapshot_file`]: versioned TOML/JSON reading and writing; [`bounds`]: the
//!   physical bounds a snapshot read from a file must keep.
//! - [`detect`], [`resolve`]: wiring; [`report`]: human tables.
//! - [`cluster`]: RPC workers (`--worker`, `--link`, the cluster file) resolved.

pub mod bandwidth;
pub mod bounds;
pub mod cluster;
pub mod cpu;
pub mod detect;
pub mod dmi;
pub mod exec;
pub mod gpu;
pub mod gpu_spec;
pub mod gpu_table;
pub mod memory;
pub mod presets;
pub mod report;
pub mod resolve;
pub mod root;
pub mod snapshot;
pub mod snapshot_file;
pub mod system;
pub mod uarch;

pub use resolve::resolve;
pub use snapshot::{
    CpuInfo, GpuInfo, GpuVendor, HardwareSnapshot, MemoryInfo, PcieLink, SystemInfo, VulkanMatrix,
    SNAPSHOT_SCHEMA_VERSION,
};
