//! Synthetic models with real shapes for the planner's tests: each builder returns the
//! GGUF metadata and tensor directory the pinned llama.cpp loads for that architecture
//! (tensor names and shapes from its `src/models/<arch>.cpp` `load_arch_tensors`), and
//! the matching `ModelSpec`. `write_sparse_gguf` writes the header and extends the file
//! with `set_len`, so a 20 GB model costs kilobytes of disk. Tokenizer: `no_vocab` with
//! `<arch>.vocab_size` (llama-vocab.cpp adds dummy tokens), which loads in milliseconds.
//! Hyperparameters are the published config.json values of the named models.

#![allow(dead_code)]

use rigplan::gguf::GgmlType;
use rigplan::model::{
    AttentionKind, EngineSupport, LayerSpec, MlaDims, ModelSpec, RecurrentState, TensorClass,
    TensorSpec,
};
use rigplan::units::Bytes;
use std::io::Write;
use std::path::Path;

pub enum Meta {
    U32(u32),
    F32(f32),
    Str(String),
    Bool(bool),
    ArrU32(Vec<u32>),
    ArrBool(Vec<bool>),
}

pub struct Synth {
    pub meta: Vec<(String, Meta)>,
    pub tensors: Vec<(String, Vec<u64>, GgmlType)>,
    pub spec: ModelSpec,
}

fn ty(name: &str) -> GgmlType {
    GgmlType::from_name(name).unwrap()
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u64).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

/// Writes a GGUF v3 header for `s` and extends the file to its full (sparse) size.
pub fn write_sparse_gguf(path: &Path, s: &Synth) {
    let mut b = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&(s.tensors.len() as u64).to_le_bytes());
    b.extend_from_slice(&(s.meta.len() as u64).to_le_bytes());
    for (k, v) in &s.meta {
        put_str(&mut b, k);
        match v {
            Meta::U32(x) => {
                b.extend_from_slice(&4u32.to_le_bytes());
                b.extend_from_slice(&x.to_le_bytes());
            }
            Meta::F32(x) => {
                b.extend_from_slice(&6u32.to_le_bytes());
                b.extend_from_slice(&x.to_le_bytes());
            }
            Meta::Bool(x) => {
                b.extend_from_slice(&7u32.to_le_bytes());
                b.push(u8::from(*x));
            }
            Meta::Str(x) => {
                b.extend_from_slice(&8u32.to_le_bytes());
                put_str(&mut b, x);
            }
            Meta::ArrU32(xs) => {
                b.extend_from_slice(&9u32.to_le_bytes());
                b.extend_from_slice(&4u32.to_le_bytes());
                b.extend_from_slice(&(xs.len() as u64).to_le_bytes());
                for x in xs {
                    b.extend_from_slice(&x.to_le_bytes());
                }
            }
            Meta::ArrBool(xs) => {
                b.extend_from_slice(&9u32.to_le_bytes());
                b.extend_from_slice(&7u32.to_le_bytes());
                b.extend_from_slice(&(xs.len() as u64).to_le_bytes());
                for x in xs {
                    b.push(u8::from(*x));
                }
            }
        }
    }
    let mut off = 0u64;
    for (name, dims, t) in &s.tensors {
        put_str(&mut b, name);
        b.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            b.extend_from_slice(&d.to_le_bytes());
        }
        b.extend_from_slice(&t.traits().mainline_id.unwrap().to_le_bytes());
        b.extend_from_slice(&off.to_le_bytes());
        off += t.tensor_size(dims).unwrap().div_ceil(32) * 32;
    }
    while b.len() % 32 != 0 {
        b.push(0);
    }
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&b).unwrap();
    f.set_len(b.len() as u64 + off).unwrap();
}

fn classify(name: &str) -> TensorClass {
    let n = name;
    if n.starts_with("token_embd") {
        TensorClass::TokenEmbedding
    } else if n.starts_with("output_norm") {
        TensorClass::OutputNorm
    } else if n.starts_with("output.") {
        TensorClass::Output
    } else if n.contains("_exps") {
        TensorClass::RoutedExperts
    } else if n.contains("_shexp") {
        TensorClass::SharedExperts
    } else if n.contains("ffn_gate_inp") {
        TensorClass::ExpertRouter
    } else if n.contains("ffn_gate.") || n.contains("ffn_up.") || n.contains("ffn_down.") {
        TensorClass::FeedForward
    } else if n.contains("ssm_") || n.contains("attn_qkv") || n.contains("attn_gate") {
        TensorClass::Recurrent
    } else if n.contains("attn_") {
        TensorClass::Attention
    } else if n.contains("norm") {
        TensorClass::Norm
    } else {
        TensorClass::Other
    }
}

