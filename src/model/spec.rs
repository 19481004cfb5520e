//! ModelSpec: architecture facts plus every tensor, classified.
//!
//! Plain data with no I/O. Everything the planner's memory and speed arithmetic needs is
//! here: per-layer attention kind, KV heads and head dims (so KV bytes can be computed
//! for any context and cache type), recurrent state sizes, MLA dims, expert counts, and
//! the byte size of every tensor with the class and layer it belongs to.

use crate::gguf::GgmlType;
use crate::units::Bytes;
use serde::{Deserialize, Serialize};

/// What a tensor is for. Drives placement (`-ngl`, `--n-cpu-moe`, `-ot`) and speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorClass {
    TokenEmbedding,
    Output,
    OutputNorm,
    Attention,
    /// Dense feed-forward weights (non-MoE layers, or dense parts).
    FeedForward,
    /// Routed experts (`*_exps`): only `expert_used` of `expert_count` are read per token.
    RoutedExperts,
    /// Shared experts (`*_shexp`), read for every token.
    SharedExperts,
    /// Expert router / gate input (`ffn_gate_inp`).
    ExpertRouter,
    /// Recurrent / SSM / linear-attention weights.
    Recurrent,
    /// Multi-token-prediction (nextn) layers.
    Mtp,
    /// Vision projector / multimodal tensors.
    VisionProjector,
    Norm,
    Other,
}

/// One tensor as the planner needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    /// ggml dims, innermost first.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    pub bytes: Bytes,
    pub class: TensorClass,
    /// The block (layer) index for `blk.N.*` tensors, `None` for global tensors.
    pub layer: Option<u32>,
}

/// How a layer attends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    /// Full causal attention: KV cells = context.
    Full,
    /// Sliding window: KV cells = min(ctx, n_swa * seqs + ubatch), padded.
    SlidingWindow,
    /// Recurrent / linear attention: a constant-size F32 state per sequence, no KV.
    Recurrent,
    /// No attention and no state (e.g. MTP-only helper layers counted separately).
    None,
}

/// Recurrent state sizes per sequence, in F32 elements (llama.cpp `n_embd_r()` / `n_embd_s()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecurrentState {
    /// Convolution / shift state elements (`r`).
    pub r_elements: u64,
    /// SSM / delta-net state elements (`s`).
    pub s_elements: u64,
}

/// Multi-head latent attention dims (deepseek2 family).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlaDims {
    pub kv_lora_rank: u64,
    pub rope_dim: u64,
}

/// One transformer block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    pub index: u32,
    pub attention: AttentionKind,
    pub n_head: u64,
    pub n_head_kv: u64,
    /// K row width per cell for this layer (`n_embd_k_gqa`), elements.
    pub n_embd_k_gqa: u64,
    /// V row width per cell for this layer (`n_embd_v_gqa`), elements.
    pub n_embd_v_gqa: u64,
    pub head_dim_k: u64,
    pub head_dim_v: u64,
    pub recurrent: Option<RecurrentState>,
    /// True if this block has routed experts.
    pub moe: bool,
    /// Bytes of routed expert tensors in this block.
    pub expert_bytes: Bytes,
    /// Bytes of every tensor in this block.
    pub bytes: Bytes,
    /// True for nextn/MTP blocks (kept on the GPU set but not run for plain decoding).
    pub mtp: bool,
}

/// Which engines can load the model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSupport {
    pub llama_cpp: bool,
    pub ik_llama_cpp: bool,
    /// Why an engine cannot load it (e.g. ik-only tensor types, unknown architecture).
    pub notes: Vec<String>,
}

/// Everything the planner knows about a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Human name (`general.name`, or the catalog name).
    pub name: String,
    /// `general.architecture` (`llama`, `qwen35moe`, ...).
    pub architecture: String,
    /// False when the architecture is not one rigplan knows: generic facts only.
    pub architecture_known: bool,
    /// Quant label (`Q4_K_M`, `UD-Q4_K_XL`...), from the file type or the catalog.
    pub quant: Option<String>,
    pub n_layer: u32,
    pub n_embd: u64,
    pub n_vocab: u64,
    pub n_ctx_train: u64,
    /// Sliding window size, for models with SWA layers.
    pub n_swa: Option<u64>,
    pub expert_count: u32,
    pub expert_used: u32,
    pub expert_shared: u32,
    /// Leading dense (non-MoE) blocks.
    pub leading_dense: u32,
    pub mla: Option<MlaDims>,
    /// Number of trailing nextn/MTP blocks included in `n_layer`.
    pub nextn_layers: u32,
    pub layers: Vec<LayerSpec>,
    pub tensors: Vec<TensorSpec>,
    pub engines: EngineSupport,
    /// Things the reader could not determine or had to assume.
    pub notes: Vec<String>,
}

