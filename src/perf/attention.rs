//! What turning flash attention off costs in time, from the shapes alone.
//!
//! With flash attention the engine runs one fused kernel per attention layer and never
//! writes the scores out. Without it (`build_attn_mha` in src/llama-graph.cpp) the
//! graph materialises `KQ = K·Q` as an F32 tensor of `n_kv x n_tokens x n_head`, runs
//! `soft_max_ext` over it into a new tensor, multiplies by V and copies the result back
//! into place: three more kernels per attention layer, and the scores cross memory four
//! times (written, read and written by the softmax, read by the KQV product). At small
//! depth this is noise; at tens of thousands of tokens it is a large share of decode and
//! prompt time. No fitted factor: bytes over the device's effective bandwidth (the same
//! one the weight reads use) and kernels at the fitted per-kernel cost. Pure.

use super::ModelFacts;
use crate::model::spec::{LayerSpec, ModelSpec};

/// FLOPs per query token per cached cell of one softmax-attention block, averaged over
/// `blocks`: QK^T is `2 x head_dim_k` and PV `2 x head_dim_v` per query head
/// (`build_attn_mha`, src/llama-graph.cpp; the fused `flash_attn_ext` does the same
/// products). Under MLA (deepseek2 with `kv_lora_rank`) the engine attends over the
/// latent: the query is absorbed into `kv_lora_rank + n_rot` wide keys and the values
/// are the `kv_lora_rank` latent (src/models/deepseek2.cpp, the `is_mla` branch:
/// `wk_b` absorbs `q_nope`, `wv_b` expands after attention), every query head over the
/// one shared cache row. Blocks whose heads are unknown (0) count `4 x n_embd`, the
/// same products for `n_head x head_dim = n_embd`.
pub fn flops_per_cell<'a>(
    spec: &ModelSpec,
    blocks: impl IntoIterator<Item = &'a LayerSpec>,
) -> f64 {
    let (mut sum, mut n) = (0.0, 0.0);
    for l in blocks {
        let (k, v) = match &spec.mla {
            Some(m) => (m.kv_lora_rank + m.rope_dim, m.kv_lora_rank),
            None => (l.head_dim_k, l.head_dim_v.max(l.head_dim_k)),
        };
        sum += if l.n_head > 0 && k > 0 {
            2.0 * l.n_head as f64 * (k + v) as f64
        } else {
            4.0 * spec.n_embd as f64
        };
        n += 1.0;
    }
    if n > 0.0 {
        sum / n
    } else {
        0.0
    }
}

/// Attention FLOPs (QK^T and PV) of one ubatch of `ubatch` prompt tokens starting at
/// `depth`, on a device running `layers` blocks: each token attends over the cells
/// before it, so the ubatch's mean position sets the width (sliding-window layers stop
/// at their window). With or without flash attention the products are the same.
pub fn prefill_flops(facts: &ModelFacts, layers: u32, depth: f64, ubatch: f64) -> f64 {
    let attn_layers = layers as f64 * facts.attention_layer_fraction;
    attn_layers * facts.attention_flops_per_cell * mean_cells(facts, depth + ubatch / 2.0) * ubatch
}

/// Attention FLOPs of one generated token at `depth` cells on a device running
/// `layers` blocks.
pub fn decode_flops(facts: &ModelFacts, layers: u32, depth: f64) -> f64 {
    let attn_layers = layers as f64 * facts.attention_layer_fraction;
    attn_layers * facts.attention_flops_per_cell * mean_cells(facts, depth)
}

/// F32 score element.
const SCORE_BYTES: f64 = 4.0;
/// Passes of the score tensor through memory: KQ written, softmax read + write, KQV read.
const SCORE_PASSES: f64 = 4.0;
/// Kernels the unfused path adds per attention layer: two mul_mats, a softmax and a
/// `cont` against one `flash_attn_ext` (`build_attn_mha`, src/llama-graph.cpp).
pub const EXTRA_KERNELS_PER_LAYER: f64 = 3.0;
/// Kernels in one dense attention + FFN block, the "kernel unit" the per-layer overhead
/// factors are expressed in (src/perf/factors.rs `moe_kernel_units`: ≈ 20 in
/// `src/models/llama.cpp`).
pub const KERNELS_PER_UNIT: f64 = 20.0;

/// Cells an attention layer attends over at `depth` tokens, averaged over the model's
/// attention layers: full layers see the whole depth, sliding-window layers at most
/// their window.
fn mean_cells(facts: &ModelFacts, depth: f64) -> f64 {
    let swa = facts.swa_attention_share.clamp(0.0, 1.0);
    let window = facts.swa_window.unwrap_or(f64::INFINITY);
    (1.0 - swa) * depth + swa * depth.min(window)
}

/// Extra score bytes per generated token on a device running `layers` blocks, at
/// `depth` tokens of context, without flash attention.
pub fn decode_score_bytes(facts: &ModelFacts, layers: u32, depth: f64) -> f64 {
    let attn_layers = layers as f64 * facts.attention_layer_fraction;
    attn_layers * facts.attention_heads * mean_cells(facts, depth) * SCORE_BYTES * SCORE_PASSES
}

