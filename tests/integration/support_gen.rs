//! Helpers for the generator and end-to-end tests: a tiny llama model with random
//! weights and a real vocabulary, sample plans, free ports, a small HTTP client and
//! server supervision. The engines themselves come from `support_engine`.

#![allow(dead_code)]

use rigplan::plan::{DeviceMemory, EngineRef, MemoryReport, ModelRef, Performance, Plan, Settings};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn settings_cpu() -> Settings {
    Settings {
        quant: Some("F32".into()),
        n_gpu_layers: 0,
        n_cpu_moe: 0,
        ctx: 512,
        predict: 16,
        cache_type_k: "f16".into(),
        cache_type_v: "f16".into(),
        threads: 2,
        batch: 64,
        ubatch: 32,
        parallel: 1,
        split_mode: "none".into(),
        tensor_split: vec![],
        flash_attn: false,
        mlock: false,
        mmap: true,
        override_tensors: vec![],
        gpu_indices: vec![],
        backend: Default::default(),
        extras: Default::default(),
        speculative: Default::default(),
    }
}

/// A plan for `model_path` with these settings, as the planner would write it.
pub fn plan_for(model_path: &str, name: &str, settings: Settings) -> Plan {
    let args = rigplan::engine::launch_args(
        rigplan::engine::EngineKind::LlamaCpp,
        &settings,
        model_path,
        None,
    );
    let command = rigplan::generate::command_line("llama-server", &args);
    Plan {
        model: ModelRef {
            name: name.into(),
            architecture: "llama".into(),
            reference: model_path.into(),
            path: Some(model_path.into()),
            download: None,
        },
        hardware: "test".into(),
        engine: EngineRef {
            name: "llama.cpp".into(),
            version: rigplan::engine::info(rigplan::engine::EngineKind::LlamaCpp)
                .version
                .into(),
        },
        settings,
        memory: MemoryReport {
            devices: vec![DeviceMemory {
                name: "CPU".into(),
                host: None,
                kind: "cpu".into(),
                capacity_bytes: 8 << 30,
                weights_bytes: 9 << 20,
                kv_bytes: 1 << 20,
                compute_bytes: 1 << 20,
                overhead_bytes: 0,
                total_bytes: 11 << 20,
                margin_bytes: 0,
                pinned_bytes: 0,
            }],
        },
        performance: Performance {
            tg_tokens_per_s: 100.0,
            pp_tokens_per_s: 1000.0,
            bottleneck: "test".into(),
            ceiling_tg_tokens_per_s: None,
            calibration: None,
            tg_tokens_per_s_without_speculation: None,
        },
        args,
        command,
        reasons: vec![],
        warnings: vec![],
        alternatives: vec![],
        projector: None,
        cluster: None,
    }
}

pub fn write_plan(plan: &Plan, path: &Path) {
    std::fs::write(path, toml::to_string(plan).expect("plan serialises")).expect("writing plan");
}

// ---- a tiny llama GGUF ----------------------------------------------------------------

const GGUF_TYPE_U32: u32 = 4;
const GGUF_TYPE_F32: u32 = 6;
const GGUF_TYPE_STRING: u32 = 8;
const GGUF_TYPE_ARRAY: u32 = 9;
const GGML_TYPE_F32: u32 = 0;

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.u64() as usize;
        String::from_utf8_lossy(self.take(n)).into_owned()
    }
    fn skip_value(&mut self, ty: u32) {
        match ty {
            0 | 1 | 7 => {
                self.take(1);
            }
            2 | 3 => {
                self.take(2);
            }
            4..=6 => {
                self.take(4);
            }
            10..=12 => {
                self.take(8);
            }
            GGUF_TYPE_STRING => {
                self.string();
            }
            GGUF_TYPE_ARRAY => {
                let ity = self.u32();
                let n = self.u64();
                for _ in 0..n {
                    self.skip_value(ity);
                }
            }
            t => panic!("unknown GGUF value type {t}"),
        }
    }
}

