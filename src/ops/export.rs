//! Export a plan: the launches (program, argv, environment) of one or more plans with the
//! server options, and the artefact each export kind writes — a command line, a launch
//! script, a systemd unit or a llama-swap config — rendered by `generate`.
//!
//! Reads saved plans and looks for the engine binary (the `rigplan build` prefix, then
//! PATH); writes nothing (the command does). Bad values (a non-loopback `--host` without
//! an API key file, a newline a unit file cannot hold) are bad input, exit 2.

use crate::engine::{EngineKind, ServerOptions};
use crate::error::{user_error, Result};
use crate::generate::launch::Launch;
use crate::generate::{command, llama_swap, script, systemd};
use crate::hardware::{GpuVendor, HardwareSnapshot};
use crate::plan::Plan;
use std::path::{Path, PathBuf};

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Artefact {
    Command,
    Script,
    Systemd,
    LlamaSwap,
}

/// How the server of every exported plan runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchRequest {
    pub artefact: Artefact,
    pub host: String,
    pub port: u16,
    /// An existing file holding the API key (checked by [`api_key_file`]).
    pub api_key_file: Option<String>,
    pub alias: Option<String>,
    /// Directory holding the engine binaries (default: the `rigplan build` prefix, else PATH).
    pub engine_bin: Option<PathBuf>,
}

/// `--api-key-file PATH` as the absolute path the server is given; it must be a
/// readable file.
pub fn api_key_file(p: &Path) -> Result<String> {
    if !p.is_file() {
        return Err(user_error(format!(
            "--api-key-file '{}' is not a readable file",
            p.display()
        )));
    }
    let abs = std::path::absolute(p)
        .map_err(|e| user_error(format!("--api-key-file '{}': {e}", p.display())))?;
    utf8(&abs, "--api-key-file")
}

/// The launch of each plan. `hardware` is the machine the plans were made for when they
/// were planned here; a saved plan names its GPUs instead (for the AMD runtime's names).
pub fn launches(
    plans: &[Plan],
    hardware: Option<&HardwareSnapshot>,
    req: &LaunchRequest,
) -> Result<Vec<Launch>> {
    check_request(req)?;
    let amd = |plan: &Plan| match hardware {
        Some(hw) => hw.gpus.iter().any(|g| g.vendor == GpuVendor::Amd),
        None => plan_uses_amd(plan),
    };
    let mut out = Vec::new();
    for plan in plans {
        let engine = crate::engine::of_plan(plan)?;
        let program = server_program(
            engine,
            req.engine_bin.as_deref(),
            req.artefact == Artefact::Systemd,
        )?;
        let server = ServerOptions {
            host: if req.artefact == Artefact::LlamaSwap {
                DEFAULT_HOST.to_string()
            } else {
                req.host.clone()
            },
            port: req.port,
            api_key_file: req.api_key_file.clone(),
            alias: if plans.len() == 1 {
                req.alias.clone()
            } else {
                None
            },
        };
        out.push(Launch::from_plan(plan, &program, &server, amd(plan))?);
    }
    Ok(out)
}

/// The loopback address a server binds by default (`--host`'s default).
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// The port a server listens on by default (`--port`'s default).
pub const DEFAULT_PORT: u16 = 8080;

/// Server options that cannot be meant: port 0 (the server would pick a random port
/// nobody can find, and the health check would never answer), an empty alias, and a
/// `--host` for llama-swap, which starts each server itself on loopback (`${PORT}`) and
/// listens where its own `-listen` flag says: the option would be ignored silently.
fn check_request(req: &LaunchRequest) -> Result<()> {
    if req.port == 0 {
        return Err(user_error(
            "--port 0: give the port the server listens on (1 to 65535)",
        ));
    }
    if req.alias.as_deref().is_some_and(|a| a.trim().is_empty()) {
        return Err(user_error("--alias '': give a name, or leave --alias out"));
    }
    if req.artefact == Artefact::LlamaSwap && req.port != DEFAULT_PORT {
        return Err(user_error(format!(
            "--port {} has no effect with --as llama-swap: llama-swap gives each server its own port (${{PORT}})",
            req.port
        )));
    }
    if req.artefact == Artefact::LlamaSwap && req.host != DEFAULT_HOST {
        return Err(user_error(format!(
            "--host '{}' has no effect with --as llama-swap: llama-swap starts each server on {DEFAULT_HOST} and listens where its own -listen flag says (e.g. llama-swap -listen {}:8080)",
            crate::error::input::Quoted(&req.host),
            crate::error::input::Quoted(&req.host)
        )));
    }
    Ok(())
}

/// The artefact's text for these plans and their launches, and whether it is a program
/// (a launch script is written executable).
pub fn render(
    artefact: Artefact,
    plans: &[Plan],
    launches: Vec<Launch>,
    alias: Option<&str>,
) -> Result<(String, bool)> {
    Ok(match artefact {
        Artefact::Command => (one(&launches).map(command::render)?, false),
        Artefact::Script => (script::render(one(&launches)?)?, true),
        Artefact::Systemd => {
            let launch = one(&launches)?;
            let user = service_user(alias.unwrap_or(&launch.model_name));
            let curl = find_in_path("curl").unwrap_or_else(|| "/usr/bin/curl".to_string());
            (systemd::render(launch, &user, &curl)?, false)
        }
        Artefact::LlamaSwap => {
            let mut entries = Vec::new();
            for (plan, launch) in plans.iter().zip(launches) {
                let id = match alias {
                    Some(a) if plans.len() == 1 => a.to_string(),
                    _ => plan.model.name.clone(),
                };
                entries.push(llama_swap::Entry {
                    id,
                    aliases: Vec::new(),
                    plan,
                    launch,
                });
            }
            (llama_swap::render(&entries)?, false)
        }
    })
}

