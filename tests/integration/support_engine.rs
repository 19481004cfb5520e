//! The one way the tests find the pinned engines (`llama.cpp` and `ik_llama.cpp`): each
//! engine's bin dir and source tree come from an environment variable when it is set
//! (`RIGPLAN_LLAMA_BIN`, `RIGPLAN_LLAMA_SRC`, `RIGPLAN_IK_LLAMA_BIN`, `RIGPLAN_IK_SRC`;
//! `scripts/test.sh` sets all four), else from `scripts/ensure-engine.sh ENGINE
//! [--source-only]`, which builds or fetches the engine into the user cache the first
//! time and prints its path. An engine that cannot be had is a failed test, never a
//! skipped one: every function here panics, saying what to run, rather than return
//! "absent". Shared by `tests/integration` and `benches/tune_benchmark.rs` (which
//! includes this file by path).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A pinned engine as `scripts/ensure-engine.sh` knows it.
struct Pinned {
    /// The script's engine argument.
    name: &'static str,
    bin_var: &'static str,
    src_var: &'static str,
    /// What the script builds; an overriding bin dir must hold them too.
    bins: &'static [&'static str],
    /// A file every source tree of this engine has.
    src_marker: &'static str,
}

const LLAMA_CPP: Pinned = Pinned {
    name: "llama.cpp",
    bin_var: "RIGPLAN_LLAMA_BIN",
    src_var: "RIGPLAN_LLAMA_SRC",
    bins: &[
        "llama-server",
        "llama-bench",
        "llama-cli",
        "llama-fit-params",
        "llama-quantize",
        // Built with GGML_RPC=ON: the multi-host end-to-end test starts workers from it.
        "ggml-rpc-server",
    ],
    src_marker: "CMakeLists.txt",
};

const IK_LLAMA_CPP: Pinned = Pinned {
    name: "ik_llama.cpp",
    bin_var: "RIGPLAN_IK_LLAMA_BIN",
    src_var: "RIGPLAN_IK_SRC",
    bins: &["llama-server", "llama-bench"],
    src_marker: "common/common.cpp",
};

/// The pinned mainline llama.cpp's bin dir (llama-server, llama-bench, llama-cli,
/// llama-fit-params, llama-quantize, ggml-rpc-server).
pub fn llama_bin() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| bin_dir(&LLAMA_CPP)).clone()
}

/// The pinned mainline llama.cpp's source tree (`…/vendor/llama.cpp` of its sdist).
pub fn llama_source() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| source_tree(&LLAMA_CPP)).clone()
}

/// The pinned ik_llama.cpp's bin dir (llama-server, llama-bench).
pub fn ik_llama_bin() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| bin_dir(&IK_LLAMA_CPP)).clone()
}

/// The pinned ik_llama.cpp's source tree (`…/vendor/ik_llama.cpp` of its sdist).
pub fn ik_source() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| source_tree(&IK_LLAMA_CPP)).clone()
}

fn bin_dir(e: &Pinned) -> PathBuf {
    let dir = from_env(e.bin_var).unwrap_or_else(|| ensure_engine(e, false));
    let missing: Vec<_> = e.bins.iter().filter(|b| !dir.join(b).is_file()).collect();
    assert!(
        missing.is_empty(),
        "{}: no {missing:?} in '{}' (from {}); run scripts/ensure-engine.sh {} or point {} at a build",
        e.name,
        dir.display(),
        source_of(e.bin_var),
        e.name,
        e.bin_var,
    );
    dir
}

fn source_tree(e: &Pinned) -> PathBuf {
    let dir = from_env(e.src_var).unwrap_or_else(|| ensure_engine(e, true));
    assert!(
        dir.join(e.src_marker).is_file(),
        "{}: '{}' (from {}) holds no {} source tree (no {})",
        e.name,
        dir.display(),
        source_of(e.src_var),
        e.name,
        e.src_marker,
    );
    dir
}

fn from_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn source_of(var: &str) -> String {
    if from_env(var).is_some() {
        var.to_string()
    } else {
        "scripts/ensure-engine.sh".to_string()
    }
}

/// Runs `scripts/ensure-engine.sh ENGINE [--source-only]` and returns the path it prints
/// (its last line on stdout); panics with the script's stderr when it fails.
fn ensure_engine(e: &Pinned, source_only: bool) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-engine.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(e.name);
    if source_only {
        cmd.arg("--source-only");
    }
    eprintln!(
        "support_engine: {} not set, running {cmd:?} (minutes the first time)",
        if source_only { e.src_var } else { e.bin_var }
    );
    let out = cmd
        .output()
        .unwrap_or_else(|err| panic!("running {}: {err}", script.display()));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}); the tests need the pinned {}:\n{}",
        out.status,
        e.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_else(|| panic!("{cmd:?} printed no path"));
    PathBuf::from(path)
}