fn layer_of(name: &str) -> Option<u32> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

/// Per-layer facts the builders know.
struct LayerFacts {
    attention: AttentionKind,
    n_head: u64,
    n_head_kv: u64,
    head_k: u64,
    head_v: u64,
    recurrent: Option<RecurrentState>,
}

struct Arch {
    arch: &'static str,
    name: &'static str,
    n_embd: u64,
    n_vocab: u64,
    n_ctx_train: u64,
    n_swa: Option<u64>,
    expert_count: u32,
    expert_used: u32,
    expert_shared: u32,
    leading_dense: u32,
    mla: Option<MlaDims>,
}

fn finish(
    a: Arch,
    meta: Vec<(String, Meta)>,
    tensors: Vec<(String, Vec<u64>, GgmlType)>,
    layers: Vec<LayerFacts>,
) -> Synth {
    let specs: Vec<TensorSpec> = tensors
        .iter()
        .map(|(n, d, t)| TensorSpec {
            name: n.clone(),
            dims: d.clone(),
            ggml_type: *t,
            bytes: Bytes(t.tensor_size(d).unwrap()),
            class: classify(n),
            layer: layer_of(n),
        })
        .collect();
    let layer_specs = layers
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let i = i as u32;
            let mine = specs.iter().filter(|t| t.layer == Some(i));
            let bytes: Bytes = mine.clone().map(|t| t.bytes).sum();
            let expert_bytes: Bytes = mine
                .filter(|t| t.class == TensorClass::RoutedExperts)
                .map(|t| t.bytes)
                .sum();
            LayerSpec {
                index: i,
                attention: f.attention,
                n_head: f.n_head,
                n_head_kv: f.n_head_kv,
                n_embd_k_gqa: f.n_head_kv * f.head_k,
                n_embd_v_gqa: f.n_head_kv * f.head_v,
                head_dim_k: f.head_k,
                head_dim_v: f.head_v,
                recurrent: f.recurrent,
                moe: expert_bytes.0 > 0,
                expert_bytes,
                bytes,
                mtp: false,
            }
        })
        .collect::<Vec<_>>();
    let spec = ModelSpec {
        name: a.name.into(),
        architecture: a.arch.into(),
        architecture_known: true,
        quant: Some("synthetic".into()),
        n_layer: layer_specs.len() as u32,
        n_embd: a.n_embd,
        n_vocab: a.n_vocab,
        n_ctx_train: a.n_ctx_train,
        n_swa: a.n_swa,
        expert_count: a.expert_count,
        expert_used: a.expert_used,
        expert_shared: a.expert_shared,
        leading_dense: a.leading_dense,
        mla: a.mla,
        nextn_layers: 0,
        layers: layer_specs,
        tensors: specs,
        engines: EngineSupport {
            llama_cpp: true,
            ik_llama_cpp: true,
            notes: vec![],
        },
        notes: vec![],
    };
    Synth {
        meta,
        tensors,
        spec,
    }
}

fn common(
    arch: &str,
    ctx: u32,
    embd: u32,
    nl: u32,
    nh: u32,
    nkv: Meta,
    vocab: u32,
) -> Vec<(String, Meta)> {
    vec![
        ("general.architecture".into(), Meta::Str(arch.into())),
        (
            "general.name".into(),
            Meta::Str(format!("synthetic-{arch}")),
        ),
        ("general.alignment".into(), Meta::U32(32)),
        (format!("{arch}.block_count"), Meta::U32(nl)),
        (format!("{arch}.context_length"), Meta::U32(ctx)),
        (format!("{arch}.embedding_length"), Meta::U32(embd)),
        (format!("{arch}.attention.head_count"), Meta::U32(nh)),
        (format!("{arch}.attention.head_count_kv"), nkv),
        (
            format!("{arch}.attention.layer_norm_rms_epsilon"),
            Meta::F32(1e-6),
        ),
        (format!("{arch}.vocab_size"), Meta::U32(vocab)),
        ("tokenizer.ggml.model".into(), Meta::Str("no_vocab".into())),
    ]
}

fn kv(arch: &str, key: &str, v: Meta) -> (String, Meta) {
    (format!("{arch}.{key}"), v)
}

type T = Vec<(String, Vec<u64>, GgmlType)>;

fn t(v: &mut T, name: String, dims: &[u64], typ: &str) {
    v.push((name, dims.to_vec(), ty(typ)));
}

fn full(n_head: u64, n_head_kv: u64, d: u64) -> LayerFacts {
    LayerFacts {
        attention: AttentionKind::Full,
        n_head,
        n_head_kv,
        head_k: d,
        head_v: d,
        recurrent: None,
    }
}

