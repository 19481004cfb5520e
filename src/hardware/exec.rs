//! Running small external tools (`gcc --version`, `nvcc --version`, `dmidecode -t 17`)
//! with a hard timeout, behind a trait so tests can answer with recorded output.
//!
//! Nothing here interprets output; callers parse it. A tool that is missing, fails or
//! overruns its timeout yields `None`; nothing here ever blocks past the timeout.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a program and returns its stdout (stderr appended), or `None`.
pub trait CommandRunner {
    fn run(&self, program: &Path, args: &[&str], timeout: Duration) -> Option<String>;
    /// Finds a program in PATH (or `None`).
    fn which(&self, name: &str) -> Option<PathBuf>;
}

/// The real thing: spawns processes.
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&self, program: &Path, args: &[&str], timeout: Duration) -> Option<String> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let mut out = String::new();
                    if let Some(mut s) = child.stdout.take() {
                        let _ = s.read_to_string(&mut out);
                    }
                    if let Some(mut s) = child.stderr.take() {
                        let _ = s.read_to_string(&mut out);
                    }
                    return status.success().then_some(out);
                }
                Ok(None) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }

    fn which(&self, name: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }
}

/// A runner that knows nothing: every tool is missing. Tests use it for recorded trees.
pub struct NoCommands;

impl CommandRunner for NoCommands {
    fn run(&self, _: &Path, _: &[&str], _: Duration) -> Option<String> {
        None
    }
    fn which(&self, _: &str) -> Option<PathBuf> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_command_is_cut_off_at_the_timeout() {
        let runner = SystemRunner;
        // coreutils' sleep is on every machine the suite runs on (scripts/test.sh).
        let sleep = runner.which("sleep").expect("sleep on PATH");
        let start = Instant::now();
        assert_eq!(runner.run(&sleep, &["5"], Duration::from_millis(100)), None);
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_missing_program_is_none() {
        assert_eq!(
            SystemRunner.run(Path::new("/nonexistent/tool"), &[], Duration::from_secs(1)),
            None
        );
    }
}
