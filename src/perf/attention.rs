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
