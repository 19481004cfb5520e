//! Assembles a [`ModelSpec`] from hyperparameters plus a tensor directory.
//!
//! Both a GGUF header (`from_gguf`) and a catalog entry (synthesised shapes with the
//! quant rules' types) arrive here as ([`ArchParams`], tensors), so a catalog model and
//! a real file of the same model produce the same shape of spec. Per-layer attention
//! kind, KV widths, recurrent state and MLA dims follow llama.cpp's `llama_hparams`
//! accessors (src/llama-hparams.cpp) and its KV cache construction
//! (src/llama-kv-cache.cpp). Pure: no I/O, never fails.

use crate::gguf::GgmlType;
use crate::model::classify::{classify, LayerFacts};
use crate::model::hparams::ArchParams;
use crate::model::spec::{
    AttentionKind, EngineSupport, LayerSpec, MlaDims, ModelSpec, RecurrentState, TensorClass,
    TensorSpec,
};
use crate::units::Bytes;

/// One tensor before classification.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    pub bytes: u64,
}

/// Builds the spec. `name` is the human name, `quant` the quant label if known.
pub fn assemble(
    params: &ArchParams,
    raw: Vec<RawTensor>,
    name: String,
    quant: Option<String>,
) -> ModelSpec {
    let mut notes = params.notes.clone();
    let n_trunk = params.n_layer() as u32;
    let facts = LayerFacts {
        n_trunk: if params.known || params.n_layer_all > 0 {
            n_trunk
        } else {
            u32::MAX
        },
        is_recurrent: &params.is_recurrent,
    };
    let tensors: Vec<TensorSpec> = raw
        .into_iter()
        .map(|t| {
            let (class, layer) = classify(&t.name, &facts);
            TensorSpec {
                name: t.name,
                dims: t.dims,
                ggml_type: t.ggml_type,
                bytes: Bytes(t.bytes),
                class,
                layer,
            }
        })
        .collect();

    // Unknown architectures may lack block_count: count the blocks the tensors name.
    let max_block = tensors.iter().filter_map(|t| t.layer).max();
    let n_layer_all = if params.n_layer_all > 0 {
        params.n_layer_all
    } else {
        max_block.map_or(0, |m| m.saturating_add(1))
    };
    if let Some(m) = max_block {
        if m >= n_layer_all && params.n_layer_all > 0 {
            notes.push(format!(
                "tensors name block {m} but block_count is {}",
                params.n_layer_all
            ));
        }
    }

    let mla = mla_dims(params);
    // Each block's tensors, gathered in one pass (file order kept within a block).
    let mut by_layer: Vec<Vec<&TensorSpec>> = vec![Vec::new(); n_layer_all as usize];
    for t in &tensors {
        if let Some(v) = t.layer.and_then(|il| by_layer.get_mut(il as usize)) {
            v.push(t);
        }
    }
    let layers: Vec<LayerSpec> = by_layer
        .iter()
        .zip(0..n_layer_all)
        .map(|(ts, il)| layer_spec(params, il, n_trunk, mla.is_some(), ts))
        .collect();

    let moe_layers = layers.iter().filter(|l| l.moe).count() as u32;
    let leading_dense = if params.leading_dense > 0 {
        params.leading_dense
    } else {
        layers.iter().take_while(|l| !l.moe && !l.mtp).count() as u32 * u32::from(moe_layers > 0)
    };

    let mut engines = EngineSupport {
        llama_cpp: params.known,
        ik_llama_cpp: params.known,
        notes: Vec::new(),
    };
    let ik_only: Vec<&str> = tensors
        .iter()
        .filter(|t| t.ggml_type.ik_only())
        .map(|t| t.ggml_type.name())
        .collect();
    if !ik_only.is_empty() {
        engines.llama_cpp = false;
        let mut types = ik_only.clone();
        types.sort_unstable();
        types.dedup();
        engines.notes.push(format!(
            "tensor types only ik_llama.cpp knows: {}",
            types.join(", ")
        ));
    }
    if !params.known {
        engines.notes.push(format!(
            "architecture '{}' is not in rigplan's table; whether an engine loads it is unknown",
            params.arch
        ));
    }
    if params.known && !ik_arch_supported(&params.arch) {
        engines.ik_llama_cpp = false;
        engines.notes.push(format!(
            "ik_llama.cpp 0.1.5 has no '{}' architecture",
            params.arch
        ));
    }

    ModelSpec {
        name,
        architecture: params.arch.clone(),
        architecture_known: params.known,
        quant,
        n_layer: n_layer_all,
        n_embd: params.n_embd,
        n_vocab: params.n_vocab,
        n_ctx_train: params.n_ctx_train,
        n_swa: (params.n_swa > 0 && params.is_swa.iter().any(|&s| s)).then_some(params.n_swa),
        expert_count: params.n_expert,
        expert_used: params.n_expert_used,
        expert_shared: params.n_expert_shared,
        leading_dense,
        mla,
        nextn_layers: params.n_nextn,
        layers,
        tensors,
        engines,
        notes,
    }
}

