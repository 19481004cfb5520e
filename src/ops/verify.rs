//! `plan --verify`, `export --verify`: the plan checked by the engine itself.
//!
//! Runs the pinned mainline `llama-fit-params` twice with the plan's own argv (the
//! exact `-m`, `-c`, `-ngl`, `-ctk/-ctv`, `-b/-ub`, `-sm/-ts`, `-ot` ... and the
//! environment that picks the devices, `CUDA_VISIBLE_DEVICES`): once with
//! `--fit-print on` for the engine's memory estimate per device (`common_fit_print`,
//! common/fit.cpp: "DEVICE model context compute" in MiB, then `Host`), once without,
//! where `common_fit_params` keeps options the user set and fails ("n_gpu_layers already
//! set by user ... abort", exit 1) when they leave less than its free-memory target on a
//! device: that failure is the engine saying the plan does not fit. Options the
//! fit-params parser does not know (server options such as `--host`, `-lm`) are left
//! out, and listed; they do not change memory.
//!
//! For a model whose architecture rigplan has no memory formula for, [`engine_fit`]
//! lets the engine fit the placement (`-ngl`, `-ts`) itself, with the plan's context and
//! cache kept; `plan --verify` then plans with those as pins and says so.
//!
//! The engine sees only the devices of the machine it runs on: rows of the plan for
//! devices this machine lacks have no engine figure, and the verdict is about this
//! machine. ik_llama.cpp has no llama-fit-params, so its plans cannot be verified.
//! Every wait is bounded ([`FIT_TIMEOUT`]).

use crate::engine::EngineKind;
use crate::error::{user_error, Error, Result};
use crate::plan::Plan;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The engine's tool that estimates and fits memory.
pub const FIT_PARAMS: &str = "llama-fit-params";
/// Asked of llama-fit-params so repacked CPU weights are counted (see [`verify`]).
const NO_REPACK: &str = "--no-repack";
/// Longest one llama-fit-params run may take (it reads only the header; seconds).
pub const FIT_TIMEOUT: Duration = Duration::from_secs(300);

/// One device: rigplan's figure beside the engine's, MiB.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceCheck {
    /// The engine's device name (`CUDA0`, `Host`), or the plan's when the engine has none.
    pub device: String,
    /// rigplan's weights + KV + compute (+ overhead) on the device, MiB.
    pub rigplan_mib: Option<u64>,
    /// The engine's model + context + compute, MiB (floored, as it prints).
    pub engine_mib: Option<u64>,
}

/// What the engine said about a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    pub fit_params: PathBuf,
    pub devices: Vec<DeviceCheck>,
    /// The engine's verdict: the plan fits this machine's free memory.
    pub fits: bool,
    /// The engine's reason when it does not fit (its failure line).
    pub reason: Option<String>,
    /// Plan options left out because llama-fit-params does not parse them.
    pub left_out: Vec<String>,
    /// The plan's speculative decoding (`draft`, `mtp`), whose second context rigplan
    /// counts and llama-fit-params does not load; `None` without one.
    pub speculative: Option<String>,
}

/// The engine's llama-fit-params (engine data: `targets.fit_params`), or the refusal
/// for an engine without one.
fn fit_params_name(engine: EngineKind) -> Result<&'static str> {
    let info = crate::engine::info(engine);
    info.targets.fit_params.ok_or_else(|| {
        user_error(format!(
            "--verify: {} has no {FIT_PARAMS}; only plans for an engine with one can be verified by the engine",
            info.kind.name()
        ))
    })
}

/// Where the plan's engine's llama-fit-params is: `engine_bin` when given (only there),
/// else `RIGPLAN_LLAMA_BIN`, the prefix `rigplan build` installs into, then PATH.
pub fn locate(plan: &Plan, engine_bin: Option<&Path>) -> Result<PathBuf> {
    let engine = crate::engine::of_plan(plan)?;
    let name = fit_params_name(engine)?;
    if let Some(dir) = engine_bin {
        let p = dir.join(name);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(user_error(format!(
                "--engine-bin '{}': no '{name}' in it",
                dir.display()
            )))
        };
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("RIGPLAN_LLAMA_BIN") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(data) = dirs::data_dir() {
        let info = crate::engine::info(engine);
        dirs.push(data.join(info.install_dir_name()).join("bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Unsatisfiable(format!(
                "--verify: '{name}' not found (RIGPLAN_LLAMA_BIN, the 'rigplan build' prefix, PATH); build the engine with 'rigplan build' or pass --engine-bin DIR"
            ))
        })
}

