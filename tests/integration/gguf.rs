//! GGUF reader, writer, split and remote reading: round trips, every hostile case with
//! its exact message, property tests over random and mutated files, and HTTP range
//! reads against a loopback server.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support_engine::{ik_llama_bin, llama_bin, llama_source};
use crate::support_gguf::{bench_json, hostile_cases, Raw, Route, Server};
use proptest::prelude::*;
use rigplan::error::exit_code_for;
use rigplan::gguf::reader::{parse_bytes, parse_prefix, MAX_META_VALUES};
use rigplan::gguf::writer::{GgufWriter, TensorFill};
use rigplan::gguf::{remote, split, GgmlType, GgufError, GgufFile, GgufString, MetaValue};
use std::path::Path;
use std::sync::{Arc, OnceLock};

fn ty(name: &str) -> GgmlType {
    GgmlType::from_name(name).unwrap()
}

fn s(v: &str) -> MetaValue {
    MetaValue::String(GgufString(v.as_bytes().to_vec()))
}

/// A small but complete model header: every value type, a vocabulary, real-looking
/// tensor names, two quant types.
fn small_model(version: u32) -> GgufWriter {
    let mut w = GgufWriter::new();
    w.version(version)
        .meta("general.architecture", s("llama"))
        .meta("general.alignment", MetaValue::U32(64))
        .meta("llama.block_count", MetaValue::U32(2))
        .meta("llama.rope.freq_base", MetaValue::F32(500000.0))
        .meta("x.f64", MetaValue::F64(0.125))
        .meta("x.i64", MetaValue::I64(-1))
        .meta("x.u64", MetaValue::U64(1 << 40))
        .meta("x.bool", MetaValue::Bool(false))
        .meta("x.i8", MetaValue::I8(-8))
        .meta("x.u16", MetaValue::U16(16))
        .meta("x.i16", MetaValue::I16(-16))
        .meta("x.u8", MetaValue::U8(8))
        .meta("x.i32", MetaValue::I32(-32))
        .meta(
            "tokenizer.ggml.tokens",
            MetaValue::Array((0..300).map(|i| s(&format!("tok{i}"))).collect()),
        )
        .meta(
            "x.nested",
            MetaValue::Array(vec![
                MetaValue::Array(vec![MetaValue::F32(1.0), MetaValue::F32(2.0)]),
                MetaValue::Array(vec![]),
            ]),
        )
        .tensor("token_embd.weight", &[256, 300], ty("Q4_K"))
        .tensor("blk.0.attn_q.weight", &[256, 256], ty("Q8_0"))
        .tensor("blk.0.attn_norm.weight", &[256], ty("F32"))
        .tensor("output.weight", &[256, 300], ty("Q6_K"));
    w
}

#[test]
fn writer_output_reads_back_exactly_in_v2_and_v3() {
    let dir = tempfile::tempdir().unwrap();
    for version in [2, 3] {
        let path = dir.path().join(format!("v{version}.gguf"));
        let w = small_model(version);
        let layout = w
            .write_with_data(&path, 7, |t| {
                if t.name.ends_with("norm.weight") {
                    TensorFill::Constant(1.0)
                } else {
                    TensorFill::Random
                }
            })
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), layout.file_size);
        let f = GgufFile::open(&path).unwrap();
        assert_eq!(f.version, version);
        assert_eq!(f.alignment, 64);
        assert_eq!(f.data_offset, layout.data_offset);
        assert_eq!(f.data_offset % 64, 0);
        assert_eq!(f.file_size, layout.file_size);
        assert_eq!(f.architecture(), "llama");
        assert_eq!(f.get_u64("x.u64"), Some(1 << 40));
        assert_eq!(f.get("x.i64"), Some(&MetaValue::I64(-1)));
        assert_eq!(
            f.get("tokenizer.ggml.tokens")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            300
        );
        assert_eq!(
            f.get("x.nested"),
            Some(&MetaValue::Array(vec![
                MetaValue::Array(vec![MetaValue::F32(1.0), MetaValue::F32(2.0)]),
                MetaValue::Array(vec![]),
            ]))
        );
        let got: Vec<(&str, u64, u64)> = f
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t.offset, t.n_bytes))
            .collect();
        let want: Vec<(&str, u64, u64)> = layout
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t.offset, t.n_bytes))
            .collect();
        assert_eq!(got, want);
        // ggml sizes: Q4_K 144 B per 256, Q8_0 34 B per 32, Q6_K 210 B per 256.
        assert_eq!(f.tensors[0].n_bytes, 300 * 144);
        assert_eq!(f.tensors[1].n_bytes, 256 * 8 * 34);
        assert_eq!(f.tensors[3].n_bytes, 300 * 210);
        // The norm was written as 1.0 f32 at its offset.
        let bytes = std::fs::read(&path).unwrap();
        let norm = &f.tensors[2];
        let at = (f.data_offset + norm.offset) as usize;
        assert_eq!(&bytes[at..at + 4], &1.0f32.to_le_bytes());
    }
}

