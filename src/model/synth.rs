//! Architecture shape generator: the tensor list llama.cpp expects for an architecture.
//!
//! From [`ArchParams`] it produces every tensor's GGUF name and ggml dims exactly as the
//! per-architecture `load_arch_tensors` of the pinned llama.cpp creates them
//! (src/models/{llama,qwen2,qwen3,qwen3moe,qwen35,qwen35moe,qwen3next,gemma3,gemma4,
//! deepseek2,openai-moe,glm4-moe,phi3,minimax-m2,
//! granite-hybrid,nemotron-h,llama4}.cpp and `create_tensor_qkv` /
//! `create_tensor_gate_up_exps` in src/llama-model.cpp), choosing the layout convert_hf_to_gguf.py
//! writes where llama.cpp accepts alternatives (separate Q/K/V, separate gate/up
//! experts unless noted). The catalog uses it to give a model without a file the shape
//! a real file has; tests use it to write synthetic GGUFs. Pure; returns `None` for an
//! architecture it does not know.

use crate::model::hparams::ArchParams;

/// Choices a file makes that hyperparameters do not fix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynthOptions {
    /// No `output.weight`: the output reuses `token_embd` (tie_word_embeddings).
    pub tied_output: bool,
    /// llama 3.1+ files carry a `rope_freqs.weight` (llama3 rope scaling).
    pub rope_freqs: bool,
    /// gemma4 `attention_k_eq_v`: full-attention layers have no `attn_v`.
    pub k_eq_v: bool,
}

/// One tensor: name and ggml dims (innermost first).
pub type Shape = (String, Vec<u64>);

struct Out(Vec<Shape>);

impl Out {
    fn g(&mut self, name: &str, dims: &[u64]) {
        self.0.push((name.to_string(), dims.to_vec()));
    }
    fn l(&mut self, il: usize, name: &str, dims: &[u64]) {
        self.0.push((format!("blk.{il}.{name}"), dims.to_vec()));
    }
}

/// The tensors of a model of this architecture, or `None` if the architecture is unknown.
pub fn tensor_shapes(p: &ArchParams, opt: SynthOptions) -> Option<Vec<Shape>> {
    let e = p.n_embd;
    let v = p.n_vocab;
    let mut o = Out(Vec::new());
    o.g("token_embd.weight", &[e, v]);
    if p.arch == "gemma4" {
        // gemma4 creates output_norm after the token embedding and per-layer inputs.
        if p.n_embd_per_layer > 0 {
            let w = p.n_embd_per_layer * p.n_layer() as u64;
            o.g("per_layer_token_embd.weight", &[w, v]);
            o.g("per_layer_model_proj.weight", &[e, w]);
            o.g("per_layer_proj_norm.weight", &[p.n_embd_per_layer]);
        }
    }
    o.g("output_norm.weight", &[e]);
    if !opt.tied_output || p.arch == "gpt-oss" {
        o.g("output.weight", &[e, v]);
    }
    if opt.rope_freqs && (p.arch == "llama" || p.arch == "llama4") {
        o.g("rope_freqs.weight", &[p.n_rot / 2]);
    }
    let n_trunk = p.n_layer();
    let n_all = p.n_layer_all as usize;
    match p.arch.as_str() {
        "llama" | "qwen2" | "qwen3" | "qwen3moe" => {
            for il in 0..n_trunk {
                dense_family_layer(&mut o, p, il);
            }
        }
        "qwen35" | "qwen35moe" | "qwen3next" => {
            for il in 0..n_all {
                qwen35_layer(&mut o, p, il, il >= n_trunk);
            }
        }
        "gemma3" => {
            for il in 0..n_trunk {
                gemma3_layer(&mut o, p, il);
            }
        }
        "gemma4" => {
            let mut rope_done = false;
            for il in 0..n_trunk {
                gemma4_layer(&mut o, p, il, opt, &mut rope_done);
            }
        }
        "deepseek2" => {
            for il in 0..n_all {
                deepseek2_layer(&mut o, p, il, il >= n_trunk);
            }
        }
        "glm4moe" => {
            for il in 0..n_all {
                glm4moe_layer(&mut o, p, il, il >= n_trunk);
            }
        }
        "gpt-oss" => {
            for il in 0..n_trunk {
                gpt_oss_layer(&mut o, p, il);
            }
        }
        "phi3" => {
            for il in 0..n_trunk {
                phi3_layer(&mut o, p, il);
            }
        }
        "minimax-m2" => {
            for il in 0..n_trunk {
                minimax_m2_layer(&mut o, p, il);
            }
        }
        "granitehybrid" => {
            for il in 0..n_trunk {
                granite_hybrid_layer(&mut o, p, il);
            }
        }
        "nemotron_h" => {
            for il in 0..n_trunk {
                nemotron_h_layer(&mut o, p, il);
            }
        }
        "llama4" => {
            for il in 0..n_trunk {
                llama4_layer(&mut o, p, il);
            }
        }
        _ => return None,
    }
    Some(o.0)
}

