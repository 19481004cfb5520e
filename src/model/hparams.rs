//! Architecture hyperparameters, read from GGUF metadata the way llama.cpp reads them.
//!
//! [`ArchParams`] is the small set of `{arch}.*` keys that fix a model's tensor shapes and
//! its per-layer attention / KV-cache geometry. It is read from a metadata list (a GGUF
//! header's, or a catalog entry's written in the same key spelling), following
//! `llama_model_base::load_hparams` and each architecture's `load_arch_hparams` in the
//! pinned llama.cpp (`src/llama-model.cpp`, `src/models/*.cpp`, `src/llama-hparams.cpp`).
//! It never fails: a missing or malformed key falls back to llama.cpp's default and is
//! recorded in `notes`. It does no I/O.

use crate::gguf::MetaValue;

/// Architectures whose hyperparameters and tensor layout rigplan knows.
pub const KNOWN_ARCHITECTURES: &[&str] = &[
    "llama",
    "qwen2",
    "qwen3",
    "qwen3moe",
    "qwen35",
    "qwen35moe",
    "qwen3next",
    "gemma3",
    "gemma4",
    "deepseek2",
    "gpt-oss",
    "glm4moe",
    "phi3",
    "minimax-m2",
    "granitehybrid",
    "nemotron_h",
    "llama4",
];

/// Gated delta-net / SSM dims (`{arch}.ssm.*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SsmParams {
    pub d_conv: u64,
    pub d_inner: u64,
    pub d_state: u64,
    pub dt_rank: u64,
    pub n_group: u64,
}

/// Hyperparameters that fix tensor shapes and cache geometry. Per-layer vectors have
/// `n_layer_all` entries (trunk layers followed by nextn/MTP layers).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArchParams {
    pub arch: String,
    pub known: bool,
    /// `block_count`: trunk plus nextn layers (llama.cpp `n_layer_all`).
    pub n_layer_all: u32,
    /// `nextn_predict_layers` (MTP layers at the end of the block list).
    pub n_nextn: u32,
    pub n_embd: u64,
    pub n_vocab: u64,
    pub n_ctx_train: u64,
    pub n_head: Vec<u64>,
    pub n_head_kv: Vec<u64>,
    pub n_ff: Vec<u64>,
    pub n_ff_exp: u64,
    pub n_ff_shexp: u64,
    /// Head dims of full-attention layers (`attention.key_length` / `value_length`).
    pub head_k: u64,
    pub head_v: u64,
    /// Head dims of sliding-window layers (`attention.key_length_swa` ...).
    pub head_k_swa: u64,
    pub head_v_swa: u64,
    pub n_rot: u64,
    pub n_swa: u64,
    pub is_swa: Vec<bool>,
    pub is_recurrent: Vec<bool>,
    pub ssm: SsmParams,
    pub n_expert: u32,
    pub n_expert_used: u32,
    pub n_expert_shared: u32,
    pub leading_dense: u32,
    pub q_lora_rank: u64,
    pub kv_lora_rank: u64,
    /// `attention.key_length_mla` / `value_length_mla` (deepseek2 MLA files); 0 if absent.
    pub key_length_mla: u64,
    pub value_length_mla: u64,
    /// gemma4 `attention.shared_kv_layers`: the last N layers reuse earlier KV.
    pub n_kv_shared_layers: u32,
    /// gemma4 per-layer embedding width (`embedding_length_per_layer_input`).
    pub n_embd_per_layer: u64,
    /// llama4 `interleave_moe_layer_step`: every N-th layer is MoE (0: none).
    pub n_moe_layer_step: u32,
    pub notes: Vec<String>,
}

/// Key lookup over a metadata list in GGUF spelling.
pub struct Meta<'a> {
    pub entries: &'a [(String, MetaValue)],
    pub arch: &'a str,
}

impl<'a> Meta<'a> {
    pub fn get(&self, key: &str) -> Option<&'a MetaValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `{arch}.{suffix}`.
    pub fn arch_key(&self, suffix: &str) -> Option<&'a MetaValue> {
        self.get(&format!("{}.{}", self.arch, suffix))
    }

    pub fn u64(&self, suffix: &str) -> Option<u64> {
        self.arch_key(suffix).and_then(scalar_u64)
    }
}

/// A scalar integer, or the first element of an array (llama.cpp's `get_key` on arrays
/// is an error; we are lenient and take the maximum, see `per_layer`).
fn scalar_u64(v: &MetaValue) -> Option<u64> {
    match v.as_array() {
        Some(a) => a.iter().filter_map(MetaValue::as_u64).max(),
        None => v.as_u64(),
    }
}

