//! Test helpers for the GGUF reader: a raw byte builder for hand-made (hostile) headers,
//! the table of hostile cases with the exact error each must give, and a loopback HTTP
//! server that honours (or ignores) Range requests and records what it was asked.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Builds GGUF bytes field by field, so a test can put any value anywhere.
#[derive(Default)]
pub struct Raw {
    pub b: Vec<u8>,
}

impl Raw {
    /// Magic, version, tensor count and metadata count.
    pub fn header(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        let mut r = Raw::default();
        r.bytes(b"GGUF").u32(version).u64(n_tensors).u64(n_kv);
        r
    }
    /// The offset the next field will be written at.
    pub fn at(&self) -> u64 {
        self.b.len() as u64
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.b.extend_from_slice(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    pub fn str(&mut self, v: &[u8]) -> &mut Self {
        self.u64(v.len() as u64).bytes(v)
    }
    /// A `u32` key/value pair.
    pub fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.str(key.as_bytes()).u32(4).u32(v)
    }
    /// One tensor info: name, dims, ggml type id, data offset.
    pub fn tensor(&mut self, name: &[u8], dims: &[u64], type_id: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for d in dims {
            self.u64(*d);
        }
        self.u32(type_id).u64(offset)
    }
    /// Pads with zeros to a multiple of `align`, then appends `data` zero bytes.
    pub fn data(&mut self, align: usize, data: usize) -> &mut Self {
        while self.b.len() % align != 0 {
            self.b.push(0);
        }
        self.b.resize(self.b.len() + data, 0);
        self
    }
}

/// A hostile file and the error it must produce.
pub struct HostileCase {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub offset: u64,
    pub what: String,
}

fn case(name: &'static str, r: &Raw, offset: u64, what: &str) -> HostileCase {
    HostileCase {
        name,
        bytes: r.b.clone(),
        offset,
        what: what.to_string(),
    }
}

/// Every hostile case the reader must reject, with the offset and message it must name.
pub fn hostile_cases() -> Vec<HostileCase> {
    let mut v = Vec::new();

    let mut r = Raw::default();
    r.bytes(b"GGML").u32(3).u64(0).u64(0);
    v.push(case(
        "wrong_magic",
        &r,
        0,
        "not a GGUF file (magic \"GGML\", expected \"GGUF\")",
    ));

    let mut r = Raw::default();
    r.bytes(b"GGUF").bytes(&[3, 0]);
    v.push(case(
        "truncated_version",
        &r,
        4,
        "file ends inside the version (needs 4 bytes, 2 remain)",
    ));

    let r = Raw::header(1, 0, 0);
    v.push(case(
        "version_1",
        &r,
        4,
        "GGUF version 1 is not supported (only 2 and 3)",
    ));
    let r = Raw::header(99, 0, 0);
    v.push(case(
        "version_99",
        &r,
        4,
        "unsupported GGUF version 99 (only 2 and 3)",
    ));
    let r = Raw::header(3u32.swap_bytes(), 0, 0);
    v.push(case(
        "big_endian",
        &r,
        4,
        "big-endian GGUF is not supported",
    ));

    let r = Raw::header(3, 1 << 63, 0);
    v.push(case(
        "tensor_count_2_pow_63",
        &r,
        8,
        "the tensor count is 9223372036854775808, which needs more than 2^64 bytes but only 8 remain",
    ));
    let r = Raw::header(3, 0, 1 << 40);
    v.push(case(
        "kv_count_2_pow_40",
        &r,
        16,
        "the metadata count is 1099511627776, which needs at least 15393162788864 bytes but only 0 remain",
    ));

    let mut r = Raw::header(3, 0, 1);
    r.u64(1 << 40).bytes(b"general.name");
    v.push(case(
        "string_2_pow_40",
        &r,
        24,
        "the length of metadata key #0 is 1099511627776, which needs at least 1099511627776 bytes but only 12 remain",
    ));

    let mut r = Raw::header(3, 0, 1);
    r.str(b"k");
    let at = r.at();
    r.u32(13).u32(0);
    v.push(case(
        "unknown_value_type",
        &r,
        at,
        "'k' has unknown GGUF value type 13",
    ));

    let mut r = Raw::header(3, 0, 1);
    r.str(b"tokenizer.ggml.tokens").u32(9);
    let at = r.at();
    r.u32(10).u64(1 << 62).u64(0);
    v.push(case(
        "array_count_2_pow_62",
        &r,
        at + 4,
        "the length of array 'tokenizer.ggml.tokens' is 4611686018427387904, which needs more than 2^64 bytes but only 8 remain",
    ));

    let mut r = Raw::header(3, 0, 1);
    r.str(b"a").u32(9);
    let at = r.at();
    r.u32(77).u64(1).u32(0);
    v.push(case(
        "unknown_array_type",
        &r,
        at,
        "'a' is an array of unknown GGUF type 77",
    ));

    let mut r = Raw::header(3, 0, 1);
    r.str(b"deep").u32(9);
    let mut deepest = 0;
    for _ in 0..9 {
        deepest = r.at();
        r.u32(9).u64(1);
    }
    r.u32(0).u64(0);
    v.push(case(
        "arrays_nested_too_deep",
        &r,
        deepest,
        "'deep' nests arrays more than 8 deep",
    ));

    let mut r = Raw::header(3, 0, 2);
    r.kv_u32("k", 1);
    let at = r.at();
    r.kv_u32("k", 2);
    v.push(case("duplicate_key", &r, at, "duplicate metadata key 'k'"));

    let mut r = Raw::header(3, 0, 1);
    r.str(b"general.alignment");
    let at = r.at();
    r.u32(4).u32(24);
    v.push(case(
        "alignment_not_power_of_two",
        &r,
        at,
        "general.alignment 24 is not a power of two",
    ));

    let mut r = Raw::header(3, 0, 1);
    r.str(b"general.alignment");
    let at = r.at();
    r.u32(10).u64(32);
    v.push(case(
        "alignment_wrong_type",
        &r,
        at,
        "general.alignment must be u32, not u64",
    ));

    let mut r = Raw::header(3, 1, 0);
    r.str(b"w");
    let at = r.at();
    r.u32(5).u64(1).u64(1).u64(1).u64(1).u64(1).u32(0).u64(0);
    v.push(case(
        "five_dims",
        &r,
        at,
        "tensor 'w' has 5 dimensions (must be 1 to 4)",
    ));

    let mut r = Raw::header(3, 1, 0);
    r.str(b"w");
    let at = r.at();
    r.u32(0).u32(0).u64(0).bytes(&[0; 8]);
    v.push(case(
        "no_dims",
        &r,
        at,
        "tensor 'w' has 0 dimensions (must be 1 to 4)",
    ));

    let mut r = Raw::header(3, 1, 0);
    r.str(b"w").u32(2).u64(32);
    let at = r.at();
    r.u64(0).u32(0).u64(0);
    v.push(case("zero_dim", &r, at, "tensor 'w' dimension 1 is 0"));

    let mut r = Raw::header(3, 1, 0);
    r.str(b"w").u32(4);
    let at = r.at() - 4;
    r.u64(1 << 20)
        .u64(1 << 20)
        .u64(1 << 20)
        .u64(1 << 20)
        .u32(0)
        .u64(0);
    v.push(case(
        "element_count_overflow",
        &r,
        at,
        "tensor 'w' has more than 2^63-1 elements ([1048576, 1048576, 1048576, 1048576])",
    ));

    let mut r = Raw::header(3, 1, 0);
    r.str(b"w").u32(1).u64(32);
    let at = r.at();
    r.u32(77).u64(0).data(32, 128);
    v.push(case(
        "unknown_ggml_type",
        &r,
        at,
        "tensor 'w' has unknown ggml type id 77 (neither llama.cpp nor ik_llama.cpp knows it)",
    ));

    let mut r = Raw::header(3, 1, 0);
    r.str(b"w").u32(2).u64(100).u64(2);
    let at = r.at();
    r.u32(12).u64(0).data(32, 1024);
    v.push(case(
        "row_not_whole_blocks",
        &r,
        at,
        "tensor 'w' rows of 100 elements are not a multiple of Q4_K's block size 256",
    ));

    let mut r = Raw::header(3, 2, 0);
    r.tensor(b"a", &[8], 0, 0).str(b"b").u32(1).u64(8).u32(0);
    let at = r.at();
    r.u64(3).data(32, 128);
    v.push(case(
        "misaligned_offset",
        &r,
        at,
        "tensor 'b' data offset 3 is not a multiple of the alignment 32",
    ));

    let mut r = Raw::header(3, 2, 0);
    r.tensor(b"a", &[64], 0, 0).str(b"b").u32(1).u64(8).u32(0);
    let at = r.at();
    r.u64(224).data(32, 256);
    v.push(case(
        "overlapping_tensors",
        &r,
        at,
        "tensor 'b' data (data offset 224) overlaps tensor 'a' (data offsets 0..256)",
    ));

    let mut r = Raw::header(3, 1, 0);
    r.str(b"w").u32(2).u64(4096).u64(4096).u32(0);
    let at = r.at();
    r.u64(0).data(32, 1000);
    let size = r.at();
    v.push(HostileCase {
        name: "data_past_end_of_file",
        bytes: r.b.clone(),
        offset: at,
        what: format!(
            "tensor 'w' data (67108864 bytes at data offset 0) runs past the end of the file ({size} bytes)"
        ),
    });

    let mut r = Raw::header(3, 2, 0);
    r.tensor(b"w", &[8], 0, 0);
    let at = r.at();
    r.tensor(b"w", &[8], 0, 32).data(32, 64);
    v.push(case(
        "duplicate_tensor_name",
        &r,
        at,
        "duplicate tensor name 'w'",
    ));

    let mut r = Raw::header(3, 1, 0);
    let at = r.at();
    r.tensor(&[b'n'; 64], &[8], 0, 0).data(32, 32);
    v.push(case(
        "tensor_name_too_long",
        &r,
        at,
        "tensor name of 64 bytes is too long (ggml allows at most 63)",
    ));

    let r = Raw::header(0, 0, 0);
    v.push(case(
        "version_0",
        &r,
        4,
        "unsupported GGUF version 0 (only 2 and 3)",
    ));

    let mut r = Raw::header(3, 2, 0);
    // 144 is IQ4_KS (ik_llama.cpp only), 34 is TQ1_0 (mainline only): no engine knows both.
    r.tensor(b"ik", &[256], 144, 0).str(b"main").u32(1).u64(256);
    let at = r.at();
    r.u32(34).u64(160).data(32, 256);
    v.push(case(
        "mixed_engine_type_ids",
        &r,
        at,
        "tensor 'main' has type id 34 that only llama.cpp knows, but tensor 'ik' has type id 144 that only ik_llama.cpp knows",
    ));

    // The metadata makes the file long enough to pass the count checks.
    let mut r = Raw::header(3, 1, 1);
    r.str(b"general.name").u32(8).str(&[b'x'; 40]);
    let at = r.at();
    r.tensor(b"w", &[8], 0, 0).b.truncate(at as usize + 11);
    v.push(case(
        "truncated_tensor_info",
        &r,
        at + 9,
        "file ends inside the dimension count of tensor 'w' (needs 4 bytes, 2 remain)",
    ));

    v
}

/// One request the loopback server saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub range: Option<(u64, u64)>,
}

