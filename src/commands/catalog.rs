//! `rigplan catalog`: list the bundled models, GPU table and hardware presets.

use crate::cli::{CatalogArgs, CatalogKind, Format};
use crate::hardware::{gpu_table, presets, report};

pub fn run(args: CatalogArgs) -> anyhow::Result<()> {
    let text = match args.kind {
        CatalogKind::Models => {
            let rows: Vec<ModelRow> = crate::model::catalog::entries()
                .into_iter()
                .map(|e| ModelRow {
                    architecture: e.architecture(),
                    quants: e.quants(),
                    id: e.id,
                    name: e.name,
                    default: e.default,
                    default_quant: e.default_quant,
                })
                .collect();
            match args.format {
                Format::Table => model_table(&rows),
                Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
                Format::Toml => toml::to_string(&ModelRows { model: &rows })?,
            }
        }
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

#[derive(serde::Serialize)]
struct ModelRow {
    id: String,
    name: String,
    architecture: String,
    default: bool,
    default_quant: String,
    quants: Vec<String>,
}

#[derive(serde::Serialize)]
struct ModelRows<'a> {
    model: &'a [ModelRow],
}

fn model_table(rows: &[ModelRow]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(["id", "name", "architecture", "quants"]);
    for r in rows {
        let id = if r.default {
            format!("{} (default, {})", r.id, r.default_quant)
        } else {
            r.id.clone()
        };
        t.add_row([
            id,
            r.name.clone(),
            r.architecture.clone(),
            r.quants.join(" "),
        ]);
    }
    format!("{t}\n")
}
