//! Measuring speculative decoding with the real `llama-server` (llama-bench does not run
//! it): start the server with the plan's argv on a loopback port, send one fixed prompt
//! through `/completion`, read its timings (`predicted_per_second`, `draft_n`,
//! `draft_n_accepted`: mainline tools/server/server-common.cpp, ik
//! examples/server/server-task.cpp), stop the server.
//!
//! Every wait is bounded (`timeout`), the server is killed when the measurement ends or
//! fails, and a failure is a result, not a panic. [`compare_draft_lengths`] runs the same
//! prompt with speculation off and at each draft length so `tune` can compare them on
//! this machine. Nothing here decides which k a plan uses.

use crate::engine::{launch_args, EngineKind, ServerOptions};
use crate::error::{user_error, Result};
use crate::plan::{Settings, SpeculativeKind};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fixed prompt: text with repeats, so drafters and n-gram lookup have something to find.
pub const PROMPT: &str = "Write a Python function that returns the n-th Fibonacci number, \
then the same function with memoization, then a test for both.";

/// One measured `/completion`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerRun {
    /// `draft_max` of the settings measured (0: speculation off).
    pub draft_max: u32,
    pub tg_tokens_per_s: f64,
    pub predicted: u64,
    pub draft_n: u64,
    pub draft_n_accepted: u64,
}

impl ServerRun {
    /// Accepted / drafted tokens (llama.cpp's "draft acceptance rate"), when any were drafted.
    pub fn acceptance(&self) -> Option<f64> {
        (self.draft_n > 0).then(|| self.draft_n_accepted as f64 / self.draft_n as f64)
    }
}

/// How to run `llama-server` for a measurement.
#[derive(Clone, Debug)]
pub struct ServerBench {
    /// The `llama-server` binary.
    pub binary: PathBuf,
    pub engine: EngineKind,
    pub model: String,
    pub n_predict: u32,
    /// Bound on the start, and on the completion, each.
    pub timeout: Duration,
}

/// Kills the server when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_loopback_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| user_error(format!("no free loopback port: {e}")))
}

impl ServerBench {
    /// Starts the server with `settings`, runs the prompt once, stops it.
    pub fn measure(&self, settings: &Settings) -> Result<ServerRun> {
        let port = free_loopback_port()?;
        let server = ServerOptions {
            host: "127.0.0.1".into(),
            port,
            api_key_file: None,
            alias: None,
        };
        let args = launch_args(self.engine, settings, &self.model, Some(&server));
        let child = Command::new(&self.binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| user_error(format!("starting '{}': {e}", self.binary.display())))?;
        let mut running = Running(child);
        self.wait_healthy(&mut running, port)?;
        let body = serde_json::json!({
            "prompt": PROMPT,
            "n_predict": self.n_predict,
            "temperature": 0,
            "cache_prompt": false,
        });
        let text = ureq::post(&format!("http://127.0.0.1:{port}/completion"))
            .timeout(self.timeout)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string())
            .map_err(|e| user_error(format!("/completion: {e}")))?
            .into_string()
            .map_err(|e| user_error(format!("/completion reply: {e}")))?;
        let reply: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| user_error(format!("/completion reply: {e}")))?;
        let t = &reply["timings"];
        Ok(ServerRun {
            draft_max: match settings.speculative.kind {
                SpeculativeKind::None => 0,
                _ => settings.speculative.draft_max,
            },
            tg_tokens_per_s: t["predicted_per_second"].as_f64().unwrap_or(0.0),
            predicted: t["predicted_n"].as_u64().unwrap_or(0),
            draft_n: t["draft_n"].as_u64().unwrap_or(0),
            draft_n_accepted: t["draft_n_accepted"].as_u64().unwrap_or(0),
        })
    }

    fn wait_healthy(&self, running: &mut Running, port: u16) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        let url = format!("http://127.0.0.1:{port}/health");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = running.0.try_wait() {
                return Err(user_error(format!(
                    "'{}' exited before it was ready ({status})",
                    self.binary.display()
                )));
            }
            let ok = ureq::get(&url)
                .timeout(Duration::from_secs(2))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ok {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(user_error(format!(
            "'{}' was not ready within {:?}",
            self.binary.display(),
            self.timeout
        )))
    }
}

/// The same prompt with speculation off (`draft_max` 0) and at each draft length of
/// `ks`, the plan's speculative kind and draft model kept; each run or its failure.
pub fn compare_draft_lengths(
    bench: &ServerBench,
    base: &Settings,
    ks: &[u32],
) -> Vec<(u32, Result<ServerRun>)> {
    let mut off = base.clone();
    off.speculative = Default::default();
    let mut out = vec![(0, bench.measure(&off))];
    if base.speculative.kind == SpeculativeKind::None {
        return out;
    }
    for &k in ks {
        let mut s = base.clone();
        s.speculative.draft_max = k;
        out.push((k, bench.measure(&s)));
    }
    out
}
