//! Models and rigs for the planner's tests, built only from the crate's own parts so the
//! tests exercise rigplan's real path: a catalog entry (or one written here from
//! published hyperparameters) gives shapes (`model::synth`) and per-tensor types
//! (`model::quantize`); `support_model::write_catalog_model` writes them as a sparse GGUF
//! with the crate's `GgufWriter`; `model::reference::resolve` reads the file back through
//! the GGUF reader and `ModelSpec::from_gguf`. No GGUF bytes, tensor lists or specs are
//! built here by hand.

use crate::support_model::write_catalog_model;
use rigplan::hardware::HardwareSnapshot;
use rigplan::model::catalog::{self, CatalogEntry};
use rigplan::model::{reference, ModelSpec};
use std::path::{Path, PathBuf};

/// A sparse GGUF written for a test and the spec rigplan reads from it.
pub struct Written {
    pub path: PathBuf,
    pub spec: ModelSpec,
}

/// Writes `entry` at `quant` into `dir` and resolves the file as `rigplan plan FILE` does.
pub fn write_and_read(entry: &CatalogEntry, quant: &str, dir: &Path) -> Written {
    let path = dir.join(format!("{}-{quant}.gguf", entry.id));
    write_catalog_model(entry, quant, &path);
    let spec = reference::resolve(path.to_str().unwrap())
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
        .spec;
    Written { path, spec }
}

/// DeepSeek-V2-Lite (llama.cpp arch `deepseek2`, a "lite" variant by its 27 layers in
/// src/models/deepseek2.cpp: no q_lora). The catalog's deepseek2 is DeepSeek-R1 (671B);
/// the engine check keeps the 16B model it has always used, which also covers the
/// loader's lite path (`attn_q` instead of `attn_q_a`/`attn_q_b`). Hyperparameters from
/// https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite/blob/main/config.json
/// (hidden_size 2048, 27 layers, 16 heads, kv_lora_rank 512, q_lora_rank null,
/// qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128, intermediate_size 10944,
/// moe_intermediate_size 1408, n_routed_experts 64, num_experts_per_tok 6,
/// n_shared_experts 2, first_k_dense_replace 1, routed_scaling_factor 1.0, vocab 102400,
/// max_position_embeddings 163840); MLA GGUF keys as in the catalog's deepseek-r1.toml.
pub fn deepseek_v2_lite() -> CatalogEntry {
    toml::from_str(
        r#"
id = "deepseek-v2-lite"
name = "DeepSeek-V2-Lite"
default_quant = "Q8_0"

[gguf]
architecture = "deepseek2"
block_count = 27
context_length = 163840
embedding_length = 2048
vocab_size = 102400
feed_forward_length = 10944
leading_dense_block_count = 1
"attention.head_count" = 16
"attention.head_count_kv" = 1
"attention.key_length" = 576
"attention.value_length" = 512
"attention.key_length_mla" = 192
"attention.value_length_mla" = 128
"attention.kv_lora_rank" = 512
"rope.dimension_count" = 64
expert_count = 64
expert_used_count = 6
expert_shared_count = 2
expert_feed_forward_length = 1408
expert_weights_scale = 1.0
"#,
    )
    .expect("DeepSeek-V2-Lite entry")
}

/// A catalog model's spec at `quant`, as `rigplan plan ID:QUANT` builds it.
pub fn catalog_spec(id: &str, quant: &str) -> ModelSpec {
    catalog::find(id)
        .unwrap_or_else(|| panic!("catalog id {id}"))
        .spec(Some(quant))
        .unwrap_or_else(|e| panic!("{id}:{quant}: {e:#}"))
}

/// The seeds' rigs from the bundled presets (`hardware::presets`, DESIGN.md names).
pub fn seed_rigs() -> Vec<(&'static str, HardwareSnapshot)> {
    [
        "z440-2x3060",
        "desktop-3070-8gb",
        "xeon-e5-2620v4-cpu",
        "ms02-rtxpro4000",
        "desktop-3090",
        "desktop-5090",
    ]
    .into_iter()
    .map(|n| (n, rigplan::hardware::presets::get(n).unwrap().unwrap()))
    .collect()
}
