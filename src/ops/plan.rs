//! Plan a model on a machine, and complete the Plan with its launch command.
//!
//! The planner decides; here the engine renders the decision into `llama-server`'s argv
//! (only options the pinned version accepts) and `generate` quotes it into one shell
//! line. Without a local model file the command names a placeholder, and a warning says
//! so; a setting the engine would refuse is a warning too.

use crate::engine::{self, EngineKind};
use crate::generate::shell::command_line;
use crate::plan::Plan;

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
    plan.warnings
        .extend(engine::unsupported_settings(engine, &plan.settings));
    plan.args = engine::launch_args(engine, &plan.settings, &model_path, None);
    plan.command = command_line(engine::info(engine).targets.server, &plan.args);
}