/// The option names llama-fit-params parses, from its `--help` (`-c`, `--ctx-size`...).
fn accepted_options(help: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in help.lines().filter(|l| l.starts_with('-')) {
        for word in line.split_whitespace() {
            let w = word.trim_end_matches(',');
            if !w.starts_with('-') {
                break;
            }
            names.push(w.to_string());
            if !word.ends_with(',') {
                break;
            }
        }
    }
    names
}

/// `args` without the options (and their values) not in `accepted`; the dropped options.
fn keep_accepted(args: &[String], accepted: &[String]) -> (Vec<String>, Vec<String>) {
    let is_option = |a: &str| a.starts_with('-') && a.parse::<f64>().is_err();
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    let mut keep = true;
    for a in args {
        if is_option(a) {
            keep = accepted.iter().any(|o| o == a);
            if !keep {
                dropped.push(a.clone());
            }
        }
        if keep {
            kept.push(a.clone());
        }
    }
    (kept, dropped)
}

/// A finished run: exit success, stdout, stderr.
struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(bin: &Path, args: &[String], env: &[(String, String)]) -> Result<Ran> {
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::failed(format!("starting '{}': {e}", bin.display())))?;
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > FIT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::failed(format!(
                    "'{}' ran past {} s; stopped",
                    bin.display(),
                    FIT_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return Err(Error::failed(format!(
                    "waiting for '{}': {e}",
                    bin.display()
                )))
            }
        }
    };
    Ok(Ran {
        ok: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// `DEVICE model context compute` rows of `common_fit_print`, totals in MiB.
fn parse_fit_print(stdout: &str) -> Vec<(String, u64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let [name, rest @ ..] = w.as_slice() else {
                return None;
            };
            let nums: Vec<u64> = rest.iter().filter_map(|x| x.parse().ok()).collect();
            (nums.len() == 3 && rest.len() == 3).then(|| (name.to_string(), nums.iter().sum()))
        })
        .collect()
}

/// The plan device an engine device stands for: `Host` the CPU row, `CUDA1` (any
/// backend name ending in the device number) the plan's second GPU.
fn plan_row<'a>(plan: &'a Plan, engine_device: &str) -> Option<&'a crate::plan::DeviceMemory> {
    let mem = &plan.memory.devices;
    if engine_device == "Host" {
        return mem.iter().find(|d| d.kind == "cpu");
    }
    let digits = engine_device.trim_start_matches(|c: char| !c.is_ascii_digit());
    let k: usize = digits.parse().ok()?;
    let index = *plan.settings.gpu_indices.get(k)?;
    mem.iter()
        .find(|d| d.kind == "gpu" && d.name.starts_with(&format!("GPU {index}:")))
}

const MIB: u64 = 1 << 20;

