//! End to end: the generated build script builds the pinned llama.cpp (CPU) from its
//! PyPI source, the generated launch script starts it on a tiny random-weight model,
//! and the server answers /health and /completion with tokens.
//!
//! The build goes to the build directory of the tests' pinned engine: scripts/ensure-engine.sh
//! builds mainline with this same generated script (`rigplan build --no-gpu --rpc`), so
//! here cmake re-configures with identical options and finds nothing to compile, and
//! the engine is compiled once per machine.

use crate::support_engine::{llama_bin, llama_source};
use crate::support_gen::*;
use std::process::Command;

#[test]
fn generated_build_and_launch_script_serve_completions() {
    let src = llama_source();
    let tmp = tempfile::tempdir().unwrap();
    // `<engine root>/build/bin`, as scripts/ensure-engine.sh lays it out.
    let build_dir = llama_bin().parent().unwrap().to_path_buf();
    let engine_root = build_dir.parent().unwrap().to_path_buf();

    // 1. rigplan build for this machine (detected, so GGML_NATIVE=ON; --no-gpu keeps it a
    //    CPU build wherever CI runs), from the sdist tree, into the cached prefix.
    let build_sh = tmp.path().join("build.sh");
    let prefix = tmp.path().join("prefix");
    let out = rigplan()
        .args(["build", "--no-gpu", "--rpc", "--source"])
        .arg(&src)
        .arg("--prefix")
        .arg(&prefix)
        .arg("--out")
        .arg(&build_sh)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rigplan build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sc = Command::new("shellcheck").arg(&build_sh).output().unwrap();
    assert!(
        sc.status.success(),
        "shellcheck build.sh:\n{}",
        String::from_utf8_lossy(&sc.stdout)
    );

    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    // flock: the lock scripts/ensure-engine.sh holds while it builds this directory.
    let status = Command::new("flock")
        .arg(engine_root.join(".lock"))
        .arg("bash")
        .arg(&build_sh)
        .env("BUILD_DIR", &build_dir)
        .env("JOBS", jobs.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "the generated build script failed");
    for t in [
        "llama-server",
        "llama-bench",
        "llama-cli",
        "llama-fit-params",
        "ggml-rpc-server",
    ] {
        assert!(prefix.join("bin").join(t).is_file(), "{t} not installed");
    }

    // 2. A tiny model and its plan.
    let model = tiny_model(tmp.path());
    let plan = plan_for(model.to_str().unwrap(), "tiny llama", settings_cpu());
    let plan_path = tmp.path().join("tiny.plan.toml");
    write_plan(&plan, &plan_path);

    // 3. export --as script, shellcheck it, run it.
    let port = free_port();
    let launch = tmp.path().join("launch.sh");
    let out = rigplan()
        .args(["export", "--as", "script", "--plan"])
        .arg(&plan_path)
        .arg("--engine-bin")
        .arg(prefix.join("bin"))
        .args(["--port", &port.to_string(), "--out"])
        .arg(&launch)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rigplan export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sc = Command::new("shellcheck").arg(&launch).output().unwrap();
    assert!(
        sc.status.success(),
        "shellcheck launch.sh:\n{}",
        String::from_utf8_lossy(&sc.stdout)
    );
    let text = std::fs::read_to_string(&launch).unwrap();
    assert!(
        text.trim_end().lines().any(|l| l.starts_with("exec ")),
        "{text}"
    );

    let mut server = Server(Command::new(&launch).spawn().unwrap());
    wait_healthy(&mut server, port, 120);
    let health = get_json(port, "/health");
    assert_eq!(health["status"], "ok", "{health}");
    let done = post_json(
        port,
        "/completion",
        serde_json::json!({"prompt": "Hello, my name is", "n_predict": 8, "temperature": 0}),
    );
    let predicted = done["tokens_predicted"].as_u64().unwrap_or(0);
    assert!(predicted > 0, "no tokens generated: {done}");
    // Stop it: the script exec'd the server, so this pid is llama-server itself.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}
