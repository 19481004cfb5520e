//! `rigplan build`: write the cmake build script for this (or another) machine.
//!
//! Resolves the hardware description and the engine, renders
//! [`crate::generate::build_script`], and prints the script or writes it atomically with
//! `--out` (never over an existing file without `--force`).

use crate::cli::{BuildArgs, HardwareArgs};
use crate::engine::EngineKind;
use crate::error::user_error;
use crate::generate::build_script::{build_script, BuildRequest};
use crate::hardware::HardwareSnapshot;
use anyhow::Context;
use std::io::Write;
use std::path::Path;

pub fn run(args: BuildArgs) -> anyhow::Result<()> {
    let engine = EngineKind::parse(&args.engine).ok_or_else(|| {
        user_error(format!(
            "--engine '{}': expected llama.cpp or ik_llama.cpp",
            args.engine
        ))
    })?;
    let backend = super::resolve::backend(&args.backend)?;
    let (hardware, on_target) = resolve_hardware(&args.hardware)?;
    let source_dir = match &args.source {
        Some(dir) => {
            let abs = std::path::absolute(dir)
                .with_context(|| format!("--source '{}'", dir.display()))?;
            if !abs.join("CMakeLists.txt").is_file() {
                return Err(user_error(format!(
                    "--source '{}' is not a source tree (no CMakeLists.txt)",
                    dir.display()
                ))
                .into());
            }
            Some(path_str(&abs, "--source")?)
        }
        None => None,
    };
    let prefix = match &args.prefix {
        Some(p) => Some(path_str(
            &std::path::absolute(p).with_context(|| format!("--prefix '{}'", p.display()))?,
            "--prefix",
        )?),
        None => None,
    };
    let req = BuildRequest {
        engine,
        hardware: &hardware,
        on_target,
        source_dir,
        prefix,
        build_dir: None,
        rpc: args.rpc,
        backend,
    };
    let script = build_script(&req)?;
    emit(&script, args.out.as_deref(), args.force, true)
}

fn path_str(p: &Path, what: &str) -> crate::error::Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| user_error(format!("{what} '{}' is not valid UTF-8", p.display())))
}

/// The hardware description and whether it is this machine (so `GGML_NATIVE` is right):
/// a detection of this machine is, what-if options included (they change GPUs, RAM and
/// core counts, never the CPU's instruction set).
pub(crate) fn resolve_hardware(args: &HardwareArgs) -> anyhow::Result<(HardwareSnapshot, bool)> {
    let snap = super::resolve::hardware(args)?;
    Ok((snap, args.hardware.is_none()))
}

/// Prints `content`, or writes it to `out` atomically: a temporary file in the same
/// directory renamed into place, refusing an existing file unless `force`.
pub(crate) fn emit(
    content: &str,
    out: Option<&Path>,
    force: bool,
    executable: bool,
) -> anyhow::Result<()> {
    let Some(path) = out else {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(content.as_bytes())
            .context("writing to stdout")?;
        return Ok(());
    };
    super::output::write_user_file(path, content, force, executable, "--out")?;
    eprintln!("rigplan: wrote '{}'", path.display());
    Ok(())
}
