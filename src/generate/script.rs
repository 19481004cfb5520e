//! `export --as script`: `launch.sh`, the environment the server needs and an `exec`.
//!
//! Renders `templates/launch.sh.tera` from a [`Launch`]: exported variables
//! (`CUDA_VISIBLE_DEVICES`, OpenMP thread placement), a raised `ulimit -l` when the plan
//! locks the model in RAM, then `exec` of the server with every value shell-quoted.

use super::launch::Launch;
use super::shell::{command_lines, shell_quote};
use super::template::{render as render_template, LAUNCH_SH};
use crate::error::Result;
use serde::Serialize;

#[derive(Serialize)]
struct Ctx {
    engine: String,
    model_name: String,
    rigplan_version: String,
    env_lines: Vec<String>,
    mlock_lines: Vec<String>,
    program: String,
    args: String,
}

pub fn render(launch: &Launch) -> Result<String> {
    let env_lines = launch
        .env
        .iter()
        .map(|(k, v)| format!("export {k}={}", shell_quote(v)))
        .collect();
    let mlock_lines = if launch.mlock {
        [
            "# The plan locks the model in RAM (mlock): allow this process to lock that much.",
            "if ! ulimit -l unlimited 2>/dev/null; then",
            "  echo \"launch.sh: cannot raise 'ulimit -l' (now $(ulimit -l) KiB); the model may be paged out: raise memlock in /etc/security/limits.conf or use the systemd unit (LimitMEMLOCK=infinity)\" >&2",
            "fi",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    } else {
        Vec::new()
    };
    // The first line of the argument list is indented by the template.
    let args = command_lines("", &launch.args, "  ");
    let args = args.trim_start_matches("'' \\\n  ").to_string();
    let ctx = Ctx {
        engine: launch.engine.name().to_string(),
        model_name: launch.model_name.replace(['\n', '\r'], " "),
        rigplan_version: env!("CARGO_PKG_VERSION").to_string(),
        env_lines,
        mlock_lines,
        program: shell_quote(&launch.program),
        args,
    };
    render_template("launch.sh", LAUNCH_SH, &ctx)
}
