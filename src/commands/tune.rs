//! `rigplan tune`: not implemented yet (see the issue tracker).

use crate::cli::TuneArgs;

pub fn run(_args: TuneArgs) -> anyhow::Result<()> {
    anyhow::bail!("'rigplan tune' is not implemented yet")
}