impl ModelSpec {
    pub fn total_bytes(&self) -> Bytes {
        self.tensors.iter().map(|t| t.bytes).sum()
    }

    pub fn bytes_of(&self, class: TensorClass) -> Bytes {
        self.tensors
            .iter()
            .filter(|t| t.class == class)
            .map(|t| t.bytes)
            .sum()
    }

    pub fn total_parameters(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.dims.iter().product::<u64>())
            .sum()
    }

    pub fn is_moe(&self) -> bool {
        self.expert_count > 1
    }
}

impl ModelSpec {
    /// Parameters read per token: every non-expert weight, plus `expert_used` of
    /// `expert_count` routed experts. MTP layers, which plain decoding does not run, are
    /// excluded; so is the token embedding table (a row lookup, not a matmul).
    pub fn active_parameters(&self) -> u64 {
        let frac = if self.expert_count > 0 {
            f64::from(self.expert_used) / f64::from(self.expert_count)
        } else {
            1.0
        };
        self.tensors
            .iter()
            .map(|t| {
                let n = t.dims.iter().product::<u64>();
                match t.class {
                    TensorClass::Mtp
                    | TensorClass::TokenEmbedding
                    | TensorClass::VisionProjector => 0,
                    TensorClass::RoutedExperts => (n as f64 * frac).round() as u64,
                    _ => n,
                }
            })
            .sum()
    }

    /// KV-cache bytes per cell (one token of one sequence) over all attention layers,
    /// `row_size(type_k, n_embd_k_gqa) + row_size(type_v, n_embd_v_gqa)` per layer as
    /// llama.cpp's KV cache allocates it (src/llama-kv-cache.cpp). Sliding-window
    /// layers are counted like full ones: this is the per-cell cost, the planner decides
    /// how many cells each layer holds.
    pub fn kv_bytes_per_cell(&self, type_k: GgmlType, type_v: GgmlType) -> Bytes {
        self.layers
            .iter()
            .filter(|l| {
                matches!(
                    l.attention,
                    AttentionKind::Full | AttentionKind::SlidingWindow
                )
            })
            .map(|l| {
                let k = type_k.row_size(l.n_embd_k_gqa).unwrap_or(0);
                let v = type_v.row_size(l.n_embd_v_gqa).unwrap_or(0);
                Bytes(k.saturating_add(v))
            })
            .sum()
    }

    /// Recurrent-state bytes per sequence (F32 r and s states of every recurrent layer,
    /// llama.cpp `llama_memory_recurrent`).
    pub fn recurrent_state_bytes(&self) -> Bytes {
        self.layers
            .iter()
            .filter_map(|l| l.recurrent)
            .map(|r| Bytes(r.r_elements.saturating_add(r.s_elements).saturating_mul(4)))
            .sum()
    }
}

impl ModelSpec {
    /// With tied embeddings (no `output.weight`) llama.cpp creates the output layer as a
    /// duplicate of `token_embd` (`TENSOR_DUPLICATED` in every arch's `load_arch_tensors`)
    /// and allocates it again in the output layer's buffer: these are those bytes.
    /// Measured: llama-fit-params reports the gemma-4-26b-a4b Q4_K_M model 577 MiB (its
    /// Q6_K token_embd) above the file's tensor bytes.
    pub fn tied_output_bytes(&self) -> Bytes {
        if !self.architecture_known || self.tensors.iter().any(|t| t.class == TensorClass::Output) {
            return Bytes::ZERO;
        }
        self.tensors
            .iter()
            .filter(|t| t.name == "token_embd.weight")
            .map(|t| t.bytes)
            .sum()
    }

    /// Weight bytes llama.cpp allocates: every tensor plus the tied output duplicate.
    pub fn loaded_weight_bytes(&self) -> Bytes {
        self.total_bytes() + self.tied_output_bytes()
    }
}
