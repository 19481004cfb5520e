//! `rigplan export`: the launch command, script, systemd unit or llama-swap config of a
//! plan.
//!
//! Resolves the plan(s) (`--plan PLAN.toml`, a Plan saved by `plan --save`), the engine
//! binary and the server options, then renders with [`crate::generate`]. Bad values
//! (a non-loopback `--host` without `--api-key-file`, a newline a unit file cannot
//! hold) are refused with exit 2.

use super::build::emit;
use crate::cli::{ExportArgs, ExportKind};
use crate::engine::{EngineKind, ServerOptions};
use crate::error::{user_error, Result};
use crate::generate::launch::Launch;
use crate::generate::{command, llama_swap, script, systemd};
use crate::plan::Plan;
use std::path::{Path, PathBuf};

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let (plans, hardware) = resolve_plans(&args)?;
    // GPU vendor: from the hardware the plan was made for when we have it, else from the
    // device names in the plan (a saved Plan carries no vendor field).
    let amd = |plan: &Plan| match &hardware {
        Some(hw) => hw
            .gpus
            .iter()
            .any(|g| g.vendor == crate::hardware::GpuVendor::Amd),
        None => plan_uses_amd(plan),
    };
    let api_key_file = match &args.api_key_file {
        Some(p) => {
            if !p.is_file() {
                return Err(user_error(format!(
                    "--api-key-file '{}' is not a readable file",
                    p.display()
                ))
                .into());
            }
            let abs = std::path::absolute(p)
                .map_err(|e| user_error(format!("--api-key-file '{}': {e}", p.display())))?;
            Some(utf8(&abs, "--api-key-file")?)
        }
        None => None,
    };
    let mut launches = Vec::new();
    for plan in &plans {
        let engine = EngineKind::parse(&plan.engine.name).ok_or_else(|| {
            user_error(format!(
                "plan engine '{}' is not llama.cpp or ik_llama.cpp",
                plan.engine.name
            ))
        })?;
        let program = server_program(
            engine,
            args.engine_bin.as_deref(),
            args.kind == ExportKind::Systemd,
        )?;
        let alias = if plans.len() == 1 {
            args.alias.clone()
        } else {
            None
        };
        let server = ServerOptions {
            host: if args.kind == ExportKind::LlamaSwap {
                "127.0.0.1".to_string()
            } else {
                args.host.clone()
            },
            port: args.port,
            api_key_file: api_key_file.clone(),
            alias,
        };
        launches.push(Launch::from_plan(plan, &program, &server, amd(plan))?);
    }
    let (content, executable) = match args.kind {
        ExportKind::Command => (one(&launches).map(command::render)?, true),
        ExportKind::Script => (script::render(one(&launches)?)?, true),
        ExportKind::Systemd => {
            let launch = one(&launches)?;
            let user = service_user(args.alias.as_deref().unwrap_or(&launch.model_name));
            let curl = find_in_path("curl").unwrap_or_else(|| "/usr/bin/curl".to_string());
            (systemd::render(launch, &user, &curl)?, false)
        }
        ExportKind::LlamaSwap => {
            let mut entries = Vec::new();
            for (plan, launch) in plans.iter().zip(launches) {
                let id = if plans.len() == 1 {
                    args.alias
                        .clone()
                        .unwrap_or_else(|| plan.model.name.clone())
                } else {
                    plan.model.name.clone()
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
    };
    emit(
        &content,
        args.out.as_deref(),
        args.force,
        executable && args.kind == ExportKind::Script,
    )
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

/// The plans to export, and the hardware they were planned for when planned here.
fn resolve_plans(
    args: &ExportArgs,
) -> Result<(Vec<Plan>, Option<crate::hardware::HardwareSnapshot>)> {
    if let Some(path) = &args.plan {
        if !args.models.is_empty() {
            return Err(user_error("give MODEL or --plan, not both"));
        }
        return Ok((vec![read_plan(path)?], None));
    }
    if args.models.is_empty() {
        return Err(user_error("give a MODEL or --plan PLAN.toml"));
    }
    // Saved plans given as positional arguments (several, for llama-swap).
    if args.models.iter().all(|m| m.ends_with(".plan.toml")) {
        let plans = args
            .models
            .iter()
            .map(|m| read_plan(Path::new(m)))
            .collect::<Result<_>>()?;
        return Ok((plans, None));
    }
    let hw = super::resolve::hardware(&args.hardware)?;
    let plans = args
        .models
        .iter()
        .map(|m| {
            crate::ops::plan::require_local_file(m)?;
            crate::ops::plan::plan_file(m, &hw, super::resolve::plan_request(&args.pins)?)
        })
        .collect::<Result<_>>()?;
    Ok((plans, Some(hw)))
}

fn read_plan(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| user_error(format!("--plan '{}': {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        user_error(format!(
            "--plan '{}': {}",
            path.display(),
            e.to_string().replace('\n', " ")
        ))
    })
}

fn utf8(p: &Path, what: &str) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| user_error(format!("{what} '{}' is not valid UTF-8", p.display())))
}

/// The server binary: `--engine-bin DIR`, else the `rigplan build` default prefix when it
/// holds one, else `llama-server` from PATH (an absolute path for systemd).
fn server_program(engine: EngineKind, engine_bin: Option<&Path>, absolute: bool) -> Result<String> {
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

fn find_in_path(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.to_str().map(str::to_string))
}

/// AMD GPUs are named so in the plan's device list (the plan carries no vendor field).
fn plan_uses_amd(plan: &Plan) -> bool {
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
fn service_user(model: &str) -> String {
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