/// What a path serves.
#[derive(Clone)]
pub enum Route {
    /// A file of `size` bytes whose first bytes are `prefix` and the rest zeros (a
    /// sparse model); `ranges` false makes the server ignore Range like a naive one.
    File {
        prefix: Arc<Vec<u8>>,
        size: u64,
        ranges: bool,
    },
    /// A JSON (or any) body with status 200.
    Body(String),
    /// A 302 redirect to another path on this server.
    Redirect(String),
}

/// A loopback HTTP/1.1 server in a thread. Routes and the request log are shared.
pub struct Server {
    pub base: String,
    pub routes: Arc<Mutex<HashMap<String, Route>>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (r, s) = (routes.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s) = (r.clone(), s.clone());
                std::thread::spawn(move || serve(stream, &r, &s));
            }
        });
        Server { base, routes, seen }
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    /// Requests seen for paths starting with `prefix`.
    pub fn seen(&self, prefix: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn serve(stream: TcpStream, routes: &Mutex<HashMap<String, Route>>, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range:") {
            let v = v.trim().trim_start_matches("bytes=");
            if let Some((a, b)) = v.split_once('-') {
                range = Some((a.parse().unwrap_or(0), b.parse().unwrap_or(u64::MAX)));
            }
        }
    }
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        range,
    });
    let route = routes.lock().unwrap().get(&path).cloned();
    let mut out = stream;
    let _ = match route {
        None => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        Some(Route::Body(body)) => out.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        ),
        Some(Route::Redirect(to)) => out.write_all(
            format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        ),
        Some(Route::File { prefix, size, ranges }) => {
            let (start, end, status) = match range {
                Some((a, b)) if ranges && a < size => (a, b.min(size - 1) + 1, "206 Partial Content"),
                _ => (0, size, "200 OK"),
            };
            let mut head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                end - start
            );
            if status.starts_with("206") {
                head.push_str(&format!("Content-Range: bytes {start}-{}/{size}\r\n", end - 1));
            }
            head.push_str("\r\n");
            let _ = out.write_all(head.as_bytes());
            // Send at most 64 MiB even when ignoring ranges: the client must stop first.
            let stop = end.min(start + (64 << 20));
            let mut pos = start;
            let zeros = vec![0u8; 1 << 16];
            while pos < stop {
                let n = if pos < prefix.len() as u64 {
                    let e = (prefix.len() as u64).min(stop);
                    out.write_all(&prefix[pos as usize..e as usize]).map(|_| e - pos)
                } else {
                    let n = (stop - pos).min(zeros.len() as u64);
                    out.write_all(&zeros[..n as usize]).map(|_| n)
                };
                match n {
                    Ok(n) => pos += n,
                    Err(_) => break,
                }
            }
            Ok(())
        }
    };
}

/// Runs `llama-bench -o json` on a model with one tiny prompt and generation and
/// returns its first result, or the engine's stderr on failure.
pub fn bench_json(
    bin: &std::path::Path,
    model: &std::path::Path,
) -> Result<serde_json::Value, String> {
    let out = std::process::Command::new(bin.join("llama-bench"))
        .arg("-m")
        .arg(model)
        .args(["-p", "8", "-n", "4", "-r", "1", "-t", "1", "-o", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stdout)))?;
    Ok(runs[0].clone())
}