/// Separate Q/K/V (create_tensor_qkv's non-fused branch).
fn qkv(o: &mut Out, il: usize, e: u64, q: u64, k: u64, v: u64) {
    o.l(il, "attn_q.weight", &[e, q]);
    o.l(il, "attn_k.weight", &[e, k]);
    o.l(il, "attn_v.weight", &[e, v]);
}

fn experts(o: &mut Out, il: usize, e: u64, ff: u64, n: u64) {
    o.l(il, "ffn_gate_exps.weight", &[e, ff, n]);
    o.l(il, "ffn_down_exps.weight", &[ff, e, n]);
    o.l(il, "ffn_up_exps.weight", &[e, ff, n]);
}

fn dense_ffn(o: &mut Out, il: usize, e: u64, ff: u64) {
    o.l(il, "ffn_gate.weight", &[e, ff]);
    o.l(il, "ffn_down.weight", &[ff, e]);
    o.l(il, "ffn_up.weight", &[e, ff]);
}

fn shexp(o: &mut Out, il: usize, e: u64, ff: u64) {
    o.l(il, "ffn_gate_shexp.weight", &[e, ff]);
    o.l(il, "ffn_down_shexp.weight", &[ff, e]);
    o.l(il, "ffn_up_shexp.weight", &[e, ff]);
}

/// models/llama.cpp, qwen2.cpp, qwen3.cpp, qwen3moe.cpp.
fn dense_family_layer(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let hk = p.head_k_at(il);
    let nh = p.n_head_at(il);
    let kq = hk * nh;
    o.l(il, "attn_norm.weight", &[e]);
    qkv(o, il, e, kq, p.n_embd_k_gqa(il), p.n_embd_v_gqa(il));
    if p.arch == "qwen2" {
        o.l(il, "attn_q.bias", &[kq]);
        o.l(il, "attn_k.bias", &[p.n_embd_k_gqa(il)]);
        o.l(il, "attn_v.bias", &[p.n_embd_v_gqa(il)]);
    }
    o.l(il, "attn_output.weight", &[kq, e]);
    if p.arch == "qwen3" || p.arch == "qwen3moe" {
        o.l(il, "attn_k_norm.weight", &[hk]);
        o.l(il, "attn_q_norm.weight", &[hk]);
    }
    o.l(il, "ffn_norm.weight", &[e]);
    if p.n_expert > 0 {
        o.l(il, "ffn_gate_inp.weight", &[e, p.n_expert.into()]);
        // llama (Mixtral) experts use n_ff; qwen3moe uses expert_feed_forward_length
        let ff = if p.arch == "llama" {
            p.n_ff_at(il)
        } else {
            p.expert_ff()
        };
        experts(o, il, e, ff, p.n_expert.into());
    } else {
        dense_ffn(o, il, e, p.n_ff_at(il));
    }
}

