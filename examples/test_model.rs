//! Writes a sparse GGUF with a catalog model's real shapes at a standard quant: the
//! header is written and the tensor data is a hole of the right size, so a 20 GB model
//! costs a few MB of disk and the engines load it (all-zero weights run at the same
//! speed as real ones). What `scripts/gpu-check.sh` measures; the integration tests
//! write the same files with `tests/integration/support_model.rs`.
//!
//! `cargo run --release --example test_model -- CATALOG_ID QUANT OUT.gguf`
//! (`qwen3-30b-a3b Q4_K_M /tmp/moe.gguf`). A measuring aid, not part of the CLI.

use rigplan::gguf::writer::GgufWriter;
use rigplan::gguf::{GgufString, MetaValue};
use rigplan::model::catalog::{self, quant_context};
use rigplan::model::quantize::{assign_types, FileType, TensorShape};
use rigplan::model::synth::tensor_shapes;
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [id, quant, out] = args.as_slice() else {
        anyhow::bail!("usage: test_model CATALOG_ID QUANT OUT.gguf");
    };
    let entry = catalog::find(id).ok_or_else(|| anyhow::anyhow!("unknown catalog id '{id}'"))?;
    let params = entry.params();
    let shapes = tensor_shapes(&params, entry.synth_options())
        .ok_or_else(|| anyhow::anyhow!("'{id}': no shape generator for its architecture"))?;
    let ft = if quant == "MXFP4" {
        FileType::Mxfp4Moe
    } else {
        FileType::parse(quant).ok_or_else(|| anyhow::anyhow!("unknown quant '{quant}'"))?
    };
    let ts: Vec<TensorShape> = shapes
        .iter()
        .map(|(n, d)| TensorShape { name: n, dims: d })
        .collect();
    let types = assign_types(&ts, ft, &quant_context(&params))
        .ok_or_else(|| anyhow::anyhow!("'{id}' at {quant}: no type rule for a tensor"))?;
    let mut w = GgufWriter::new();
    w.metas(entry.metadata());
    w.meta(
        "general.name",
        MetaValue::String(GgufString(entry.name.clone().into_bytes())),
    );
    // Keys llama.cpp's loader requires that do not affect shapes (values as in real files).
    let arch = params.arch.clone();
    w.meta(
        &format!("{arch}.attention.layer_norm_rms_epsilon"),
        MetaValue::F32(1e-6),
    );
    if matches!(arch.as_str(), "qwen35" | "qwen35moe") {
        // models/qwen35*.cpp requires it; Qwen3.5's mrope_section [11, 11, 10].
        w.meta(
            &format!("{arch}.rope.dimension_sections"),
            MetaValue::Array(vec![
                MetaValue::I32(11),
                MetaValue::I32(11),
                MetaValue::I32(10),
                MetaValue::I32(0),
            ]),
        );
    }
    // A minimal vocabulary of the right size: llama-bench feeds random token ids and
    // llama-fit-params never tokenizes.
    w.meta(
        "tokenizer.ggml.model",
        MetaValue::String(GgufString(b"gpt2".to_vec())),
    );
    w.meta(
        "tokenizer.ggml.tokens",
        MetaValue::Array(
            (0..params.n_vocab)
                .map(|i| MetaValue::String(GgufString(format!("t{i}").into_bytes())))
                .collect(),
        ),
    );
    w.meta(
        "tokenizer.ggml.merges",
        MetaValue::Array(vec![MetaValue::String(GgufString(b"t 1".to_vec()))]),
    );
    for ((name, dims), ty) in shapes.iter().zip(types) {
        w.tensor(name, dims, ty);
    }
    let layout = w.write_sparse(Path::new(out))?;
    println!("{out}: {} bytes", layout.file_size);
    Ok(())
}
