//! `rigplan export`: the launch command, script, systemd unit or llama-swap config of a
//! plan.
//!
//! Resolves the plan(s) (`--plan PLAN.toml`, a Plan saved by `plan --save`, or local
//! model files, catalog ids and `hf:` references planned here), the server options, then asks `ops::export` for the
//! launches and the artefact, and writes it (never over a file without `--force`).

use super::build::emit;
use super::resolve;
use crate::cli::{ExportArgs, ExportKind};
use crate::error::{user_error, Result};
use crate::hardware::HardwareSnapshot;
use crate::model::reference::ModelRef;
use crate::ops::export::{self, Artefact, LaunchRequest};
use crate::ops::projector::ProjectorChoice;
use crate::plan::Plan;
use std::path::Path;

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let (plans, hardware) = resolve_plans(&args)?;
    let api_key_file = match &args.api_key_file {
        Some(p) => Some(export::api_key_file(p)?),
        None => None,
    };
    let req = LaunchRequest {
        artefact: match args.kind {
            ExportKind::Command => Artefact::Command,
            ExportKind::Script => Artefact::Script,
            ExportKind::Systemd => Artefact::Systemd,
            ExportKind::LlamaSwap => Artefact::LlamaSwap,
        },
        host: args.host.clone(),
        port: args.port,
        api_key_file,
        alias: args.alias.clone(),
        engine_bin: args.engine_bin.clone(),
    };
    let launches = export::launches(&plans, hardware.as_ref(), &req)?;
    if args.verify {
        for plan in &plans {
            eprint!("{}", super::plan::verify(plan, args.engine_bin.as_deref())?);
        }
    }
    let (content, executable) =
        export::render(req.artefact, &plans, launches, args.alias.as_deref())?;
    emit(&content, args.out.as_deref(), args.force, executable)
}

/// The plans to export, and the hardware they were planned for when planned here.
fn resolve_plans(args: &ExportArgs) -> Result<(Vec<Plan>, Option<HardwareSnapshot>)> {
    if let Some(path) = &args.plan {
        if args.mmproj.is_some() {
            return Err(user_error(
                "--mmproj is planned with the model: give it to `plan --save`, not with --plan",
            ));
        }
        if !args.models.is_empty() {
            return Err(user_error("give MODEL or --plan, not both"));
        }
        return Ok((vec![export::read_plan(path)?], None));
    }
    if args.models.is_empty() {
        return Err(user_error("give a MODEL or --plan PLAN.toml"));
    }
    // Saved plans given as positional arguments (several, for llama-swap).
    if args.models.iter().all(|m| m.ends_with(".plan.toml")) {
        let plans = args
            .models
            .iter()
            .map(|m| export::read_plan(Path::new(m)))
            .collect::<Result<_>>()?;
        return Ok((plans, None));
    }
    let hw = resolve::hardware(&args.hardware)?;
    let plans = args
        .models
        .iter()
        .map(|m| {
            let req = resolve::plan_request(&args.pins)?;
            let mmproj = args.mmproj.as_deref().map(ProjectorChoice::parse);
            match crate::model::reference::parse(m) {
                // A catalog id or hf: reference: planned as `plan` does, the engine
                // downloading the file where the plan has none.
                ModelRef::Catalog { .. } | ModelRef::Hf { .. } => {
                    crate::ops::plan::plan_model_with(Some(m), &hw, req, mmproj.as_ref())
                }
                _ => crate::ops::plan::plan_file_with(m, &hw, req, mmproj.as_ref()),
            }
        })
        .collect::<Result<_>>()?;
    Ok((plans, Some(hw)))
}
