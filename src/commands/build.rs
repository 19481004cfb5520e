//! `rigplan build`: not implemented yet (see the issue tracker).

use crate::cli::BuildArgs;

pub fn run(_args: BuildArgs) -> anyhow::Result<()> {
    anyhow::bail!("'rigplan build' is not implemented yet")
}
