//! Plan a model on a machine, and complete the Plan with its launch command.
//!
//! [`plan_model`] is `rigplan plan`: the model's variants (`model::variants`), one plan
//! each and the quant `--prefer` picks (`planner`), the launch command, and a `tune`
//! calibration saved for this exact machine applied to the predicted speeds.
//! [`plan_file`] is what `export` plans: one local file, its absolute path in the
//! command.
//!
//! The planner decides; here the engine renders the decision into `llama-server`'s argv
//! (only options the pinned version accepts) and `generate` quotes it into one shell
//! line. Without a local model file the command names a placeholder, and a warning says
//! so; a setting the engine would refuse is a warning too.

use crate::engine::{self, EngineKind};
use crate::error::{user_error, Result};
use crate::generate::shell::command_line;
use crate::hardware::HardwareSnapshot;
use crate::model::reference::{self, ModelRef};
use crate::model::variants;
use crate::plan::Plan;
use crate::planner::{self, PlanRequest};

/// `rigplan plan MODEL`: the catalog's default model when `model` is `None`.
pub fn plan_model(
    model: Option<&str>,
    hw: &HardwareSnapshot,
    mut req: PlanRequest,
) -> Result<Plan> {
    resolve_draft(&mut req)?;
    let v = variants::for_reference(model, req.quant.as_deref())?;
    req.model_reference = v.reference;
    req.quant = v.quant;
    let mut plan = planner::plan_variants(&v.specs, hw, &req)?;
    attach_launch_command(&mut plan, req.engine);
    // A `rigplan tune` calibration saved for this exact machine corrects the predicted
    // speeds and says so ("calibrated on this machine on DATE from N runs").
    crate::tune::calibration::apply_saved(hw, &mut plan)?;
    Ok(plan)
}

/// Reads the `--draft` model's header (a file, catalog id or hf:) into the request; a
/// local file's absolute path is what `-md` gets.
pub fn resolve_draft(req: &mut PlanRequest) -> Result<()> {
    let Some(r) = req.draft_reference.clone() else {
        return Ok(());
    };
    let resolved = reference::resolve(&r).map_err(|e| user_error(format!("--draft: {e}")))?;
    let path = match &resolved.reference {
        ModelRef::Path(p) => Some(
            std::path::absolute(p)
                .map_err(|e| user_error(format!("--draft '{r}': {e}")))?
                .to_string_lossy()
                .into_owned(),
        ),
        _ => None,
    };
    req.draft = Some(planner::request::DraftModel {
        reference: r,
        path,
        spec: resolved.spec,
    });
    Ok(())
}

/// `export` launches local files only: a catalog id or URL is bad input.
pub fn require_local_file(model: &str) -> Result<()> {
    if matches!(reference::parse(model), ModelRef::Path(_)) {
        Ok(())
    } else {
        Err(user_error(format!(
            "MODEL '{model}': export launches a local .gguf file; download it and pass its path (or plan it and pass --plan)"
        )))
    }
}

/// One local `.gguf` file planned with the request, as `rigplan plan FILE` would, with
/// the file's absolute path in the command (what `export` launches).
pub fn plan_file(model: &str, hw: &HardwareSnapshot, mut req: PlanRequest) -> Result<Plan> {
    require_local_file(model)?;
    resolve_draft(&mut req)?;
    let resolved = reference::resolve(model)?;
    req.model_reference = model.to_string();
    if let ModelRef::Path(p) = &resolved.reference {
        let abs =
            std::path::absolute(p).map_err(|e| user_error(format!("MODEL '{model}': {e}")))?;
        let utf8 = abs
            .to_str()
            .ok_or_else(|| user_error(format!("MODEL '{}' is not valid UTF-8", abs.display())))?;
        req.model_path = Some(utf8.to_string());
    }
    let mut plan = planner::plan_quants(&[resolved.spec], hw, &req)?;
    attach_launch_command(&mut plan, req.engine);
    Ok(plan)
}

/// Fills `plan.args` and `plan.command` for `engine`, adding the warnings they need.
pub fn attach_launch_command(plan: &mut Plan, engine: EngineKind) {
    let model_path = match &plan.model.path {
        Some(p) => p.clone(),
        None => {
            let name = format!(
                "{}-{}.gguf",
                if plan.model.reference.is_empty() {
                    plan.model.name.as_str()
                } else {
                    plan.model.reference.as_str()
                },
                plan.settings.quant.as_deref().unwrap_or("model")
            );
            plan.warnings.push(format!(
                "no local file for this model yet: the command uses the placeholder '{name}'; download the GGUF and pass its path"
            ));
            name
        }
    };
    if let Some(d) = &plan.settings.speculative.draft_model {
        if !std::path::Path::new(d).is_file() {
            plan.warnings.push(format!(
                "the draft model '{d}' is not a local file: download the GGUF and pass its path with --draft"
            ));
        }
    }
    plan.warnings
        .extend(engine::unsupported_settings(engine, &plan.settings));
    plan.args = engine::launch_args(engine, &plan.settings, &model_path, None);
    plan.command = command_line(engine::info(engine).targets.server, &plan.args);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(reference: &str, path: Option<&str>) -> Plan {
        let spec = crate::model::catalog::find("llama-3.1-8b")
            .unwrap()
            .spec(Some("Q4_K_M"))
            .unwrap();
        let hw = crate::hardware::presets::get("desktop-3090")
            .unwrap()
            .unwrap();
        let req = PlanRequest {
            model_reference: reference.into(),
            model_path: path.map(str::to_string),
            // The main model's file only (a catalog drafter adds its own warning).
            speculative: Some(crate::plan::SpeculativeKind::None),
            ..Default::default()
        };
        planner::plan(&spec, &hw, &req).unwrap()
    }

    #[test]
    fn the_command_names_the_file_or_a_placeholder_and_says_so() {
        // (reference, local path, engine) -> (-m value, placeholder warning)
        let cases = [
            (
                "llama-3.1-8b",
                None,
                EngineKind::LlamaCpp,
                "llama-3.1-8b-Q4_K_M.gguf",
                true,
            ),
            (
                "",
                None,
                EngineKind::LlamaCpp,
                "Llama-3.1-8B-Q4_K_M.gguf",
                true,
            ),
            (
                "m.gguf",
                Some("/models/m 1.gguf"),
                EngineKind::IkLlamaCpp,
                "/models/m 1.gguf",
                false,
            ),
        ];
        for (reference, path, engine, model, warned) in cases {
            let mut plan = planned(reference, path);
            let before = plan.warnings.len();
            attach_launch_command(&mut plan, engine);
            let m = plan.args.iter().position(|a| a == "-m").unwrap();
            assert_eq!(plan.args[m + 1], model, "{reference}");
            assert_eq!(
                plan.warnings.len() - before,
                usize::from(warned),
                "{:?}",
                plan.warnings
            );
            assert!(
                plan.command.starts_with("llama-server -m "),
                "{}",
                plan.command
            );
            // The shell line reads back as the same argv.
            assert_eq!(
                plan.command,
                crate::generate::shell::command_line("llama-server", &plan.args)
            );
        }
    }
}
