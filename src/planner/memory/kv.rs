//! KV cache and recurrent state, per layer, exactly as the pinned engines size them.
//!
//! Mainline llama.cpp (src/llama-kv-cache.cpp, llama-kv-cache-iswa.cpp,
//! llama-memory-recurrent.cpp, `llama_model::create_memory` in src/llama-model.cpp):
//! - every attention layer holds `K[n_embd_k_gqa(il), cells, streams]` of `type_k` and
//!   `V[n_embd_v_gqa(il), cells, streams]` of `type_v`; without flash attention V is
//!   stored transposed with the widest layer's row (`n_embd_v_gqa_max`);
//! - MLA layers (deepseek2 family) keep only K, `kv_lora_rank + rope_dim` wide (`has_v =
//!   !is_mla`);
//! - sliding-window layers hold `GGML_PAD(min(n_ctx_seq, n_swa * (unified ? n_seq : 1) +
//!   n_ubatch), 256)` cells unless `--swa-full`;
//! - recurrent layers of hybrid models hold F32 `r` and `s` rows, one per sequence;
//! - nextn/MTP layers are filtered out of the main context's cache.
//!
//! ik_llama.cpp (`llama_kv_cache_init`, src/llama.cpp of ik-llama-cpp-python 0.1.5) has
//! no sliding-window cache (every attention layer holds the whole context) and sizes MLA
//! by its `-mla` mode. This module only counts; it places nothing.

use super::MemoryConfig;
use crate::engine::rules::MlaCache;
use crate::gguf::GgmlType;
use crate::model::{AttentionKind, LayerSpec, ModelSpec};
use crate::units::Bytes;

/// The cache bytes one layer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerKv {
    pub layer: u32,
    /// Attention K+V (or MLA latent) bytes.
    pub attention: Bytes,
    /// Recurrent r+s state bytes.
    pub recurrent: Bytes,
    /// Cells this layer's attention cache holds per stream (0 for recurrent layers).
    pub cells: u64,
}

impl LayerKv {
    pub fn total(&self) -> Bytes {
        self.attention + self.recurrent
    }
}

fn row(t: GgmlType, width: u64) -> Result<u64, String> {
    t.row_size(width).ok_or_else(|| {
        format!(
            "cache type {t} cannot hold a row of {width} elements (block size {})",
            t.traits().block_size
        )
    })
}

/// Cells a sliding-window layer holds (`llama_kv_cache_iswa` constructor).
pub fn swa_cells(spec: &ModelSpec, cfg: &MemoryConfig) -> u64 {
    let (cells, _) = cfg.cells_and_streams();
    if cfg.swa_full || !cfg.kv_rules().sliding_window_cache {
        return cells;
    }
    let Some(n_swa) = spec.n_swa else {
        return cells;
    };
    let seqs = if cfg.kv_unified { cfg.n_seq.max(1) } else { 1 };
    super::pad_to(
        cells.min(n_swa.saturating_mul(seqs).saturating_add(cfg.n_ubatch)),
        256,
    )
}

fn mla_width(spec: &ModelSpec, layer: &LayerSpec) -> u64 {
    match spec.mla {
        Some(m) => m.kv_lora_rank + m.rope_dim,
        None => layer.n_embd_k_gqa,
    }
}

/// KV and recurrent bytes of every layer that has any, in layer order.
pub fn per_layer(spec: &ModelSpec, cfg: &MemoryConfig) -> Result<Vec<LayerKv>, String> {
    let (cells, streams) = cfg.cells_and_streams();
    let swa = swa_cells(spec, cfg);
    let v_max = spec
        .layers
        .iter()
        .filter(|l| {
            matches!(
                l.attention,
                AttentionKind::Full | AttentionKind::SlidingWindow
            )
        })
        .map(|l| l.n_embd_v_gqa)
        .max()
        .unwrap_or(0);
    let rs_rows = cfg.n_seq.max(1);
    let mut out = Vec::with_capacity(spec.layers.len());
    for l in &spec.layers {
        if l.mtp {
            continue;
        }
        match l.attention {
            AttentionKind::Full | AttentionKind::SlidingWindow => {
                let n = if l.attention == AttentionKind::SlidingWindow {
                    swa
                } else {
                    cells
                };
                let per_cell = if spec.mla.is_some() {
                    let w = mla_width(spec, l);
                    match cfg.kv_rules().mla {
                        MlaCache::LatentOnly => row(cfg.type_k, w)?,
                        MlaCache::ByMlaMode if cfg.mla_mode == 0 => {
                            row(cfg.type_k, l.n_embd_k_gqa)? + row(cfg.type_v, l.n_embd_v_gqa)?
                        }
                        MlaCache::ByMlaMode => {
                            let kv_lora = spec.mla.map(|m| m.kv_lora_rank).unwrap_or(0);
                            let v = if cfg.mla_mode == 1 && !cfg.flash_attn {
                                row(cfg.type_v, kv_lora)?
                            } else {
                                0
                            };
                            row(cfg.type_k, w)? + v
                        }
                    }
                } else {
                    let v_width =
                        if !cfg.flash_attn && cfg.kv_rules().v_at_widest_row_without_flash_attn {
                            v_max
                        } else {
                            l.n_embd_v_gqa
                        };
                    row(cfg.type_k, l.n_embd_k_gqa)? + row(cfg.type_v, v_width)?
                };
                out.push(LayerKv {
                    layer: l.index,
                    attention: Bytes(per_cell.saturating_mul(n).saturating_mul(streams)),
                    recurrent: Bytes::ZERO,
                    cells: n,
                });
            }
            AttentionKind::Recurrent => {
                let st = l.recurrent.unwrap_or_default();
                let elems = st.r_elements.saturating_add(st.s_elements);
                out.push(LayerKv {
                    layer: l.index,
                    attention: Bytes::ZERO,
                    recurrent: Bytes(elems.saturating_mul(4).saturating_mul(rs_rows)),
                    cells: 0,
                });
            }
            AttentionKind::None => {}
        }
    }
    Ok(out)
}

