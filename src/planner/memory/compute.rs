//! Compute buffers: the engine's worst-case graph reservation, per device.
//!
//! `llama_context::sched_reserve` (src/llama-context.cpp) reserves the prompt graph for
//! `n_tokens = min(n_ctx, n_ubatch)` tokens with `n_outputs = min(n_tokens,
//! n_outputs_max)` (`n_batch` unless the context sets it: `MemoryConfig::n_outputs_max`), and ggml-alloc sizes each backend's buffer to the peak of
//! simultaneously live tensors. Two stages bound that peak:
//! - the output stage on the device holding the output layer: the F32 logits
//!   (`n_vocab x n_outputs`) plus the last hidden states;
//! - the layer stage on every device running blocks: the attention mask (F16 with flash
//!   attention, F32 and the full `KQ` scores without it) plus the FFN activations.
//!
//! The hidden-state term of the output stage is a per-architecture count of `n_embd`
//! rows per token, measured by scaling `-ub` 128..2048 in `llama-fit-params --fit-print
//! on -nr -fa on` (llama.cpp of llama-cpp-python 0.3.36; the compute column grows
//! exactly linearly): llama and qwen3moe 2, qwen35moe 4, gemma4 5, gpt-oss 7.1,
//! deepseek2 10; issue 16 (-c 32768, -ub 128..2048 on the catalog's Phi-4, MiniMax-M2
//! and Granite-4.0-H-Tiny): minimax-m2 2, granitehybrid 4, phi3 2 (4.4 at -c 4096);
//! nemotron_h 3 and llama4 3 (Nemotron-Nano-9B-v2, Llama-4-Scout, -ub 512 and 2048). The rest is derived from tensor shapes. No I/O.

use super::MemoryConfig;
use crate::model::{ModelSpec, TensorClass};
use crate::units::Bytes;

/// F32 element size: activations, logits and masks are F32 (masks F16 with FA).
const F32: u64 = 4;
const F16: u64 = 2;

/// `n_embd`-wide F32 rows per graph token live beside the logits, in tenths (see the
/// module note for the measurement).
fn output_hidden_rows_x10(architecture: &str) -> u64 {
    match architecture {
        "llama" | "qwen3moe" | "qwen3" | "qwen2" | "mistral3" | "minimax-m2" => 20,
        // phi3 measures 4.4 rows at -c 4096 and 2.0 from -c 16384 up (its graph's peak
        // moves at the 16384-token training context); the midpoint is within 6% of both.
        "phi3" => 32,
        "granitehybrid" => 40,
        "nemotron_h" | "llama4" => 30,
        "qwen35" | "qwen35moe" | "qwen3next" => 40,
        "gemma4" | "gemma3" => 50,
        "gpt-oss" => 71,
        "deepseek2" => 101,
        // Unmeasured architectures: the median of the measured ones.
        _ => 50,
    }
}

/// Widest FFN activation per token: dense `n_ff`, or `expert_used x n_ff_exp` plus the
/// shared expert's width, read from the tensor shapes.
pub fn ffn_activation_width(spec: &ModelSpec) -> u64 {
    let mut dense = 0u64;
    let mut routed = 0u64;
    let mut shared = 0u64;
    for t in &spec.tensors {
        let n = t.name.as_str();
        let width = t.dims.get(1).copied().unwrap_or(0);
        match t.class {
            // ffn_down is {n_ff, n_embd} whether gate and up are separate or fused into
            // one `ffn_up` of 2 x n_ff rows (phi3)
            TensorClass::FeedForward if n.ends_with("ffn_down.weight") => {
                dense = dense.max(t.dims.first().copied().unwrap_or(0))
            }
            TensorClass::SharedExperts if n.ends_with("ffn_up_shexp.weight") => {
                shared = shared.max(width)
            }
            TensorClass::RoutedExperts if n.ends_with("ffn_up_exps.weight") => {
                routed = routed.max(width)
            }
            TensorClass::RoutedExperts if n.ends_with("ffn_gate_up_exps.weight") => {
                routed = routed.max(width / 2)
            }
            _ => {}
        }
    }
    dense.max(routed * u64::from(spec.expert_used.max(1)) + shared)
}

