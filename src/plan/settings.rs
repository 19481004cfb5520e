//! Settings: what a plan chooses for the engine — the values behind every argument of
//! the launch command, engine-neutral, plus the few engine-specific extras.
//!
//! Plain data: the planner fills it, `engine` renders it into argv, `perf` reads the
//! parts that change speed (threads, batch sizes, split mode, flash attention), `tune`
//! varies it. Nothing here knows an engine's spelling of an option.

use super::Backend;
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
    /// The ggml backend the GPUs run on (`cpu` for a CPU-only plan).
    #[serde(default)]
    pub backend: Backend,
    /// Engine-specific options the planner chose (added by the planner; generators render).
    #[serde(default)]
    pub extras: EngineExtras,
    /// Speculative decoding: which kind, the draft model and its draft lengths.
    #[serde(default)]
    pub speculative: Speculative,
}

/// Which kind of speculative decoding a plan runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeculativeKind {
    /// Plain decoding.
    #[default]
    None,
    /// The model's own multi-token-prediction (nextn) head drafts.
    Mtp,
    /// A separate, smaller draft model of the same vocabulary drafts.
    Draft,
    /// Lookup of repeated n-grams in the context drafts (no model).
    Ngram,
}

impl SpeculativeKind {
    pub const ALL: [SpeculativeKind; 4] = [
        SpeculativeKind::None,
        SpeculativeKind::Mtp,
        SpeculativeKind::Draft,
        SpeculativeKind::Ngram,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SpeculativeKind::None => "none",
            SpeculativeKind::Mtp => "mtp",
            SpeculativeKind::Draft => "draft",
            SpeculativeKind::Ngram => "ngram",
        }
    }

    pub fn parse(s: &str) -> Option<SpeculativeKind> {
        SpeculativeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.to_ascii_lowercase())
    }
}

/// The speculative-decoding settings (`settings.speculative` in plan JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Speculative {
    pub kind: SpeculativeKind,
    /// The draft model as the user named it (a path is passed to the engine as it is).
    #[serde(default)]
    pub draft_model: Option<String>,
    /// Most tokens drafted per step (`--draft-max`); 0 for `none`.
    #[serde(default)]
    pub draft_max: u32,
    /// Fewest tokens a draft must have to be verified.
    #[serde(default)]
    pub draft_min: u32,
    /// Lowest draft-token probability kept (greedy drafting stops below it).
    #[serde(default)]
    pub p_min: f64,
    /// Draft model layers on the GPU (`-ngld`), when a draft model is used.
    #[serde(default)]
    pub draft_gpu_layers: Option<u32>,
    /// The draft context's KV cache types, when they differ from the engine's default.
    #[serde(default)]
    pub draft_cache_type_k: Option<String>,
    #[serde(default)]
    pub draft_cache_type_v: Option<String>,
    /// ik_llama.cpp `--spec-autotune`: the engine adapts the draft length at run time.
    #[serde(default)]
    pub autotune: bool,
    /// Where the engine downloads the draft model (mainline `-hfd`), when it is a catalog
    /// model with no local file; `draft_model` is then its file in that repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_download: Option<super::HfDownload>,
    /// The draft model runs on the CPU only (`-devd none`, `-ngld 0`): it did not fit
    /// beside the main model on the GPUs and still pays there.
    #[serde(default)]
    pub draft_on_cpu: bool,
    /// The draft context's size, where the engine takes one (ik `-cd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_ctx: Option<u64>,
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
    /// mainline `--rpc HOST:PORT,...`: the RPC workers whose devices hold layers, in the
    /// order the engine lists their devices (before the local GPUs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rpc_servers: Vec<String>,
}
