//! `rigplan plan`: not implemented yet (see the issue tracker).

use crate::cli::PlanArgs;

pub fn run(_args: PlanArgs) -> anyhow::Result<()> {
    anyhow::bail!("'rigplan plan' is not implemented yet")
}
