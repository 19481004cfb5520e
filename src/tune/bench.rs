//! Running llama-bench: finding the binary, one measured configuration per call.
//!
//! [`BenchRunner`] is the seam between the search and the machine: the search hands it a
//! [`BenchConfig`] and gets a [`RunOutcome`] (speeds, or a failure with the engine's last
//! stderr lines, plus the wall time spent). [`LlamaBench`] runs the real binary with
//! `-o json`, repetitions and llama-bench's own warm-up; unit tests use fakes with a known
//! response surface. A crash, a kill (the out-of-memory killer sends SIGKILL) or a timeout
//! is a failed run, never an error that stops the search. Nothing here decides what to
//! measure next.

use crate::engine::{bench_args, BenchOptions, EngineKind};
use crate::error::{chain_text, user_error, Context, Error, Result};
use crate::plan::Settings;
use crate::tune::config::BenchConfig;
use crate::units::TokensPerSec;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Name of the benchmark binary in both engines' builds.
pub const LLAMA_BENCH: &str = "llama-bench";

/// Mean and standard deviation of one speed over the repetitions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeedStat {
    pub mean: TokensPerSec,
    pub stddev: f64,
}

/// What a successful run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Generation speed (llama-bench `-n` test).
    pub tg: SpeedStat,
    /// Prompt-processing speed (llama-bench `-p` test).
    pub pp: SpeedStat,
}

/// One run's result: speeds, or why it failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RunResult {
    Ok(Measurement),
    Failed {
        /// One line: exit status, signal or timeout, with the engine's reason when known.
        error: String,
        /// The engine's last stderr lines.
        stderr_tail: Vec<String>,
    },
}

/// A run's result and the wall time it cost (the search's budget is spent in these).
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    pub result: RunResult,
    pub elapsed: Duration,
}

impl RunOutcome {
    pub fn measurement(&self) -> Option<&Measurement> {
        match &self.result {
            RunResult::Ok(m) => Some(m),
            RunResult::Failed { .. } => None,
        }
    }
}

/// Measures one configuration. Implementations must not panic on a failed run.
pub trait BenchRunner {
    fn run(&mut self, config: &BenchConfig) -> RunOutcome;
    /// The engine build being measured (`0.5.0-dev (build 1, commit 0c1e570)`), for the history.
    fn engine_build(&self) -> String;
}

/// Where to look for llama-bench, in order.
#[derive(Clone, Debug, Default)]
pub struct BenchSearchPath {
    /// `--engine-bin DIR`: when given, it is the only place looked at.
    pub engine_bin: Option<PathBuf>,
    /// Directories `rigplan build` installs into and the test engine cache
    /// (`RIGPLAN_LLAMA_BIN`), checked before PATH.
    pub install_dirs: Vec<PathBuf>,
    /// The PATH variable.
    pub path: Option<OsString>,
}

impl BenchSearchPath {
    /// The usual places: `RIGPLAN_LLAMA_BIN`, the prefix `rigplan build` installs into
    /// under the user's data directory (`engine::EngineInfo::install_dir_name`,
    /// as `export` finds llama-server), then PATH.
    pub fn from_env(engine_bin: Option<PathBuf>, engine: EngineKind) -> BenchSearchPath {
        let mut install_dirs = Vec::new();
        if let Some(dir) = std::env::var_os("RIGPLAN_LLAMA_BIN") {
            install_dirs.push(PathBuf::from(dir));
        }
        if let Some(data) = dirs::data_dir() {
            install_dirs.push(
                data.join(crate::engine::info(engine).install_dir_name())
                    .join("bin"),
            );
        }
        BenchSearchPath {
            engine_bin,
            install_dirs,
            path: std::env::var_os("PATH"),
        }
    }

