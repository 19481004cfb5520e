//! The defects a hostile-input probe found (issue 17), each as the reproducer that
//! showed it: a token handed to any host, a dribbling server holding `inspect`, files
//! clobbered or blocked on, raw terminal escapes in errors, absurd snapshots and CLI
//! values, a unit's exposure score, a llama-swap `--host` ignored, a build directory
//! tied to its first source tree.

use crate::support::rigplan;
use crate::support_gen::{plan_for, settings_cpu, write_plan};
use crate::support_gguf::Raw;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2 with one line on stderr holding every `want`.
fn assert_bad_input(o: &Output, want: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    for w in want {
        assert!(e.contains(w), "stderr lacks {w:?}: {e}");
    }
}

// ---- a loopback server that records each request's head ------------------------------

type Reply = fn(&str, &mut TcpStream);

/// Serves on 127.0.0.1 for at most 30 s; every request's head (lower-cased) is kept.
struct Loopback {
    base: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Loopback {
    fn start(reply: Reply) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = heads.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(30);
            while Instant::now() < end {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let seen = seen.clone();
                        std::thread::spawn(move || answer(stream, reply, &seen));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Loopback { base, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn answer(stream: TcpStream, reply: Reply, seen: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    seen.lock().unwrap().push(head.clone());
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut out = stream;
    reply(&path, &mut out);
}

fn not_found_after_redirects(path: &str, out: &mut TcpStream) {
    let _ = match path {
        "/a.gguf" => out.write_all(
            b"HTTP/1.1 302 Found\r\nLocation: /b.gguf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
        "/c.gguf" => out.write_all(
            b"HTTP/1.1 302 Found\r\nLocation: /evil.bin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
        _ => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

#[test]
fn the_hugging_face_token_is_not_sent_to_another_host_nor_over_http() {
    let server = Loopback::start(not_found_after_redirects);
    for path in ["/x.gguf", "/a.gguf"] {
        let o = rigplan()
            .env("HF_TOKEN", "hf_secret_token")
            .args(["inspect", &format!("{}{path}", server.base)])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_bad_input(&o, &["not found (HTTP 404)"]);
    }
    let heads = server.heads();
    // /x.gguf, /a.gguf and the redirect's /b.gguf: none carries the token.
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(
        heads.iter().any(|h| h.starts_with("get /b.gguf ")),
        "{heads:?}"
    );
    for h in &heads {
        assert!(
            h.contains("range: bytes=0-")
                && !h.contains("authorization")
                && !h.contains("hf_secret"),
            "{h}"
        );
    }
}

#[test]
fn a_redirect_to_a_path_that_is_not_gguf_is_not_followed() {
    let server = Loopback::start(not_found_after_redirects);
    let url = format!("{}/c.gguf", server.base);
    let o = rigplan()
        .args(["inspect", &url])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_bad_input(&o, &[&url, "/evil.bin", "not a .gguf path; not followed"]);
    assert!(server.heads().iter().all(|h| !h.contains("evil")));
}

fn dribble(_path: &str, out: &mut TcpStream) {
    // A valid status line, then one header byte every 200 ms for up to 20 s.
    let _ = out.write_all(b"HTTP/1.1 206 Partial Content\r\n");
    for _ in 0..100 {
        if out.write_all(b"X").and_then(|_| out.flush()).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_dribbling_server_meets_the_overall_deadline_naming_the_url() {
    let server = Loopback::start(dribble);
    let url = format!("{}/slow.gguf", server.base);
    let start = Instant::now();
    let o = rigplan()
        .args(["--remote-timeout", "2", "inspect", &url])
        .timeout(Duration::from_secs(25))
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_bad_input(&o, &[&url, "no answer within 2 s", "--remote-timeout"]);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let o = rigplan()
        .args(["--remote-timeout", "-1", "inspect", &url])
        .output()
        .unwrap();
    assert_bad_input(&o, &["--remote-timeout '-1': must not be negative"]);
}

// ---- files -----------------------------------------------------------------------------

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

#[test]
fn a_fifo_model_or_shard_is_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("f.gguf");
    mkfifo(&fifo);
    let o = rigplan()
        .args(["inspect", fifo.to_str().unwrap()])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_bad_input(&o, &["f.gguf", "is a FIFO, not a regular file"]);

    // The second shard of a split model is a FIFO: the first is read, the second refused.
    let mut first = Raw::header(3, 0, 3);
    first.kv_u32("split.no", 0).kv_u32("split.count", 2);
    first.str(b"split.tensors.count").u32(4).u32(0);
    let one = tmp.path().join("m-00001-of-00002.gguf");
    std::fs::write(&one, &first.b).unwrap();
    mkfifo(&tmp.path().join("m-00002-of-00002.gguf"));
    let o = rigplan()
        .args(["inspect", one.to_str().unwrap()])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_bad_input(&o, &["m-00002-of-00002.gguf", "is a FIFO"]);
}

#[test]
fn a_hostile_key_reaches_the_terminal_escaped_and_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let key = format!("\u{1b}]0;pwned\u{7}\u{1b}[2J{}", "A".repeat(200_000));
    let mut r = Raw::header(3, 0, 2);
    r.kv_u32(&key, 1).kv_u32(&key, 1);
    let m = tmp.path().join("k.gguf");
    std::fs::write(&m, &r.b).unwrap();
    let o = rigplan()
        .args(["inspect", m.to_str().unwrap()])
        .output()
        .unwrap();
    assert_bad_input(
        &o,
        &[
            "duplicate metadata key '\\u{1b}]0;pwned\\u{7}\\u{1b}[2JAAA",
            "more bytes cut]",
        ],
    );
    let e = stderr(&o);
    assert!(
        !e.trim_end().chars().any(|c| c.is_control()),
        "raw control bytes"
    );
    assert!(e.len() < 4096, "{} bytes of error", e.len());
}

#[test]
fn save_never_clobbers_and_force_replaces_only_regular_files() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = |extra: &[&str]| {
        rigplan()
            .args([
                "plan",
                "llama-3.1-8b",
                "--hardware",
                "desktop-3090",
                "--format",
                "json",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let saved = tmp.path().join("p.plan.toml");
    std::fs::write(&saved, "mine").unwrap();
    let s = saved.to_str().unwrap();
    assert_bad_input(&plan(&["--save", s]), &["exists: pass --force"]);
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "mine");
    let o = plan(&["--save", s, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&saved)
        .unwrap()
        .contains("[settings]"));

    let fifo = tmp.path().join("fifo.toml");
    mkfifo(&fifo);
    let link = tmp.path().join("link.toml");
    std::os::unix::fs::symlink(&saved, &link).unwrap();
    for p in [&fifo, &link] {
        for force in [false, true] {
            let mut args = vec!["--save", p.to_str().unwrap()];
            if force {
                args.push("--force");
            }
            assert_bad_input(
                &plan(&args),
                &["not a regular file: refusing to replace it"],
            );
            let o = rigplan()
                .args(["detect", "--format", "json"])
                .args(&args)
                .output()
                .unwrap();
            assert_bad_input(&o, &["not a regular file"]);
        }
        assert!(!std::fs::symlink_metadata(p).unwrap().is_file());
    }
    let o = rigplan().args(["detect", "--save", s]).output().unwrap();
    assert_bad_input(&o, &["exists: pass --force"]);

    let missing = tmp.path().join("nowhere/p.plan.toml");
    assert_bad_input(
        &plan(&["--save", missing.to_str().unwrap()]),
        &["the directory", "nowhere' does not exist"],
    );

    // export --out over a device node, even with --force.
    let o = rigplan()
        .args([
            "build",
            "--hardware",
            "xeon-e5-2620v4-cpu",
            "--out",
            "/dev/null",
            "--force",
        ])
        .output()
        .unwrap();
    assert_bad_input(&o, &["'/dev/null' is a device, not a regular file"]);
}

#[test]
fn a_huge_snapshot_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.toml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(15 << 20).unwrap();
    let start = Instant::now();
    let o = rigplan()
        .args(["plan", "llama-3.1-8b", "--hardware", big.to_str().unwrap()])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_bad_input(&o, &["big.toml", "limit 1048576 bytes"]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn absurd_snapshot_numbers_name_the_field_and_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = rigplan()
        .args(["detect", "--format", "toml"])
        .output()
        .unwrap();
    let text = String::from_utf8(snap.stdout).unwrap();
    for (line, field) in [
        (
            "theoretical_bandwidth_gbs = inf",
            "memory.theoretical_bandwidth_gbs = inf",
        ),
        (
            "theoretical_bandwidth_gbs = 1e30",
            "memory.theoretical_bandwidth_gbs = 1000000000000000000000000000000",
        ),
        (
            "theoretical_bandwidth_gbs = nan",
            "memory.theoretical_bandwidth_gbs = NaN",
        ),
        (
            "theoretical_bandwidth_gbs = -5.0",
            "memory.theoretical_bandwidth_gbs = -5",
        ),
        (
            "theoretical_bandwidth_gbs = 0.0",
            "memory.theoretical_bandwidth_gbs = 0",
        ),
    ] {
        let edited: String = text
            .lines()
            .map(|l| {
                if l.starts_with("theoretical_bandwidth_gbs") {
                    line.to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let edited = if edited.contains(line) {
            edited
        } else {
            edited.replace("[memory]\n", &format!("[memory]\n{line}\n"))
        };
        let p = tmp.path().join("h.toml");
        std::fs::write(&p, edited).unwrap();
        let o = rigplan()
            .args(["plan", "llama-3.1-8b", "--hardware", p.to_str().unwrap()])
            .output()
            .unwrap();
        assert_bad_input(
            &o,
            &[
                field,
                "is not physically possible (must be above 0 and at most 20000 GB/s)",
            ],
        );
    }
}

#[test]
fn a_nul_byte_in_a_saved_plan_is_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.plan.toml");
    write_plan(&plan_for("/models/m\0.gguf", "m", settings_cpu()), &p);
    let o = rigplan()
        .args([
            "export",
            "--as",
            "command",
            "--engine-bin",
            "/opt/llama/bin",
            "--plan",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert_bad_input(&o, &["model.path", "holds a NUL byte"]);
    let mut s = settings_cpu();
    s.override_tensors = vec!["blk\\.1\\.=CPU".into(), "blk\0=CPU".into()];
    write_plan(&plan_for("/models/m.gguf", "m", s), &p);
    let o = rigplan()
        .args([
            "export",
            "--as",
            "script",
            "--engine-bin",
            "/opt/llama/bin",
            "--plan",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert_bad_input(&o, &["settings.override_tensors[1]", "holds a NUL byte"]);
    assert!(o.stdout.is_empty());
}

// ---- CLI edges ---------------------------------------------------------------------------

#[test]
fn cli_values_that_cannot_be_meant_are_one_line_errors_naming_the_option() {
    let plan = |args: &[&str]| {
        rigplan()
            .args(["plan", "llama-3.1-8b", "--hardware", "desktop-3090"])
            .args(args)
            .output()
            .unwrap()
    };
    assert_bad_input(
        &plan(&["--threads", "-5"]),
        &["--threads '-5': must not be negative"],
    );
    assert_bad_input(&plan(&["--ctx", "-1"]), &["--ctx '-1'"]);
    assert_bad_input(
        &plan(&["--threads", "100000"]),
        &["--threads '100000': at most 512"],
    );
    assert_bad_input(
        &plan(&["--predict", "99999999999"]),
        &["--predict '99999999999': at most 2147483647"],
    );
    assert_bad_input(
        &plan(&["--tensor-split", "1,2,3,4,5"]),
        &["--tensor-split has 5 shares but this machine has 1 GPU(s)"],
    );
    assert_bad_input(
        &plan(&["--n-cpu-moe", "4"]),
        &["--n-cpu-moe 4: model 'Llama-3.1-8B' is dense"],
    );
    // Merely odd: a warning in the plan.
    let o = plan(&["--threads", "64", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("--threads 64 is more than the 16 hardware threads"),
        "{warnings}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.plan.toml");
    write_plan(&plan_for("/models/m.gguf", "m", settings_cpu()), &p);
    let export = |args: &[&str]| {
        rigplan()
            .args(["export", "--engine-bin", "/opt/llama/bin", "--plan"])
            .arg(&p)
            .args(args)
            .output()
            .unwrap()
    };
    assert_bad_input(&export(&["--as", "command", "--port", "0"]), &["--port 0"]);
    assert_bad_input(
        &export(&["--as", "command", "--alias", ""]),
        &["--alias ''"],
    );
    let key = tmp.path().join("key");
    std::fs::write(&key, "k").unwrap();
    assert_bad_input(
        &export(&[
            "--as",
            "llama-swap",
            "--host",
            "0.0.0.0",
            "--api-key-file",
            key.to_str().unwrap(),
        ]),
        &[
            "--host '0.0.0.0' has no effect with --as llama-swap",
            "-listen",
        ],
    );
    assert_bad_input(
        &export(&["--as", "llama-swap", "--port", "9000"]),
        &["--port 9000 has no effect with --as llama-swap"],
    );
    assert!(export(&["--as", "llama-swap"]).status.success());
}

// ---- systemd hardening ---------------------------------------------------------------------

/// `systemd-analyze security --offline=yes` of a unit file: the overall exposure.
fn exposure(unit: &Path) -> f64 {
    let o = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(unit)
        .output()
        .expect("systemd-analyze (scripts/test.sh installs systemd)");
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure in: {text}{}", stderr(&o)));
    line.split(": ")
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

fn unit_for(tmp: &Path, model: &str, gpus: bool, extra: &[&str]) -> (std::path::PathBuf, String) {
    let mut s = settings_cpu();
    if gpus {
        s.n_gpu_layers = 999;
        s.gpu_indices = vec![0, 1];
        s.split_mode = "layer".into();
    }
    let plan = tmp.join("p.plan.toml");
    write_plan(&plan_for(model, "m", s), &plan);
    let unit = tmp.join(if gpus {
        "llama-gpu.service"
    } else {
        "llama-cpu.service"
    });
    let o = rigplan()
        .args([
            "export",
            "--as",
            "systemd",
            "--engine-bin",
            "/usr/bin",
            "--force",
            "--plan",
        ])
        .arg(&plan)
        .arg("--out")
        .arg(&unit)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&unit).unwrap();
    (unit, text)
}

#[test]
fn units_are_hardened_to_an_ok_exposure() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key");
    std::fs::write(&key, "k").unwrap();
    let open = ["--host", "0.0.0.0", "--api-key-file", key.to_str().unwrap()];
    // (gpus, extra options, highest exposure allowed): measured 1.0, 1.2, 1.4, 1.6.
    for (gpus, extra, most) in [
        (false, &[][..], 1.0),
        (false, &open[..], 1.2),
        (true, &[][..], 1.4),
        (true, &open[..], 1.6),
    ] {
        let (unit, text) = unit_for(tmp.path(), "/srv/models/m.gguf", gpus, extra);
        let score = exposure(&unit);
        assert!(score <= most, "exposure {score} > {most}:\n{text}");
        for want in [
            "CapabilityBoundingSet=\n",
            "SystemCallFilter=@system-service",
            "ProtectProc=invisible",
            "RestrictNamespaces=yes",
            "LockPersonality=yes",
            "ProtectHome=yes",
        ] {
            assert!(text.contains(want), "lacks {want}:\n{text}");
        }
        assert_eq!(text.contains("MemoryDenyWriteExecute=yes"), !gpus, "{text}");
        if gpus {
            assert!(text.contains("# Left off for the GPU driver: MemoryDenyWriteExecute="));
            let allowed: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("DeviceAllow="))
                .collect();
            assert_eq!(
                allowed,
                [
                    "DeviceAllow=/dev/nvidiactl rw",
                    "DeviceAllow=/dev/nvidia-uvm rw",
                    "DeviceAllow=/dev/nvidia-uvm-tools rw",
                    "DeviceAllow=/dev/nvidia0 rw",
                    "DeviceAllow=/dev/nvidia1 rw"
                ]
            );
        }
        let v = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit)
            .output()
            .unwrap();
        let e = stderr(&v);
        assert!(
            !e.contains("Unknown") && !e.contains("Failed to parse") && !e.contains("ignoring"),
            "{e}"
        );
    }
}

#[test]
fn a_model_under_tmp_is_bound_into_the_private_tmp() {
    let tmp = tempfile::tempdir().unwrap();
    let (unit, text) = unit_for(tmp.path(), "/tmp/models/m.gguf", false, &[]);
    assert!(text.contains("PrivateTmp=yes\n"), "{text}");
    assert!(text.contains("\nBindReadOnlyPaths=/tmp/models\n"), "{text}");
    assert!(!text.contains("\nReadOnlyPaths="), "{text}");
    let v = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(!stderr(&v).contains("Unknown"), "{}", stderr(&v));
    // A model under a home directory keeps homes readable.
    let (_, text) = unit_for(tmp.path(), "/home/u/models/m.gguf", false, &[]);
    assert!(
        text.contains("ProtectHome=read-only\nPrivateTmp=yes\nReadOnlyPaths=/home/u/models\n"),
        "{text}"
    );
}

// ---- the build script ------------------------------------------------------------------------

/// A CMake project that builds every target the script asks for in seconds.
fn tiny_cmake_project(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("main.c"), "int main(void) { return 0; }\n").unwrap();
    let mut cm = String::from(
        "cmake_minimum_required(VERSION 3.18)\nproject(tiny C)\nset(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)\n",
    );
    for t in [
        "llama-server",
        "llama-bench",
        "llama-cli",
        "llama-fit-params",
        "llama-quantize",
        "rpc-server",
    ] {
        cm.push_str(&format!("add_executable({t} main.c)\n"));
    }
    std::fs::write(dir.join("CMakeLists.txt"), cm).unwrap();
}

#[test]
fn the_build_script_reruns_from_another_source_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("src-a"), tmp.path().join("src-b"));
    tiny_cmake_project(&a);
    tiny_cmake_project(&b);
    let script = tmp.path().join("build.sh");
    let o = rigplan()
        .args(["build", "--hardware", "xeon-e5-2620v4-cpu", "--source"])
        .arg(&a)
        .arg("--out")
        .arg(&script)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let run = |source: &Path, build_dir: Option<&Path>| {
        let mut c = Command::new("bash");
        c.arg(&script)
            .env("XDG_CACHE_HOME", tmp.path().join("cache"))
            .env("PREFIX", tmp.path().join("prefix"))
            .env("SOURCE_DIR", source)
            .env("JOBS", "2");
        if let Some(d) = build_dir {
            c.env("BUILD_DIR", d);
        }
        c.output().unwrap()
    };
    for source in [&a, &b, &a] {
        let o = run(source, None);
        assert!(o.status.success(), "{}: {}", source.display(), stderr(&o));
    }
    assert!(tmp.path().join("prefix/bin/llama-server").is_file());
    let builds: Vec<_> = std::fs::read_dir(tmp.path().join("cache/rigplan/build"))
        .unwrap()
        .collect();
    assert_eq!(builds.len(), 2, "one build directory per source tree");
    // A BUILD_DIR given by hand that holds another tree's build: said, nothing removed.
    let mine = tmp.path().join("mine");
    assert!(run(&a, Some(&mine)).status.success());
    let o = run(&b, Some(&mine));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("holds a build of"), "{}", stderr(&o));
    assert!(mine.join("CMakeCache.txt").is_file());
}

// ---- plan --verify ---------------------------------------------------------------------------

#[test]
fn verify_puts_the_engines_estimate_beside_rigplans_and_its_verdict_decides() {
    let bin = crate::support_engine::llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("llama-3.1-8b-Q4_K_M.gguf");
    crate::support_model::write_catalog_model(
        &crate::support_model::entry("llama-3.1-8b"),
        "Q4_K_M",
        &small,
    );
    let o = rigplan()
        .env("RIGPLAN_LLAMA_BIN", &bin)
        .args([
            "plan",
            small.to_str().unwrap(),
            "--no-gpu",
            "--ctx",
            "4096",
            // llama-fit-params loads no draft model: compare the main model alone.
            "--speculative",
            "none",
            "--verify",
        ])
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}{out}", stderr(&o));
    let host = out
        .lines()
        .find(|l| l.trim_start().starts_with("Host "))
        .unwrap_or_else(|| panic!("no Host row: {out}"));
    let nums: Vec<f64> = host
        .split_whitespace()
        .skip(1)
        .take(2)
        .map(|x| x.parse().unwrap())
        .collect();
    // rigplan's CPU total and the engine's, within 1% (measured: 5464 and 5463 MiB).
    assert!((nums[0] - nums[1]).abs() <= nums[1] * 0.01, "{host}");
    assert!(out.contains("the engine says: fits"), "{out}");
    eprintln!("{out}");

    // Planned for a what-if 512 GiB machine, a 70B model does not fit this one: exit 1,
    // and export --verify writes nothing.
    let big = tmp.path().join("llama-3.3-70b-Q8_0.gguf");
    crate::support_model::write_catalog_model(
        &crate::support_model::entry("llama-3.3-70b"),
        "Q8_0",
        &big,
    );
    let what_if = ["--no-gpu", "--ram-gib", "512", "--ctx", "4096"];
    let o = rigplan()
        .env("RIGPLAN_LLAMA_BIN", &bin)
        .args(["plan", big.to_str().unwrap(), "--verify"])
        .args(what_if)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    // The engine's reason may be lost (it exits before its log thread writes); the
    // exit status is the verdict.
    assert!(e.contains("the engine says: does NOT fit"), "{e}");
    assert!(
        e.contains("rigplan: --verify: the engine says the plan for 'Llama-3.3-70B' does not fit this machine"),
        "{e}"
    );
    let unit = tmp.path().join("u.sh");
    let o = rigplan()
        .args([
            "export",
            big.to_str().unwrap(),
            "--as",
            "script",
            "--verify",
            "--engine-bin",
        ])
        .arg(&bin)
        .args(what_if)
        .arg("--out")
        .arg(&unit)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!unit.exists());
}

#[test]
fn an_architecture_without_a_formula_is_planned_on_the_engines_fit() {
    let bin = crate::support_engine::llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let vocab = crate::support_engine::llama_source().join("models/ggml-vocab-llama-spm.gguf");
    // llama's tensors under the name 'refact', which the pinned llama.cpp loads
    // (src/models/refact.cpp) and rigplan has no formula for.
    let m = tmp.path().join("tiny-refact.gguf");
    crate::support_gen::write_tiny_arch(&m, &vocab, "refact");
    let o = rigplan()
        .env("RIGPLAN_LLAMA_BIN", &bin)
        .args([
            "plan",
            m.to_str().unwrap(),
            "--no-gpu",
            "--ctx",
            "512",
            "--verify",
            "--format",
            "json",
        ])
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = plan["warnings"][0].as_str().unwrap_or_default();
    assert!(
        first.starts_with("architecture 'refact' has no rigplan memory formula: the placement follows the engine's own fit (llama-fit-params: -ngl"),
        "{first}"
    );
    // The engine's check ran on the replanned plan: its Host figure and its verdict.
    let e = stderr(&o);
    assert!(
        e.contains("  Host ") && e.contains("the engine says: fits"),
        "{e}"
    );
}
