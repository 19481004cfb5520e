//! Model area: rigplan's bytes equal llama.cpp's for real-shaped sparse GGUFs, and
//! `rigplan inspect` on hostile files exits 2 with one line naming the file.

use crate::support::{rigplan, run_json};
use crate::support_engine::llama_bin;
use crate::support_model::{
    entry, llama_loader_tensors, llama_model_mib, loader_mib, write_catalog_model,
};
use rigplan::gguf::split::open_model;
use rigplan::model::ModelSpec;
use std::collections::HashMap;

const MIB: f64 = 1024.0 * 1024.0;

/// Writes each model sparse, reads it back with rigplan, and compares the total with the
/// model bytes the pinned llama.cpp's `llama-fit-params` reports for the same file. The
/// engine prints whole MiB per buffer row, so the tolerance is one MiB per row.
#[test]
fn sparse_files_match_llama_cpp_model_bytes() {
    let bin = llama_bin();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("qwen3-30b-a3b", "Q4_K_M"),       // qwen3moe
        ("qwen3.5-35b-a3b", "Q4_K_M"),     // qwen35moe, 21 GB sparse
        ("gemma-4-26b-a4b", "Q4_K_M"),     // gemma4: per-layer KV heads, SWA dims, fallbacks
        ("deepseek-r1", "IQ2_XXS"),        // deepseek2 MLA
        ("llama-3.1-8b", "Q4_K_M"),        // dense llama
        ("qwen3.5-27b", "Q4_K_M"),         // qwen35 dense hybrid
        ("qwen3-next-80b-a3b", "IQ2_XXS"), // qwen3next
        ("gpt-oss-20b", "MXFP4"),          // gpt-oss, MXFP4 experts
        ("glm-4.5-air", "Q4_K_M"),         // glm4moe with a nextn layer
        ("phi-4", "Q4_K_M"),               // phi3: fused attn_qkv and gate/up
        ("minimax-m2", "IQ2_XXS"),         // minimax-m2: all-head Q/K norms, router bias
        ("granite-4.0-h-tiny", "Q4_K_M"),  // granitehybrid: Mamba-2 + attention MoE
        ("nemotron-nano-9b-v2", "Q4_K_M"), // nemotron_h: Mamba-2, attention and MLP blocks
        ("llama-4-maverick", "IQ2_XXS"),   // llama4: MoE on every other layer
    ];
    let mut big_seen = false;
    for (id, quant) in cases {
        let path = dir.path().join(format!("{id}-{quant}.gguf"));
        let file_size = write_catalog_model(&entry(id), quant, &path);
        big_seen |= file_size > 20_000_000_000;
        let shards = open_model(&path).unwrap();
        let spec = ModelSpec::from_gguf(&shards);
        // per tensor: the header's bytes are what the catalog computed for the same tensor
        // with llama-quantize's rules (a publisher's larger file is scaled, not written)
        let mut rules = entry(id);
        rules.files.retain(|f| !f.publisher_recipe);
        let cat = rules.spec(Some(quant)).unwrap();
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
            // the loader prints ggml_n_dims dims: trailing 1s dropped (a Mamba-2 ssm_norm
            // of one group is {d_inner, 1} in the file)
            let mut ours = t.dims.clone();
            while ours.len() > 1 && ours.last() == Some(&1) {
                ours.pop();
            }
            assert_eq!(ours, l.dims, "{id} {}", l.name);
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
#[ignore = "a tool, not a check: writes the 21 GB sparse timing fixture"]
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
    let bare = format!("{path}.novocab.gguf");
    let n = crate::support_model::write_catalog_model_with(
        &entry("qwen3.5-35b-a3b"),
        "Q4_K_M",
        std::path::Path::new(&bare),
        false,
    );
    eprintln!("{bare}: {n} bytes (no tokenizer arrays)");
}

