//! Writes the seed corpora `scripts/fuzz.sh` starts from: the GGUF header of every
//! catalog model (synthetic, as llama.cpp's loader lays it out), every bundled hardware
//! preset as a snapshot file (TOML and JSON), and the saved plan of every catalog model
//! on every preset that has one. The engine's vocabulary GGUFs are copied by the script.
//!
//! Usage: `cargo run --example fuzz_seeds -- CORPUS_DIR` (writes
//! CORPUS_DIR/{gguf_header,snapshot_file,saved_plan}); an example of the main crate so it
//! builds with the stable toolchain and the crate's own build.

use rigplan::gguf::writer::GgufWriter;
use rigplan::gguf::{GgufString, MetaValue};
use rigplan::hardware::snapshot_file::{self, SnapshotFormat};
use rigplan::model::catalog::{self, quant_context};
use rigplan::model::quantize::{assign_types, FileType, TensorShape};
use rigplan::model::synth::tensor_shapes;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args()
        .nth(1)
        .ok_or("usage: fuzz_seeds CORPUS_DIR")?;
    let root = Path::new(&root);
    let (gguf, snaps, plans) = (
        root.join("gguf_header"),
        root.join("snapshot_file"),
        root.join("saved_plan"),
    );
    for d in [&gguf, &snaps, &plans] {
        std::fs::create_dir_all(d)?;
    }
    let entries = catalog::entries();
    for e in &entries {
        let params = e.params();
        let Some(shapes) = tensor_shapes(&params, e.synth_options()) else {
            continue;
        };
        let ts: Vec<TensorShape> = shapes
            .iter()
            .map(|(n, d)| TensorShape { name: n, dims: d })
            .collect();
        let Some(types) = assign_types(
            &ts,
            FileType::parse("Q4_K_M").ok_or("Q4_K_M")?,
            &quant_context(&params),
        ) else {
            continue;
        };
        let mut w = GgufWriter::new();
        w.metas(e.metadata());
        w.meta(
            "general.name",
            MetaValue::String(GgufString(e.name.clone().into_bytes())),
        );
        for ((name, dims), ty) in shapes.iter().zip(types) {
            w.tensor(name, dims, ty);
        }
        let (header, _) = w.header()?;
        std::fs::write(gguf.join(format!("{}.gguf", e.id)), header)?;
    }
    let presets = rigplan::hardware::presets::names();
    for p in &presets {
        let snap = rigplan::hardware::presets::get(p).ok_or("preset")??;
        for (ext, format) in [
            ("toml", SnapshotFormat::Toml),
            ("json", SnapshotFormat::Json),
        ] {
            std::fs::write(
                snaps.join(format!("{p}.{ext}")),
                snapshot_file::to_string(&snap, format)?,
            )?;
        }
        for e in &entries {
            let req = rigplan::planner::PlanRequest::default();
            if let Ok(mut plan) = rigplan::ops::plan::plan_model(Some(&e.id), &snap, req) {
                // A saved plan names a local file; a catalog plan has none yet.
                plan.model.path = Some(format!("/models/{}.gguf", e.id));
                std::fs::write(
                    plans.join(format!("{}-{p}.plan.toml", e.id)),
                    toml::to_string(&plan)?,
                )?;
            }
        }
    }
    Ok(())
}
