//! The plan vocabulary: the plain data every stage of the pipeline speaks, and the
//! [`Plan`] itself.
//!
//! - [`backend`]: which ggml backend runs the GPUs ([`Backend`]).
//! - [`cluster`]: the main host and its RPC workers ([`cluster::ClusterReport`]).
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
pub mod cluster;
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
    /// The worker (`--worker NAME=...`) this device is on; absent for the main host's
    /// own devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
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
    /// Without a local file: where the engine's own downloader fetches the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<HfDownload>,
}

/// A model file on Hugging Face that llama-server downloads itself (`-hf`), for a plan
/// with no local file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HfDownload {
    /// `OWNER/REPO`.
    pub repo: String,
    /// The file's path in the repository (the first shard of a split model); `None` when
    /// only the quant is known and the engine picks the file whose name carries it.
    #[serde(default)]
    pub file: Option<String>,
    /// The quant as spelled in file names (`Q4_K_M`).
    #[serde(default)]
    pub quant: Option<String>,
    /// Number of files of a split model (the engine fetches them all).
    #[serde(default)]
    pub shards: Option<u32>,
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
    /// The vision projector loaded with the model (`--mmproj`), counted in `memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projector: Option<Projector>,
    /// The cluster, for a plan made with RPC workers (`plan --worker`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<cluster::ClusterReport>,
}

/// A vision projector (`mmproj`) in a plan: where it comes from, the device it is on and
/// what it holds there (already included in that device's memory row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Projector {
    /// A local file, absolute.
    #[serde(default)]
    pub path: Option<String>,
    /// Without a local file: the https URL the engine downloads it from.
    #[serde(default)]
    pub url: Option<String>,
    /// The memory row it is counted in.
    pub device: String,
    /// On a GPU (the engine's default), else the CPU (`--no-mmproj-offload`).
    pub offload: bool,
    pub weights_bytes: u64,
    /// Its image-encoding compute buffer, when a measurement is known.
    pub compute_bytes: u64,
    /// Where the compute figure comes from, or why it is missing.
    pub compute_source: String,
}