fn one(launches: &[Launch]) -> Result<&Launch> {
    match launches {
        [l] => Ok(l),
        _ => Err(user_error(format!(
            "this export kind takes one model, got {} (several models: --as llama-swap)",
            launches.len()
        ))),
    }
}

/// Most bytes of a saved plan: a real one is a few KiB (a plan with every alternative
/// and 60 `-ot` overrides is under 20 KiB), so anything larger is refused unread.
pub const MAX_PLAN_BYTES: u64 = 1 << 20;

/// A Plan saved by `plan --save` (TOML), read back: a regular file of at most
/// [`MAX_PLAN_BYTES`], no string holding a NUL byte (a shell drops it, so an argument
/// would arrive altered; the error names the field).
pub fn read_plan(path: &Path) -> Result<Plan> {
    let text = crate::error::input::read_user_file(path, MAX_PLAN_BYTES, "--plan")?;
    plan_from_str(&text, &path.display().to_string())
}

/// A saved plan's text, read back ([`read_plan`] without the file); `name` names it in
/// errors.
pub fn plan_from_str(text: &str, name: &str) -> Result<Plan> {
    let malformed = |e: toml::de::Error| {
        user_error(format!(
            "--plan '{name}': {}",
            e.to_string().replace('\n', " ")
        ))
    };
    let value: toml::Value = toml::from_str(text).map_err(malformed)?;
    let mut fields = Vec::new();
    nul_fields(&value, String::new(), &mut fields);
    if !fields.is_empty() {
        let more = if fields.len() > 4 { ", ..." } else { "" };
        fields.truncate(4);
        return Err(user_error(format!(
            "--plan '{name}': {}{more} holds a NUL byte, which no command line can carry",
            fields.join(", ")
        )));
    }
    value.try_into().map_err(malformed)
}

/// The paths (`model.path`, `settings.override_tensors[2]`) of every string or key in
/// `value` holding a NUL byte, in the order the file's tables sort.
fn nul_fields(value: &toml::Value, at: String, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) if s.contains('\0') => out.push(at),
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                nul_fields(v, format!("{at}[{i}]"), out);
            }
        }
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = crate::error::input::quoted(k);
                let path = if at.is_empty() {
                    key
                } else {
                    format!("{at}.{key}")
                };
                if k.contains('\0') {
                    out.push(path);
                } else {
                    nul_fields(v, path, out);
                }
            }
        }
        _ => {}
    }
}

fn utf8(p: &Path, what: &str) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| user_error(format!("{what} '{}' is not valid UTF-8", p.display())))
}

/// The server binary: `--engine-bin DIR`, else the `rigplan build` default prefix when it
/// holds one, else `llama-server` from PATH (an absolute path for systemd).
pub fn server_program(
    engine: EngineKind,
    engine_bin: Option<&Path>,
    absolute: bool,
) -> Result<String> {
    let name = crate::engine::info(engine).targets.server;
    if let Some(dir) = engine_bin {
        let p = std::path::absolute(dir.join(name))
            .map_err(|e| user_error(format!("--engine-bin '{}': {e}", dir.display())))?;
        return utf8(&p, "--engine-bin");
    }
    if let Some(data) = dirs::data_dir() {
        let p: PathBuf = data
            .join(crate::engine::info(engine).install_dir_name())
            .join("bin")
            .join(name);
        if p.is_file() {
            return utf8(&p, "engine binary");
        }
    }
    if absolute {
        if let Some(p) = find_in_path(name) {
            return Ok(p);
        }
        return Err(user_error(format!(
            "'{name}' is neither in the 'rigplan build' prefix nor on PATH: pass --engine-bin DIR"
        )));
    }
    Ok(name.to_string())
}

/// The first `name` on PATH, as a UTF-8 path.
pub fn find_in_path(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.to_str().map(str::to_string))
}

/// AMD GPUs are named so in the plan's device list (the plan carries no vendor field).
pub fn plan_uses_amd(plan: &Plan) -> bool {
    plan.memory.devices.iter().any(|d| {
        d.kind == "gpu" && {
            let n = d.name.to_ascii_lowercase();
            n.contains("radeon")
                || n.contains("amd")
                || n.contains("instinct")
                || n.starts_with("rocm")
        }
    })
}

/// A service user name from the model name: `llama-` and lowercase letters, digits, '-'.
pub fn service_user(model: &str) -> String {
    let mut slug: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    let slug = slug.trim_matches('-');
    let mut user = format!("llama-{slug}");
    // useradd/systemd limit user names to 32 characters.
    user.truncate(32);
    user.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_users_are_short_safe_names() {
        let cases = [
            ("Qwen3.5-35B-A3B", "llama-qwen3-5-35b-a3b"),
            ("my  model!!", "llama-my-model"),
            (
                "a-very-long-model-name-that-goes-on-and-on",
                "llama-a-very-long-model-name-tha",
            ),
            ("---", "llama"),
        ];
        for (model, user) in cases {
            let u = service_user(model);
            assert_eq!(u, user);
            assert!(u.len() <= 32);
        }
    }

    #[test]
    fn a_missing_api_key_file_is_bad_input() {
        let e = api_key_file(Path::new("/nonexistent/key")).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_BAD_INPUT);
        assert!(e
            .to_string()
            .contains("'/nonexistent/key' is not a readable file"));
    }
}