/// models/qwen35.cpp, qwen35moe.cpp, qwen3next.cpp (trunk and MTP blocks).
fn qwen35_layer(o: &mut Out, p: &ArchParams, il: usize, mtp: bool) {
    let e = p.n_embd;
    let s = p.ssm;
    let head_v = s.d_state;
    let key_dim = s.d_state * s.n_group;
    let value_dim = s.d_state * s.dt_rank;
    let conv_dim = key_dim * 2 + value_dim;
    let hk = p.head_k;
    let nh = p.n_head_at(il);
    o.l(il, "attn_norm.weight", &[e]);
    o.l(il, "post_attention_norm.weight", &[e]);
    if mtp || !p.is_recurrent.get(il).copied().unwrap_or(false) {
        // gated full attention: Q carries the gate, hence `* 2`
        qkv(
            o,
            il,
            e,
            hk * nh * 2,
            p.n_embd_k_gqa(il),
            p.n_embd_v_gqa(il),
        );
        o.l(il, "attn_output.weight", &[hk * nh, e]);
        o.l(il, "attn_q_norm.weight", &[hk]);
        o.l(il, "attn_k_norm.weight", &[hk]);
    } else {
        o.l(il, "attn_qkv.weight", &[e, conv_dim]);
        o.l(il, "attn_gate.weight", &[e, value_dim]);
        o.l(il, "ssm_conv1d.weight", &[s.d_conv, conv_dim]);
        o.l(il, "ssm_dt.bias", &[s.dt_rank]);
        o.l(il, "ssm_a", &[s.dt_rank]);
        if p.arch == "qwen3next" {
            o.l(il, "ssm_ba.weight", &[e, s.dt_rank * 2]);
        } else {
            o.l(il, "ssm_beta.weight", &[e, s.dt_rank]);
            o.l(il, "ssm_alpha.weight", &[e, s.dt_rank]);
        }
        o.l(il, "ssm_norm.weight", &[head_v]);
        o.l(il, "ssm_out.weight", &[value_dim, e]);
    }
    if p.arch == "qwen35" {
        dense_ffn(o, il, e, p.n_ff_at(il));
    } else {
        let x: u64 = p.n_expert.into();
        let ff = p.expert_ff();
        let ff_sh = if p.n_ff_shexp > 0 {
            p.n_ff_shexp
        } else {
            p.n_ff_at(il)
        };
        o.l(il, "ffn_gate_inp.weight", &[e, x]);
        experts(o, il, e, ff, x);
        o.l(il, "ffn_gate_inp_shexp.weight", &[e]);
        shexp(o, il, e, ff_sh);
    }
    if mtp {
        nextn(o, il, e);
    }
}

fn nextn(o: &mut Out, il: usize, e: u64) {
    o.l(il, "nextn.eh_proj.weight", &[2 * e, e]);
    o.l(il, "nextn.enorm.weight", &[e]);
    o.l(il, "nextn.hnorm.weight", &[e]);
    o.l(il, "nextn.shared_head_norm.weight", &[e]);
}

/// models/gemma3.cpp.
fn gemma3_layer(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let hk = p.head_k_at(il);
    let nh = p.n_head_at(il);
    o.l(il, "attn_norm.weight", &[e]);
    qkv(o, il, e, hk * nh, p.n_embd_k_gqa(il), p.n_embd_v_gqa(il));
    o.l(il, "attn_output.weight", &[hk * nh, e]);
    o.l(il, "post_attention_norm.weight", &[e]);
    o.l(il, "attn_k_norm.weight", &[hk]);
    o.l(il, "attn_q_norm.weight", &[hk]);
    o.l(il, "ffn_norm.weight", &[e]);
    dense_ffn(o, il, e, p.n_ff_at(il));
    o.l(il, "post_ffw_norm.weight", &[e]);
}

