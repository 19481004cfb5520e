//! `rigplan export`: not implemented yet (see the issue tracker).

use crate::cli::ExportArgs;

pub fn run(_args: ExportArgs) -> anyhow::Result<()> {
    anyhow::bail!("'rigplan export' is not implemented yet")
}