/// llama.cpp `get_key_or_arr`: a scalar applies to every layer, an array gives one value
/// per layer (missing tail entries keep `default`).
fn per_layer(v: Option<&MetaValue>, n: usize, default: u64) -> Vec<u64> {
    match (v, v.and_then(MetaValue::as_array)) {
        (_, Some(a)) => (0..n)
            .map(|i| a.get(i).and_then(MetaValue::as_u64).unwrap_or(default))
            .collect(),
        (Some(other), None) => vec![other.as_u64().unwrap_or(default); n],
        (None, None) => vec![default; n],
    }
}

fn bool_array(v: Option<&MetaValue>, n: usize) -> Option<Vec<bool>> {
    let a = v?.as_array()?;
    Some(
        (0..n)
            .map(|i| a.get(i).and_then(MetaValue::as_u64).unwrap_or(0) != 0)
            .collect(),
    )
}

/// Hard cap on layers, as llama.cpp's `LLAMA_MAX_LAYERS` (src/llama-hparams.h).
const MAX_LAYERS: u64 = 512;

impl ArchParams {
    /// Reads hyperparameters from a metadata list. `tensor_vocab` is the vocabulary size
    /// taken from `token_embd.weight` when the tokenizer list is absent.
    pub fn from_metadata(entries: &[(String, MetaValue)], tensor_vocab: Option<u64>) -> Self {
        let arch = entries
            .iter()
            .find(|(k, _)| k == "general.architecture")
            .and_then(|(_, v)| v.as_str_lossy())
            .unwrap_or_default();
        let m = Meta {
            entries,
            arch: &arch,
        };
        let mut p = ArchParams {
            arch: arch.clone(),
            known: KNOWN_ARCHITECTURES.contains(&arch.as_str()),
            ..Default::default()
        };
        if arch.is_empty() {
            p.notes
                .push("no general.architecture key: generic facts only".into());
        } else if !p.known {
            p.notes.push(format!(
                "architecture '{arch}' is not one rigplan knows: generic facts from tensor names only"
            ));
        }

        let block_count = m.u64("block_count").unwrap_or(0);
        if block_count > MAX_LAYERS {
            p.notes.push(format!(
                "block_count {block_count} exceeds llama.cpp's limit of {MAX_LAYERS}: ignored"
            ));
        }
        p.n_layer_all = block_count.min(MAX_LAYERS) as u32;
        p.n_nextn = m
            .u64("nextn_predict_layers")
            .unwrap_or(0)
            .min(p.n_layer_all.into()) as u32;
        let n = p.n_layer_all as usize;

        p.n_embd = m.u64("embedding_length").unwrap_or(0);
        p.n_ctx_train = m.u64("context_length").unwrap_or(0);
        // llama.cpp reads `{arch}.vocab_size`, else the tokenizer list length; the
        // embedding tensor's second dim is the authoritative shape.
        p.n_vocab = m
            .u64("vocab_size")
            .or_else(|| {
                m.get("tokenizer.ggml.tokens")
                    .and_then(MetaValue::array_len)
                    .map(|n| n as u64)
            })
            .or(tensor_vocab)
            .unwrap_or(0);
        if let Some(tv) = tensor_vocab {
            p.n_vocab = tv;
        }

        p.n_ff = per_layer(m.arch_key("feed_forward_length"), n, 0);
        p.n_head = per_layer(m.arch_key("attention.head_count"), n, 0);
        // head_count_kv is optional and defaults to head_count (load_hparams).
        p.n_head_kv = match m.arch_key("attention.head_count_kv") {
            Some(v) => per_layer(Some(v), n, 0),
            None => p.n_head.clone(),
        };

        let n_head0 = p.n_head.first().copied().unwrap_or(0);
        if let Some(default_head) = p.n_embd.checked_div(n_head0) {
            p.head_k = m.u64("attention.key_length").unwrap_or(default_head);
            p.head_v = m.u64("attention.value_length").unwrap_or(default_head);
            p.n_rot = m.u64("rope.dimension_count").unwrap_or(p.head_k);
        }
        p.head_k_swa = m.u64("attention.key_length_swa").unwrap_or(p.head_k);
        p.head_v_swa = m.u64("attention.value_length_swa").unwrap_or(p.head_v);

        p.n_expert = m.u64("expert_count").unwrap_or(0).min(u32::MAX.into()) as u32;
        p.n_expert_used = m.u64("expert_used_count").unwrap_or(0).min(u32::MAX.into()) as u32;
        p.n_expert_shared = m
            .u64("expert_shared_count")
            .unwrap_or(0)
            .min(u32::MAX.into()) as u32;
        p.n_ff_exp = m.u64("expert_feed_forward_length").unwrap_or(0);
        p.n_ff_shexp = m.u64("expert_shared_feed_forward_length").unwrap_or(0);
        p.leading_dense = m
            .u64("leading_dense_block_count")
            .unwrap_or(0)
            .min(u32::MAX.into()) as u32;

        p.ssm = SsmParams {
            d_conv: m.u64("ssm.conv_kernel").unwrap_or(0),
            d_inner: m.u64("ssm.inner_size").unwrap_or(0),
            d_state: m.u64("ssm.state_size").unwrap_or(0),
            dt_rank: m.u64("ssm.time_step_rank").unwrap_or(0),
            n_group: m.u64("ssm.group_count").unwrap_or(0),
        };
        p.q_lora_rank = m.u64("attention.q_lora_rank").unwrap_or(0);
        p.kv_lora_rank = m.u64("attention.kv_lora_rank").unwrap_or(0);
        p.key_length_mla = m.u64("attention.key_length_mla").unwrap_or(0);
        p.value_length_mla = m.u64("attention.value_length_mla").unwrap_or(0);
        p.n_kv_shared_layers = m
            .u64("attention.shared_kv_layers")
            .unwrap_or(0)
            .min(u32::MAX.into()) as u32;
        p.n_embd_per_layer = m.u64("embedding_length_per_layer_input").unwrap_or(0);
        p.n_swa = m.u64("attention.sliding_window").unwrap_or(0);
        p.n_moe_layer_step = m
            .u64("interleave_moe_layer_step")
            .unwrap_or(0)
            .min(u32::MAX.into()) as u32;

        p.is_swa = vec![false; n];
        p.is_recurrent = vec![false; n];
        let n_trunk = p.n_layer();
        let swa_arr = bool_array(m.arch_key("attention.sliding_window_pattern"), n);
        match arch.as_str() {
            // gemma3: load_swa_pattern(ml, 6) when sliding_window > 0 (models/gemma3.cpp)
            "gemma3" if p.n_swa > 0 => p.is_swa = swa_pattern(&m, swa_arr, 6, n, n_trunk),
            // llama4: chunked attention of 8192 tokens on 3 layers of 4 unless the file sets
            // sliding_window 0 (models/llama4.cpp load_arch_hparams)
            "llama4" if m.u64("attention.sliding_window") != Some(0) => {
                p.n_swa = 8192;
                p.is_swa = swa_pattern(&m, swa_arr, 4, n, n_trunk);
            }
            // gpt-oss: load_swa_pattern(ml, 2) (models/openai-moe.cpp)
            "gpt-oss" => p.is_swa = swa_pattern(&m, swa_arr, 2, n, n_trunk),
            // gemma4: the per-layer array is required (models/gemma4.cpp)
            "gemma4" => match swa_arr {
                Some(a) => p.is_swa = a,
                None => p
                    .notes
                    .push("gemma4 without attention.sliding_window_pattern: all layers treated as full attention".into()),
            },
            // qwen35/qwen35moe/qwen3next: recurrent_layers array, else every
            // full_attention_interval-th layer is full attention (models/qwen35.cpp)
            "qwen35" | "qwen35moe" | "qwen3next" => {
                p.is_recurrent = match bool_array(m.arch_key("attention.recurrent_layers"), n) {
                    Some(a) => a,
                    None => {
                        let interval = m.u64("full_attention_interval").unwrap_or(4).max(1);
                        (0..n)
                            .map(|i| i < n_trunk && (i as u64 + 1) % interval != 0)
                            .collect()
                    }
                };
            }
            // granitehybrid: a layer is recurrent iff its n_head_kv is 0
            // (models/granite-hybrid.cpp load_arch_hparams)
            "granitehybrid" => {
                p.is_recurrent = (0..n).map(|i| i < n_trunk && p.n_head_kv[i] == 0).collect();
            }
            // nemotron_h: recurrent iff both n_head_kv and n_ff are 0 (models/nemotron-h.cpp)
            "nemotron_h" => {
                p.is_recurrent = (0..n)
                    .map(|i| i < n_trunk && p.n_head_kv[i] == 0 && p.n_ff[i] == 0)
                    .collect();
            }
            _ => {}
        }
        if p.known && p.n_embd == 0 {
            p.notes
                .push(format!("'{arch}.embedding_length' is missing or zero"));
        }
        p
    }