/// Llama-3.1-8B (Q4_K_M-like types).
pub fn llama_3_1_8b() -> Synth {
    let (e, l, h, kvh, ff, v, d) = (4096u64, 32u64, 32u64, 8u64, 14336u64, 128256u64, 128u64);
    let a = "llama";
    let mut m = common(
        a,
        131072,
        e as u32,
        l as u32,
        h as u32,
        Meta::U32(kvh as u32),
        v as u32,
    );
    m.push(kv(a, "feed_forward_length", Meta::U32(ff as u32)));
    m.push(kv(a, "rope.dimension_count", Meta::U32(d as u32)));
    let mut ts = T::new();
    t(&mut ts, "token_embd.weight".into(), &[e, v], "Q4_K");
    t(&mut ts, "output_norm.weight".into(), &[e], "F32");
    t(&mut ts, "output.weight".into(), &[e, v], "Q6_K");
    let mut layers = vec![];
    for i in 0..l {
        let p = format!("blk.{i}.");
        t(&mut ts, p.clone() + "attn_norm.weight", &[e], "F32");
        t(&mut ts, p.clone() + "attn_q.weight", &[e, h * d], "Q4_K");
        t(&mut ts, p.clone() + "attn_k.weight", &[e, kvh * d], "Q4_K");
        t(&mut ts, p.clone() + "attn_v.weight", &[e, kvh * d], "Q6_K");
        t(
            &mut ts,
            p.clone() + "attn_output.weight",
            &[h * d, e],
            "Q4_K",
        );
        t(&mut ts, p.clone() + "ffn_norm.weight", &[e], "F32");
        t(&mut ts, p.clone() + "ffn_gate.weight", &[e, ff], "Q4_K");
        t(&mut ts, p.clone() + "ffn_up.weight", &[e, ff], "Q4_K");
        t(&mut ts, p.clone() + "ffn_down.weight", &[ff, e], "Q6_K");
        layers.push(full(h, kvh, d));
    }
    let arch = Arch {
        arch: a,
        name: "Llama-3.1-8B (synthetic)",
        n_embd: e,
        n_vocab: v,
        n_ctx_train: 131072,
        n_swa: None,
        expert_count: 0,
        expert_used: 0,
        expert_shared: 0,
        leading_dense: 0,
        mla: None,
    };
    finish(arch, m, ts, layers)
}

/// Qwen3-30B-A3B.
pub fn qwen3_30b_a3b() -> Synth {
    let (e, l, h, kvh, d, ffe, ne, nu, v) = (
        2048u64, 48u64, 32u64, 4u64, 128u64, 768u64, 128u64, 8u64, 151936u64,
    );
    let a = "qwen3moe";
    let mut m = common(
        a,
        262144,
        e as u32,
        l as u32,
        h as u32,
        Meta::U32(kvh as u32),
        v as u32,
    );
    for (k, x) in [
        ("feed_forward_length", 6144),
        ("expert_feed_forward_length", ffe as u32),
        ("expert_count", ne as u32),
        ("expert_used_count", nu as u32),
        ("attention.key_length", d as u32),
        ("attention.value_length", d as u32),
        ("rope.dimension_count", d as u32),
    ] {
        m.push(kv(a, k, Meta::U32(x)));
    }
    let mut ts = T::new();
    t(&mut ts, "token_embd.weight".into(), &[e, v], "Q4_K");
    t(&mut ts, "output_norm.weight".into(), &[e], "F32");
    t(&mut ts, "output.weight".into(), &[e, v], "Q6_K");
    let mut layers = vec![];
    for i in 0..l {
        let p = format!("blk.{i}.");
        t(&mut ts, p.clone() + "attn_norm.weight", &[e], "F32");
        t(&mut ts, p.clone() + "attn_q.weight", &[e, h * d], "Q4_K");
        t(&mut ts, p.clone() + "attn_k.weight", &[e, kvh * d], "Q4_K");
        t(&mut ts, p.clone() + "attn_v.weight", &[e, kvh * d], "Q6_K");
        t(
            &mut ts,
            p.clone() + "attn_output.weight",
            &[h * d, e],
            "Q4_K",
        );
        t(&mut ts, p.clone() + "attn_q_norm.weight", &[d], "F32");
        t(&mut ts, p.clone() + "attn_k_norm.weight", &[d], "F32");
        t(&mut ts, p.clone() + "ffn_norm.weight", &[e], "F32");
        t(&mut ts, p.clone() + "ffn_gate_inp.weight", &[e, ne], "F32");
        t(
            &mut ts,
            p.clone() + "ffn_gate_exps.weight",
            &[e, ffe, ne],
            "Q4_K",
        );
        t(
            &mut ts,
            p.clone() + "ffn_up_exps.weight",
            &[e, ffe, ne],
            "Q4_K",
        );
        t(
            &mut ts,
            p.clone() + "ffn_down_exps.weight",
            &[ffe, e, ne],
            "Q6_K",
        );
        layers.push(full(h, kvh, d));
    }
    let arch = Arch {
        arch: a,
        name: "Qwen3-30B-A3B (synthetic)",
        n_embd: e,
        n_vocab: v,
        n_ctx_train: 262144,
        n_swa: None,
        expert_count: ne as u32,
        expert_used: nu as u32,
        expert_shared: 0,
        leading_dense: 0,
        mla: None,
    };
    finish(arch, m, ts, layers)
}