/// models/gemma4.cpp (+ the converter's `ffn_down_exps.scale` and
/// `layer_output_scale`, conversion/gemma.py).
fn gemma4_layer(o: &mut Out, p: &ArchParams, il: usize, opt: SynthOptions, rope_done: &mut bool) {
    let e = p.n_embd;
    let hk = p.head_k_at(il);
    let nh = p.n_head_at(il);
    let swa = p.is_swa.get(il).copied().unwrap_or(false);
    o.l(il, "attn_norm.weight", &[e]);
    o.l(il, "attn_q.weight", &[e, hk * nh]);
    if p.has_kv(il) {
        o.l(il, "attn_k.weight", &[e, p.n_embd_k_gqa(il)]);
        if swa || !opt.k_eq_v {
            o.l(il, "attn_v.weight", &[e, p.n_embd_v_gqa(il)]);
        }
    }
    o.l(il, "attn_output.weight", &[hk * nh, e]);
    o.l(il, "attn_q_norm.weight", &[hk]);
    if p.has_kv(il) {
        o.l(il, "attn_k_norm.weight", &[hk]);
    }
    o.l(il, "post_attention_norm.weight", &[e]);
    o.l(il, "layer_output_scale.weight", &[1]);
    if !swa && !*rope_done {
        // created once, then TENSOR_DUPLICATED for later full-attention layers
        o.g("rope_freqs.weight", &[hk / 2]);
        *rope_done = true;
    }
    let ff = p.n_ff_at(il);
    o.l(il, "ffn_norm.weight", &[e]);
    dense_ffn(o, il, e, ff);
    o.l(il, "post_ffw_norm.weight", &[e]);
    if p.n_expert > 0 {
        let x: u64 = p.n_expert.into();
        let fx = p.n_ff_exp;
        o.l(il, "ffn_gate_inp.weight", &[e, x]);
        o.l(il, "ffn_gate_inp.scale", &[e]);
        o.l(il, "pre_ffw_norm_2.weight", &[e]);
        o.l(il, "post_ffw_norm_1.weight", &[e]);
        o.l(il, "post_ffw_norm_2.weight", &[e]);
        o.l(il, "ffn_gate_up_exps.weight", &[e, fx * 2, x]);
        o.l(il, "ffn_down_exps.weight", &[fx, e, x]);
        o.l(il, "ffn_down_exps.scale", &[x]);
    }
    if p.n_embd_per_layer > 0 {
        o.l(il, "inp_gate.weight", &[e, p.n_embd_per_layer]);
        o.l(il, "proj.weight", &[p.n_embd_per_layer, e]);
        o.l(il, "post_norm.weight", &[e]);
    }
}

/// models/deepseek2.cpp (split-MLA layout when `key_length_mla` is present).
fn deepseek2_layer(o: &mut Out, p: &ArchParams, il: usize, mtp: bool) {
    let e = p.n_embd;
    let nh = p.n_head_at(il);
    let (hk_mla, hv_mla) = if p.is_mla() {
        (p.key_length_mla, p.value_length_mla)
    } else {
        (p.head_k, p.head_v)
    };
    let rope = p.n_rot;
    let nope = hk_mla.saturating_sub(rope);
    let q_lora = p.q_lora_rank;
    let kv_lora = p.kv_lora_rank;
    o.l(il, "attn_norm.weight", &[e]);
    if q_lora > 0 {
        o.l(il, "attn_q_a_norm.weight", &[q_lora]);
    }
    o.l(il, "attn_kv_a_norm.weight", &[kv_lora]);
    if q_lora > 0 {
        o.l(il, "attn_q_a.weight", &[e, q_lora]);
        o.l(il, "attn_q_b.weight", &[q_lora, nh * hk_mla]);
    } else {
        o.l(il, "attn_q.weight", &[e, nh * hk_mla]);
    }
    o.l(il, "attn_kv_a_mqa.weight", &[e, kv_lora + rope]);
    if p.is_mla() {
        o.l(il, "attn_k_b.weight", &[nope, kv_lora, nh]);
        o.l(il, "attn_v_b.weight", &[kv_lora, hv_mla, nh]);
    } else {
        o.l(il, "attn_kv_b.weight", &[kv_lora, nh * (nope + hv_mla)]);
    }
    o.l(il, "attn_output.weight", &[nh * hv_mla, e]);
    o.l(il, "ffn_norm.weight", &[e]);
    if (il as u64) < u64::from(p.leading_dense) {
        dense_ffn(o, il, e, p.n_ff_at(il));
    } else {
        let x: u64 = p.n_expert.into();
        let fx = p.n_ff_exp;
        o.l(il, "ffn_gate_inp.weight", &[e, x]);
        o.l(il, "exp_probs_b.bias", &[x]);
        o.l(il, "ffn_down_exps.weight", &[fx, e, x]);
        o.l(il, "ffn_gate_exps.weight", &[e, fx, x]);
        o.l(il, "ffn_up_exps.weight", &[e, fx, x]);
        shexp(o, il, e, fx * u64::from(p.n_expert_shared));
    }
    if mtp {
        nextn(o, il, e);
    }
}

