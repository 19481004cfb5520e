//! `rigplan compare MODEL --hardware A --hardware B ... [--gpu NAME ...] [PINS]`: each
//! machine's best plan side by side.
//!
//! Resolves the pins and the machines (`--hardware` files or presets, plus one what-if
//! machine of all `--gpu` cards on this machine's CPU and RAM), asks `ops::compare` for a
//! row per machine, and renders a table or JSON.

use super::resolve;
use crate::cli::{CompareArgs, Format};
use crate::engine::EngineKind;
use crate::error::{user_error, Result};
use crate::hardware::resolve::{apply_what_if, load, WhatIf};
use crate::hardware::HardwareSnapshot;
use crate::ops::compare::{compare_one, model_variants, CompareReport, CompareRow};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let req = resolve::plan_request(&args.pins)?;
    let machines = machines(&args)?;
    let model_ref = args.model.as_deref();
    let (model_name, specs) = model_variants(model_ref, &req)?;
    let cluster = super::cluster::request(&args.cluster)?;
    if args.cluster.save_cluster.is_some() || args.cluster.write_workers.is_some() {
        return Err(user_error(
            "--save-cluster and --write-workers belong to 'rigplan plan'; compare writes no files",
        )
        .into());
    }
    let last = machines.len().saturating_sub(1);
    let rows: Vec<CompareRow> = machines
        .iter()
        .enumerate()
        .map(|(i, (label, hw))| match &cluster {
            // The workers join the last --hardware machine: `--hardware main.toml
            // --hardware main.toml --worker ...` compares main alone with main + workers.
            Some(c) if i == last => {
                let mut with = req.clone();
                with.cluster = Some(c.clone());
                let names: Vec<&str> = c.workers.iter().map(|w| w.name.as_str()).collect();
                let label = format!("{label} + {}", names.join(" + "));
                compare_one(&label, hw, &specs, &with)
            }
            _ => compare_one(label, hw, &specs, &req),
        })
        .collect();
    match args.format {
        Format::Json => {
            let report = CompareReport {
                model: &model_name,
                engine: req.engine.name(),
                machines: &rows,
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Toml => {
            return Err(user_error(
                "--format 'toml' is not available for compare; use table or json",
            )
            .into())
        }
        Format::Table => print!("{}", render_table(&model_name, req.engine, &rows)),
    }
    Ok(())
}

/// `--hardware` machines in order, then the `--gpu` what-if machine.
fn machines(args: &CompareArgs) -> Result<Vec<(String, HardwareSnapshot)>> {
    if args.hardware.is_empty() && args.gpus.is_empty() && args.gpu_specs.is_empty() {
        return Err(user_error(
            "compare needs at least one --hardware PATH|PRESET, --gpu NAME or --gpu-spec FIELDS",
        ));
    }
    let mut out = Vec::new();
    for h in &args.hardware {
        out.push((h.clone(), load(h)?));
    }
    if !args.gpus.is_empty() || !args.gpu_specs.is_empty() {
        let base = crate::hardware::detect::detect_this_machine(false);
        let what_if = WhatIf {
            gpus: args.gpus.clone(),
            gpu_specs: args.gpu_specs.clone(),
            ..WhatIf::default()
        };
        let snap = apply_what_if(base, &what_if)?;
        // The names as typed for --gpu, the given names for --gpu-spec.
        let names: Vec<&str> = args
            .gpus
            .iter()
            .map(String::as_str)
            .chain(
                snap.gpus
                    .iter()
                    .skip(args.gpus.len())
                    .map(|g| g.name.as_str()),
            )
            .collect();
        out.push((format!("this CPU + {}", names.join(" + ")), snap));
    }
    Ok(out)
}

fn gib(b: i64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

fn render_table(model: &str, engine: EngineKind, rows: &[CompareRow]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "machine",
        "quant",
        "placement",
        "headroom",
        "tg tok/s",
        "pp tok/s",
        "bottleneck",
    ]);
    for r in rows {
        match &r.plan {
            Some(p) => t.add_row(vec![
                r.machine.clone(),
                p.quant.clone().unwrap_or_default(),
                p.placement.clone(),
                gib(p.headroom_bytes),
                format!("{:.1}", p.tg_tokens_per_s),
                format!("{:.0}", p.pp_tokens_per_s),
                p.bottleneck.clone(),
            ]),
            None => t.add_row(vec![
                r.machine.clone(),
                "-".into(),
                r.error.clone().unwrap_or_default(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        };
    }
    format!("{model} with {engine}\n{t}\n")
}