    /// Finds llama-bench. A `--engine-bin` without it is bad input (exit 2); nothing found
    /// anywhere cannot be satisfied here (exit 1) and says where it looked.
    pub fn locate(&self) -> Result<PathBuf> {
        if let Some(dir) = &self.engine_bin {
            let candidate = dir.join(LLAMA_BENCH);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            return Err(user_error(format!(
                "--engine-bin '{}': no executable '{LLAMA_BENCH}' in it",
                dir.display()
            )));
        }
        let mut looked: Vec<String> = Vec::new();
        for dir in &self.install_dirs {
            let candidate = dir.join(LLAMA_BENCH);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            looked.push(dir.display().to_string());
        }
        if let Some(path) = &self.path {
            for dir in std::env::split_paths(path) {
                let candidate = dir.join(LLAMA_BENCH);
                if is_executable(&candidate) {
                    return Ok(candidate);
                }
            }
            looked.push("PATH".into());
        }
        Err(Error::Unsatisfiable(format!(
            "'{LLAMA_BENCH}' not found (looked in {}); build the engine with 'rigplan build' or pass --engine-bin DIR",
            looked.join(", ")
        )))
    }
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The real llama-bench, one process per configuration.
#[derive(Clone, Debug)]
pub struct LlamaBench {
    pub binary: PathBuf,
    pub engine: EngineKind,
    /// The plan's settings; each configuration is written over a copy of them.
    pub base: Settings,
    pub model: PathBuf,
    /// Prompt tokens for the pp test (`-p`).
    pub n_prompt: u32,
    /// Generated tokens for the tg test (`-n`).
    pub n_gen: u32,
    /// Repetitions per test (`-r`); llama-bench also runs one warm-up of each first.
    pub repetitions: u32,
    /// A run longer than this is killed and recorded as failed.
    pub timeout: Duration,
    build: String,
}

/// How many stderr lines a failed run keeps.
const STDERR_TAIL_LINES: usize = 6;

impl LlamaBench {
    /// Prepares a runner; asks the binary for its build (`--version`) once.
    pub fn new(
        binary: PathBuf,
        engine: EngineKind,
        base: Settings,
        model: PathBuf,
        run: RunShape,
    ) -> LlamaBench {
        let build = Command::new(&binary)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .ok()
            .map(|o| {
                let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&o.stderr));
                parse_version(&text)
            })
            .unwrap_or_else(|| "unknown".into());
        LlamaBench {
            binary,
            engine,
            base,
            model,
            n_prompt: run.n_prompt,
            n_gen: run.n_gen,
            repetitions: run.repetitions,
            timeout: run.timeout,
            build,
        }
    }

    /// The full argv (without the program) for one configuration, written by the engine
    /// module's `bench_args` so each engine gets its own spelling (mainline `-fa on -lm`,
    /// ik `-fa 1 -mmp`).
    pub fn args(&self, config: &BenchConfig) -> Vec<OsString> {
        let settings = config.apply_to(&self.base);
        let opts = BenchOptions {
            n_prompt: self.n_prompt,
            n_gen: self.n_gen,
            repetitions: self.repetitions.max(1),
            output: "json".into(),
        };
        bench_args(self.engine, &settings, &self.model.to_string_lossy(), &opts)
            .into_iter()
            .map(OsString::from)
            .collect()
    }
}

/// How long each llama-bench run is: tokens, repetitions, time limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunShape {
    pub n_prompt: u32,
    pub n_gen: u32,
    pub repetitions: u32,
    pub timeout: Duration,
}

/// The text after `version:` in `--version` output (the pinned engine prints
/// `version: 0.5.0-dev (build 1, commit 0c1e570)`).
fn parse_version(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("version:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

impl BenchRunner for LlamaBench {
    fn run(&mut self, config: &BenchConfig) -> RunOutcome {
        let start = Instant::now();
        let result = match run_with_timeout(&self.binary, &self.args(config), self.timeout) {
            Ok(done) => interpret(done, self.timeout),
            Err(e) => RunResult::Failed {
                error: format!(
                    "could not start '{}': {}",
                    self.binary.display(),
                    chain_text(&e)
                ),
                stderr_tail: vec![],
            },
        };
        RunOutcome {
            result,
            elapsed: start.elapsed(),
        }
    }

    fn engine_build(&self) -> String {
        self.build.clone()
    }
}

/// What a finished (or killed) process left behind.
struct Finished {
    status: Option<std::process::ExitStatus>,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

fn run_with_timeout(bin: &Path, args: &[OsString], timeout: Duration) -> Result<Finished> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawning '{}'", bin.display()))?;
    // Drain both pipes on their own threads so a chatty engine never blocks on a full pipe.
    let out_reader = child.stdout.take().map(spawn_reader);
    let err_reader = child.stderr.take().map(spawn_reader);
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                // The process may exit between try_wait and kill; either way we reap it.
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e).context("waiting for llama-bench"),
        }
    };
    let stdout = out_reader.map(join_reader).unwrap_or_default();
    let stderr = err_reader.map(join_reader).unwrap_or_default();
    Ok(Finished {
        status,
        timed_out,
        stdout,
        stderr,
    })
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn join_reader(h: std::thread::JoinHandle<String>) -> String {
    h.join().unwrap_or_default()
}

fn stderr_tail(stderr: &str) -> Vec<String> {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines.len().saturating_sub(STDERR_TAIL_LINES);
    lines[from..].iter().map(|l| l.to_string()).collect()
}

/// Words llama.cpp/ggml print when an allocation fails (ggml-backend.cpp
/// "failed to allocate", llama-context "failed to allocate compute buffers", C++ bad_alloc).
fn looks_like_oom(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("out of memory")
        || s.contains("failed to allocate")
        || s.contains("bad_alloc")
        || s.contains("cannot allocate memory")
}