    /// Trunk layers (llama.cpp `n_layer()` = `n_layer_all - n_layer_nextn`).
    pub fn n_layer(&self) -> usize {
        (self.n_layer_all - self.n_nextn.min(self.n_layer_all)) as usize
    }

    /// True when this file uses split MLA (deepseek2 `key_length_mla` present):
    /// llama.cpp `hparams.is_mla()`.
    pub fn is_mla(&self) -> bool {
        self.key_length_mla != 0 && self.value_length_mla != 0
    }

    /// llama.cpp `n_embd_head_k(il)`: SWA layers use the SWA head dim.
    pub fn head_k_at(&self, il: usize) -> u64 {
        if self.is_swa.get(il).copied().unwrap_or(false) {
            self.head_k_swa
        } else {
            self.head_k
        }
    }

    pub fn head_v_at(&self, il: usize) -> u64 {
        if self.is_swa.get(il).copied().unwrap_or(false) {
            self.head_v_swa
        } else {
            self.head_v
        }
    }

    pub fn n_head_at(&self, il: usize) -> u64 {
        self.n_head.get(il).copied().unwrap_or(0)
    }

    pub fn n_head_kv_at(&self, il: usize) -> u64 {
        self.n_head_kv.get(il).copied().unwrap_or(0)
    }