/// Qwen3.5 hybrid (gated delta net + full attention every 4th layer), MoE or dense.
/// 35B-A3B config.json: hidden 2048, 40 layers, 16 heads / 2 KV heads of 256, linear
/// attention 32 V heads / 16 K heads of 128, conv kernel 4, 256 experts (8 used) of 512,
/// shared expert 512, vocab 248320. 27B: hidden 5120, 64 layers, 24 heads / 4 KV heads,
/// linear 48 V heads / 16 K heads, dense FFN 17408.
fn qwen35(moe: bool) -> Synth {
    let (a, e, l, h, kvh, dtrank, v) = if moe {
        ("qwen35moe", 2048u64, 40u64, 16u64, 2u64, 32u64, 248320u64)
    } else {
        ("qwen35", 5120u64, 64u64, 24u64, 4u64, 48u64, 248320u64)
    };
    let (d, ffe, ne, nu, ff) = (256u64, 512u64, 256u64, 8u64, 17408u64);
    let (dconv, dstate, ngroup) = (4u64, 128u64, 16u64);
    let dinner = dstate * dtrank;
    let mut m = common(
        a,
        262144,
        e as u32,
        l as u32,
        h as u32,
        Meta::U32(kvh as u32),
        v as u32,
    );
    if moe {
        for (k, x) in [
            ("expert_feed_forward_length", ffe),
            ("expert_shared_feed_forward_length", ffe),
            ("expert_count", ne),
            ("expert_used_count", nu),
        ] {
            m.push(kv(a, k, Meta::U32(x as u32)));
        }
    } else {
        m.push(kv(a, "feed_forward_length", Meta::U32(ff as u32)));
    }
    for (k, x) in [
        ("attention.key_length", d),
        ("attention.value_length", d),
        ("rope.dimension_count", 64),
        ("ssm.conv_kernel", dconv),
        ("ssm.inner_size", dinner),
        ("ssm.state_size", dstate),
        ("ssm.time_step_rank", dtrank),
        ("ssm.group_count", ngroup),
        ("full_attention_interval", 4),
    ] {
        m.push(kv(a, k, Meta::U32(x as u32)));
    }
    m.push(kv(
        a,
        "rope.dimension_sections",
        Meta::ArrU32(vec![11, 11, 10, 0]),
    ));
    let mut ts = T::new();
    t(&mut ts, "token_embd.weight".into(), &[e, v], "Q4_K");
    t(&mut ts, "output_norm.weight".into(), &[e], "F32");
    t(&mut ts, "output.weight".into(), &[e, v], "Q6_K");
    let (kd, vd) = (dstate * ngroup, dstate * dtrank);
    let conv = kd * 2 + vd;
    let mut layers = vec![];
    for i in 0..l {
        let p = format!("blk.{i}.");
        t(&mut ts, p.clone() + "attn_norm.weight", &[e], "F32");
        t(
            &mut ts,
            p.clone() + "post_attention_norm.weight",
            &[e],
            "F32",
        );
        if (i + 1) % 4 == 0 {
            t(
                &mut ts,
                p.clone() + "attn_q.weight",
                &[e, h * d * 2],
                "Q4_K",
            );
            t(&mut ts, p.clone() + "attn_k.weight", &[e, kvh * d], "Q4_K");
            t(&mut ts, p.clone() + "attn_v.weight", &[e, kvh * d], "Q6_K");
            t(
                &mut ts,
                p.clone() + "attn_output.weight",
                &[h * d, e],
                "Q4_K",
            );
            t(&mut ts, p.clone() + "attn_q_norm.weight", &[d], "F32");
            t(&mut ts, p.clone() + "attn_k_norm.weight", &[d], "F32");
            layers.push(full(h, kvh, d));
        } else {
            t(
                &mut ts,
                p.clone() + "attn_qkv.weight",
                &[e, kd * 2 + vd],
                "Q4_K",
            );
            t(&mut ts, p.clone() + "attn_gate.weight", &[e, vd], "Q4_K");
            t(
                &mut ts,
                p.clone() + "ssm_conv1d.weight",
                &[dconv, conv],
                "F32",
            );
            t(&mut ts, p.clone() + "ssm_dt.bias", &[dtrank], "F32");
            t(&mut ts, p.clone() + "ssm_a", &[dtrank], "F32");
            t(&mut ts, p.clone() + "ssm_beta.weight", &[e, dtrank], "F32");
            t(&mut ts, p.clone() + "ssm_alpha.weight", &[e, dtrank], "F32");
            t(&mut ts, p.clone() + "ssm_norm.weight", &[dstate], "F32");
            t(&mut ts, p.clone() + "ssm_out.weight", &[vd, e], "Q4_K");
            // llama_hparams::n_embd_r / n_embd_s (src/llama-hparams.cpp)
            layers.push(LayerFacts {
                attention: AttentionKind::Recurrent,
                n_head: h,
                n_head_kv: 0,
                head_k: 0,
                head_v: 0,
                recurrent: Some(RecurrentState {
                    r_elements: (dconv - 1) * (dinner + 2 * ngroup * dstate),
                    s_elements: dstate * dinner,
                }),
            });
        }
        if moe {
            t(&mut ts, p.clone() + "ffn_gate_inp.weight", &[e, ne], "F32");
            t(
                &mut ts,
                p.clone() + "ffn_gate_exps.weight",
                &[e, ffe, ne],
                "Q4_K",
            );
            t(
                &mut ts,
                p.clone() + "ffn_up_exps.weight",
                &[e, ffe, ne],
                "Q4_K",
            );
            t(
                &mut ts,
                p.clone() + "ffn_down_exps.weight",
                &[ffe, e, ne],
                "Q6_K",
            );
            t(
                &mut ts,
                p.clone() + "ffn_gate_inp_shexp.weight",
                &[e],
                "F32",
            );
            t(
                &mut ts,
                p.clone() + "ffn_gate_shexp.weight",
                &[e, ffe],
                "Q4_K",
            );
            t(
                &mut ts,
                p.clone() + "ffn_up_shexp.weight",
                &[e, ffe],
                "Q4_K",
            );
            t(
                &mut ts,
                p.clone() + "ffn_down_shexp.weight",
                &[ffe, e],
                "Q6_K",
            );
        } else {
            t(&mut ts, p.clone() + "ffn_gate.weight", &[e, ff], "Q4_K");
            t(&mut ts, p.clone() + "ffn_up.weight", &[e, ff], "Q4_K");
            t(&mut ts, p.clone() + "ffn_down.weight", &[ff, e], "Q6_K");
        }
    }
    let arch = Arch {
        arch: a,
        name: if moe {
            "Qwen3.5-35B-A3B (synthetic)"
        } else {
            "Qwen3.5-27B (synthetic)"
        },
        n_embd: e,
        n_vocab: v,
        n_ctx_train: 262144,
        n_swa: None,
        expert_count: if moe { ne as u32 } else { 0 },
        expert_used: if moe { nu as u32 } else { 0 },
        expert_shared: u32::from(moe),
        leading_dense: 0,
        mla: None,
    };
    finish(arch, m, ts, layers)
}

