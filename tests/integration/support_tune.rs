//! Helpers for the tune tests and the tune benchmark: a tiny llama model with random
//! weights (written with `rigplan::gguf::writer`) and fake llama-bench scripts (the real
//! engine's bin dir comes from `support_engine`). Shared by `tests/integration/tune.rs` and
//! `benches/tune_benchmark.rs` (which includes this file by path).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rigplan::gguf::writer::{GgufWriter, TensorFill};
use rigplan::gguf::{GgmlType, GgufString, MetaValue};
use std::path::{Path, PathBuf};

/// Shape of the generated model.
#[derive(Clone, Copy, Debug)]
pub struct TinyLlama {
    pub n_layer: u32,
    pub n_embd: u64,
    pub n_ff: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    pub n_vocab: u64,
    /// Weight type of the matrices (norms are F32).
    pub matrix_type: &'static str,
}

impl TinyLlama {
    /// About 64 MB in Q8_0: one llama-bench run of -p 32 -n 16 -r 2 takes about a second
    /// on the 2-core dev box.
    pub const BENCH: TinyLlama = TinyLlama {
        n_layer: 8,
        n_embd: 512,
        n_ff: 1536,
        n_head: 8,
        n_head_kv: 4,
        n_vocab: 32000,
        matrix_type: "Q8_0",
    };

    /// A few MB, for fast integration tests.
    pub const SMALL: TinyLlama = TinyLlama {
        n_layer: 2,
        n_embd: 256,
        n_ff: 512,
        n_head: 4,
        n_head_kv: 2,
        n_vocab: 4096,
        matrix_type: "Q8_0",
    };

    /// Writes the model with seeded random weights; returns the file size.
    ///
    /// No tokenizer: `tokenizer.ggml.model = "none"` plus `llama.vocab_size` makes the
    /// engine create dummy tokens (src/llama-vocab.cpp `llama_vocab::impl::load`,
    /// "adding %u dummy tokens"), which is all llama-bench needs: it feeds random token
    /// ids below n_vocab (tools/llama-bench/llama-bench.cpp `test_prompt`/`test_gen`).
    pub fn write(&self, path: &Path, seed: u64) -> std::io::Result<u64> {
        let mat = GgmlType::from_name(self.matrix_type).expect("known ggml type");
        let f32t = GgmlType::from_name("F32").expect("F32");
        let s = |v: &str| MetaValue::String(GgufString(v.as_bytes().to_vec()));
        let head_dim = self.n_embd / self.n_head;
        let kv = self.n_head_kv * head_dim;
        let mut w = GgufWriter::new();
        w.meta("general.architecture", s("llama"))
            .meta("general.name", s("rigplan tune test model"))
            .meta("llama.block_count", MetaValue::U32(self.n_layer))
            .meta("llama.context_length", MetaValue::U32(4096))
            .meta("llama.embedding_length", MetaValue::U32(self.n_embd as u32))
            .meta(
                "llama.feed_forward_length",
                MetaValue::U32(self.n_ff as u32),
            )
            .meta(
                "llama.attention.head_count",
                MetaValue::U32(self.n_head as u32),
            )
            .meta(
                "llama.attention.head_count_kv",
                MetaValue::U32(self.n_head_kv as u32),
            )
            .meta(
                "llama.attention.layer_norm_rms_epsilon",
                MetaValue::F32(1e-5),
            )
            .meta(
                "llama.rope.dimension_count",
                MetaValue::U32(head_dim as u32),
            )
            .meta("llama.vocab_size", MetaValue::U32(self.n_vocab as u32))
            .meta("tokenizer.ggml.model", s("none"));
        w.tensor("token_embd.weight", &[self.n_embd, self.n_vocab], mat);
        for i in 0..self.n_layer {
            let b = |n: &str| format!("blk.{i}.{n}.weight");
            w.tensor(&b("attn_norm"), &[self.n_embd], f32t)
                .tensor(&b("attn_q"), &[self.n_embd, self.n_embd], mat)
                .tensor(&b("attn_k"), &[self.n_embd, kv], mat)
                .tensor(&b("attn_v"), &[self.n_embd, kv], mat)
                .tensor(&b("attn_output"), &[self.n_embd, self.n_embd], mat)
                .tensor(&b("ffn_norm"), &[self.n_embd], f32t)
                .tensor(&b("ffn_gate"), &[self.n_embd, self.n_ff], mat)
                .tensor(&b("ffn_up"), &[self.n_embd, self.n_ff], mat)
                .tensor(&b("ffn_down"), &[self.n_ff, self.n_embd], mat);
        }
        w.tensor("output_norm.weight", &[self.n_embd], f32t).tensor(
            "output.weight",
            &[self.n_embd, self.n_vocab],
            mat,
        );
        let layout = w.write_with_data(path, seed, |t| {
            if t.name.ends_with("norm.weight") {
                TensorFill::Constant(1.0)
            } else {
                TensorFill::Random
            }
        })?;
        Ok(layout.file_size)
    }
}

/// Writes an executable shell script named `llama-bench` into `dir`.
#[cfg(unix)]
pub fn write_fake_llama_bench(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("llama-bench");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("writing fake llama-bench");
    let mut perm = std::fs::metadata(&path).expect("stat").permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(&path, perm).expect("chmod");
    path
}
