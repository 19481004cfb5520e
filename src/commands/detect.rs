//! `rigplan detect`: probe this machine, print a table / JSON / TOML, optionally save.

use crate::cli::{DetectArgs, Format};
use crate::hardware::detect::detect_this_machine;
use crate::hardware::report;
use crate::hardware::snapshot_file::{self, SnapshotFormat};

pub fn run(args: DetectArgs) -> anyhow::Result<()> {
    let snap = detect_this_machine(args.measure);
    let text = match args.format {
        Format::Table => report::snapshot_table(&snap),
        Format::Json => snapshot_file::to_string(&snap, SnapshotFormat::Json)?,
        Format::Toml => snapshot_file::to_string(&snap, SnapshotFormat::Toml)?,
    };
    print!("{text}");
    if let Some(path) = &args.save {
        let text = snapshot_file::to_string(&snap, SnapshotFormat::for_path(path))?;
        super::output::write_user_file(path, &text, args.force, false, "--save")?;
        eprintln!("saved snapshot to '{}'", path.display());
    }
    Ok(())
}