pub fn qwen3_5_35b_a3b() -> Synth {
    qwen35(true)
}

pub fn qwen3_5_27b() -> Synth {
    qwen35(false)
}

/// Gemma-4-26B-A4B: hyperparameters from the engine's own `models/ggml-vocab-gemma-4.gguf`.
pub fn gemma_4_26b_a4b() -> Synth {
    let (e, l, h, v, ff, ffe, ne, nu) = (
        2816u64, 30u64, 16u64, 262144u64, 2112u64, 704u64, 128u64, 8u64,
    );
    let a = "gemma4";
    let swa: Vec<bool> = (0..l).map(|i| (i + 1) % 6 != 0).collect();
    let kvh: Vec<u64> = swa.iter().map(|s| if *s { 8 } else { 2 }).collect();
    let mut m = common(
        a,
        262144,
        e as u32,
        l as u32,
        h as u32,
        Meta::ArrU32(kvh.iter().map(|x| *x as u32).collect()),
        v as u32,
    );
    for (k, x) in [
        ("feed_forward_length", ff),
        ("expert_feed_forward_length", ffe),
        ("expert_count", ne),
        ("expert_used_count", nu),
        ("attention.key_length", 512),
        ("attention.value_length", 512),
        ("attention.key_length_swa", 256),
        ("attention.value_length_swa", 256),
        ("attention.sliding_window", 1024),
        ("attention.shared_kv_layers", 0),
        ("embedding_length_per_layer_input", 0),
        ("rope.dimension_count", 512),
        ("rope.dimension_count_swa", 256),
    ] {
        m.push(kv(a, k, Meta::U32(x as u32)));
    }
    m.push(kv(
        a,
        "attention.sliding_window_pattern",
        Meta::ArrBool(swa.clone()),
    ));
    m.push(kv(a, "final_logit_softcapping", Meta::F32(30.0)));
    let mut ts = T::new();
    t(&mut ts, "token_embd.weight".into(), &[e, v], "Q6_K");
    t(&mut ts, "output_norm.weight".into(), &[e], "F32");
    let mut first_global = true;
    let mut layers = vec![];
    for i in 0..l as usize {
        let p = format!("blk.{i}.");
        let d = if swa[i] { 256 } else { 512 };
        t(&mut ts, p.clone() + "attn_norm.weight", &[e], "F32");
        t(&mut ts, p.clone() + "attn_q.weight", &[e, h * d], "Q4_K");
        t(
            &mut ts,
            p.clone() + "attn_k.weight",
            &[e, kvh[i] * d],
            "Q4_K",
        );
        t(
            &mut ts,
            p.clone() + "attn_v.weight",
            &[e, kvh[i] * d],
            "Q6_K",
        );
        t(
            &mut ts,
            p.clone() + "attn_output.weight",
            &[h * d, e],
            "Q4_K",
        );
        t(&mut ts, p.clone() + "attn_q_norm.weight", &[d], "F32");
        t(&mut ts, p.clone() + "attn_k_norm.weight", &[d], "F32");
        t(
            &mut ts,
            p.clone() + "post_attention_norm.weight",
            &[e],
            "F32",
        );
        t(
            &mut ts,
            p.clone() + "layer_output_scale.weight",
            &[1],
            "F32",
        );
        if !swa[i] && first_global {
            t(&mut ts, "rope_freqs.weight".into(), &[d / 2], "F32");
            first_global = false;
        }
        t(&mut ts, p.clone() + "ffn_norm.weight", &[e], "F32");
        t(&mut ts, p.clone() + "ffn_gate.weight", &[e, ff], "Q4_K");
        t(&mut ts, p.clone() + "ffn_up.weight", &[e, ff], "Q4_K");
        t(&mut ts, p.clone() + "ffn_down.weight", &[ff, e], "Q8_0");
        t(&mut ts, p.clone() + "post_ffw_norm.weight", &[e], "F32");
        t(&mut ts, p.clone() + "ffn_gate_inp.weight", &[e, ne], "F32");
        t(&mut ts, p.clone() + "ffn_gate_inp.scale", &[e], "F32");
        t(&mut ts, p.clone() + "pre_ffw_norm_2.weight", &[e], "F32");
        t(&mut ts, p.clone() + "post_ffw_norm_1.weight", &[e], "F32");
        t(&mut ts, p.clone() + "post_ffw_norm_2.weight", &[e], "F32");
        t(
            &mut ts,
            p.clone() + "ffn_gate_exps.weight",
            &[e, ffe, ne],
            "Q4_K",
        );
        t(
            &mut ts,
            p.clone() + "ffn_up_exps.weight",
            &[e, ffe, ne],
            "Q4_K",
        );
        t(
            &mut ts,
            p.clone() + "ffn_down_exps.weight",
            &[ffe, e, ne],
            "Q8_0",
        );
        let mut f = full(h, kvh[i], d);
        if swa[i] {
            f.attention = AttentionKind::SlidingWindow;
        }
        layers.push(f);
    }
    let arch = Arch {
        arch: a,
        name: "Gemma-4-26B-A4B (synthetic)",
        n_embd: e,
        n_vocab: v,
        n_ctx_train: 262144,
        n_swa: Some(1024),
        expert_count: ne as u32,
        expert_used: nu as u32,
        expert_shared: 0,
        leading_dense: 0,
        mla: None,
    };
    finish(arch, m, ts, layers)
}

