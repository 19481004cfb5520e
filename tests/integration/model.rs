//! Model area: rigplan's bytes equal llama.cpp's for real-shaped sparse GGUFs, and
//! `rigplan inspect` on hostile files exits 2 with one line naming the file.

use crate::support_model::{
    entry, llama_bin, llama_loader_tensors, llama_model_mib, loader_mib, write_catalog_model,
};
use assert_cmd::Command;
use rigplan::gguf::split::open_model;
use rigplan::model::ModelSpec;
use std::collections::HashMap;

const MIB: f64 = 1024.0 * 1024.0;

/// Writes each model sparse, reads it back with rigplan, and compares the total with the
/// model bytes the pinned llama.cpp's `llama-fit-params` reports for the same file. The
/// engine prints whole MiB per buffer row, so the tolerance is one MiB per row.
#[test]
fn sparse_files_match_llama_cpp_model_bytes() {
    let Some(bin) = llama_bin() else {
        panic!("llama.cpp engine not available (set RIGPLAN_LLAMA_BIN or run scripts/ensure-engine.sh)");
    };
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("qwen3-30b-a3b", "Q4_K_M"),   // qwen3moe
        ("qwen3.5-35b-a3b", "Q4_K_M"), // qwen35moe, 21 GB sparse
        ("gemma-4-26b-a4b", "Q4_K_M"), // gemma4: per-layer KV heads, SWA dims, fallbacks
        ("deepseek-r1", "IQ2_XXS"),    // deepseek2 MLA
        ("llama-3.1-8b", "Q4_K_M"),    // dense llama
    ];
    let mut big_seen = false;
    for (id, quant) in cases {
        let path = dir.path().join(format!("{id}-{quant}.gguf"));
        let file_size = write_catalog_model(&entry(id), quant, &path);
        big_seen |= file_size > 20_000_000_000;
        let shards = open_model(&path).unwrap();
        let spec = ModelSpec::from_gguf(&shards);
        // per tensor: the header's bytes are what the catalog computed for the same tensor
        let cat = entry(id).spec(Some(quant)).unwrap();
        assert_eq!(spec.tensors.len(), cat.tensors.len(), "{id}");
        for (a, b) in spec.tensors.iter().zip(&cat.tensors) {
            assert_eq!(
                (&a.name, a.bytes, a.class),
                (&b.name, b.bytes, b.class),
                "{id}"
            );
        }
        // per tensor, against llama.cpp's own loader listing (type, shape, size)
        let listed = llama_loader_tensors(&bin, &path).unwrap();
        assert_eq!(listed.len(), spec.tensors.len(), "{id}: tensor count");
        let by_name: HashMap<&str, &rigplan::model::TensorSpec> =
            spec.tensors.iter().map(|t| (t.name.as_str(), t)).collect();
        for l in &listed {
            let t = by_name
                .get(l.name.as_str())
                .unwrap_or_else(|| panic!("{id}: llama.cpp lists {} which rigplan lacks", l.name));
            assert!(
                t.ggml_type.name().eq_ignore_ascii_case(&l.type_name),
                "{id} {}: {} vs {}",
                l.name,
                t.ggml_type,
                l.type_name
            );
            assert_eq!(t.dims, l.dims, "{id} {}", l.name);
            assert_eq!(loader_mib(t.bytes.0), l.mib, "{id} {}", l.name);
        }
        let ours = spec.loaded_weight_bytes().0 as f64 / MIB;
        let (theirs, rows) = llama_model_mib(&bin, &path).unwrap();
        let diff = (ours - theirs as f64).abs();
        assert!(
            diff <= rows as f64,
            "{id} {quant}: rigplan {ours:.1} MiB, llama.cpp {theirs} MiB over {rows} rows"
        );
    }
    assert!(big_seen, "one case must be a 20+ GB sparse file");
}

fn rigplan() -> Command {
    Command::cargo_bin("rigplan").unwrap()
}

/// A small valid file to corrupt.
fn small_valid(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("small.gguf");
    write_catalog_model(&entry("llama-3.2-3b"), "Q4_K_M", &p);
    p
}

fn assert_bad_input(path: &std::path::Path, what: &str) {
    let out = rigplan().args(["inspect"]).arg(path).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{what}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
    assert!(err.contains(&path.display().to_string()), "{what}: {err}");
}

#[test]
fn inspect_hostile_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = small_valid(dir.path());
    let bytes = std::fs::read(&good).unwrap_or_default();
    let header_len = 64 * 1024;
    let head = &bytes[..header_len.min(bytes.len())];

    let magic = dir.path().join("magic.gguf");
    let mut b = head.to_vec();
    b[..4].copy_from_slice(b"GGUX");
    std::fs::write(&magic, &b).unwrap();
    assert_bad_input(&magic, "wrong magic");

    let trunc = dir.path().join("trunc.gguf");
    std::fs::write(&trunc, &head[..1000]).unwrap();
    assert_bad_input(&trunc, "truncated");

    // tensor count (u64 at offset 8) set to 2^63
    let absurd = dir.path().join("absurd.gguf");
    let mut b = head.to_vec();
    b[8..16].copy_from_slice(&(1u64 << 63).to_le_bytes());
    std::fs::write(&absurd, &b).unwrap();
    assert_bad_input(&absurd, "absurd tensor count");

    let missing = dir.path().join("missing.gguf");
    assert_bad_input(&missing, "missing file");
}

#[test]
fn inspect_json_has_the_stable_keys() {
    let out = rigplan()
        .args(["inspect", "gemma-4-26b-a4b:Q8_0", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["architecture"], "gemma4");
    assert!(
        v["parameters"]["active"].as_u64().unwrap() < v["parameters"]["total"].as_u64().unwrap()
    );
    assert!(v["bytes"]["by_class"]["routed_experts"].as_u64().unwrap() > 0);
    // per-layer KV heads array: layer 5 is a full-attention layer with 2 KV heads
    assert_eq!(v["layers"][5]["kv_heads"], 2);
    assert_eq!(v["layers"][5]["attention"], "full");
    assert_eq!(v["layers"][0]["kv_heads"], 8);
    assert!(
        v["kv_bytes_per_1k_tokens"]["q4_0"].as_u64().unwrap()
            < v["kv_bytes_per_1k_tokens"]["f16"].as_u64().unwrap()
    );
    assert!(v["engines"].as_array().unwrap().len() == 2);

    let out = rigplan().args(["inspect", "qwen3.5-35"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("qwen3.5-35b-a3b"));
}

/// Writes the 21 GB sparse qwen3.5-35b-a3b Q4_K_M file used to time `rigplan inspect`
/// (`RIGPLAN_TIMING_GGUF=/path cargo test --test integration write_timing_fixture -- --ignored`).
#[test]
#[ignore]
fn write_timing_fixture() {
    let path =
        std::env::var("RIGPLAN_TIMING_GGUF").unwrap_or_else(|_| "/tmp/qwen35moe-q4km.gguf".into());
    let n = write_catalog_model(
        &entry("qwen3.5-35b-a3b"),
        "Q4_K_M",
        std::path::Path::new(&path),
    );
    assert!(n > 20_000_000_000);
    eprintln!("{path}: {n} bytes");
}
