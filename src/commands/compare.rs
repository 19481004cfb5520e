//! `rigplan compare`: not implemented yet (see the issue tracker).

use crate::cli::CompareArgs;

pub fn run(_args: CompareArgs) -> anyhow::Result<()> {
    anyhow::bail!("'rigplan compare' is not implemented yet")
}