#[test]
fn each_hostile_case_names_the_file_offset_and_defect() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/hostile");
    let regen = std::env::var_os("RIGPLAN_REGEN_FIXTURES").is_some();
    let cases = hostile_cases();
    assert!(cases.len() >= 25);
    for c in cases {
        let path = dir.path().join(format!("{}.gguf", c.name));
        std::fs::write(&path, &c.bytes).unwrap();
        let err = GgufFile::open(&path).unwrap_err();
        let want = format!("'{}': at byte {}: {}", path.display(), c.offset, c.what);
        assert_eq!(err.to_string(), want, "case {}", c.name);
        assert!(!err.to_string().contains('\n'));
        let err = rigplan::error::Error::from(err);
        assert_eq!(exit_code_for(&err), 2, "case {}", c.name);
        // The committed fixture (used by CLI tests) is the same file.
        let fixture = fixtures.join(format!("{}.gguf", c.name));
        if regen {
            std::fs::create_dir_all(&fixtures).unwrap();
            std::fs::write(&fixture, &c.bytes).unwrap();
        }
        assert_eq!(
            std::fs::read(&fixture).unwrap(),
            c.bytes,
            "fixture {}",
            c.name
        );
    }
}

#[test]
fn truncation_at_every_offset_is_malformed_never_a_panic() {
    let (header, layout) = small_model(3).header().unwrap();
    let mut full = header.clone();
    full.resize(layout.file_size as usize, 0);
    let f = parse_bytes(Path::new("m"), &full).unwrap();
    // The file may end right after the last tensor (its padding is optional).
    let data_end = layout
        .tensors
        .iter()
        .map(|t| t.offset + t.n_bytes)
        .max()
        .unwrap();
    let end = (f.data_offset + data_end) as usize;
    assert!(parse_bytes(Path::new("m"), &full[..end]).is_ok());
    // Every length inside the header, then samples of the data section.
    let lens = (0..f.data_offset as usize + 64).chain((f.data_offset as usize..end).step_by(997));
    for len in lens {
        match parse_bytes(Path::new("m"), &full[..len]) {
            Err(GgufError::Malformed { offset, .. }) => assert!(offset <= len as u64),
            other => panic!("truncated at {len}: {other:?}"),
        }
    }
}

#[test]
fn metadata_values_are_capped_whatever_the_counts_say() {
    let n = MAX_META_VALUES + 1;
    let mut r = Raw::header(3, 0, 1);
    r.str(b"big").u32(9);
    let at = r.at();
    r.u32(0).u64(n);
    r.b.resize(r.b.len() + n as usize, 0);
    let err = parse_bytes(Path::new("m"), &r.b).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("'m': at byte {at}: array 'big' has {n} elements; metadata may hold at most {MAX_META_VALUES} values")
    );
}

#[test]
fn a_header_past_the_limit_is_refused_before_reading_it() {
    // A 300 MiB string in a 20 GB file: the count is plausible, the header is not.
    let mut r = Raw::header(3, 0, 1);
    r.str(b"k").u32(8).u64(300 << 20);
    let got = parse_prefix(Path::new("m"), &r.b, 20 << 30);
    let err = got.unwrap_err().to_string();
    assert_eq!(
        err,
        "'m': at byte 45: the value of 'k' would end at byte 314572845, past the 256 MiB header limit"
    );
}

