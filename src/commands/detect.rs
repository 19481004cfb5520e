//! `rigplan detect`: not implemented yet (see the issue tracker).

use crate::cli::DetectArgs;

pub fn run(_args: DetectArgs) -> anyhow::Result<()> {
    anyhow::bail!("'rigplan detect' is not implemented yet")
}
