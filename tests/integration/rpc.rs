//! Multi-host end to end on one machine: two `rpc-server` workers on 127.0.0.1 started
//! from the scripts `rigplan plan --worker ... --write-workers` writes, the main
//! llama-server from `rigplan export --plan` of that plan (with `--rpc`), tokens from
//! /completion, and the engine's own per-device buffer sizes for the RPC devices
//! against the plan (weights and KV within 1%).
//!
//! Builds nothing: the pinned mainline bin dir (`RIGPLAN_LLAMA_BIN`, built with
//! GGML_RPC by scripts/ensure-engine.sh) has `ggml-rpc-server`. Loopback only; every
//! wait is bounded and every process is killed when the test ends.

use crate::support::{rigplan, run_json};
use crate::support_engine::{llama_bin, llama_source};
use crate::support_gen::*;
use std::path::Path;
use std::process::Command;

const MIB: f64 = 1024.0 * 1024.0;

/// A CPU-only snapshot from a preset with the RAM bandwidth replaced: the workers read
/// fast and the main host slowly, so the plan puts the layers on the workers.
fn snapshot(path: &Path, bandwidth_gbs: f64, name: &str) {
    let mut s = rigplan::hardware::presets::get("xeon-e5-2620v4-cpu")
        .unwrap()
        .unwrap();
    s.gpus.clear();
    s.memory.theoretical_bandwidth_gbs = Some(bandwidth_gbs);
    s.memory.measured_bandwidth_gbs = None;
    s.source = name.to_string();
    let text = rigplan::hardware::snapshot_file::to_string(
        &s,
        rigplan::hardware::snapshot_file::SnapshotFormat::Toml,
    )
    .unwrap();
    std::fs::write(path, text).unwrap();
}

/// The `%8.2f MiB` value of the first log line naming `buffer` and `what`
/// (`model buffer size`, `KV buffer size`: src/llama-model.cpp, src/llama-kv-cache.cpp).
fn logged_mib(log: &str, buffer: &str, what: &str) -> f64 {
    crate::support::logged_mib(log, &[buffer, what])
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no '{what}' line for {buffer} in the server log:\n{log}"))
}

fn close(plan_bytes: u64, engine_mib: f64, what: &str) {
    let plan_mib = plan_bytes as f64 / MIB;
    let err = (plan_mib - engine_mib).abs() / engine_mib.max(1e-9);
    eprintln!("{what}: plan {plan_mib:.2} MiB, engine {engine_mib:.2} MiB");
    assert!(
        err <= 0.01,
        "{what}: plan {plan_mib:.2} MiB, engine {engine_mib:.2} MiB ({:.2}% off)",
        err * 100.0
    );
}