/// The output stage: logits plus the last hidden states.
pub fn output_stage(spec: &ModelSpec, cfg: &MemoryConfig) -> Bytes {
    let n_tok = cfg.graph_tokens();
    let n_out = cfg.graph_outputs();
    let logits = spec.n_vocab.saturating_mul(n_out).saturating_mul(F32);
    let hidden = spec
        .n_embd
        .saturating_mul(n_tok)
        .saturating_mul(F32)
        .saturating_mul(output_hidden_rows_x10(&spec.architecture))
        / 10;
    Bytes(logits + hidden)
}

/// The layer stage on a device running transformer blocks.
///
/// `kv_cells` is the widest cache a block on this device attends over; `gpu_casts_kv`
/// adds the F16 copy of one layer's quantized K and V that the CUDA flash-attention path
/// makes (ggml-cuda/fattn-common.cuh converts non-F16 K/V before the kernel).
/// `ffn_width` is [`ffn_activation_width`] of the model (computed once by the caller).
pub fn layer_stage(
    spec: &ModelSpec,
    cfg: &MemoryConfig,
    ffn_width: u64,
    kv_cells: u64,
    gpu_casts_kv: bool,
) -> Bytes {
    let n_tok = cfg.graph_tokens();
    let n_head = spec.layers.iter().map(|l| l.n_head).max().unwrap_or(0);
    let q_width = spec
        .layers
        .iter()
        .map(|l| l.n_head * l.head_dim_k.max(1))
        .max()
        .unwrap_or(spec.n_embd);
    // The FFN's peak holds three `n_ff` rows and four `n_embd` rows per token (the
    // residual, its norm, the attention output and the block input): the pinned
    // llama-server on CPU with one output per graph (-np 1, -c 4096, -fa on, -ub 512)
    // logs exactly (3·n_ff + 4·n_embd)·512·4 B plus the mask for sparse Llama-3.2-1B
    // (68.01 MiB), Llama-3.2-3B (76.01), Llama-3.1-8B (120.01), Qwen3-8B (108.01) and
    // Qwen3-0.6B (30.01). A query wider than two `n_embd` rows keeps the earlier bound.
    let acts = F32 * n_tok * (3 * ffn_width + 2 * spec.n_embd + q_width.max(2 * spec.n_embd));
    let attn = if cfg.flash_attn {
        kv_cells * n_tok * F16
    } else {
        // mask (F32) + KQ scores, softmax in place: n_kv x n_tokens x n_head F32.
        kv_cells * n_tok * F32 * (1 + n_head)
    };
    let cast = if gpu_casts_kv && cfg.flash_attn {
        let w = spec
            .layers
            .iter()
            .map(|l| l.n_embd_k_gqa + l.n_embd_v_gqa)
            .max()
            .unwrap_or(0);
        let quantized = cfg.type_k.name() != "F16" || cfg.type_v.name() != "F16";
        if quantized {
            kv_cells * w * F16
        } else {
            0
        }
    } else {
        0
    };
    Bytes(acts + attn + cast)
}

/// Bytes of the attention masks of one graph: one mask per distinct KV width (the full
/// cache, and the sliding-window cache where the model has one), `n_kv x n_tokens`, F16
/// with flash attention and F32 without (`build_attn_inp_kq_mask`, src/llama-graph.cpp).
/// Only attention layers count (recurrent layers have no mask).
pub fn mask_bytes(cfg: &MemoryConfig, kv_layers: &[super::kv::LayerKv]) -> Bytes {
    let mut widths: Vec<u64> = kv_layers
        .iter()
        .filter(|l| l.attention > Bytes::ZERO && l.cells > 0)
        .map(|l| l.cells)
        .collect();
    widths.sort_unstable();
    widths.dedup();
    let elem = if cfg.flash_attn { F16 } else { F32 };
    Bytes(widths.iter().sum::<u64>() * cfg.graph_tokens() * elem)
}

/// One token's hidden state per graph token: what crosses a device boundary.
pub fn activation_bytes(spec: &ModelSpec, cfg: &MemoryConfig) -> Bytes {
    Bytes(F32 * spec.n_embd * cfg.graph_tokens())
}