/// Extra score bytes per ubatch of `ubatch` prompt tokens starting at `depth`, without
/// flash attention (the mean position within the ubatch sets the width).
pub fn prefill_score_bytes(facts: &ModelFacts, layers: u32, depth: f64, ubatch: f64) -> f64 {
    let attn_layers = layers as f64 * facts.attention_layer_fraction;
    attn_layers
        * facts.attention_heads
        * mean_cells(facts, depth + ubatch / 2.0)
        * ubatch
        * SCORE_BYTES
        * SCORE_PASSES
}

/// Extra decode seconds per token without flash attention on a device running
/// `layers` blocks: the score traffic over `bandwidth` (bytes/s) plus the extra kernels
/// at `kernel_unit_s` seconds per kernel unit (the device's per-layer overhead).
pub fn decode_seconds(
    facts: &ModelFacts,
    layers: u32,
    depth: f64,
    bandwidth: f64,
    kernel_unit_s: f64,
) -> f64 {
    decode_score_bytes(facts, layers, depth) / bandwidth
        + layers as f64 * extra_kernel_units(facts) * kernel_unit_s
}

/// Extra kernel units per block without flash attention.
pub fn extra_kernel_units(facts: &ModelFacts) -> f64 {
    facts.attention_layer_fraction * EXTRA_KERNELS_PER_LAYER / KERNELS_PER_UNIT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llama3_8b_like(swa_share: f64, window: Option<f64>) -> ModelFacts {
        ModelFacts {
            moe_layer_fraction: 0.0,
            recurrent_layer_fraction: 0.0,
            expert_fraction_used: 1.0,
            expert_bytes_per_moe_layer: 0.0,
            attention_layer_fraction: 1.0,
            n_layer: 32,
            n_embd: 4096,
            n_vocab: 128256,
            token_embedding_bytes: 0.0,
            is_moe: false,
            attention_heads: 32.0,
            swa_attention_share: swa_share,
            swa_window: window,
            attention_flops_per_cell: 4.0 * 4096.0,
        }
    }

    #[test]
    fn decode_scores_grow_with_depth_and_stop_at_the_window() {
        let f = llama3_8b_like(0.0, None);
        // 32 layers x 32 heads x 8192 cells x 4 bytes x 4 passes = 128 MiB per token.
        assert_eq!(decode_score_bytes(&f, 32, 8192.0), 128.0 * 1048576.0);
        assert_eq!(decode_score_bytes(&f, 32, 0.0), 0.0);
        // Half the layers on a 1024-token window: 16 x 8192 + 16 x 1024 cells.
        let g = llama3_8b_like(0.5, Some(1024.0));
        let want = 32.0 * (16.0 * 8192.0 + 16.0 * 1024.0) * 16.0;
        assert_eq!(decode_score_bytes(&g, 32, 8192.0), want);
    }

    #[test]
    fn prefill_scores_use_the_mean_position_in_the_ubatch() {
        let f = llama3_8b_like(0.0, None);
        // One layer, ubatch 512 from depth 0: 32 heads x 256 mean cells x 512 tokens x 16.
        assert_eq!(
            prefill_score_bytes(&f, 1, 0.0, 512.0),
            32.0 * 256.0 * 512.0 * 16.0
        );
    }

    #[test]
    fn attention_flops_per_cell_follow_the_heads_and_mla_attends_over_the_latent() {
        use crate::model::catalog::find;
        use crate::perf::ModelFacts;
        // llama-3.1-8b: 32 heads x (128 + 128) x 2 = 4 x n_embd.
        let llama = find("llama-3.1-8b").unwrap().spec(None).unwrap();
        assert_eq!(
            ModelFacts::of(&llama).attention_flops_per_cell,
            4.0 * 4096.0
        );
        // deepseek-r1 under MLA: 128 heads x (576 + 512) x 2, ten times 4 x n_embd.
        let ds = find("deepseek-r1").unwrap().spec(Some("Q4_K_M")).unwrap();
        assert_eq!(
            ModelFacts::of(&ds).attention_flops_per_cell,
            2.0 * 128.0 * (576.0 + 512.0)
        );
    }

    #[test]
    fn prefill_attention_grows_with_where_the_ubatch_starts() {
        let f = llama3_8b_like(0.0, None);
        // One layer, 512 tokens from depth 0: mean 256 cells; from 8192: 8448 cells.
        let per_cell = 4.0 * 4096.0 * 512.0;
        assert_eq!(prefill_flops(&f, 1, 0.0, 512.0), per_cell * 256.0);
        assert_eq!(prefill_flops(&f, 1, 8192.0, 512.0), per_cell * 8448.0);
        // A 1024-token window caps the sliding layers.
        let g = llama3_8b_like(1.0, Some(1024.0));
        assert_eq!(prefill_flops(&g, 1, 8192.0, 512.0), per_cell * 1024.0);
        assert_eq!(decode_flops(&f, 32, 100.0), 32.0 * 4.0 * 4096.0 * 100.0);
    }

    #[test]
    fn the_unfused_path_adds_three_kernels_per_attention_layer() {
        let f = llama3_8b_like(0.0, None);
        assert_eq!(extra_kernel_units(&f), 3.0 / 20.0);
        let hybrid = ModelFacts {
            attention_layer_fraction: 0.25,
            ..llama3_8b_like(0.0, None)
        };
        assert_eq!(extra_kernel_units(&hybrid), 0.25 * 3.0 / 20.0);
    }
}