/// Qwen3-30B-A3B-shaped tensors (48 layers, 128 experts) at Q4_K/Q6_K: about 18 GB;
/// `layers` scales it.
fn big_moe(layers: u32) -> GgufWriter {
    let mut w = GgufWriter::new();
    w.meta("general.architecture", s("qwen3moe"))
        .meta("qwen3moe.block_count", MetaValue::U32(layers))
        .tensor("token_embd.weight", &[2048, 151_936], ty("Q4_K"))
        .tensor("output.weight", &[2048, 151_936], ty("Q6_K"));
    for l in 0..layers {
        w.tensor(
            &format!("blk.{l}.ffn_gate_exps.weight"),
            &[2048, 768, 128],
            ty("Q4_K"),
        )
        .tensor(
            &format!("blk.{l}.ffn_up_exps.weight"),
            &[2048, 768, 128],
            ty("Q4_K"),
        )
        .tensor(
            &format!("blk.{l}.ffn_down_exps.weight"),
            &[768, 2048, 128],
            ty("Q6_K"),
        )
        .tensor(&format!("blk.{l}.attn_q.weight"), &[2048, 4096], ty("Q4_K"));
    }
    w
}

#[test]
fn a_sparse_20_gb_model_costs_only_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.gguf");
    let layout = big_moe(64).write_sparse(&path).unwrap();
    assert!(layout.file_size > 20_000_000_000, "{}", layout.file_size);
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.file_size, layout.file_size);
    assert_eq!(f.tensors.len(), 2 + 64 * 4);
    let last = f.tensors.last().unwrap();
    // Each tensor is padded to the alignment; the file ends after the last one.
    assert!(f.data_offset + last.offset + last.n_bytes <= f.file_size);
    assert!(f.file_size - (f.data_offset + last.offset + last.n_bytes) < 32);
    let total: u64 = f.tensors.iter().map(|t| t.n_bytes).sum();
    let want: u64 = layout.tensors.iter().map(|t| t.n_bytes).sum();
    assert_eq!(total, want);
}

#[test]
fn split_model_reads_as_one() {
    let dir = tempfile::tempdir().unwrap();
    for no in 0..2u16 {
        let mut w = GgufWriter::new();
        w.meta("general.architecture", s("llama"))
            .meta(split::KEY_SPLIT_NO, MetaValue::U16(no))
            .meta(split::KEY_SPLIT_COUNT, MetaValue::U16(2))
            .meta(split::KEY_SPLIT_TENSORS_COUNT, MetaValue::I32(2))
            .tensor(&format!("t{no}"), &[256, 1024], ty("Q4_K"));
        w.write_sparse(
            &dir.path()
                .join(format!("Model-Q4_K_M-{:05}-of-00002.gguf", no + 1)),
        )
        .unwrap();
    }
    let model =
        split::GgufModel::open(&dir.path().join("Model-Q4_K_M-00002-of-00002.gguf")).unwrap();
    assert_eq!(model.shards.len(), 2);
    assert_eq!(model.tensor_bytes(), 2 * 1024 * 144);
    assert!(model.shards[0]
        .path
        .ends_with("Model-Q4_K_M-00001-of-00002.gguf"));
}

/// A tiny llama: real vocabulary (copied from the engine's
/// `models/ggml-vocab-llama-spm.gguf`), 2 layers, the given type per tensor role.
fn tiny_llama(vocab_source: &Path, types: [&str; 10]) -> GgufWriter {
    let vocab = GgufFile::open(&vocab_source.join("models/ggml-vocab-llama-spm.gguf")).unwrap();
    let n_vocab = vocab
        .get("tokenizer.ggml.tokens")
        .unwrap()
        .as_array()
        .unwrap()
        .len() as u64;
    let (embd, ff, heads) = (256u64, 512u64, 4u32);
    let [embd_t, out_t, q_t, k_t, v_t, o_t, gate_t, up_t, down_t, norm_t] = types;
    let mut w = GgufWriter::new();
    w.meta("general.architecture", s("llama"))
        .meta("llama.context_length", MetaValue::U32(512))
        .meta("llama.embedding_length", MetaValue::U32(embd as u32))
        .meta("llama.block_count", MetaValue::U32(2))
        .meta("llama.feed_forward_length", MetaValue::U32(ff as u32))
        .meta("llama.attention.head_count", MetaValue::U32(heads))
        .meta("llama.attention.head_count_kv", MetaValue::U32(heads / 2))
        .meta(
            "llama.rope.dimension_count",
            MetaValue::U32(embd as u32 / heads),
        )
        .meta(
            "llama.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-5),
        )
        .metas(
            vocab
                .metadata
                .iter()
                .filter(|(k, _)| k.starts_with("tokenizer."))
                .cloned(),
        )
        .tensor("token_embd.weight", &[embd, n_vocab], ty(embd_t))
        .tensor("output_norm.weight", &[embd], ty(norm_t))
        .tensor("output.weight", &[embd, n_vocab], ty(out_t));
    let kv = embd / 2;
    for l in 0..2 {
        w.tensor(&format!("blk.{l}.attn_norm.weight"), &[embd], ty(norm_t))
            .tensor(&format!("blk.{l}.attn_q.weight"), &[embd, embd], ty(q_t))
            .tensor(&format!("blk.{l}.attn_k.weight"), &[embd, kv], ty(k_t))
            .tensor(&format!("blk.{l}.attn_v.weight"), &[embd, kv], ty(v_t))
            .tensor(
                &format!("blk.{l}.attn_output.weight"),
                &[embd, embd],
                ty(o_t),
            )
            .tensor(&format!("blk.{l}.ffn_norm.weight"), &[embd], ty(norm_t))
            .tensor(&format!("blk.{l}.ffn_gate.weight"), &[embd, ff], ty(gate_t))
            .tensor(&format!("blk.{l}.ffn_up.weight"), &[embd, ff], ty(up_t))
            .tensor(&format!("blk.{l}.ffn_down.weight"), &[ff, embd], ty(down_t));
    }
    w
}

