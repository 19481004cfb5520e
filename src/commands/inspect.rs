//! `rigplan inspect`: not implemented yet (see the issue tracker).

use crate::cli::InspectArgs;

pub fn run(_args: InspectArgs) -> anyhow::Result<()> {
    anyhow::bail!("'rigplan inspect' is not implemented yet")
}