/// The raw bytes of every `tokenizer.*` key-value pair of a GGUF, and the vocab size.
fn tokenizer_kvs(vocab_gguf: &Path) -> (Vec<Vec<u8>>, u64) {
    let b = std::fs::read(vocab_gguf).expect("reading vocab gguf");
    let mut r = Reader { b: &b, pos: 0 };
    assert_eq!(r.take(4), b"GGUF");
    let _version = r.u32();
    let _n_tensors = r.u64();
    let n_kv = r.u64();
    let mut out = Vec::new();
    let mut n_vocab = 0;
    for _ in 0..n_kv {
        let start = r.pos;
        let key = r.string();
        let ty = r.u32();
        if key == "tokenizer.ggml.tokens" {
            let save = r.pos;
            let _ity = r.u32();
            n_vocab = r.u64();
            r.pos = save;
        }
        r.skip_value(ty);
        if key.starts_with("tokenizer.") {
            out.push(b[start..r.pos].to_vec());
        }
    }
    assert!(
        n_vocab > 0,
        "no tokenizer.ggml.tokens in {}",
        vocab_gguf.display()
    );
    (out, n_vocab)
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    w.extend_from_slice(&(s.len() as u64).to_le_bytes());
    w.extend_from_slice(s.as_bytes());
}

fn kv_u32(w: &mut Vec<u8>, k: &str, v: u32) {
    put_str(w, k);
    w.extend_from_slice(&GGUF_TYPE_U32.to_le_bytes());
    w.extend_from_slice(&v.to_le_bytes());
}

fn kv_f32(w: &mut Vec<u8>, k: &str, v: f32) {
    put_str(w, k);
    w.extend_from_slice(&GGUF_TYPE_F32.to_le_bytes());
    w.extend_from_slice(&v.to_le_bytes());
}

fn kv_str(w: &mut Vec<u8>, k: &str, v: &str) {
    put_str(w, k);
    w.extend_from_slice(&GGUF_TYPE_STRING.to_le_bytes());
    put_str(w, v);
}

/// Writes a llama-architecture GGUF with random F32 weights (n_embd 64, 2 layers, 2
/// heads, n_ff 128) and the tokenizer of `vocab_gguf` (e.g. the engine's
/// `models/ggml-vocab-llama-spm.gguf`). About 9 MB for a 32k vocabulary.
pub fn write_tiny_llama(path: &Path, vocab_gguf: &Path) {
    write_tiny_arch(path, vocab_gguf, "llama");
}

/// [`write_tiny_llama`] under another architecture name with llama's tensor layout
/// (`refact`: the pinned llama.cpp's models/refact.cpp loads the same tensors).
pub fn write_tiny_arch(path: &Path, vocab_gguf: &Path, arch: &str) {
    // head dim 32: quantized KV cache blocks (q8_0: 32) must divide it.
    write_llama_arch(path, vocab_gguf, (64, 2, 2, 128), arch);
}

/// Writes a llama-architecture GGUF with random F32 weights of the given
/// `(n_embd, n_layer, n_head, n_ff)` and the tokenizer of `vocab_gguf`.
pub fn write_llama(path: &Path, vocab_gguf: &Path, dims: (u64, u32, u32, u64)) {
    write_llama_arch(path, vocab_gguf, dims, "llama");
}

