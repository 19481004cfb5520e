//! The plan vocabulary: the plain data every stage of the pipeline speaks, and the
//! [`Plan`] itself.
//!
//! - [`backend`]: which ggml backend runs the GPUs ([`Backend`]).
//! - [`device`]: which device holds tensors and runs part of the graph ([`DeviceId`]).
//! - [`layout`]: what each device holds and reads for one placement ([`Layout`]) — the
//!   boundary between the planner's memory accounting and the speed model.
//! - [`settings`]: what a plan chooses for the engine ([`Settings`]).
//! - [`speed`]: predicted throughput ([`Speed`], [`Performance`]).
//! - this module: the [`Plan`] — chosen settings, memory per device, speed, reasons,
//!   warnings, runners-up and the launch command. Field names follow the `plan --format
//!   json` contract in DESIGN.md; a Plan saved as TOML (`plan --save`) is read back by
//!   `export --plan`.
//!
//! Architecture invariant: this module sits at the bottom. `planner`, `perf`, `engine`,
//! `generate` and `tune` all use it; it uses none of them (only `units`). It holds data
//! and small accessors, never a decision.

pub mod backend;
pub mod device;
pub mod layout;
pub mod settings;
pub mod speed;

pub use backend::Backend;
pub use device::{DeviceId, HostId, Unit};
pub use layout::{DeviceLoad, Layout};
pub use settings::{EngineExtras, Settings, Speculative, SpeculativeKind};
pub use speed::{Performance, Speed};

use serde::{Deserialize, Serialize};

/// Memory on one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceMemory {
    pub name: String,
    /// `gpu` or `cpu`.
    pub kind: String,
    pub capacity_bytes: u64,
    pub weights_bytes: u64,
    pub kv_bytes: u64,
    pub compute_bytes: u64,
    pub overhead_bytes: u64,
    pub total_bytes: u64,
    /// Safety margin kept free on this device.
    #[serde(default)]
    pub margin_bytes: u64,
    /// Host memory page-locked by the GPU runtime (part of `total_bytes`, CPU only): the
    /// host compute buffer, and CPU-resident weights loaded without mmap.
    #[serde(default)]
    pub pinned_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryReport {
    pub devices: Vec<DeviceMemory>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineRef {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub setting: String,
    pub why: String,
}

/// A runner-up plan, shown so the user sees the trade-off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub summary: String,
    pub quant: Option<String>,
    pub tg_tokens_per_s: f64,
    pub pp_tokens_per_s: f64,
    /// Quality of the alternative's quant: mean KL divergence to F16 (lower is better),
    /// from `perf::quality` (measured, or interpolated from bits per weight).
    #[serde(default)]
    pub mean_kld: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    pub name: String,
    pub architecture: String,
    /// The reference the user gave (path, catalog id, URL) so `export --plan` can find it.
    pub reference: String,
    /// Local path to pass as `-m`, when known.
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub model: ModelRef,
    /// Where the hardware description came from.
    pub hardware: String,
    pub engine: EngineRef,
    pub settings: Settings,
    pub memory: MemoryReport,
    pub performance: Performance,
    /// The engine arguments, one element per argv entry (no program name).
    pub args: Vec<String>,
    /// The whole command line, shell-quoted.
    pub command: String,
    pub reasons: Vec<Reason>,
    pub warnings: Vec<String>,
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
}