/// Writes `w` with seeded random weights (norms 1.0) and returns it re-read.
fn write_filled(w: &GgufWriter, path: &Path) -> GgufFile {
    w.write_with_data(path, 1, |t| {
        if t.name.ends_with("norm.weight") {
            TensorFill::Constant(1.0)
        } else {
            TensorFill::Random
        }
    })
    .unwrap();
    GgufFile::open(path).unwrap()
}

/// llama.cpp must load and run a writer model with random weights and report the
/// same byte size and parameter count as our reader (llama-bench's `model_size` is
/// `llama_model_size()`, the sum of `ggml_nbytes` over all tensors).
#[test]
fn writer_model_with_random_weights_runs_in_llama_cpp() {
    let bin = llama_bin();
    let types = [
        "Q8_0", "Q6_K", "Q4_K", "Q4_0", "Q5_K", "F16", "IQ4_XS", "Q3_K", "BF16", "F32",
    ];
    let w = tiny_llama(&llama_source(), types);
    let dir = tempfile::tempdir().unwrap();
    let f = write_filled(&w, &dir.path().join("tiny-llama.gguf"));
    assert_eq!(f.loadable_by(), vec!["llama.cpp", "ik_llama.cpp"]);
    let run = bench_json(&bin, &f.path).unwrap();
    let bytes: u64 = f.tensors.iter().map(|t| t.n_bytes).sum();
    let params: u64 = f.tensors.iter().map(|t| t.n_elements()).sum();
    assert_eq!(run["model_size"].as_u64(), Some(bytes));
    assert_eq!(run["model_n_params"].as_u64(), Some(params));
    assert!(run["avg_ts"].as_f64().unwrap() > 0.0);
}