/// `rigplan inspect https-or-loopback-URL` reads only the header by range requests and
/// gives the same bytes as the local file.
#[test]
fn inspect_url_reads_the_header_over_loopback_http() {
    use crate::support_gguf::{Route, Server};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let size = write_catalog_model(&entry("llama-3.2-3b"), "Q4_K_M", &path);
    let local = rigplan::gguf::GgufFile::open(&path).unwrap();
    let mut prefix = std::fs::read(&path).unwrap();
    prefix.truncate(usize::try_from(local.data_offset).unwrap());
    let server = Server::start();
    server.route(
        "/m.gguf",
        Route::File {
            prefix: Arc::new(prefix),
            size,
            ranges: true,
        },
    );
    let url = format!("{}/m.gguf", server.base);
    let out = rigplan()
        .args(["inspect", &url, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spec = ModelSpec::from_gguf(&[local]);
    assert_eq!(v["bytes"]["total"], spec.total_bytes().0);
    assert_eq!(v["architecture"], "llama");
    assert!(server.seen("/m.gguf").len() <= 3);

    let out = rigplan()
        .args(["inspect", "http://127.0.0.1:9/none.gguf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Architectures without a catalog entry (qwen2, qwen3, gemma3) against llama.cpp too.
/// Hyperparameters: Qwen2.5-7B-Instruct, Qwen3-8B and Gemma-3-12B configs (shapes are
/// what is under test; the comparison is rigplan vs llama.cpp on the same file).
#[test]
fn more_architectures_match_llama_cpp() {
    let bin = llama_bin();
    let fixtures = [
        r#"id = "t-qwen2"
name = "qwen2 fixture"
default_quant = "Q4_K_M"
[gguf]
architecture = "qwen2"
block_count = 28
context_length = 32768
embedding_length = 3584
vocab_size = 152064
feed_forward_length = 18944
"attention.head_count" = 28
"attention.head_count_kv" = 4
"#,
        r#"id = "t-qwen3"
name = "qwen3 fixture"
default_quant = "Q4_K_M"
[gguf]
architecture = "qwen3"
block_count = 36
context_length = 40960
embedding_length = 4096
vocab_size = 151936
feed_forward_length = 12288
"attention.head_count" = 32
"attention.head_count_kv" = 8
"attention.key_length" = 128
"attention.value_length" = 128
"#,
        r#"id = "t-gemma3"
name = "gemma3 fixture"
default_quant = "Q4_K_M"
tied_output = true
[gguf]
architecture = "gemma3"
block_count = 48
context_length = 131072
embedding_length = 3840
vocab_size = 262208
feed_forward_length = 15360
"attention.head_count" = 16
"attention.head_count_kv" = 8
"attention.key_length" = 256
"attention.value_length" = 256
"attention.sliding_window" = 1024
"#,
    ];
    let dir = tempfile::tempdir().unwrap();
    for text in fixtures {
        let e: rigplan::model::catalog::CatalogEntry = toml::from_str(text).unwrap();
        let path = dir.path().join(format!("{}.gguf", e.id));
        write_catalog_model(&e, "Q4_K_M", &path);
        let spec = ModelSpec::from_gguf(&open_model(&path).unwrap());
        assert!(spec.architecture_known);
        let listed = llama_loader_tensors(&bin, &path).unwrap();
        assert_eq!(listed.len(), spec.tensors.len(), "{}", e.id);
        for (l, t) in listed.iter().zip(
            listed
                .iter()
                .map(|l| spec.tensors.iter().find(|t| t.name == l.name).unwrap()),
        ) {
            assert!(
                t.ggml_type.name().eq_ignore_ascii_case(&l.type_name),
                "{} {}",
                e.id,
                l.name
            );
            assert_eq!(
                (&t.dims, loader_mib(t.bytes.0)),
                (&l.dims, l.mib.clone()),
                "{} {}",
                e.id,
                l.name
            );
        }
        let (theirs, rows) = llama_model_mib(&bin, &path).unwrap();
        let ours = spec.loaded_weight_bytes().0 as f64 / MIB;
        assert!(
            (ours - theirs as f64).abs() <= rows as f64,
            "{}: {ours:.1} vs {theirs}",
            e.id
        );
    }
}

/// An architecture rigplan does not know still inspects: generic facts, flagged.
#[test]
fn unknown_architecture_inspects_with_generic_facts() {
    use rigplan::gguf::writer::GgufWriter;
    use rigplan::gguf::{GgmlType, GgufString, MetaValue};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.gguf");
    let f32t = GgmlType::from_name("F32").unwrap();
    let q8 = GgmlType::from_name("Q8_0").unwrap();
    let mut w = GgufWriter::new();
    w.meta(
        "general.architecture",
        MetaValue::String(GgufString(b"mamba9".to_vec())),
    )
    .tensor("token_embd.weight", &[256, 1000], q8)
    .tensor("blk.0.attn_q.weight", &[256, 256], q8)
    .tensor("blk.0.ffn_up_exps.weight", &[256, 512, 4], q8)
    .tensor("blk.1.ssm_in.weight", &[256, 512], q8)
    .tensor("output_norm.weight", &[256], f32t);
    w.write_sparse(&path).unwrap();
    let out = rigplan()
        .args(["inspect", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["architecture"], "mamba9");
    assert_eq!(v["architecture_known"], false);
    assert_eq!(v["layers"].as_array().unwrap().len(), 2);
    assert!(v["bytes"]["by_class"]["routed_experts"].as_u64().unwrap() > 0);
    assert!(v["notes"].to_string().contains("mamba9"));
    assert!(v["engines"].as_array().unwrap().is_empty());
}

/// rigplan's per-tensor quant types equal llama-quantize's own choice (`--dry-run` on a
/// sparse BF16 file shaped like a converter's output) for every standard file type and
/// the architectures with special rules (MoE, MLA, fallbacks on 704-wide rows, tied
/// embeddings). Without an imatrix, as the dry run has none.
#[test]
fn quant_types_match_llama_quantize_dry_run() {
    use rigplan::model::catalog::quant_context;
    use rigplan::model::quantize::{assign_types, FileType, TensorShape};
    use rigplan::model::synth::tensor_shapes;
    let bin = llama_bin();
    let quantize = crate::support_model::llama_quantize(&bin).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ftypes = [
        "Q8_0",
        "Q6_K",
        "Q5_K_M",
        "Q5_K_S",
        "Q4_K_M",
        "Q4_K_S",
        "IQ4_XS",
        "Q3_K_M",
        "IQ3_XXS",
        "IQ2_M",
        "IQ2_XXS",
        "Q2_K",
        "MXFP4_MOE",
    ];
    for id in [
        "qwen3-30b-a3b",
        "qwen3.5-35b-a3b",
        "gemma-4-26b-a4b",
        "deepseek-r1",
        "llama-3.2-3b",
        "mixtral-8x7b",
    ] {
        let e = entry(id);
        let src = dir.path().join(format!("{id}-bf16.gguf"));
        write_catalog_model(&e, "BF16", &src);
        let params = e.params();
        let shapes = tensor_shapes(&params, e.synth_options()).unwrap();
        let ts: Vec<TensorShape> = shapes
            .iter()
            .map(|(n, d)| TensorShape { name: n, dims: d })
            .collect();
        let mut ctx = quant_context(&params);
        ctx.has_imatrix = false;
        for q in ftypes {
            let ours = assign_types(&ts, FileType::parse(q).unwrap(), &ctx).unwrap();
            let theirs = crate::support_model::llama_quantize_dry_run(&quantize, &src, q).unwrap();
            assert_eq!(theirs.len(), ts.len(), "{id} {q}");
            for ((name, _), ty) in shapes.iter().zip(&ours) {
                let t = theirs
                    .get(name)
                    .unwrap_or_else(|| panic!("{id} {q}: {name} not listed"));
                assert!(
                    ty.name().eq_ignore_ascii_case(t),
                    "{id} {q} {name}: rigplan {ty}, llama-quantize {t}"
                );
            }
        }
    }
}

/// A directory of model files offers its quants to the planner: `plan DIR` chooses among
/// them and launches the chosen file; `--quant` selects one; a quant the directory lacks
/// is exit 2 naming what it offers. Files other than first shards and projectors are
/// not candidates.
#[test]
fn plan_chooses_among_the_quants_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = entry("llama-3.1-8b");
    for quant in ["Q4_K_M", "Q8_0"] {
        write_catalog_model(
            &e,
            quant,
            &dir.path().join(format!("Llama-3.1-8B-{quant}.gguf")),
        );
    }
    std::fs::write(dir.path().join("mmproj-F16.gguf"), b"not a model").unwrap();
    std::fs::write(dir.path().join("README.md"), b"not a model").unwrap();
    let plan_json = |extra: &[&str]| -> serde_json::Value {
        run_json(
            rigplan()
                .arg("plan")
                .arg(dir.path())
                .args(["--hardware", "desktop-3090", "--format", "json"])
                .args(extra),
        )
    };

    let chosen = plan_json(&[]);
    let quant = chosen["settings"]["quant"].as_str().unwrap().to_string();
    assert!(quant == "Q4_K_M" || quant == "Q8_0", "{quant}");
    let path = chosen["model"]["path"].as_str().unwrap();
    assert!(
        path.ends_with(&format!("Llama-3.1-8B-{quant}.gguf")),
        "{path}"
    );
    assert!(chosen["args"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a.as_str() == Some(path)));
    // The other file is shown as the alternative.
    let alts = chosen["alternatives"].as_array().unwrap();
    assert!(alts
        .iter()
        .any(|a| a["quant"].as_str().is_some_and(|q| q != quant)));

    let pinned = plan_json(&["--quant", "q8_0"]);
    assert_eq!(pinned["settings"]["quant"], "Q8_0");
    assert!(pinned["model"]["path"]
        .as_str()
        .unwrap()
        .ends_with("Llama-3.1-8B-Q8_0.gguf"));

    let out = rigplan()
        .arg("plan")
        .arg(dir.path())
        .args(["--hardware", "desktop-3090", "--quant", "Q2_K"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Q2_K") && err.contains("Q4_K_M") && err.contains("Q8_0"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// `hf:OWNER/REPO` without a quant offers every quant the repository lists: the planner
/// reads each header (range requests on a loopback server) and chooses among them.
#[test]
fn plan_chooses_among_the_quants_of_an_hf_repository() {
    use crate::support_gguf::{Route, Server};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let e = entry("llama-3.1-8b");
    let srv = Server::start();
    let mut listing = Vec::new();
    for quant in ["Q4_K_M", "Q8_0"] {
        let name = format!("Llama-3.1-8B-{quant}.gguf");
        let path = dir.path().join(&name);
        let size = write_catalog_model(&e, quant, &path);
        let header_len = rigplan::gguf::GgufFile::open(&path).unwrap().data_offset;
        let mut header = vec![0u8; header_len as usize];
        use std::io::Read;
        std::fs::File::open(&path)
            .unwrap()
            .read_exact(&mut header)
            .unwrap();
        srv.route(
            &format!("/org/Llama-GGUF/resolve/main/{name}"),
            Route::File {
                prefix: Arc::new(header),
                size,
                ranges: true,
            },
        );
        listing.push(serde_json::json!({"type": "file", "path": name, "size": size}));
    }
    srv.route(
        "/api/models/org/Llama-GGUF/tree/main?recursive=1",
        Route::Body(serde_json::Value::Array(listing).to_string()),
    );
    let plan: serde_json::Value = run_json(
        rigplan()
            .args(["plan", "hf:org/Llama-GGUF", "--hardware", "desktop-3090"])
            .args(["--format", "json"])
            .env("RIGPLAN_HF_ENDPOINT", &srv.base),
    );
    let quant = plan["settings"]["quant"].as_str().unwrap();
    assert!(quant == "Q4_K_M" || quant == "Q8_0", "{quant}");
    let alts: Vec<&str> = plan["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["quant"].as_str())
        .collect();
    assert!(alts.iter().any(|q| *q != quant), "{alts:?}");
    // Both headers were read, and only headers.
    for quant in ["Q4_K_M", "Q8_0"] {
        let seen = srv.seen(&format!(
            "/org/Llama-GGUF/resolve/main/Llama-3.1-8B-{quant}"
        ));
        assert!(!seen.is_empty() && seen.len() <= 3, "{quant}: {seen:?}");
    }
}