/// Verifies `plan` with the engine's llama-fit-params at `fit_params`.
pub fn verify(plan: &Plan, fit_params: &Path) -> Result<Verification> {
    fit_params_name(crate::engine::of_plan(plan)?)?;
    let launch = launch_of(plan)?;
    let help = run(fit_params, &["--help".to_string()], &[])?;
    let accepted = accepted_options(&format!("{}{}", help.stdout, help.stderr));
    let (mut args, left_out) = keep_accepted(&launch.args, &accepted);
    // Weights repacked for the CPU go to a CPU_REPACK buffer that common_fit_print and
    // the fit check leave out of `Host`; without repacking the same bytes stay in `Host`,
    // so the engine counts them (common/fit.cpp, common_get_device_memory_data_impl).
    if accepted.iter().any(|o| o == NO_REPACK) && !args.iter().any(|a| a == NO_REPACK) {
        args.push(NO_REPACK.to_string());
    }

    let mut print_args = args.clone();
    print_args.extend(["--fit-print".to_string(), "on".to_string()]);
    let printed = run(fit_params, &print_args, &launch.env)?;
    let rows = parse_fit_print(&printed.stdout);
    if !printed.ok || rows.is_empty() {
        return Err(Error::failed(format!(
            "{FIT_PARAMS} gave no estimate: {}",
            crate::error::input::quoted(last_line(&printed.stderr))
        )));
    }
    let mut devices: Vec<DeviceCheck> = rows
        .iter()
        .map(|(name, mib)| DeviceCheck {
            device: name.clone(),
            rigplan_mib: plan_row(plan, name).map(|d| d.total_bytes.div_ceil(MIB)),
            engine_mib: Some(*mib),
        })
        .collect();
    for d in &plan.memory.devices {
        let seen = rows
            .iter()
            .any(|(n, _)| plan_row(plan, n).is_some_and(|p| p.name == d.name));
        if !seen {
            devices.push(DeviceCheck {
                device: d.name.clone(),
                rigplan_mib: Some(d.total_bytes.div_ceil(MIB)),
                engine_mib: None,
            });
        }
    }

    let fitted = run(fit_params, &args, &launch.env)?;
    // The tool exits right after logging, and its log is written by a thread, so the
    // reason may be lost (common/log.cpp); the exit status is the verdict.
    let reason = (!fitted.ok).then(|| {
        let line = fitted
            .stderr
            .lines()
            .find(|l| l.contains("failed to fit"))
            .unwrap_or_else(|| last_line(&fitted.stderr))
            .trim();
        if line.is_empty() {
            format!("{FIT_PARAMS} exited with status 1 and no reason")
        } else {
            crate::error::input::quoted(line)
        }
    });
    Ok(Verification {
        fit_params: fit_params.to_path_buf(),
        devices,
        fits: fitted.ok,
        reason,
        left_out,
        speculative: matches!(
            plan.settings.speculative.kind,
            crate::plan::SpeculativeKind::Draft | crate::plan::SpeculativeKind::Mtp
        )
        .then(|| plan.settings.speculative.kind.as_str().to_string()),
    })
}

/// What the engine chose when left to fit a plan's placement itself (the line
/// llama-fit-params prints: `-c N -ngl M [-ts A,B] [-ot "..."]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineFit {
    /// `-ngl`; `None` when the engine left it at its default (no GPU to fit).
    pub n_gpu_layers: Option<u32>,
    pub tensor_split: Vec<f64>,
    /// `-ot` the engine would add (rigplan cannot pin these; reported).
    pub overrides: Option<String>,
}

/// Options of the plan that place the model; left out so the engine fits them itself.
const PLACEMENT_OPTIONS: &[&str] = &[
    "-ngl",
    "--gpu-layers",
    "--n-gpu-layers",
    "-ts",
    "--tensor-split",
    "-ot",
    "--override-tensor",
    "-ncmoe",
    "--n-cpu-moe",
    "-cmoe",
    "--cpu-moe",
    "-fit",
    "--fit",
];

/// Asks the engine to fit the plan's placement (`-ngl`, `-ts`, `-ot`) to this machine's
/// free memory with the plan's other options (its context, cache types, batches) kept:
/// for a model whose architecture rigplan has no memory formula for.
pub fn engine_fit(plan: &Plan, fit_params: &Path) -> Result<EngineFit> {
    fit_params_name(crate::engine::of_plan(plan)?)?;
    let launch = launch_of(plan)?;
    let help = run(fit_params, &["--help".to_string()], &[])?;
    let mut accepted = accepted_options(&format!("{}{}", help.stdout, help.stderr));
    accepted.retain(|o| !PLACEMENT_OPTIONS.contains(&o.as_str()));
    let (args, _) = keep_accepted(&launch.args, &accepted);
    let fitted = run(fit_params, &args, &launch.env)?;
    let line = fitted.stdout.lines().find(|l| l.starts_with("-c "));
    let (true, Some(line)) = (fitted.ok, line) else {
        return Err(Error::Unsatisfiable(format!(
            "the engine could not fit '{}' on this machine: {}",
            plan.model.name,
            crate::error::input::quoted(last_line(&fitted.stderr))
        )));
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let value = |opt: &str| words.windows(2).find(|w| w[0] == opt).map(|w| w[1]);
    Ok(EngineFit {
        n_gpu_layers: value("-ngl")
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|n| u32::try_from(n).ok()),
        tensor_split: value("-ts")
            .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default(),
        overrides: line
            .split_once(" -ot ")
            .map(|(_, ot)| ot.trim_matches('"').to_string()),
    })
}

