//! `rigplan catalog`: not implemented yet (see the issue tracker).

use crate::cli::CatalogArgs;

pub fn run(_args: CatalogArgs) -> anyhow::Result<()> {
    anyhow::bail!("'rigplan catalog' is not implemented yet")
}