/// A model of ik-only types (with per-row metadata): ik_llama.cpp loads it and counts
/// the same bytes as we do (row metadata included); llama.cpp refuses it, as the
/// reader's dialect says.
#[test]
fn ik_only_model_loads_in_ik_llama_cpp_only() {
    let ik = ik_llama_bin();
    let main = llama_bin();
    let types = [
        "Q8_0", "IQ4_KS", "IQ4_K", "IQ2_KT", "Q6_0", "IQ3_KS", "IQ4_KSS", "IQ2_KS", "IQ5_KS", "F32",
    ];
    let w = tiny_llama(&llama_source(), types);
    let dir = tempfile::tempdir().unwrap();
    let f = write_filled(&w, &dir.path().join("tiny-ik.gguf"));
    assert_eq!(f.dialect, rigplan::gguf::Dialect::IkOnly);
    assert_eq!(f.loadable_by(), vec!["ik_llama.cpp"]);
    assert!(f
        .ik_only_reason()
        .unwrap()
        .contains("only ik_llama.cpp knows"));
    let run = bench_json(&ik, &f.path).unwrap();
    let bytes: u64 = f.tensors.iter().map(|t| t.n_bytes).sum();
    let params: u64 = f.tensors.iter().map(|t| t.n_elements()).sum();
    assert_eq!(run["model_size"].as_u64(), Some(bytes));
    assert_eq!(run["model_n_params"].as_u64(), Some(params));
    // Mainline refuses it, and says why only when verbose (`-v`).
    let refused = std::process::Command::new(main.join("llama-bench"))
        .arg("-m")
        .arg(&f.path)
        .args(["-p", "8", "-n", "4", "-r", "1", "-t", "1", "-v"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("failed to load model"), "{stderr}");
    assert!(stderr.contains("invalid ggml type"), "{stderr}");
}

fn valid_file() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let (header, layout) = small_model(3).header().unwrap();
        let mut b = header;
        b.resize(layout.file_size as usize, 0);
        b
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    Truncate(usize),
    /// Overwrite 8 bytes with a huge count (2^k, all ones...).
    Inflate(usize, u64),
    Byte(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let len = valid_file().len();
    prop_oneof![
        (0..len, 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (0..len).prop_map(Mutation::Truncate),
        (
            0..len,
            prop_oneof![
                Just(u64::MAX),
                Just(1u64 << 63),
                Just(1u64 << 40),
                Just(1u64 << 32),
                any::<u64>()
            ]
        )
            .prop_map(|(i, v)| Mutation::Inflate(i, v)),
        (0..len, any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    match *m {
        Mutation::FlipBit(i, b) => {
            if let Some(v) = bytes.get_mut(i) {
                *v ^= 1 << b;
            }
        }
        Mutation::Truncate(n) => bytes.truncate(n),
        Mutation::Inflate(i, v) => {
            for (k, byte) in v.to_le_bytes().iter().enumerate() {
                if let Some(slot) = bytes.get_mut(i + k) {
                    *slot = *byte;
                }
            }
        }
        Mutation::Byte(i, b) => {
            if let Some(v) = bytes.get_mut(i) {
                *v = b;
            }
        }
    }
}

/// Parsing must end in a result or a one-line error; never a panic. Bounded memory
/// follows from the reader's caps; here we also check a parse stays fast.
fn parse_is_well_behaved(bytes: &[u8]) {
    let start = std::time::Instant::now();
    match parse_bytes(Path::new("m"), bytes) {
        Ok(f) => {
            for t in &f.tensors {
                assert!(f.data_offset + t.offset + t.n_bytes <= f.file_size);
            }
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
    assert!(start.elapsed() < std::time::Duration::from_millis(500));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                magic in any::<bool>()) {
        if magic && bytes.len() >= 8 {
            bytes[..4].copy_from_slice(b"GGUF");
            bytes[4..8].copy_from_slice(&3u32.to_le_bytes());
        }
        parse_is_well_behaved(&bytes);
    }

    #[test]
    fn mutated_valid_files_never_panic(ms in proptest::collection::vec(mutation(), 1..4)) {
        let mut bytes = valid_file().to_vec();
        for m in &ms {
            apply(&mut bytes, m);
        }
        parse_is_well_behaved(&bytes);
    }
}

// ---- remote ----

/// One loopback server for all remote tests (the HF endpoint is process-wide).
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let s = Server::start();
        std::env::set_var(remote::HF_ENDPOINT_ENV, &s.base);
        s
    })
}

/// A 20+ GB sparse model whose header is over 2 MiB (a large vocabulary).
fn big_header_model() -> (Vec<u8>, u64, u64) {
    let mut w = big_moe(64);
    w.meta(
        "tokenizer.ggml.tokens",
        MetaValue::Array((0..150_000).map(|i| s(&format!("token-{i:08}"))).collect()),
    );
    let (header, layout) = w.header().unwrap();
    (header, layout.file_size, layout.data_offset)
}

#[test]
fn url_header_is_read_in_at_most_three_range_requests() {
    let srv = server();
    let (header, size, data_offset) = big_header_model();
    assert!(data_offset > 2 << 20);
    srv.route(
        "/big/model.gguf",
        Route::File {
            prefix: Arc::new(header),
            size,
            ranges: true,
        },
    );
    let url = format!("{}/big/model.gguf", srv.base);
    let shards = remote::open_url(&url).unwrap();
    assert_eq!(shards.len(), 1);
    assert_eq!(shards[0].file_size, size);
    assert_eq!(shards[0].data_offset, data_offset);
    assert_eq!(shards[0].tensors.len(), 2 + 64 * 4);
    let seen = srv.seen("/big/");
    assert!(seen.len() <= 3, "{seen:?}");
    // Ranges are contiguous from 0 and stop within 4x the header: never the 20 GB of data.
    let end = seen.iter().map(|s| s.range.unwrap().1 + 1).max().unwrap();
    assert!(
        end >= data_offset && end <= 4 * data_offset + (1 << 20),
        "{seen:?}"
    );
}

#[test]
fn server_ignoring_ranges_is_refused_not_downloaded() {
    let srv = server();
    let (header, _) = small_model(3).header().unwrap();
    srv.route(
        "/noranges/m.gguf",
        Route::File {
            prefix: Arc::new(header),
            size: 30 << 30,
            ranges: false,
        },
    );
    let url = format!("{}/noranges/m.gguf", srv.base);
    let err = remote::open_url(&url).unwrap_err();
    assert_eq!(
        rigplan::error::one_line(&err),
        format!("'{url}': the server ignores HTTP range requests (HTTP 200 instead of 206); refusing to download the whole file")
    );
    assert_eq!(exit_code_for(&err), 2);
}

#[test]
fn unreachable_host_and_missing_file_are_one_line_bad_input() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/m.gguf");
    let err = remote::open_url(&url).unwrap_err();
    let line = rigplan::error::one_line(&err);
    assert!(
        line.starts_with(&format!("'{url}': cannot reach the server: ")),
        "{line}"
    );
    assert_eq!(exit_code_for(&err), 2);

    let url = format!("{}/nothing/here.gguf", server().base);
    let err = remote::open_url(&url).unwrap_err();
    assert_eq!(
        rigplan::error::one_line(&err),
        format!("'{url}': not found (HTTP 404)")
    );
    assert_eq!(exit_code_for(&err), 2);
}

#[test]
fn malformed_remote_header_is_a_gguf_error_naming_the_url() {
    let srv = server();
    let mut r = Raw::header(3, 1 << 63, 0);
    r.data(1, 64);
    srv.route(
        "/bad/m.gguf",
        Route::File {
            prefix: Arc::new(r.b),
            size: 1 << 30,
            ranges: true,
        },
    );
    let url = format!("{}/bad/m.gguf", srv.base);
    let err = remote::open_url(&url).unwrap_err();
    assert!(matches!(&err, rigplan::error::Error::BadFile(e) if e.is::<GgufError>()));
    assert!(err.to_string().starts_with(&format!(
        "'{url}': at byte 8: the tensor count is 9223372036854775808"
    )));
}

#[test]
fn hf_reference_lists_quants_picks_one_and_follows_shards() {
    let srv = server();
    let mut files = vec![
        serde_json::json!({"type": "file", "path": "README.md", "size": 3}),
        serde_json::json!({"type": "file", "path": "mmproj-F16.gguf", "size": 3}),
    ];
    // Q4_K_M: one file; UD-Q4_K_XL: two shards in a folder.
    let (one, layout) = small_model(3).header().unwrap();
    srv.route(
        "/org/Model-GGUF/resolve/main/Model-Q4_K_M.gguf",
        Route::Redirect("/cdn/Model-Q4_K_M.gguf".into()),
    );
    srv.route(
        "/cdn/Model-Q4_K_M.gguf",
        Route::File {
            prefix: Arc::new(one),
            size: layout.file_size,
            ranges: true,
        },
    );
    files.push(
        serde_json::json!({"type": "file", "path": "Model-Q4_K_M.gguf", "size": layout.file_size}),
    );
    for no in 0..2u16 {
        let mut w = GgufWriter::new();
        w.meta(split::KEY_SPLIT_NO, MetaValue::U16(no))
            .meta(split::KEY_SPLIT_COUNT, MetaValue::U16(2))
            .tensor(&format!("t{no}"), &[256, 4096], ty("Q4_K"));
        let (h, l) = w.header().unwrap();
        let name = format!("UD-Q4_K_XL/Model-UD-Q4_K_XL-{:05}-of-00002.gguf", no + 1);
        srv.route(
            &format!("/org/Model-GGUF/resolve/main/{name}"),
            Route::File {
                prefix: Arc::new(h),
                size: l.file_size,
                ranges: true,
            },
        );
        files.push(serde_json::json!({"type": "file", "path": name, "size": l.file_size}));
    }
    srv.route(
        "/api/models/org/Model-GGUF/tree/main?recursive=1",
        Route::Body(serde_json::Value::Array(files).to_string()),
    );

    let quants = remote::list_hf_quants("org/Model-GGUF").unwrap();
    let names: Vec<(&str, u32)> = quants
        .iter()
        .map(|q| (q.quant.as_str(), q.shards))
        .collect();
    assert_eq!(names, vec![("Q4_K_M", 1), ("UD-Q4_K_XL", 2)]);

    let m = remote::open_hf("org/Model-GGUF", Some("q4_k_m")).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].architecture(), "llama");

    let m = remote::open_hf("org/Model-GGUF", Some("UD-Q4_K_XL")).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[1].tensors[0].name, "t1");
    assert!(m[0]
        .path
        .to_string_lossy()
        .ends_with("Model-UD-Q4_K_XL-00001-of-00002.gguf"));

    let err = remote::open_hf("org/Model-GGUF", Some("Q8_0")).unwrap_err();
    assert_eq!(
        rigplan::error::one_line(&err),
        "'hf:org/Model-GGUF:Q8_0': no such quant; available: Q4_K_M, UD-Q4_K_XL"
    );
    assert_eq!(exit_code_for(&err), 2);

    let err = remote::open_hf("org/Missing", None).unwrap_err();
    assert!(rigplan::error::one_line(&err)
        .starts_with("'hf:org/Missing': no such repository (HTTP 404"));
    assert_eq!(exit_code_for(&err), 2);
}

