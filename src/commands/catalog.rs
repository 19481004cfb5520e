//! `rigplan catalog`: list the bundled GPU table and hardware presets (models: wired at merge).

use crate::cli::{CatalogArgs, CatalogKind, Format};
use crate::hardware::{gpu_table, presets, report};

pub fn run(args: CatalogArgs) -> anyhow::Result<()> {
    let text = match args.kind {
        CatalogKind::Models => anyhow::bail!("'rigplan catalog models' is not wired yet"),
        CatalogKind::Gpus => {
            let rows = gpu_table::table()?;
            match args.format {
                Format::Table => report::gpu_catalog_table(rows),
                Format::Json => serde_json::to_string_pretty(rows)? + "\n",
                Format::Toml => toml::to_string(&GpuRows { gpu: rows })?,
            }
        }
        CatalogKind::Hardware => {
            let mut rows = Vec::new();
            for name in presets::names() {
                if let Some(s) = presets::get(name) {
                    rows.push((name, s?));
                }
            }
            match args.format {
                Format::Table => report::hardware_catalog_table(&rows),
                Format::Json => {
                    let map: serde_json::Map<String, serde_json::Value> = rows
                        .iter()
                        .map(|(n, s)| Ok((n.to_string(), serde_json::to_value(s)?)))
                        .collect::<anyhow::Result<_>>()?;
                    serde_json::to_string_pretty(&map)? + "\n"
                }
                Format::Toml => {
                    let map: std::collections::BTreeMap<&str, &crate::hardware::HardwareSnapshot> =
                        rows.iter().map(|(n, s)| (*n, s)).collect();
                    toml::to_string(&map)?
                }
            }
        }
    };
    print!("{text}");
    Ok(())
}

#[derive(serde::Serialize)]
struct GpuRows<'a> {
    gpu: &'a [gpu_table::GpuSpec],
}