/// DeepSeek-V2-Lite (MLA, 64 experts, 2 shared, first layer dense).
pub fn deepseek_v2_lite() -> Synth {
    let (e, l, h, v, ff, ffe, ne, nu, ns) = (
        2048u64, 27u64, 16u64, 102400u64, 10944u64, 1408u64, 64u64, 6u64, 2u64,
    );
    let (kvl, rope, nope, vh) = (512u64, 64u64, 128u64, 128u64);
    let a = "deepseek2";
    let mut m = common(
        a,
        163840,
        e as u32,
        l as u32,
        h as u32,
        Meta::U32(1),
        v as u32,
    );
    for (k, x) in [
        ("feed_forward_length", ff),
        ("expert_feed_forward_length", ffe),
        ("expert_count", ne),
        ("expert_used_count", nu),
        ("expert_shared_count", ns),
        ("leading_dense_block_count", 1),
        ("attention.kv_lora_rank", kvl),
        ("attention.key_length", kvl + rope),
        ("attention.value_length", kvl),
        ("attention.key_length_mla", nope + rope),
        ("attention.value_length_mla", vh),
        ("rope.dimension_count", rope),
    ] {
        m.push(kv(a, k, Meta::U32(x as u32)));
    }
    m.push(kv(a, "expert_weights_scale", Meta::F32(1.0)));
    let q = "Q8_0";
    let mut ts = T::new();
    t(&mut ts, "token_embd.weight".into(), &[e, v], q);
    t(&mut ts, "output_norm.weight".into(), &[e], "F32");
    t(&mut ts, "output.weight".into(), &[e, v], q);
    let mut layers = vec![];
    for i in 0..l {
        let p = format!("blk.{i}.");
        t(&mut ts, p.clone() + "attn_norm.weight", &[e], "F32");
        t(&mut ts, p.clone() + "attn_kv_a_norm.weight", &[kvl], "F32");
        t(
            &mut ts,
            p.clone() + "attn_q.weight",
            &[e, h * (nope + rope)],
            q,
        );
        t(
            &mut ts,
            p.clone() + "attn_kv_a_mqa.weight",
            &[e, kvl + rope],
            q,
        );
        t(&mut ts, p.clone() + "attn_k_b.weight", &[nope, kvl, h], q);
        t(&mut ts, p.clone() + "attn_v_b.weight", &[kvl, vh, h], q);
        t(&mut ts, p.clone() + "attn_output.weight", &[h * vh, e], q);
        t(&mut ts, p.clone() + "ffn_norm.weight", &[e], "F32");
        if i < 1 {
            t(&mut ts, p.clone() + "ffn_gate.weight", &[e, ff], q);
            t(&mut ts, p.clone() + "ffn_up.weight", &[e, ff], q);
            t(&mut ts, p.clone() + "ffn_down.weight", &[ff, e], q);
        } else {
            t(&mut ts, p.clone() + "ffn_gate_inp.weight", &[e, ne], "F32");
            t(
                &mut ts,
                p.clone() + "ffn_gate_exps.weight",
                &[e, ffe, ne],
                q,
            );
            t(&mut ts, p.clone() + "ffn_up_exps.weight", &[e, ffe, ne], q);
            t(
                &mut ts,
                p.clone() + "ffn_down_exps.weight",
                &[ffe, e, ne],
                q,
            );
            t(
                &mut ts,
                p.clone() + "ffn_gate_shexp.weight",
                &[e, ffe * ns],
                q,
            );
            t(
                &mut ts,
                p.clone() + "ffn_up_shexp.weight",
                &[e, ffe * ns],
                q,
            );
            t(
                &mut ts,
                p.clone() + "ffn_down_shexp.weight",
                &[ffe * ns, e],
                q,
            );
        }
        layers.push(LayerFacts {
            attention: AttentionKind::Full,
            n_head: h,
            n_head_kv: 1,
            head_k: kvl + rope,
            head_v: kvl,
            recurrent: None,
        });
    }
    let arch = Arch {
        arch: a,
        name: "DeepSeek-V2-Lite (synthetic)",
        n_embd: e,
        n_vocab: v,
        n_ctx_train: 163840,
        n_swa: None,
        expert_count: ne as u32,
        expert_used: nu as u32,
        expert_shared: ns as u32,
        leading_dense: 1,
        mla: Some(MlaDims {
            kv_lora_rank: kvl,
            rope_dim: rope,
        }),
    };
    finish(arch, m, ts, layers)
}