#[test]
fn two_rpc_workers_serve_the_planned_layers() {
    let bin = llama_bin();
    let rpc_server = bin.join("ggml-rpc-server");
    assert!(
        rpc_server.is_file(),
        "{} is missing: scripts/ensure-engine.sh llama.cpp builds it",
        rpc_server.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // 1. A model with tensors large enough that the engine's two-decimal MiB figures
    //    resolve 1%: n_embd 1024, 4 layers, n_ff 2048 (about 285 MB of F32).
    let model = dir.join("rpc-llama.gguf");
    let vocab = llama_source().join("models/ggml-vocab-llama-spm.gguf");
    write_llama(&model, &vocab, (1024, 4, 16, 2048));
    snapshot(&dir.join("main.toml"), 5.0, "main");
    snapshot(&dir.join("worker.toml"), 2000.0, "worker");

    // 2. The plan with two workers on loopback, their scripts and the cluster file.
    let (p1, p2) = (free_port(), free_port());
    let workers_dir = dir.join("workers");
    // `plan MODEL` on the main host's snapshot, one slot of 2048 tokens.
    let plan_main = || {
        let mut c = rigplan();
        c.current_dir(dir).arg("plan").arg(&model).args([
            "--hardware",
            "main.toml",
            "--ctx",
            "2048",
            "--parallel",
            "1",
        ]);
        c
    };
    let plan: serde_json::Value = run_json(
        plan_main()
            .args(["--worker", &format!("w1=worker.toml@127.0.0.1:{p1}")])
            .args(["--worker", &format!("w2=worker.toml@127.0.0.1:{p2}")])
            .args([
                "--link",
                "100,20",
                "--format",
                "json",
                "--save",
                "plan.toml",
            ])
            .args(["--save-cluster", "cluster.toml", "--write-workers"])
            .arg(&workers_dir)
            .arg("--rpc-server-bin")
            .arg(&rpc_server),
    );
    assert_eq!(plan["cluster"]["uses_workers"], true, "{}", plan["reasons"]);
    let args: Vec<&str> = plan["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let rpc = format!("127.0.0.1:{p1},127.0.0.1:{p2}");
    assert!(
        args.windows(2).any(|w| w == ["--rpc", rpc.as_str()]),
        "{args:?}"
    );
    let rows = plan["memory"]["devices"].as_array().unwrap();
    let row = |host: &str| {
        rows.iter()
            .find(|r| r["host"] == host)
            .unwrap_or_else(|| panic!("no memory row for {host}: {rows:?}"))
    };
    assert!(row("w1")["weights_bytes"].as_u64().unwrap() > 0);
    // The saved cluster file plans the same.
    let again: serde_json::Value =
        run_json(plan_main().args(["--cluster", "cluster.toml", "--format", "json"]));
    assert_eq!(again["memory"], plan["memory"]);

    // 3. The workers, from their generated scripts.
    let mut servers = Vec::new();
    for (name, port) in [("w1", p1), ("w2", p2)] {
        let script = workers_dir.join(format!("{name}.rpc-server.sh"));
        let sc = Command::new("shellcheck").arg(&script).output().unwrap();
        assert!(
            sc.status.success(),
            "shellcheck {name}:\n{}",
            String::from_utf8_lossy(&sc.stdout)
        );
        let unit = std::fs::read_to_string(workers_dir.join(format!("rigplan-rpc-{name}.service")))
            .unwrap();
        assert!(
            unit.contains("IPAddressAllow=127.0.0.1\nIPAddressDeny=any"),
            "{unit}"
        );
        let v = Command::new("systemd-analyze")
            .arg("verify")
            .arg(workers_dir.join(format!("rigplan-rpc-{name}.service")))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&v.stderr);
        assert!(
            v.status.success(),
            "systemd-analyze verify {name}:\n{err}\n{unit}"
        );
        for bad in [
            "Unknown key",
            "Unknown section",
            "Invalid",
            "Failed to parse",
            "ignoring",
        ] {
            assert!(!err.contains(bad), "systemd-analyze {name}: {err}\n{unit}");
        }
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .env("RPC_SERVER", &rpc_server)
            .env("LLAMA_CACHE", dir.join(format!("{name}-cache")));
        servers.push(spawn_logged(&mut cmd, &log));
        wait_listening(port, 30, &log);
    }

    // 4. The main llama-server from the plan, with --rpc.
    let port = free_port();
    let launch = dir.join("main.sh");
    let out = rigplan()
        .args(["export", "--as", "script", "--plan"])
        .arg(dir.join("plan.toml"))
        .arg("--engine-bin")
        .arg(&bin)
        .args(["--port", &port.to_string(), "--out"])
        .arg(&launch)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = dir.join("main.log");
    // Verbosity 4 makes the server print the library's buffer sizes (common/arg.cpp
    // `-lv`, env LLAMA_ARG_LOG_VERBOSITY); the generated script passes the env through.
    let mut cmd = Command::new("bash");
    cmd.arg(&launch).env("LLAMA_ARG_LOG_VERBOSITY", "4");
    let mut main = spawn_logged(&mut cmd, &log);
    wait_healthy_logged(&mut main, port, 120, Some(&log));
    let r = post_json(
        port,
        "/completion",
        serde_json::json!({"prompt": "Hello", "n_predict": 8, "temperature": 0}),
    );
    assert!(r["tokens_predicted"].as_u64().unwrap_or(0) > 0, "{r}");
    drop(main);
    drop(servers);

    // 5. The engine's buffers on each RPC device against the plan.
    let text = std::fs::read_to_string(&log).unwrap();
    for (name, port) in [("w1", p1), ("w2", p2)] {
        let buffer = format!("127.0.0.1:{port}]");
        let r = row(name);
        close(
            r["weights_bytes"].as_u64().unwrap(),
            logged_mib(&text, &buffer, "model buffer size"),
            &format!("{name} weights"),
        );
        close(
            r["kv_bytes"].as_u64().unwrap(),
            logged_mib(&text, &buffer, "KV buffer size"),
            &format!("{name} KV"),
        );
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port`, or panics after
/// `secs` with the log.
fn wait_listening(port: u16, secs: u64, log: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "rpc-server on {port} not listening after {secs} s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A malformed worker, link or cluster is exit 2 with one line naming it.
#[test]
fn bad_cluster_input_is_named_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_file = tmp.path().join("bad-cluster.toml");
    std::fs::write(
        &bad_file,
        "[[worker]]\nname = \"b\"\nhardware = \"desktop-3090\"\naddress = \"10.0.0.2\"\n",
    )
    .unwrap();
    let bad_file = bad_file.to_str().unwrap().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--worker", "box2=desktop-3090@10.0.0.2"], "no ':PORT'"),
        (
            &["--worker", "box2=missing.toml@10.0.0.2:50052"],
            "'missing.toml' is neither",
        ),
        (
            &["--worker", "box2=no-such-rig@10.0.0.2:50052"],
            "'no-such-rig' is neither",
        ),
        (&["--worker", "box2=desktop-3090@10.0.0.2:0"], "port '0'"),
        (
            &["--worker", "b=desktop-3090@10.0.0.2:1", "--link", "fast"],
            "--link 'fast'",
        ),
        (&["--link", "10gbe"], "need at least one --worker"),
        (&["--cluster", &bad_file], "missing field `port`"),
        (
            &[
                "--worker",
                "b=desktop-3090@10.0.0.2:1",
                "--engine",
                "ik_llama.cpp",
            ],
            "llama.cpp only",
        ),
        (
            &[
                "--worker",
                "b=desktop-3090@10.0.0.2:1",
                "--split-mode",
                "tensor",
            ],
            "layer split across hosts",
        ),
    ];
    for (args, want) in cases {
        let out = rigplan()
            .args(["plan", "llama-3.1-8b:Q4_K_M", "--hardware", "desktop-3090"])
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(want) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

/// `compare --hardware A --hardware A --worker ...`: the second row is A with the worker,
/// and says whether it pays.
#[test]
fn compare_shows_whether_the_second_machine_pays() {
    let r: serde_json::Value = run_json(
        rigplan()
            .args([
                "compare",
                "llama-3.3-70b:Q4_K_M",
                "--hardware",
                "desktop-3090",
            ])
            .args([
                "--hardware",
                "desktop-3090",
                "--worker",
                "box2=desktop-3090@10.0.0.2:50052",
            ])
            .args(["--link", "10gbe", "--format", "json"]),
    );
    let m = r["machines"].as_array().unwrap();
    assert_eq!(m[1]["machine"], "desktop-3090 + box2");
    let tg = |i: usize| m[i]["plan"]["tg_tokens_per_s"].as_f64().unwrap();
    assert!(tg(1) > tg(0), "{r}");
    assert!(
        m[1]["plan"]["placement"]
            .as_str()
            .unwrap()
            .contains("box2 via RPC"),
        "{r}"
    );
}
