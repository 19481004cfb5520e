//! The embedded Tera templates and one function to render them.
//!
//! Templates only substitute prepared values and loop over prepared lines; all decisions
//! and all quoting happen in Rust before rendering. Autoescaping is off (these are shell
//! and INI files, not HTML).

use crate::error::{Context, Result};

pub const BUILD_SH: &str = include_str!("../../templates/build.sh.tera");
pub const LAUNCH_SH: &str = include_str!("../../templates/launch.sh.tera");
pub const SYSTEMD_UNIT: &str = include_str!("../../templates/llama-server.service.tera");

/// Renders one embedded template with a serialisable context.
pub fn render(name: &str, source: &str, context: &impl serde::Serialize) -> Result<String> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.add_raw_template(name, source)
        .with_context(|| format!("template '{name}'"))?;
    let ctx = tera::Context::from_serialize(context)
        .with_context(|| format!("context for template '{name}'"))?;
    tera.render(name, &ctx)
        .with_context(|| format!("rendering template '{name}'"))
}