/// models/glm4-moe.cpp (GLM-4.5 keeps Q/K/V biases, conversion/glm.py).
fn glm4moe_layer(o: &mut Out, p: &ArchParams, il: usize, mtp: bool) {
    let e = p.n_embd;
    let hk = p.head_k;
    let nh = p.n_head_at(il);
    o.l(il, "attn_norm.weight", &[e]);
    qkv(o, il, e, hk * nh, p.n_embd_k_gqa(il), p.n_embd_v_gqa(il));
    o.l(il, "attn_q.bias", &[hk * nh]);
    o.l(il, "attn_k.bias", &[p.n_embd_k_gqa(il)]);
    o.l(il, "attn_v.bias", &[p.n_embd_v_gqa(il)]);
    o.l(il, "attn_output.weight", &[hk * nh, e]);
    o.l(il, "post_attention_norm.weight", &[e]);
    if (il as u64) >= u64::from(p.leading_dense) {
        let x: u64 = p.n_expert.into();
        let fx = p.expert_ff();
        o.l(il, "ffn_gate_inp.weight", &[e, x]);
        o.l(il, "exp_probs_b.bias", &[x]);
        experts(o, il, e, fx, x);
        if p.n_expert_shared > 0 {
            shexp(o, il, e, fx * u64::from(p.n_expert_shared));
        }
    } else {
        dense_ffn(o, il, e, p.n_ff_at(il));
    }
    if mtp {
        nextn(o, il, e);
        // GLM's converter also keeps the MTP layer's own embedding and head, which the
        // loader creates as optional (models/glm4-moe.cpp: nextn.embed_tokens and
        // nextn.shared_head_head, {n_embd, n_vocab}); the GLM-4.5-Air GGUF listed in
        // ikawrakow/ik_llama.cpp#749 has both.
        o.l(il, "nextn.embed_tokens.weight", &[e, p.n_vocab]);
        o.l(il, "nextn.shared_head_head.weight", &[e, p.n_vocab]);
    }
}

/// models/openai-moe.cpp.
fn gpt_oss_layer(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let nh = p.n_head_at(il);
    let nkv = p.n_head_kv_at(il);
    let rot = p.n_rot;
    let x: u64 = p.n_expert.into();
    let fx = p.n_ff_exp;
    o.l(il, "attn_norm.weight", &[e]);
    o.l(il, "post_attention_norm.weight", &[e]);
    qkv(o, il, e, nh * rot, nkv * rot, nkv * rot);
    o.l(il, "attn_q.bias", &[nh * rot]);
    o.l(il, "attn_k.bias", &[nkv * rot]);
    o.l(il, "attn_v.bias", &[nkv * rot]);
    o.l(il, "attn_output.weight", &[nh * rot, e]);
    o.l(il, "attn_sinks.weight", &[nh]);
    o.l(il, "ffn_gate_inp.weight", &[e, x]);
    experts(o, il, e, fx, x);
    o.l(il, "attn_output.bias", &[e]);
    o.l(il, "ffn_gate_inp.bias", &[x]);
    o.l(il, "ffn_gate_exps.bias", &[fx, x]);
    o.l(il, "ffn_down_exps.bias", &[e, x]);
    o.l(il, "ffn_up_exps.bias", &[fx, x]);
}

/// models/phi3.cpp: fused Q/K/V (the converter keeps Phi's `qkv_proj`) and a fused
/// gate/up projection `ffn_up` of `2 * n_ff` rows.
fn phi3_layer(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let ff = p.n_ff_at(il);
    o.l(il, "attn_norm.weight", &[e]);
    o.l(
        il,
        "attn_qkv.weight",
        &[e, e + p.n_embd_k_gqa(il) + p.n_embd_v_gqa(il)],
    );
    o.l(il, "attn_output.weight", &[e, e]);
    o.l(il, "ffn_norm.weight", &[e]);
    o.l(il, "ffn_down.weight", &[ff, e]);
    o.l(il, "ffn_up.weight", &[e, 2 * ff]);
}

/// models/minimax-m2.cpp: Q/K norms over all heads at once, sigmoid router bias.
fn minimax_m2_layer(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let q = p.head_k * p.n_head_at(il);
    let x: u64 = p.n_expert.into();
    let fx = p.expert_ff();
    qkv(o, il, e, q, p.n_embd_k_gqa(il), p.n_embd_v_gqa(il));
    o.l(il, "attn_output.weight", &[q, e]);
    o.l(il, "attn_norm.weight", &[e]);
    o.l(il, "attn_q_norm.weight", &[q]);
    o.l(il, "attn_k_norm.weight", &[p.n_embd_k_gqa(il)]);
    o.l(il, "ffn_norm.weight", &[e]);
    o.l(il, "ffn_gate_inp.weight", &[e, x]);
    experts(o, il, e, fx, x);
    o.l(il, "exp_probs_b.bias", &[x]);
}