/// Total cache bytes for the whole model.
pub fn total(spec: &ModelSpec, cfg: &MemoryConfig) -> Result<Bytes, String> {
    Ok(per_layer(spec, cfg)?.iter().map(LayerKv::total).sum())
}

/// Attention bytes read per generated token at `depth` tokens of context: every cell in
/// use is read once per token (recurrent state is read whole).
pub fn read_per_token(spec: &ModelSpec, cfg: &MemoryConfig, depth: u64) -> Result<Bytes, String> {
    let layers = per_layer(spec, cfg)?;
    let mut sum = Bytes::ZERO;
    for l in layers {
        if l.cells > 0 {
            let used = depth.min(l.cells);
            sum += Bytes(l.attention.0 / l.cells.max(1) * used);
        }
        sum += l.recurrent;
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;
    use crate::model::{EngineSupport, RecurrentState};

    fn layer(i: u32, attention: AttentionKind, kv_heads: u64, head: u64) -> LayerSpec {
        LayerSpec {
            index: i,
            attention,
            n_head: 16,
            n_head_kv: kv_heads,
            n_embd_k_gqa: kv_heads * head,
            n_embd_v_gqa: kv_heads * head,
            head_dim_k: head,
            head_dim_v: head,
            recurrent: (attention == AttentionKind::Recurrent).then_some(RecurrentState {
                r_elements: 24576,
                s_elements: 524288,
            }),
            moe: false,
            expert_bytes: Bytes::ZERO,
            bytes: Bytes::ZERO,
            mtp: false,
        }
    }

    fn spec(layers: Vec<LayerSpec>, n_swa: Option<u64>) -> ModelSpec {
        ModelSpec {
            name: "t".into(),
            architecture: "t".into(),
            architecture_known: true,
            quant: None,
            n_layer: layers.len() as u32,
            n_embd: 2048,
            n_vocab: 1000,
            n_ctx_train: 1 << 18,
            n_swa,
            expert_count: 0,
            expert_used: 0,
            expert_shared: 0,
            leading_dense: 0,
            mla: None,
            nextn_layers: 0,
            layers,
            tensors: vec![],
            engines: EngineSupport::default(),
            notes: vec![],
        }
    }

    fn f16() -> GgmlType {
        GgmlType::from_name("F16").unwrap()
    }

    #[test]
    fn cells_follow_the_engines_padding_and_window_rules() {
        let s = spec(
            vec![
                layer(0, AttentionKind::SlidingWindow, 8, 256),
                layer(1, AttentionKind::Full, 2, 512),
            ],
            Some(1024),
        );
        // (engine, ctx, ubatch, seqs, swa_full) -> (full cells, swa cells)
        let cases = [
            (EngineKind::LlamaCpp, 4096, 512, 1, false, 4096, 1536),
            (EngineKind::LlamaCpp, 1000, 512, 1, false, 1024, 1024),
            (EngineKind::LlamaCpp, 4096, 512, 1, true, 4096, 4096),
            (EngineKind::LlamaCpp, 4096, 2048, 1, false, 4096, 3072),
            // two sequences, non-unified: 4096/2 per stream, padded to 256
            (EngineKind::LlamaCpp, 4096, 512, 2, false, 2048, 1536),
            // ik_llama.cpp has no sliding-window cache
            (EngineKind::IkLlamaCpp, 4096, 512, 1, false, 4096, 4096),
        ];
        for (engine, ctx, ub, seqs, swa_full, full, swa) in cases {
            let mut cfg = MemoryConfig::mainline(ctx, f16(), true);
            cfg.engine = engine;
            cfg.n_ubatch = ub;
            cfg.n_seq = seqs;
            cfg.swa_full = swa_full;
            let l = per_layer(&s, &cfg).unwrap();
            assert_eq!(
                (l[1].cells, l[0].cells),
                (full, swa),
                "{engine:?} ctx {ctx} ub {ub} seqs {seqs}"
            );
        }
    }

    #[test]
    fn row_sizes_and_recurrent_state() {
        let s = spec(
            vec![
                layer(0, AttentionKind::Full, 2, 256),
                layer(1, AttentionKind::Recurrent, 0, 0),
            ],
            None,
        );
        let cfg = MemoryConfig::mainline(4096, GgmlType::from_name("Q8_0").unwrap(), true);
        let l = per_layer(&s, &cfg).unwrap();
        // q8_0: 512 elements = 16 blocks x 34 bytes, K and V, 4096 cells.
        assert_eq!(l[0].attention, Bytes(2 * 16 * 34 * 4096));
        // F32 r + s, one sequence.
        assert_eq!(l[1].recurrent, Bytes((24576 + 524288) * 4));
        // A width that is not a whole number of blocks is an error, not a wrong size.
        let odd = spec(vec![layer(0, AttentionKind::Full, 1, 80)], None);
        assert!(per_layer(&odd, &cfg).is_err());
    }
}