/// A qwen3.5-sized vocabulary: 248,320 tokens (the qwen3.5 GGUF the model engineer
/// profiled), 733 fewer merges (a BPE vocabulary has about one merge per token) and a
/// token type per token; token strings of 1 to 16 bytes (mean 8.5), merges of two such,
/// from a fixed LCG so the header size is stable (11.6 MB).
fn qwen35_vocab() -> Vec<(String, MetaValue)> {
    let n = 248_320u32;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut word = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let len = 1 + (state >> 60) as usize;
        (0..len)
            .map(|i| b'a' + ((state >> (i * 3)) % 26) as u8)
            .collect::<Vec<u8>>()
    };
    let tokens: Vec<MetaValue> = (0..n)
        .map(|_| MetaValue::String(GgufString(word())))
        .collect();
    let merges: Vec<MetaValue> = (0..n - 733)
        .map(|_| {
            let mut m = word();
            m.push(b' ');
            m.extend(word());
            MetaValue::String(GgufString(m))
        })
        .collect();
    vec![
        ("tokenizer.ggml.model".into(), s("gpt2")),
        ("tokenizer.ggml.pre".into(), s("qwen35")),
        ("tokenizer.ggml.tokens".into(), MetaValue::Array(tokens)),
        (
            "tokenizer.ggml.token_type".into(),
            MetaValue::Array(
                (0..n)
                    .map(|i| MetaValue::I32(1 + i32::from(i >= n - 64)))
                    .collect(),
            ),
        ),
        ("tokenizer.ggml.merges".into(), MetaValue::Array(merges)),
        (
            "tokenizer.ggml.eos_token_id".into(),
            MetaValue::U32(248_046),
        ),
        (
            "tokenizer.ggml.padding_token_id".into(),
            MetaValue::U32(248_044),
        ),
    ]
}