/// models/granite-hybrid.cpp: Mamba-2 layers (where `head_count_kv` is 0) and attention
/// layers, each followed by a MoE (with a shared expert) or a dense FFN. The converter
/// splits Granite's fused `input_linear` into gate and up (conversion/granite.py).
fn granite_hybrid_layer(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let ff = p.n_ff_at(il);
    o.l(il, "attn_norm.weight", &[e]);
    if p.is_recurrent.get(il).copied().unwrap_or(false) {
        mamba2(o, p, il);
    } else {
        let q = p.head_k * p.n_head_at(il);
        qkv(o, il, e, q, p.n_embd_k_gqa(il), p.n_embd_v_gqa(il));
        o.l(il, "attn_output.weight", &[q, e]);
    }
    o.l(il, "ffn_norm.weight", &[e]);
    if p.n_expert > 0 {
        let x: u64 = p.n_expert.into();
        o.l(il, "ffn_gate_inp.weight", &[e, x]);
        experts(o, il, e, ff, x);
        if p.n_ff_shexp > 0 {
            shexp(o, il, e, p.n_ff_shexp);
        }
    } else {
        dense_ffn(o, il, e, ff);
    }
}

/// A Mamba-2 mixer (models/granite-hybrid.cpp, nemotron-h.cpp).
fn mamba2(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let s = p.ssm;
    let conv = s.d_inner + 2 * s.n_group * s.d_state;
    o.l(
        il,
        "ssm_in.weight",
        &[e, 2 * s.d_inner + 2 * s.n_group * s.d_state + s.dt_rank],
    );
    o.l(il, "ssm_conv1d.weight", &[s.d_conv, conv]);
    o.l(il, "ssm_conv1d.bias", &[conv]);
    o.l(il, "ssm_dt.bias", &[s.dt_rank]);
    o.l(il, "ssm_a", &[1, s.dt_rank]);
    o.l(il, "ssm_d", &[1, s.dt_rank]);
    o.l(
        il,
        "ssm_norm.weight",
        &[s.d_inner / s.n_group.max(1), s.n_group.max(1)],
    );
    o.l(il, "ssm_out.weight", &[s.d_inner, e]);
}

/// models/nemotron-h.cpp (dense): every block is one of a Mamba-2 mixer (n_head_kv and
/// n_ff 0), an attention layer (n_ff 0) or a squared-ReLU MLP of up and down only.
fn nemotron_h_layer(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let ff = p.n_ff_at(il);
    o.l(il, "attn_norm.weight", &[e]);
    if p.is_recurrent.get(il).copied().unwrap_or(false) {
        mamba2(o, p, il);
    } else if ff == 0 {
        let q = p.head_k * p.n_head_at(il);
        qkv(o, il, e, q, p.n_embd_k_gqa(il), p.n_embd_v_gqa(il));
        o.l(il, "attn_output.weight", &[q, e]);
    } else {
        o.l(il, "ffn_down.weight", &[ff, e]);
        o.l(il, "ffn_up.weight", &[e, ff]);
    }
}

/// models/llama4.cpp: every `interleave_moe_layer_step`-th layer is MoE with one shared
/// expert of the routed width; the others are dense of `n_ff`.
fn llama4_layer(o: &mut Out, p: &ArchParams, il: usize) {
    let e = p.n_embd;
    let q = p.head_k * p.n_head_at(il);
    o.l(il, "attn_norm.weight", &[e]);
    qkv(o, il, e, q, p.n_embd_k_gqa(il), p.n_embd_v_gqa(il));
    o.l(il, "attn_output.weight", &[q, e]);
    o.l(il, "ffn_norm.weight", &[e]);
    let step = p.n_moe_layer_step as usize;
    if step > 0 && (il + 1) % step == 0 {
        let x: u64 = p.n_expert.into();
        let fx = p.n_ff_exp;
        o.l(il, "ffn_gate_inp.weight", &[e, x]);
        experts(o, il, e, fx, x);
        shexp(o, il, e, fx);
    } else {
        dense_ffn(o, il, e, p.n_ff_at(il));
    }
}