/// Whether the pinned ik_llama.cpp knows an architecture name. Checked against
/// `vendor/ik_llama.cpp/src/llama-arch.cpp` of ik-llama-cpp-python 0.1.5.
fn ik_arch_supported(arch: &str) -> bool {
    IK_ARCHES.contains(&arch)
}

/// Architectures of the rigplan table that ik_llama.cpp 0.1.5 registers
/// (`LLM_ARCH_NAMES` in its src/llama-arch.cpp).
const IK_ARCHES: &[&str] = &[
    "llama",
    "qwen2",
    "qwen3",
    "qwen3moe",
    "qwen3next",
    "qwen35",
    "qwen35moe",
    "gemma3",
    "gemma4",
    "deepseek2",
    "gpt-oss",
    "glm4moe",
    "phi3",
    "minimax-m2",
];

/// deepseek2 MLA: mainline keeps one K row of `kv_lora_rank + n_rot` per cell and no V
/// (src/llama-kv-cache.cpp: `has_v = !is_mla`).
fn mla_dims(p: &ArchParams) -> Option<MlaDims> {
    (p.kv_lora_rank > 0).then_some(MlaDims {
        kv_lora_rank: p.kv_lora_rank,
        rope_dim: p.n_rot,
    })
}

fn layer_spec(
    p: &ArchParams,
    il: u32,
    n_trunk: u32,
    mla: bool,
    in_block: &[&TensorSpec],
) -> LayerSpec {
    let i = il as usize;
    let mtp = il >= n_trunk && p.n_layer_all > 0;
    let in_layer = || in_block.iter().copied();
    let bytes: Bytes = in_layer().map(|t| t.bytes).sum();
    let expert_bytes: Bytes = in_layer()
        .filter(|t| t.class == TensorClass::RoutedExperts)
        .map(|t| t.bytes)
        .sum();
    let moe = expert_bytes > Bytes::ZERO
        || in_layer().any(|t| {
            t.class == TensorClass::RoutedExperts
                || (mtp && t.name.contains("_exps"))
                || t.class == TensorClass::ExpertRouter
        });
    let recurrent_layer = p.is_recurrent.get(i).copied().unwrap_or(false);
    let has_attn_tensors = in_layer().any(|t| t.class == TensorClass::Attention);

    let attention = if mtp {
        // The main context's KV cache covers trunk layers only; nextn layers get their
        // own cache only in an MTP draft context (llama-model.cpp `create_memory`).
        AttentionKind::None
    } else if recurrent_layer {
        AttentionKind::Recurrent
    } else if (!p.known && !has_attn_tensors) || !p.has_kv(i) {
        AttentionKind::None
    } else if p.is_swa.get(i).copied().unwrap_or(false) {
        AttentionKind::SlidingWindow
    } else {
        AttentionKind::Full
    };

    let kv = matches!(
        attention,
        AttentionKind::Full | AttentionKind::SlidingWindow
    );
    let (n_embd_k_gqa, n_embd_v_gqa) = if !kv {
        (0, 0)
    } else if mla && p.is_mla() {
        // split-MLA files: K row = key_length * n_head_kv (= kv_lora_rank + rope, 1 head),
        // no V tensor in the cache.
        (p.n_embd_k_gqa(i), 0)
    } else if mla {
        // legacy deepseek2 files without *_mla keys: MHA-style cache of full heads.
        (p.n_embd_k_gqa(i), p.n_embd_v_gqa(i))
    } else {
        (p.n_embd_k_gqa(i), p.n_embd_v_gqa(i))
    };

    LayerSpec {
        index: il,
        attention,
        n_head: p.n_head_at(i),
        n_head_kv: if kv { p.n_head_kv_at(i) } else { 0 },
        n_embd_k_gqa,
        n_embd_v_gqa,
        head_dim_k: if kv { p.head_k_at(i) } else { 0 },
        head_dim_v: if kv && !(mla && p.is_mla()) {
            p.head_v_at(i)
        } else {
            0
        },
        recurrent: (attention == AttentionKind::Recurrent).then(|| RecurrentState {
            r_elements: p.n_embd_r(),
            s_elements: p.n_embd_s(),
        }),
        moe,
        expert_bytes,
        bytes,
        mtp,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::catalog::find;
    use crate::model::AttentionKind;

    /// KV geometry as llama.cpp's `n_embd_k_gqa(il)` / `n_embd_v_gqa(il)` give it.
    #[test]
    fn kv_widths_recurrent_state_and_mla_follow_llama_hparams() {
        // deepseek2 split MLA: one K row of kv_lora_rank + rope = 576, no V.
        let ds = find("deepseek-r1").unwrap().spec(Some("Q4_K_M")).unwrap();
        let l = &ds.layers[10];
        assert_eq!(
            (l.n_embd_k_gqa, l.n_embd_v_gqa, l.attention),
            (576, 0, AttentionKind::Full)
        );
        assert_eq!(ds.mla.unwrap().kv_lora_rank + ds.mla.unwrap().rope_dim, 576);
        assert_eq!(ds.leading_dense, 3);
        assert!(!ds.layers[2].moe && ds.layers[3].moe);

        // gemma4: SWA layers 8 KV heads x 256, full layers 2 x 512.
        let g = find("gemma-4-26b-a4b").unwrap().spec(None).unwrap();
        assert_eq!(g.layers[0].attention, AttentionKind::SlidingWindow);
        assert_eq!(
            (g.layers[0].n_embd_k_gqa, g.layers[0].n_embd_v_gqa),
            (2048, 2048)
        );
        assert_eq!(g.layers[5].attention, AttentionKind::Full);
        assert_eq!((g.layers[5].n_embd_k_gqa, g.layers[5].n_head_kv), (1024, 2));
        assert_eq!(g.n_swa, Some(1024));

        // qwen35moe gated delta-net: r = (d_conv-1)(d_inner + 2 n_group d_state),
        // s = d_state * d_inner.
        let q = find("qwen3.5-35b-a3b").unwrap().spec(None).unwrap();
        let r = q.layers[0].recurrent.unwrap();
        assert_eq!(
            (r.r_elements, r.s_elements),
            (3 * (4096 + 2 * 16 * 128), 128 * 4096)
        );
        assert_eq!(q.layers[3].attention, AttentionKind::Full);
        assert_eq!(q.layers[3].n_embd_k_gqa, 512);

        // glm4moe: the nextn block is MTP, not attended by the main context.
        let glm = find("glm-4.5-air").unwrap().spec(None).unwrap();
        let last = glm.layers.last().unwrap();
        assert!(last.mtp && last.attention == AttentionKind::None);
        assert_eq!(glm.nextn_layers, 1);
        assert!(glm.mtp_bytes().0 > 0);
    }
}