/// [`write_llama`] under the architecture name `arch` (llama's tensor layout).
fn write_llama_arch(path: &Path, vocab_gguf: &Path, dims: (u64, u32, u32, u64), arch: &str) {
    let (tok_kvs, n_vocab) = tokenizer_kvs(vocab_gguf);
    let (n_embd, n_layer, n_head, n_ff) = dims;
    let mut tensors: Vec<(String, Vec<u64>, bool)> = vec![
        ("token_embd.weight".into(), vec![n_embd, n_vocab], false),
        ("output_norm.weight".into(), vec![n_embd], true),
    ];
    for i in 0..n_layer {
        let p = format!("blk.{i}.");
        tensors.push((format!("{p}attn_norm.weight"), vec![n_embd], true));
        for t in ["attn_q", "attn_k", "attn_v", "attn_output"] {
            tensors.push((format!("{p}{t}.weight"), vec![n_embd, n_embd], false));
        }
        tensors.push((format!("{p}ffn_norm.weight"), vec![n_embd], true));
        tensors.push((format!("{p}ffn_gate.weight"), vec![n_embd, n_ff], false));
        tensors.push((format!("{p}ffn_up.weight"), vec![n_embd, n_ff], false));
        tensors.push((format!("{p}ffn_down.weight"), vec![n_ff, n_embd], false));
    }
    let mut h = Vec::new();
    h.extend_from_slice(b"GGUF");
    h.extend_from_slice(&3u32.to_le_bytes());
    h.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    let n_kv = tok_kvs.len() as u64 + 9;
    h.extend_from_slice(&n_kv.to_le_bytes());
    kv_str(&mut h, "general.architecture", arch);
    kv_str(&mut h, "general.name", &format!("rigplan tiny {arch}"));
    kv_u32(&mut h, &format!("{arch}.context_length"), 2048);
    kv_u32(&mut h, &format!("{arch}.embedding_length"), n_embd as u32);
    kv_u32(&mut h, &format!("{arch}.block_count"), n_layer);
    kv_u32(&mut h, &format!("{arch}.feed_forward_length"), n_ff as u32);
    kv_u32(&mut h, &format!("{arch}.attention.head_count"), n_head);
    kv_u32(&mut h, &format!("{arch}.attention.head_count_kv"), n_head);
    kv_f32(
        &mut h,
        &format!("{arch}.attention.layer_norm_rms_epsilon"),
        1e-5,
    );
    for kv in &tok_kvs {
        h.extend_from_slice(kv);
    }
    let mut offset = 0u64;
    for (name, dims, _) in &tensors {
        put_str(&mut h, name);
        h.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            h.extend_from_slice(&d.to_le_bytes());
        }
        h.extend_from_slice(&GGML_TYPE_F32.to_le_bytes());
        h.extend_from_slice(&offset.to_le_bytes());
        let bytes = dims.iter().product::<u64>() * 4;
        offset += bytes.div_ceil(32) * 32;
    }
    while h.len() % 32 != 0 {
        h.push(0);
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("creating model"));
    f.write_all(&h).unwrap();
    // xorshift: deterministic random weights in [-0.1, 0.1).
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for (_, dims, is_norm) in &tensors {
        let n = dims.iter().product::<u64>();
        for _ in 0..n {
            let v = if *is_norm {
                1.0f32
            } else {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
            };
            f.write_all(&v.to_le_bytes()).unwrap();
        }
        let bytes = n * 4;
        let pad = bytes.div_ceil(32) * 32 - bytes;
        f.write_all(&vec![0u8; pad as usize]).unwrap();
    }
    f.flush().unwrap();
}

/// The tiny model in `dir`, written once.
pub fn tiny_model(dir: &Path) -> PathBuf {
    let vocab = crate::support_engine::llama_source().join("models/ggml-vocab-llama-spm.gguf");
    let p = dir.join("tiny-llama.gguf");
    write_tiny_llama(&p, &vocab);
    p
}

// ---- servers --------------------------------------------------------------------------

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A child process killed when dropped.
pub struct Server(pub Child);

/// Spawns `cmd` with stdout/stderr going to `log`.
pub fn spawn_logged(cmd: &mut Command, log: &Path) -> Server {
    let f = std::fs::File::create(log).unwrap();
    let f2 = f.try_clone().unwrap();
    Server(cmd.stdout(f).stderr(f2).spawn().unwrap())
}

fn log_tail(log: Option<&Path>) -> String {
    let text = log
        .and_then(|l| std::fs::read_to_string(l).ok())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until GET /health answers 200 (the model is loaded), or panics after `secs`.
pub fn wait_healthy(server: &mut Server, port: u16, secs: u64) {
    wait_healthy_logged(server, port, secs, None)
}

pub fn wait_healthy_logged(server: &mut Server, port: u16, secs: u64, log: Option<&Path>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "llama-server exited before /health was ok: {status}\n{}",
                log_tail(log)
            );
        }
        if let Ok(r) = ureq::get(&format!("http://127.0.0.1:{port}/health"))
            .timeout(Duration::from_secs(2))
            .call()
        {
            if r.status() == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "llama-server on port {port} not healthy after {secs} s\n{}",
            log_tail(log)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub fn get_json(port: u16, path: &str) -> serde_json::Value {
    let r = ureq::get(&format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(30))
        .call()
        .expect("GET");
    let mut s = String::new();
    r.into_reader().read_to_string(&mut s).unwrap();
    serde_json::from_str(&s).expect("JSON")
}

pub fn post_json(port: u16, path: &str, body: serde_json::Value) -> serde_json::Value {
    let r = ureq::post(&format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(60))
        .set("Content-Type", "application/json")
        .send_string(&body.to_string())
        .expect("POST");
    let mut s = String::new();
    r.into_reader().read_to_string(&mut s).unwrap();
    serde_json::from_str(&s).expect("JSON")
}

/// The rigplan binary under test.
pub fn rigplan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rigplan"))
}

/// A per-user cache directory for build products reused across test runs.
pub fn user_cache(sub: &str) -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("rigplan").join(sub)
}
