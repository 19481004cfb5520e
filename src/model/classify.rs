//! Tensor classification: what each GGUF tensor is for, from its name alone.
//!
//! Names follow llama.cpp's `LLM_TENSOR_NAMES` (src/llama-arch.cpp): `token_embd`,
//! `output`, `output_norm`, `blk.N.attn_*`, `blk.N.ffn_*_exps` (routed experts),
//! `*_shexp` (shared experts), `ffn_gate_inp` (router), `ssm_*` (recurrent),
//! `blk.N.nextn.*` (MTP), and multimodal prefixes. This module only looks at names and
//! the layer facts it is given; it never fails (unknown names are `Other`).

use crate::model::spec::TensorClass;

/// Layer facts classification needs.
pub struct LayerFacts<'a> {
    /// Trunk layers: blocks at or above this index are nextn/MTP blocks.
    pub n_trunk: u32,
    /// Per-layer recurrent flags (gated delta-net layers), may be shorter than the blocks.
    pub is_recurrent: &'a [bool],
}

/// The block index of a `blk.N.` tensor.
pub fn layer_of(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("blk.")?;
    let end = rest.find('.')?;
    rest[..end].parse().ok()
}

/// Classifies one tensor by name.
pub fn classify(name: &str, facts: &LayerFacts<'_>) -> (TensorClass, Option<u32>) {
    let layer = layer_of(name);
    let Some(il) = layer else {
        return (classify_global(name), None);
    };
    let part = name
        .strip_prefix("blk.")
        .and_then(|r| r.split_once('.'))
        .map(|(_, p)| p)
        .unwrap_or(name);
    if il >= facts.n_trunk || part.starts_with("nextn.") {
        return (TensorClass::Mtp, layer);
    }
    let recurrent = facts
        .is_recurrent
        .get(il as usize)
        .copied()
        .unwrap_or(false);
    let class = if part.contains("_exps") {
        TensorClass::RoutedExperts
    } else if part.contains("_shexp") {
        TensorClass::SharedExperts
    } else if part.starts_with("ffn_gate_inp") || part.starts_with("exp_probs_b") {
        TensorClass::ExpertRouter
    } else if is_norm(part) {
        TensorClass::Norm
    } else if part.starts_with("ssm_")
        || part.starts_with("time_mix")
        || (recurrent && part.starts_with("attn_"))
    {
        TensorClass::Recurrent
    } else if part.starts_with("attn_") {
        TensorClass::Attention
    } else if part.starts_with("ffn_") {
        TensorClass::FeedForward
    } else {
        TensorClass::Other
    };
    (class, layer)
}

fn is_norm(part: &str) -> bool {
    let stem = part
        .strip_suffix(".weight")
        .or_else(|| part.strip_suffix(".bias"))
        .unwrap_or(part);
    stem.ends_with("_norm") || stem.ends_with("_norm_1") || stem.ends_with("_norm_2")
}

fn classify_global(name: &str) -> TensorClass {
    let stem = name.split('.').next().unwrap_or(name);
    match stem {
        "token_embd" | "per_layer_token_embd" => TensorClass::TokenEmbedding,
        "output" => TensorClass::Output,
        "output_norm" => TensorClass::OutputNorm,
        // mmproj / multimodal tensors (clip.cpp prefixes: v. vision, a. audio, mm. projector)
        "v" | "a" | "mm" | "mm_input_projection" | "mm_soft_emb_norm" => {
            TensorClass::VisionProjector
        }
        _ => TensorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_families() {
        let recur = [true, false];
        let f = LayerFacts {
            n_trunk: 2,
            is_recurrent: &recur,
        };
        let cases = [
            ("token_embd.weight", TensorClass::TokenEmbedding),
            ("output.weight", TensorClass::Output),
            ("output_norm.weight", TensorClass::OutputNorm),
            ("blk.1.attn_q.weight", TensorClass::Attention),
            ("blk.0.attn_qkv.weight", TensorClass::Recurrent),
            ("blk.0.ssm_conv1d.weight", TensorClass::Recurrent),
            ("blk.1.ffn_down_exps.weight", TensorClass::RoutedExperts),
            ("blk.1.ffn_gate_up_exps.weight", TensorClass::RoutedExperts),
            ("blk.1.ffn_up_shexp.weight", TensorClass::SharedExperts),
            (
                "blk.1.ffn_gate_inp_shexp.weight",
                TensorClass::SharedExperts,
            ),
            ("blk.1.ffn_gate_inp.weight", TensorClass::ExpertRouter),
            ("blk.1.exp_probs_b.bias", TensorClass::ExpertRouter),
            ("blk.1.ffn_up.weight", TensorClass::FeedForward),
            ("blk.1.attn_norm.weight", TensorClass::Norm),
            ("blk.1.post_ffw_norm_2.weight", TensorClass::Norm),
            ("blk.2.attn_q.weight", TensorClass::Mtp),
            ("blk.1.nextn.eh_proj.weight", TensorClass::Mtp),
            ("v.blk.0.attn_q.weight", TensorClass::VisionProjector),
            ("rope_freqs.weight", TensorClass::Other),
        ];
        for (name, want) in cases {
            assert_eq!(classify(name, &f).0, want, "{name}");
        }
        assert_eq!(layer_of("blk.17.attn_q.weight"), Some(17));
        assert_eq!(layer_of("blk.x.attn_q.weight"), None);
    }
}
