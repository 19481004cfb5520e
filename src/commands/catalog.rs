//! `rigplan catalog`: list the bundled models, GPU table and hardware presets.

use crate::cli::{CatalogArgs, CatalogKind, Format};
use crate::error::{user_error, Result};
use crate::hardware::{gpu_table, presets, report, GpuVendor};
use crate::units::Bytes;

pub fn run(args: CatalogArgs) -> anyhow::Result<()> {
    if args.kind != CatalogKind::Gpus && (args.vendor.is_some() || args.name.is_some()) {
        return Err(user_error("--vendor and --name filter `catalog gpus` only").into());
    }
    let text = match args.kind {
        CatalogKind::Models => {
            let rows: Vec<ModelRow> = crate::model::catalog::entries()
                .into_iter()
                .map(|e| {
                    let spec = e.spec(None).ok();
                    ModelRow {
                        architecture: e.architecture(),
                        quants: e.quants(),
                        published: e.files.iter().map(|f| f.quant.clone()).collect(),
                        parameters: spec.as_ref().map(|s| s.total_parameters()),
                        active_parameters: spec.as_ref().map(|s| s.active_parameters()),
                        default_quant_bytes: spec.as_ref().map(|s| s.total_bytes().0),
                        vision: !e.projectors.is_empty(),
                        id: e.id,
                        name: e.name,
                        default: e.default,
                        default_quant: e.default_quant,
                    }
                })
                .collect();
            match args.format {
                Format::Table => model_table(&rows),
                Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
                Format::Toml => toml::to_string(&ModelRows { model: &rows })?,
            }
        }
        CatalogKind::Gpus => {
            let rows = gpu_rows(
                gpu_table::table()?,
                args.vendor.as_deref(),
                args.name.as_deref(),
            )?;
            match args.format {
                Format::Table => report::gpu_catalog_table(&rows),
                Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
                Format::Toml => toml::to_string(&GpuRows { gpu: &rows })?,
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

/// The GPU table's rows of `vendor` (nvidia, amd, intel, apple, other) whose name or an
/// alias contains `name` (case-insensitive). An unknown vendor is bad input; no match
/// is an empty list.
fn gpu_rows(
    rows: &[gpu_table::GpuSpec],
    vendor: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<gpu_table::GpuSpec>> {
    let vendor = match vendor {
        Some(v) => Some(
            serde_json::from_value::<GpuVendor>(serde_json::Value::String(v.to_ascii_lowercase()))
                .map_err(|_| {
                    user_error(format!(
                        "--vendor '{v}': one of nvidia, amd, intel, apple, other"
                    ))
                })?,
        ),
        None => None,
    };
    let needle = name.map(str::to_ascii_lowercase);
    Ok(rows
        .iter()
        .filter(|r| vendor.is_none_or(|v| r.vendor == v))
        .filter(|r| {
            needle.as_deref().is_none_or(|n| {
                std::iter::once(&r.name)
                    .chain(&r.aliases)
                    .any(|a| a.to_ascii_lowercase().contains(n))
            })
        })
        .cloned()
        .collect())
}

#[derive(serde::Serialize)]
struct ModelRow {
    id: String,
    name: String,
    architecture: String,
    default: bool,
    default_quant: String,
    quants: Vec<String>,
    /// Quants with a recorded published file.
    published: Vec<String>,
    parameters: Option<u64>,
    active_parameters: Option<u64>,
    /// Bytes of the default quant (computed from the tensor shapes).
    default_quant_bytes: Option<u64>,
    /// A vision projector is recorded (`--mmproj auto`).
    vision: bool,
}

#[derive(serde::Serialize)]
struct ModelRows<'a> {
    model: &'a [ModelRow],
}

/// One row per model in aligned columns; the standard llama-quantize types every entry
/// offers are not repeated, only the published files.
fn model_table(rows: &[ModelRow]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header([
        "id",
        "name",
        "arch",
        "params (active)",
        "default quant",
        "size",
        "published files",
        "vision",
    ]);
    let billions =
        |p: Option<u64>| p.map_or("?".to_string(), |p| format!("{:.1}B", p as f64 / 1e9));
    for r in rows {
        let params = match (r.parameters, r.active_parameters) {
            (Some(a), Some(b)) if b < a => format!("{} ({})", billions(Some(a)), billions(Some(b))),
            (p, _) => billions(p),
        };
        t.add_row([
            if r.default {
                format!("{} *", r.id)
            } else {
                r.id.clone()
            },
            r.name.clone(),
            r.architecture.clone(),
            params,
            r.default_quant.clone(),
            r.default_quant_bytes
                .map(|b| Bytes(b).to_string())
                .unwrap_or_default(),
            r.published.join(" "),
            if r.vision { "yes" } else { "" }.to_string(),
        ]);
    }
    format!(
        "{t}\n* the default model (`rigplan plan` with no MODEL). Every model also takes any llama-quantize type (`--quant Q5_K_M`); `--format json` lists them.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_filters_select_by_vendor_and_name_and_refuse_an_unknown_vendor() {
        let all = gpu_table::table().unwrap();
        let nvidia = gpu_rows(all, Some("NVIDIA"), None).unwrap();
        assert!(!nvidia.is_empty() && nvidia.iter().all(|r| r.vendor == GpuVendor::Nvidia));
        assert!(nvidia.len() < all.len());
        let r3060 = gpu_rows(all, None, Some("rtx 3060")).unwrap();
        assert!(!r3060.is_empty());
        assert!(r3060
            .iter()
            .all(|r| r.name.to_ascii_lowercase().contains("3060")
                || r.aliases
                    .iter()
                    .any(|a| a.to_ascii_lowercase().contains("rtx 3060"))));
        assert!(gpu_rows(all, Some("amd"), Some("rtx 3060"))
            .unwrap()
            .is_empty());
        let e = gpu_rows(all, Some("nvidai"), None).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_BAD_INPUT);
    }

    #[test]
    fn the_model_table_has_one_column_per_field() {
        let rows = vec![ModelRow {
            id: "m".into(),
            name: "M".into(),
            architecture: "llama".into(),
            default: true,
            default_quant: "Q4_K_M".into(),
            quants: vec![],
            published: vec!["Q4_K_M".into(), "UD-Q4_K_XL".into()],
            parameters: Some(35_000_000_000),
            active_parameters: Some(3_000_000_000),
            default_quant_bytes: Some(20 << 30),
            vision: true,
        }];
        let text = model_table(&rows);
        let header = text.lines().nth(1).unwrap();
        // Eight columns: nine separators.
        assert_eq!(header.matches(['│', '┆']).count(), 9, "{text}");
        let row = text.lines().nth(3).unwrap();
        for cell in ["m *", "35.0B (3.0B)", "Q4_K_M UD-Q4_K_XL", "yes"] {
            assert!(row.contains(cell), "{row}");
        }
    }
}
