//! Test helpers for the model area: write sparse GGUFs with real architecture shapes
//! (rigplan's shape generator + quant rules, written by the crate's GgufWriter), and
//! run the pinned llama.cpp's tools on them (its bin dir comes from `support_engine`).

use rigplan::gguf::writer::GgufWriter;
use rigplan::gguf::{GgufString, MetaValue};
use rigplan::model::catalog::{self, quant_context, CatalogEntry};
use rigplan::model::quantize::{assign_types, FileType, TensorShape};
use rigplan::model::synth::tensor_shapes;
use std::path::{Path, PathBuf};

/// Writes a sparse GGUF of a catalog model at a standard quant; returns the file size.
pub fn write_catalog_model(entry: &CatalogEntry, quant: &str, path: &Path) -> u64 {
    write_catalog_model_with(entry, quant, path, true)
}

/// As [`write_catalog_model`]; `with_vocab` false leaves out the tokenizer arrays
/// (llama.cpp will not load such a file, rigplan inspects it).
pub fn write_catalog_model_with(
    entry: &CatalogEntry,
    quant: &str,
    path: &Path,
    with_vocab: bool,
) -> u64 {
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
    if arch == "nemotron_h" {
        // required by models/nemotron-h.cpp (get_key LLM_KV_ATTENTION_LAYERNORM_EPS)
        w.meta(
            &format!("{arch}.attention.layer_norm_epsilon"),
            MetaValue::F32(1e-5),
        );
    }
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
    if with_vocab {
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
    }
    for ((name, dims), ty) in shapes.iter().zip(types) {
        w.tensor(name, dims, ty);
    }
    w.write_sparse(path).expect("write sparse gguf").file_size
}

pub fn entry(id: &str) -> CatalogEntry {
    catalog::find(id).expect("catalog id")
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
            "no memory breakdown in llama-fit-params output ({}):\nstderr: {text}\nstdout: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok((total, rows))
}

/// One tensor as llama.cpp's loader lists it with `LLAMA_TRACE=1`
/// (src/llama-model-loader.cpp: `- tensor split %2d: %32s %-8s [ %s ] %8.2f MiB`).
#[derive(Debug, PartialEq)]
pub struct LoaderTensor {
    pub name: String,
    pub type_name: String,
    pub dims: Vec<u64>,
    pub mib: String,
}

/// Runs `llama-cli` on the file with `LLAMA_TRACE=1` and reads the loader's tensor list,
/// killing the process as soon as the loader has printed the file size (before any
/// tensor data is read).
pub fn llama_loader_tensors(bin: &Path, file: &Path) -> Result<Vec<LoaderTensor>, String> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin.join("llama-cli"))
        .env("LLAMA_TRACE", "1")
        .args([
            "-nr",
            "-lm",
            "mmap",
            "-c",
            "256",
            "-n",
            "1",
            "-p",
            "x",
            "--no-warmup",
            "-st",
            "-lv",
            "4",
            "-m",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut out = Vec::new();
    let mut seen_size = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.contains("print_info: file size") {
            seen_size = true;
            break;
        }
        let Some(rest) = line.split_once("- tensor split").map(|(_, r)| r) else {
            continue;
        };
        // " 0:               output_norm.weight f32      [   3072,      1,      1,      1 ]     0.01 MiB"
        let Some((_, rest)) = rest.split_once(':') else {
            continue;
        };
        let (head, tail) = rest.split_once('[').ok_or("no shape")?;
        let (shape, size) = tail.split_once(']').ok_or("no shape end")?;
        let mut head = head.split_whitespace();
        let name = head.next().ok_or("no name")?.to_string();
        let type_name = head.next().ok_or("no type")?.to_string();
        let mut dims: Vec<u64> = shape
            .split(',')
            .map(|d| d.trim().parse::<u64>().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        while dims.len() > 1 && dims.last() == Some(&1) {
            dims.pop();
        }
        let mib = size.trim().trim_end_matches("MiB").trim().to_string();
        out.push(LoaderTensor {
            name,
            type_name,
            dims,
            mib,
        });
    }
    let _ = child.kill();
    let _ = child.wait();
    if !seen_size {
        return Err(format!(
            "llama-cli did not print its loader summary for {}",
            file.display()
        ));
    }
    Ok(out)
}

/// Bytes as the loader prints them: `ggml_nbytes(t)/1024.0f/1024.0f` with `%.2f`.
pub fn loader_mib(bytes: u64) -> String {
    let v = (bytes as f32) / 1024.0f32 / 1024.0f32;
    format!("{:.2}", f64::from(v))
}

/// The pinned engine's `llama-quantize`, built into its build tree if missing (the engine
/// script builds server/bench/cli/fit-params only).
pub fn llama_quantize(bin: &Path) -> Result<PathBuf, String> {
    let exe = bin.join("llama-quantize");
    if exe.exists() {
        return Ok(exe);
    }
    let build = bin.parent().ok_or("bin dir has no parent")?;
    let st = std::process::Command::new("cmake")
        .args(["--build"])
        .arg(build)
        .args(["--target", "llama-quantize", "-j2"])
        .status()
        .map_err(|e| e.to_string())?;
    if st.success() && exe.exists() {
        Ok(exe)
    } else {
        Err(format!(
            "could not build llama-quantize in {}",
            build.display()
        ))
    }
}

/// `llama-quantize --dry-run SRC FTYPE`: the type llama.cpp picks for every tensor
/// (`[ i/ n] NAME - [dims], type = bf16, size = A MiB -> B MiB (q4_K)`, or
/// `size = A MiB` when the tensor keeps its type).
pub fn llama_quantize_dry_run(
    exe: &Path,
    src: &Path,
    ftype: &str,
) -> Result<std::collections::HashMap<String, String>, String> {
    let out = std::process::Command::new(exe)
        .arg("--dry-run")
        .arg(src)
        .arg(ftype)
        .output()
        .map_err(|e| e.to_string())?;
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let mut map = std::collections::HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((_, rest)) = rest.split_once(']') else {
            continue;
        };
        let Some((name, rest)) = rest.trim_start().split_once(" - [") else {
            continue;
        };
        let Some((_, rest)) = rest.split_once("type =") else {
            continue;
        };
        let src_type = rest.split(',').next().unwrap_or("").trim().to_string();
        let target = match (rest.rfind('('), rest.rfind(')')) {
            (Some(a), Some(b)) if b > a && rest.contains("->") => rest[a + 1..b].trim().to_string(),
            _ => src_type,
        };
        map.insert(name.trim().to_string(), target);
    }
    if map.is_empty() {
        return Err(format!(
            "no tensor lines from llama-quantize --dry-run {ftype}:\n{text}"
        ));
    }
    Ok(map)
}