/// gpt-oss-20b (alternating 128-token sliding window, attention sinks, 32 experts).
pub fn gpt_oss_20b() -> Synth {
    let (e, l, h, kvh, d, v, ffe, ne, nu) = (
        2880u64, 24u64, 64u64, 8u64, 64u64, 201088u64, 2880u64, 32u64, 4u64,
    );
    let a = "gpt-oss";
    let mut m = common(
        a,
        131072,
        e as u32,
        l as u32,
        h as u32,
        Meta::U32(kvh as u32),
        v as u32,
    );
    for (k, x) in [
        ("feed_forward_length", ffe),
        ("expert_feed_forward_length", ffe),
        ("expert_count", ne),
        ("expert_used_count", nu),
        ("attention.key_length", d),
        ("attention.value_length", d),
        ("attention.sliding_window", 128),
        ("rope.dimension_count", d),
    ] {
        m.push(kv(a, k, Meta::U32(x as u32)));
    }
    let q = "Q8_0";
    let mut ts = T::new();
    t(&mut ts, "token_embd.weight".into(), &[e, v], q);
    t(&mut ts, "output_norm.weight".into(), &[e], "F32");
    t(&mut ts, "output.weight".into(), &[e, v], q);
    let mut layers = vec![];
    for i in 0..l {
        let p = format!("blk.{i}.");
        t(&mut ts, p.clone() + "attn_norm.weight", &[e], "F32");
        t(
            &mut ts,
            p.clone() + "post_attention_norm.weight",
            &[e],
            "F32",
        );
        t(&mut ts, p.clone() + "attn_q.weight", &[e, h * d], q);
        t(&mut ts, p.clone() + "attn_k.weight", &[e, kvh * d], q);
        t(&mut ts, p.clone() + "attn_v.weight", &[e, kvh * d], q);
        t(&mut ts, p.clone() + "attn_q.bias", &[h * d], "F32");
        t(&mut ts, p.clone() + "attn_k.bias", &[kvh * d], "F32");
        t(&mut ts, p.clone() + "attn_v.bias", &[kvh * d], "F32");
        t(&mut ts, p.clone() + "attn_output.weight", &[h * d, e], q);
        t(&mut ts, p.clone() + "attn_output.bias", &[e], "F32");
        t(&mut ts, p.clone() + "attn_sinks.weight", &[h], "F32");
        t(&mut ts, p.clone() + "ffn_gate_inp.weight", &[e, ne], "F32");
        t(&mut ts, p.clone() + "ffn_gate_inp.bias", &[ne], "F32");
        t(
            &mut ts,
            p.clone() + "ffn_gate_exps.weight",
            &[e, ffe, ne],
            q,
        );
        t(&mut ts, p.clone() + "ffn_up_exps.weight", &[e, ffe, ne], q);
        t(
            &mut ts,
            p.clone() + "ffn_down_exps.weight",
            &[ffe, e, ne],
            q,
        );
        t(&mut ts, p.clone() + "ffn_gate_exps.bias", &[ffe, ne], "F32");
        t(&mut ts, p.clone() + "ffn_up_exps.bias", &[ffe, ne], "F32");
        t(&mut ts, p.clone() + "ffn_down_exps.bias", &[e, ne], "F32");
        // load_swa_pattern(ml, 2): every other layer (even ones) slides.
        let mut f = full(h, kvh, d);
        if i % 2 == 0 {
            f.attention = AttentionKind::SlidingWindow;
        }
        layers.push(f);
    }
    let arch = Arch {
        arch: a,
        name: "gpt-oss-20b (synthetic)",
        n_embd: e,
        n_vocab: v,
        n_ctx_train: 131072,
        n_swa: Some(128),
        expert_count: ne as u32,
        expert_used: nu as u32,
        expert_shared: 0,
        leading_dense: 0,
        mla: None,
    };
    finish(arch, m, ts, layers)
}

use rigplan::hardware::HardwareSnapshot;

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

/// The same model with every K-quant weight retyped (e.g. `IQ2_XXS`, as the seed's 8 GB
/// RTX 3070 run used a 9.6 GB IQ2_XXS Qwen3.5-35B-A3B).
pub fn requantized(mut s: Synth, to: &str, label: &str) -> Synth {
    let to = ty(to);
    let kq = |t: GgmlType| matches!(t.name(), "Q4_K" | "Q6_K");
    for (_, _, t) in s.tensors.iter_mut() {
        if kq(*t) {
            *t = to;
        }
    }
    for t in s.spec.tensors.iter_mut() {
        if kq(t.ggml_type) {
            t.ggml_type = to;
            t.bytes = Bytes(to.tensor_size(&t.dims).unwrap());
        }
    }
    for l in s.spec.layers.iter_mut() {
        let mine = s.spec.tensors.iter().filter(|t| t.layer == Some(l.index));
        l.bytes = mine.clone().map(|t| t.bytes).sum();
        l.expert_bytes = mine
            .filter(|t| t.class == TensorClass::RoutedExperts)
            .map(|t| t.bytes)
            .sum();
    }
    s.spec.quant = Some(label.into());
    s
}