/// Host compute buffer when no block runs on the CPU: the token-embedding lookup (the
/// input layer always stays on the CPU, `dev_input = cpu_dev` in
/// `llama_model::load_tensors`) and the graph inputs, which the scheduler places on the
/// CPU backend (`GGML_TENSOR_FLAG_INPUT` in `ggml_backend_sched_backend_id_from_cur`,
/// ggml/src/ggml-backend.cpp) — the masks, kept `copies` times under pipeline
/// parallelism. With a GPU this buffer is pinned host memory (`CUDA_Host`,
/// `ggml_backend_dev_host_buffer_type` in `llama_context::llama_context`).
/// Published check (shared/calibration rows 3 and 10, Llama-3-8B, n_ctx 8192, ubatch
/// 512, no flash attention): 8 MiB of embeddings + one 16 MiB F32 mask = 24.01 MiB on one
/// GPU; with two GPUs and 4 copies, 8 + 4 x 16 = 72.02 MiB.
pub fn host_input_stage(spec: &ModelSpec, cfg: &MemoryConfig, masks: Bytes, copies: u64) -> Bytes {
    activation_bytes(spec, cfg) + Bytes(masks.0 * copies.max(1))
}

/// Extra compute buffer on a GPU under pipeline parallelism: the scheduler keeps
/// `copies` copies of every input a split receives from another backend (the masks and
/// the incoming hidden state), one of which the plain layer stage already counts.
/// Published check: the 2-GPU Llama-3-8B breakdown (row 10) has 640 MiB per GPU against
/// 560 MiB on one GPU (row 3), +80 MiB; this gives 3 x (16 + 8) = 72 MiB.
pub fn pipeline_copies_stage(
    spec: &ModelSpec,
    cfg: &MemoryConfig,
    masks: Bytes,
    copies: u64,
) -> Bytes {
    let extra = copies.saturating_sub(1);
    Bytes(extra * (masks.0 + activation_bytes(spec, cfg).0))
}

/// Compute buffers of a context whose graph runs only a model's MTP (nextn) block and
/// the output head (mainline `LLAMA_CONTEXT_TYPE_MTP`, `LLM_GRAPH_TYPE_DECODER_MTP`): on
/// the device holding the block, the larger of its FFN peak and the output stage (the
/// output matrix is shared with the trunk); when that device is a GPU, the host buffer
/// for the graph inputs (one token-embedding row per token and one mask over `kv_cells`).
/// Returns (block device, host) bytes; `sched_reserve` (src/llama-context.cpp) reserves
/// this graph like any other, with `cfg`'s tokens and outputs.
///
/// The block's peak is the FFN's three `n_ff` rows and two `n_embd` rows per token plus
/// the mask, without the trunk stage's query rows: the pinned llama-server logs 126.02
/// MiB for a Qwen3.5-27B-shaped nextn block at 512 tokens over 4096 cells with flash
/// attention, which is (3·17408 + 2·5120)·512·4 B + 4096·512·2 B + 0.02 MiB of inputs
/// (tests/integration/speculative.rs `mtp_head_memory_matches_the_engine_buffers`).
pub fn mtp_context(
    spec: &ModelSpec,
    cfg: &MemoryConfig,
    kv_cells: u64,
    on_gpu: bool,
) -> (Bytes, Bytes) {
    let n_tok = cfg.graph_tokens();
    let ffn = F32 * n_tok * (3 * ffn_activation_width(spec) + 2 * spec.n_embd);
    let mask = kv_cells * n_tok * if cfg.flash_attn { F16 } else { F32 };
    // Without flash attention the F32 scores of every head are live too (as in
    // [`layer_stage`]).
    let n_head = spec.layers.iter().map(|l| l.n_head).max().unwrap_or(0);
    let scores = if cfg.flash_attn {
        0
    } else {
        kv_cells * n_tok * F32 * n_head
    };
    let device = Bytes(ffn + mask + scores).max(output_stage(spec, cfg));
    let host = if on_gpu {
        activation_bytes(spec, cfg) + Bytes(mask)
    } else {
        Bytes::ZERO
    };
    (device, host)
}