    pub fn n_ff_at(&self, il: usize) -> u64 {
        self.n_ff.get(il).copied().unwrap_or(0)
    }

    /// llama.cpp `n_embd_k_gqa(il)` = `n_embd_head_k(il) * n_head_kv(il)`.
    pub fn n_embd_k_gqa(&self, il: usize) -> u64 {
        self.head_k_at(il).saturating_mul(self.n_head_kv_at(il))
    }

    pub fn n_embd_v_gqa(&self, il: usize) -> u64 {
        self.head_v_at(il).saturating_mul(self.n_head_kv_at(il))
    }

    /// llama.cpp `hparams.has_kv(il)`: gemma4's last `shared_kv_layers` reuse earlier KV.
    pub fn has_kv(&self, il: usize) -> bool {
        if self.n_kv_shared_layers == 0 {
            return true;
        }
        (il as u64) < u64::from(self.n_layer_all).saturating_sub(self.n_kv_shared_layers.into())
    }

    /// llama.cpp `n_embd_r()` for SSM / gated delta-net layers:
    /// `(d_conv - 1) * (d_inner + 2 * n_group * d_state)` (src/llama-hparams.cpp).
    pub fn n_embd_r(&self) -> u64 {
        let s = &self.ssm;
        s.d_conv.saturating_sub(1).saturating_mul(
            s.d_inner
                .saturating_add(2u64.saturating_mul(s.n_group).saturating_mul(s.d_state)),
        )
    }

    /// llama.cpp `n_embd_s()`: `d_state * d_inner` (src/llama-hparams.cpp).
    pub fn n_embd_s(&self) -> u64 {
        self.ssm.d_state.saturating_mul(self.ssm.d_inner)
    }

    /// FFN width of one routed expert: `expert_feed_forward_length`, else
    /// `n_ff / n_expert_used` (the fallback several archs use in `load_arch_tensors`).
    pub fn expert_ff(&self) -> u64 {
        if self.n_ff_exp > 0 {
            self.n_ff_exp
        } else if self.n_expert_used > 0 {
            self.n_ff_at(0) / u64::from(self.n_expert_used)
        } else {
            0
        }
    }
}