fn launch_of(plan: &Plan) -> Result<crate::generate::launch::Launch> {
    let server = crate::engine::ServerOptions {
        host: "127.0.0.1".into(),
        port: 8080,
        api_key_file: None,
        alias: None,
    };
    let amd = crate::ops::export::plan_uses_amd(plan);
    crate::generate::launch::Launch::from_plan(plan, FIT_PARAMS, &server, amd)
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// The verification as text: a row per device, then the verdict.
pub fn render(v: &Verification) -> String {
    let mut o = format!(
        "engine check ({}):\n  {:<40} {:>12} {:>12} {:>8}\n",
        v.fit_params.display(),
        "device",
        "rigplan MiB",
        "engine MiB",
        "diff"
    );
    let show = |m: Option<u64>| m.map_or_else(|| "-".to_string(), |m| m.to_string());
    for d in &v.devices {
        let diff = match (d.rigplan_mib, d.engine_mib) {
            (Some(r), Some(e)) if e > 0 => {
                format!("{:+.1}%", (r as f64 - e as f64) / e as f64 * 100.0)
            }
            (_, None) => "not here".to_string(),
            _ => "-".to_string(),
        };
        o.push_str(&format!(
            "  {:<40} {:>12} {:>12} {:>8}\n",
            d.device,
            show(d.rigplan_mib),
            show(d.engine_mib),
            diff
        ));
    }
    if !v.left_out.is_empty() {
        o.push_str(&format!(
            "  not passed to {FIT_PARAMS} (server options, no memory effect): {}\n",
            v.left_out.join(" ")
        ));
    }
    if let Some(kind) = &v.speculative {
        o.push_str(&format!(
            "  rigplan's figures include the {kind} speculative context, which {FIT_PARAMS} does not load\n"
        ));
    }
    match (&v.fits, &v.reason) {
        (true, _) => o.push_str("  the engine says: fits this machine's free memory\n"),
        (false, r) => o.push_str(&format!(
            "  the engine says: does NOT fit this machine's free memory ({})\n",
            r.as_deref().unwrap_or("no reason given")
        )),
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_from_help_and_server_options_are_left_out() {
        let help = "-t,    --threads N     threads\n-c,    --ctx-size N   ctx\n-fa,   --flash-attn [on|off|auto]  fa\n-ot,   --override-tensor <p>=<b>,...  ot\n    continuation line\n";
        let acc = accepted_options(help);
        assert_eq!(
            acc,
            [
                "-t",
                "--threads",
                "-c",
                "--ctx-size",
                "-fa",
                "--flash-attn",
                "-ot",
                "--override-tensor"
            ]
        );
        let args: Vec<String> = [
            "-m",
            "/m.gguf",
            "-c",
            "4096",
            "-t",
            "-1",
            "-lm",
            "mlock",
            "-fa",
            "on",
            "--host",
            "127.0.0.1",
        ]
        .map(String::from)
        .to_vec();
        let mut acc = acc;
        acc.push("-m".into());
        let (kept, dropped) = keep_accepted(&args, &acc);
        assert_eq!(
            kept,
            ["-m", "/m.gguf", "-c", "4096", "-t", "-1", "-fa", "on"]
        );
        assert_eq!(dropped, ["-lm", "--host"]);
    }

    #[test]
    fn fit_print_rows_are_device_and_three_mib_figures() {
        let out = "-c 4096 -ngl 99\nCUDA0 1200 300 150\nHost 80 0 12\nnoise line here\n";
        assert_eq!(
            parse_fit_print(out),
            [("CUDA0".to_string(), 1650), ("Host".to_string(), 92)]
        );
    }
}
