//! Helpers shared by every area's integration tests.

use assert_cmd::Command;

/// Held by the tests whose assertions depend on measured speed and by the tests that load
/// every core (the cross-validation fits), so that a measurement never runs beside one of
/// them: on CI's two cores a `tune` run beside the cross-validation measured 133 tok/s
/// where it measures 743 alone, and its calibration then disagreed with itself.
pub fn cpu_exclusive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `rigplan` binary under test.
pub fn rigplan() -> Command {
    Command::cargo_bin("rigplan").unwrap()
}

/// Runs a prepared `rigplan` command, asserts it succeeded (showing its stderr if not)
/// and returns its standard output.
pub fn run_stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "rigplan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// [`run_stdout`], parsed as JSON (a `Value`, or any type it deserialises to).
pub fn run_json<T: serde::de::DeserializeOwned>(cmd: &mut Command) -> T {
    serde_json::from_str(&run_stdout(cmd)).unwrap()
}

/// The `%8.2f MiB` values of the server-log lines that contain every one of `labels`
/// (`model buffer size`, `KV buffer size`: src/llama-model.cpp, src/llama-kv-cache.cpp),
/// in log order.
pub fn logged_mib(log: &str, labels: &[&str]) -> Vec<f64> {
    log.lines()
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| {
            let v = l.split('=').nth(1)?.trim();
            v.strip_suffix("MiB")?.trim().parse::<f64>().ok()
        })
        .collect()
}
