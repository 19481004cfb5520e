//! Helpers shared by every area's integration tests.

use assert_cmd::Command;

/// The `rigplan` binary under test.
pub fn rigplan() -> Command {
    Command::cargo_bin("rigplan").unwrap()
}

/// Runs a prepared `rigplan` command, asserts it succeeded (showing its stderr if not)
/// and parses its standard output as JSON (a `Value`, or any type it deserialises to).
pub fn run_json<T: serde::de::DeserializeOwned>(cmd: &mut Command) -> T {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "rigplan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