fn interpret(done: Finished, timeout: Duration) -> RunResult {
    let tail = stderr_tail(&done.stderr);
    if done.timed_out {
        return RunResult::Failed {
            error: format!("timed out after {}s and was killed", timeout.as_secs()),
            stderr_tail: tail,
        };
    }
    let oom = looks_like_oom(&done.stderr);
    if let Some(status) = done.status {
        if !status.success() {
            let how = describe_status(status);
            let error = match (oom, tail.last()) {
                (true, _) => format!("{how}: out of memory"),
                (false, Some(last)) => format!("{how}: {}", last.trim()),
                (false, None) => how,
            };
            return RunResult::Failed {
                error,
                stderr_tail: tail,
            };
        }
    }
    match parse_bench_json(&done.stdout) {
        Ok(m) => RunResult::Ok(m),
        Err(e) => RunResult::Failed {
            error: chain_text(&e),
            stderr_tail: tail,
        },
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return match sig {
                // SIGKILL from outside is almost always the kernel's OOM killer.
                9 => "killed by SIGKILL (the out-of-memory killer?)".into(),
                6 => "aborted (SIGABRT)".into(),
                11 => "crashed (SIGSEGV)".into(),
                other => format!("killed by signal {other}"),
            };
        }
    }
    match status.code() {
        Some(c) => format!("exited with status {c}"),
        None => "ended abnormally".into(),
    }
}

/// One record of llama-bench's `-o json` array (tools/llama-bench/llama-bench.cpp
/// `json_printer`, fields from `test::get_fields`).
#[derive(Debug, Deserialize)]
struct BenchRecord {
    n_prompt: u64,
    n_gen: u64,
    avg_ts: f64,
    stddev_ts: f64,
}

/// Reads tg and pp speeds from llama-bench's JSON output.
pub fn parse_bench_json(stdout: &str) -> Result<Measurement> {
    let start = stdout
        .find('[')
        .ok_or_else(|| Error::failed("llama-bench printed no JSON result"))?;
    let records: Vec<BenchRecord> = serde_json::from_str(stdout[start..].trim_end())
        .context("llama-bench JSON output is malformed")?;
    let stat = |r: &BenchRecord| SpeedStat {
        mean: TokensPerSec(r.avg_ts),
        stddev: r.stddev_ts,
    };
    let tg = records
        .iter()
        .find(|r| r.n_gen > 0 && r.n_prompt == 0)
        .map(stat)
        .ok_or_else(|| Error::failed("llama-bench printed no tg result"))?;
    let pp = records
        .iter()
        .find(|r| r.n_prompt > 0 && r.n_gen == 0)
        .map(stat)
        .ok_or_else(|| Error::failed("llama-bench printed no pp result"))?;
    if !(tg.mean.0.is_finite() && tg.mean.0 > 0.0) {
        return Err(Error::failed(format!(
            "llama-bench reported a tg speed of {}",
            tg.mean.0
        )));
    }
    Ok(Measurement { tg, pp })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Trimmed from a real `llama-bench -o json -p 32 -n 16 -r 2` run of the pinned engine.
    const SAMPLE: &str = r#"[
  {
    "build_commit": "abc1234",
    "build_number": 1,
    "n_batch": 2048,
    "n_prompt": 32,
    "n_gen": 0,
    "n_depth": 0,
    "avg_ns": 1000,
    "stddev_ns": 10,
    "avg_ts": 812.5,
    "stddev_ts": 4.25,
    "samples_ns": [ 1, 2 ],
    "samples_ts": [ 810.0, 815.0 ]
  },
  {
    "build_commit": "abc1234",
    "build_number": 1,
    "n_prompt": 0,
    "n_gen": 16,
    "n_depth": 0,
    "avg_ts": 95.5,
    "stddev_ts": 1.5,
    "samples_ns": [ 1, 2 ],
    "samples_ts": [ 94.0, 97.0 ]
  }
]
"#;

    #[test]
    fn parses_tg_and_pp_from_json() {
        let m = parse_bench_json(SAMPLE).unwrap();
        assert_eq!(m.tg.mean, TokensPerSec(95.5));
        assert_eq!(m.tg.stddev, 1.5);
        assert_eq!(m.pp.mean, TokensPerSec(812.5));
    }

    #[test]
    fn missing_tg_or_garbage_is_an_error_not_a_panic() {
        assert!(parse_bench_json("").is_err());
        assert!(parse_bench_json("[ {").is_err());
        assert!(parse_bench_json("[]").is_err());
    }

    #[test]
    fn version_line_becomes_build_label() {
        assert_eq!(
            parse_version("version: 0.5.0-dev (build 1, commit 0c1e570)\nbuilt with GNU\n"),
            "0.5.0-dev (build 1, commit 0c1e570)"
        );
        assert_eq!(parse_version("nothing"), "unknown");
    }

    #[test]
    fn locate_reports_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let sp = BenchSearchPath {
            engine_bin: None,
            install_dirs: vec![dir.path().to_path_buf()],
            path: Some(OsString::from("")),
        };
        let e = sp.locate().unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(format!("{e}").contains("not found"));
        let sp = BenchSearchPath {
            engine_bin: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let e = sp.locate().unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn stderr_tail_keeps_last_nonempty_lines() {
        let text = (0..10).map(|i| format!("line {i}\n\n")).collect::<String>();
        let t = stderr_tail(&text);
        assert_eq!(t.len(), STDERR_TAIL_LINES);
        assert_eq!(t.last().map(String::as_str), Some("line 9"));
    }
}