/// Writes the sparse 21 GB qwen3.5-35b-a3b Q4_K_M file with a real-size vocabulary used
/// to time `rigplan inspect` (issue 2):
/// `RIGPLAN_VOCAB_TIMING_GGUF=/path cargo test --test integration write_vocab_timing_fixture -- --ignored`.
#[test]
#[ignore = "a tool, not a check: writes the 21 GB sparse timing fixture for issue 2"]
fn write_vocab_timing_fixture() {
    let path = std::env::var("RIGPLAN_VOCAB_TIMING_GGUF")
        .unwrap_or_else(|_| "/tmp/qwen35moe-q4km-vocab.gguf".into());
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.gguf");
    crate::support_model::write_catalog_model_with(
        &crate::support_model::entry("qwen3.5-35b-a3b"),
        "Q4_K_M",
        &bare,
        false,
    );
    let f = GgufFile::open(&bare).unwrap();
    let mut w = GgufWriter::new();
    w.metas(f.metadata.clone()).metas(qwen35_vocab());
    for t in &f.tensors {
        w.tensor(&t.name, &t.dims, t.ggml_type);
    }
    let layout = w.write_sparse(Path::new(&path)).unwrap();
    assert!(layout.file_size > 20_000_000_000);
    let back = GgufFile::open(Path::new(&path)).unwrap();
    assert_eq!(back.tensors.len(), f.tensors.len());
    eprintln!(
        "{path}: {} bytes, header {} bytes",
        layout.file_size, layout.data_offset
    );
}