/// llama.cpp `load_swa_pattern`: an explicit bool array, else an integer period read
/// from the same key (default `n_pattern`) fed to `set_swa_pattern(n, dense_first=false)`:
/// layer `il` is SWA iff `il % n < n - 1` (src/llama-hparams.cpp).
fn swa_pattern(
    m: &Meta<'_>,
    arr: Option<Vec<bool>>,
    default_period: u64,
    n: usize,
    n_trunk: usize,
) -> Vec<bool> {
    if let Some(a) = arr {
        return a;
    }
    let period = m
        .u64("attention.sliding_window_pattern")
        .unwrap_or(default_period);
    (0..n)
        .map(|il| il < n_trunk && (period == 0 || (il as u64) % period < period - 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufString;

    fn s(v: &str) -> MetaValue {
        MetaValue::String(GgufString(v.as_bytes().to_vec()))
    }

    #[test]
    fn gpt_oss_alternates_swa_and_qwen35_marks_every_fourth_full() {
        let meta = vec![
            ("general.architecture".to_string(), s("gpt-oss")),
            ("gpt-oss.block_count".to_string(), MetaValue::U32(4)),
        ];
        let p = ArchParams::from_metadata(&meta, None);
        assert_eq!(p.is_swa, vec![true, false, true, false]);

        let meta = vec![
            ("general.architecture".to_string(), s("qwen35moe")),
            ("qwen35moe.block_count".to_string(), MetaValue::U32(8)),
        ];
        let p = ArchParams::from_metadata(&meta, None);
        assert_eq!(
            p.is_recurrent,
            vec![true, true, true, false, true, true, true, false]
        );
    }

    #[test]
    fn per_layer_kv_heads_and_swa_dims() {
        let meta = vec![
            ("general.architecture".to_string(), s("gemma4")),
            ("gemma4.block_count".to_string(), MetaValue::U32(2)),
            ("gemma4.embedding_length".to_string(), MetaValue::U32(2816)),
            (
                "gemma4.attention.head_count".to_string(),
                MetaValue::U32(16),
            ),
            (
                "gemma4.attention.head_count_kv".to_string(),
                MetaValue::Array(vec![MetaValue::I32(8), MetaValue::I32(2)]),
            ),
            (
                "gemma4.attention.key_length".to_string(),
                MetaValue::U32(512),
            ),
            (
                "gemma4.attention.value_length".to_string(),
                MetaValue::U32(512),
            ),
            (
                "gemma4.attention.key_length_swa".to_string(),
                MetaValue::U32(256),
            ),
            (
                "gemma4.attention.value_length_swa".to_string(),
                MetaValue::U32(256),
            ),
            (
                "gemma4.attention.sliding_window_pattern".to_string(),
                MetaValue::Array(vec![MetaValue::Bool(true), MetaValue::Bool(false)]),
            ),
        ];
        let p = ArchParams::from_metadata(&meta, None);
        assert_eq!(p.n_embd_k_gqa(0), 8 * 256);
        assert_eq!(p.n_embd_k_gqa(1), 2 * 512);
        assert!(p.known);
    }

    /// granitehybrid and nemotron_h mark recurrent layers by zero KV heads (nemotron_h also
    /// by a zero FFN); llama4 chunks 3 layers of 4 at 8192 tokens unless sliding_window is 0.
    #[test]
    fn hybrid_mamba_layers_and_llama4_chunks() {
        let arr = |v: &[u32]| MetaValue::Array(v.iter().map(|&x| MetaValue::U32(x)).collect());
        let meta = vec![
            ("general.architecture".to_string(), s("granitehybrid")),
            ("granitehybrid.block_count".to_string(), MetaValue::U32(3)),
            (
                "granitehybrid.attention.head_count_kv".to_string(),
                arr(&[0, 4, 0]),
            ),
        ];
        let p = ArchParams::from_metadata(&meta, None);
        assert_eq!(p.is_recurrent, vec![true, false, true]);

        let meta = vec![
            ("general.architecture".to_string(), s("nemotron_h")),
            ("nemotron_h.block_count".to_string(), MetaValue::U32(3)),
            (
                "nemotron_h.attention.head_count_kv".to_string(),
                arr(&[0, 0, 8]),
            ),
            (
                "nemotron_h.feed_forward_length".to_string(),
                arr(&[0, 15680, 0]),
            ),
        ];
        let p = ArchParams::from_metadata(&meta, None);
        assert_eq!(p.is_recurrent, vec![true, false, false]);

        let meta = vec![
            ("general.architecture".to_string(), s("llama4")),
            ("llama4.block_count".to_string(), MetaValue::U32(4)),
        ];
        let p = ArchParams::from_metadata(&meta, None);
        assert_eq!(
            (p.n_swa, p.is_swa.clone()),
            (8192, vec![true, true, true, false])
        );
        let mut meta = meta;
        meta.push((
            "llama4.attention.sliding_window".to_string(),
            MetaValue::U32(0),
        ));
        let p = ArchParams::from_metadata(&meta, None);
        assert!(p.is_swa.iter().all(|&x| !x));
    }

    #[test]
    fn unknown_architecture_is_flagged_not_fatal() {
        let meta = vec![("general.architecture".to_string(), s("mamba9"))];
        let p = ArchParams::from_metadata(&meta, None);
        assert!(!p.known);
        assert!(p.notes[0].contains("mamba9"));
    }
}
