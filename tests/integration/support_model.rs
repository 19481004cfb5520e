//! Test helpers for the model area: write sparse GGUFs with real architecture shapes
//! (rigplan's shape generator + quant rules, written by the crate's GgufWriter), and
//! find the pinned llama.cpp binaries.

use rigplan::gguf::writer::GgufWriter;
use rigplan::gguf::{GgufString, MetaValue};
use rigplan::model::catalog::{self, quant_context, CatalogEntry};
use rigplan::model::quantize::{assign_types, FileType, TensorShape};
use rigplan::model::synth::tensor_shapes;
use std::path::{Path, PathBuf};

/// Writes a sparse GGUF of a catalog model at a standard quant; returns the file size.
pub fn write_catalog_model(entry: &CatalogEntry, quant: &str, path: &Path) -> u64 {
    let params = entry.params();
    let shapes = tensor_shapes(&params, entry.synth_options()).expect("known arch");
    let ft = if quant == "MXFP4" {
        FileType::Mxfp4Moe
    } else {
        FileType::parse(quant).expect("standard quant")
    };
    let ts: Vec<TensorShape> = shapes
        .iter()
        .map(|(n, d)| TensorShape { name: n, dims: d })
        .collect();
    let types = assign_types(&ts, ft, &quant_context(&params)).expect("types");
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
        // required by models/qwen35*.cpp (get_key_or_arr ..., required = true);
        // Qwen3.5's mrope_section [11, 11, 10] from its config.json
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
    // llama.cpp's loader needs a vocabulary; a minimal one of the right size is enough
    // for llama-fit-params (it never tokenizes).
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
    w.write_sparse(path).expect("write sparse gguf").file_size
}

pub fn entry(id: &str) -> CatalogEntry {
    catalog::find(id).expect("catalog id")
}

/// The pinned llama.cpp bin dir: `RIGPLAN_LLAMA_BIN`, else the engine script's cache.
pub fn llama_bin() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("RIGPLAN_LLAMA_BIN") {
        return Some(PathBuf::from(d));
    }
    let out = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/ensure-engine.sh"
        ))
        .arg("llama.cpp")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Runs `llama-fit-params --fit-print on -m FILE -c 4096` and returns the model MiB it
/// reports (sum of the `model` column of its memory breakdown) and the number of rows.
pub fn llama_model_mib(bin: &Path, file: &Path) -> Result<(u64, u64), String> {
    let out = std::process::Command::new(bin.join("llama-fit-params"))
        .args(["--fit-print", "on", "-c", "4096", "-lv", "4", "-m"])
        .arg(file)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut total = 0;
    let mut rows = 0;
    for line in text.lines() {
        if !line.contains("common_memory_breakdown_print: |   - ") {
            continue;
        }
        let Some((_, rhs)) = line.split_once('=') else {
            continue;
        };
        let model = rhs
            .split('+')
            .next()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("unparsed breakdown line: {line}"))?;
        total += model;
        rows += 1;
    }
    if rows == 0 {
        return Err(format!(
            "no memory breakdown in llama-fit-params output:\n{text}"
        ));
    }
    Ok((total, rows))
}