/// Issue 2's guard (not a timed test): a local header is read once, front to back, in
/// bounded chunks; its vocabulary is two buffers, not one allocation per token.
#[test]
fn local_header_is_read_once_and_the_vocabulary_is_one_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let mut w = big_moe(8);
    let vocab = qwen35_vocab();
    w.metas(vocab.clone());
    let layout = w.write_sparse(&path).unwrap();
    let (f, stats) = rigplan::gguf::reader::open_counting(&path).unwrap();
    let header = layout.data_offset;
    assert!(header > 4 << 20, "{header}");
    // Every header byte once, plus at most one chunk past its end; never a re-read.
    assert!(stats.bytes_read >= header, "{stats:?}");
    assert!(
        stats.bytes_read <= header + rigplan::gguf::reader::LOCAL_CHUNK_BYTES,
        "{stats:?}"
    );
    assert!(
        stats.reads <= 2 + header / rigplan::gguf::reader::LOCAL_CHUNK_BYTES,
        "{stats:?}"
    );
    for key in ["tokenizer.ggml.tokens", "tokenizer.ggml.merges"] {
        let v = f.get(key).unwrap();
        let strings = v.as_strings().expect("compact string array");
        assert!(!strings.materialised());
        assert_eq!(v.array_len(), Some(strings.len()));
    }
    assert_eq!(
        f.get("tokenizer.ggml.tokens").unwrap().array_len(),
        Some(248_320)
    );
    match f.get("tokenizer.ggml.token_type").unwrap() {
        MetaValue::Numbers(n) => {
            assert_eq!((n.len(), n.elem_type()), (248_320, 5));
            assert_eq!(n.get(248_319), Some(MetaValue::I32(2)));
            assert!(!n.materialised());
        }
        other => panic!("token types not compact: {}", other.type_id()),
    }
    assert_eq!(f.get("tokenizer.ggml.token_type"), Some(&vocab[3].1));
    // Same value as the writer was given, and the model code never materialises it.
    assert_eq!(f.get("tokenizer.ggml.merges"), Some(&vocab[4].1));
    assert!(!f
        .get("tokenizer.ggml.tokens")
        .unwrap()
        .as_strings()
        .unwrap()
        .materialised());
    // Written back, the compact form is byte for byte the array it was read from.
    let mut again = GgufWriter::new();
    again.metas(f.metadata.clone());
    for t in &f.tensors {
        again.tensor(&t.name, &t.dims, t.ggml_type);
    }
    assert_eq!(again.header().unwrap().0, w.header().unwrap().0);
}

/// The one-pass local reader and the in-memory parser agree on every cut and every
/// corrupted byte of a header that spans several read chunks (same file, same error
/// offset and message).
#[test]
fn local_reader_agrees_with_the_prefix_parser_on_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let mut w = big_moe(2);
    w.meta(
        "tokenizer.ggml.tokens",
        MetaValue::Array((0..40_000).map(|i| s(&format!("tok{i}"))).collect()),
    );
    let (header, _) = w.header().unwrap();
    let n = header.len();
    assert!(n > 2 * (256 << 10), "{n}");
    let chunk = 256 << 10;
    let mut cuts = vec![1, 7, 24, n / 3, n - 1, n];
    for edge in [64 << 10, (64 << 10) + chunk, (64 << 10) + 2 * chunk] {
        cuts.extend([edge - 3, edge, edge + 5]);
    }
    let mut state = 7u64;
    let mut cases: Vec<Vec<u8>> = cuts.iter().map(|&c| header[..c].to_vec()).collect();
    for _ in 0..40 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let mut bad = header.clone();
        let at = (state >> 33) as usize % n;
        bad[at] = bad[at].wrapping_add(1 + (state >> 8) as u8 % 200);
        cases.push(bad);
    }
    for bytes in cases {
        std::fs::write(&path, &bytes).unwrap();
        let local = GgufFile::open(&path)
            .map(|f| f.metadata)
            .map_err(|e| e.to_string());
        let memory = parse_bytes(&path, &bytes)
            .map(|f| f.metadata)
            .map_err(|e| e.to_string());
        assert_eq!(local, memory, "{} bytes", bytes.len());
    }
}
