//! Plan: plain data describing chosen settings, memory per device, speed and reasons.
//!
//! Field names follow the `plan --format json` contract in DESIGN.md. Generators render
//! a Plan and decide nothing; a Plan saved as TOML (`plan --save`) is read back by
//! `export --plan`.

use serde::{Deserialize, Serialize};

/// The chosen engine settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub quant: Option<String>,
    pub n_gpu_layers: u32,
    pub n_cpu_moe: u32,
    pub ctx: u64,
    pub predict: u64,
    pub cache_type_k: String,
    pub cache_type_v: String,
    pub threads: u32,
    pub batch: u32,
    pub ubatch: u32,
    pub parallel: u32,
    /// `none`, `layer`, `row`, `graph`, `tensor`.
    pub split_mode: String,
    #[serde(default)]
    pub tensor_split: Vec<f64>,
    pub flash_attn: bool,
    pub mlock: bool,
    pub mmap: bool,
    /// Extra `-ot PATTERN=DEVICE` overrides beyond `--n-cpu-moe`.
    #[serde(default)]
    pub override_tensors: Vec<String>,
    /// `CUDA_VISIBLE_DEVICES`-style list of GPU indices used, empty for CPU-only.
    #[serde(default)]
    pub gpu_indices: Vec<u32>,
    /// Engine-specific options the planner chose (added by the planner; generators render).
    #[serde(default)]
    pub extras: EngineExtras,
}

/// Engine-specific options. Each is set only for the engine that accepts it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineExtras {
    /// mainline `--fit off`: the plan is already fitted.
    #[serde(default)]
    pub fit_off: bool,
    /// ik_llama.cpp `-rtr`: repack CPU-resident weights at load (implies no mmap).
    #[serde(default)]
    pub run_time_repack: bool,
    /// ik_llama.cpp `-mla N` for MLA models.
    #[serde(default)]
    pub mla: Option<u32>,
    /// ik_llama.cpp `-amb N` (MiB): caps the attention compute buffer.
    #[serde(default)]
    pub attention_max_batch: Option<u32>,
    /// ik_llama.cpp `-muge`: merge up/gate expert tensors.
    #[serde(default)]
    pub merge_up_gate_experts: bool,
    /// llama-server `--cache-ram N` (MiB) when the default 8192 MiB prompt cache would
    /// not fit in the RAM the plan leaves; `Some(0)` disables the cache.
    #[serde(default)]
    pub cache_ram_mib: Option<u64>,
}

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

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    pub tg_tokens_per_s: f64,
    pub pp_tokens_per_s: f64,
    /// What limits decode speed, in words ("expert reads from DDR4: 71% of per-token time").
    pub bottleneck: String,
    /// The theoretical tg ceiling for this hardware and model (all bandwidth, no overheads).
    #[serde(default)]
    pub ceiling_tg_tokens_per_s: Option<f64>,
    /// "calibrated on this machine on DATE from N runs", when a tune calibration applied.
    #[serde(default)]
    pub calibration: Option<String>,
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
