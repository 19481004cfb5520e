//! Vision projectors against the real pinned llama-server: a sparse projector GGUF of a
//! catalog model's real encoder shape (its `[vision]` keys) is loaded with a sparse
//! model of the same text width (`-m model --mmproj proj`, on the CPU), and the weights
//! and warmup compute buffer mtmd logs (`load_hparams`: "model size", and
//! `reserve_compute_meta`: "CPU compute buffer size") are compared with what rigplan
//! plans for that file (`plan --mmproj FILE`).

use crate::support::logged_mib;
use crate::support_engine::llama_bin;
use crate::support_gen::{free_port, spawn_logged};
use crate::support_model::{entry, write_catalog_model};
use rigplan::gguf::writer::GgufWriter;
use rigplan::gguf::{GgmlType, GgufString, MetaValue};
use rigplan::model::projector::VisionShape;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Writes a sparse F16 projector GGUF of `shape` with the keys mtmd requires.
fn write_projector(shape: &VisionShape, path: &Path) {
    let mut w = GgufWriter::new();
    let s = |v: &str| MetaValue::String(GgufString(v.as_bytes().to_vec()));
    let u = |v: u64| MetaValue::U32(u32::try_from(v).unwrap());
    w.meta("general.architecture", s("clip"));
    w.meta("clip.has_vision_encoder", MetaValue::Bool(true));
    w.meta("clip.projector_type", s(shape.kind.as_str()));
    w.meta("clip.use_gelu", MetaValue::Bool(true));
    w.meta("clip.vision.image_size", u(shape.image_size));
    w.meta("clip.vision.patch_size", u(shape.patch_size));
    w.meta("clip.vision.embedding_length", u(shape.n_embd));
    w.meta("clip.vision.feed_forward_length", u(shape.n_ff));
    w.meta("clip.vision.block_count", u(shape.n_layer));
    w.meta("clip.vision.attention.head_count", u(shape.n_head));
    w.meta("clip.vision.projection_dim", u(shape.projection_dim));
    w.meta(
        "clip.vision.attention.layer_norm_epsilon",
        MetaValue::F32(1e-6),
    );
    let half = MetaValue::Array(vec![MetaValue::F32(0.5); 3]);
    w.meta("clip.vision.image_mean", half.clone());
    w.meta("clip.vision.image_std", half);
    if shape.kind.as_str() == "qwen3vl_merger" {
        w.meta("clip.vision.spatial_merge_size", u(shape.n_merge));
    }
    let f16 = GgmlType::from_name("F16").unwrap();
    for (name, dims, ty) in shape.tensors(f16) {
        w.tensor(&name, &dims, ty);
    }
    w.write_sparse(path).expect("write sparse projector");
}

/// Starts llama-server on the CPU with the model and projector, waits (bounded) until
/// the projector's warmup is logged and the server listens, stops it, returns its log.
fn server_log(model: &Path, proj: &Path, dir: &Path) -> String {
    let log = dir.join("server.log");
    let port = free_port();
    let mut server = spawn_logged(
        Command::new(llama_bin().join("llama-server"))
            .args(["-m"])
            .arg(model)
            .arg("--mmproj")
            .arg(proj)
            .args([
                "-c",
                "512",
                "-nr",
                "-lv",
                "4",
                "--host",
                "127.0.0.1",
                "--port",
            ])
            .arg(port.to_string()),
        &log,
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("llama_server: listening on")
            || text.contains("llama_server: model loaded")
        {
            return text;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("llama-server exited ({status}) before it listened:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "llama-server not listening after 180 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Plans `model` with `--mmproj proj` on a CPU-only machine; returns (weights, compute).
fn planned(model: &Path, proj: &Path) -> (u64, u64) {
    let v: serde_json::Value = crate::support::run_json(
        crate::support::rigplan()
            .arg("plan")
            .arg(model)
            .arg("--mmproj")
            .arg(proj)
            .args(["--hardware", "xeon-e5-2620v4-cpu", "--format", "json"]),
    );
    let p = &v["projector"];
    (
        p["weights_bytes"].as_u64().expect("weights_bytes"),
        p["compute_bytes"].as_u64().expect("compute_bytes"),
    )
}

fn agree(model_id: &str, quant: &str) -> (f64, f64, f64, f64) {
    let e = entry(model_id);
    let shape = VisionShape::from_table(e.vision.as_ref().expect("[vision]")).expect("shape");
    agree_shape(model_id, quant, &shape)
}

/// Loads `shape`'s projector beside catalog model `model_id` (whose text width must be
/// the projector's `projection_dim`); returns (weights engine, plan, compute engine,
/// plan) in MiB.
fn agree_shape(model_id: &str, quant: &str, shape: &VisionShape) -> (f64, f64, f64, f64) {
    let e = entry(model_id);
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.gguf");
    let proj = dir.path().join("mmproj.gguf");
    write_catalog_model(&e, quant, &model);
    write_projector(shape, &proj);
    let log = server_log(&model, &proj, dir.path());
    // "clip_model_loader: model size:         %.2f MiB" (clip.cpp load_hparams)
    let weights: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("load_hparams: model size:"))
        .filter_map(|l| {
            let v = l.split("model size:").nth(1)?.trim();
            v.strip_suffix("MiB")?.trim().parse().ok()
        })
        .collect();
    let compute = logged_mib(&log, &["reserve_compute_meta", "CPU compute buffer size"]);
    let (pw, pc) = planned(&model, &proj);
    let mib = |b: u64| b as f64 / 1048576.0;
    let (w, c) = (
        *weights
            .first()
            .unwrap_or_else(|| panic!("no model size:\n{log}")),
        *compute
            .last()
            .unwrap_or_else(|| panic!("no compute buffer:\n{log}")),
    );
    eprintln!(
        "{model_id} ({} d {} ff {} heads {}): weights engine {w:.2} MiB, plan {:.2} MiB; compute engine {c:.2} MiB, plan {:.2} MiB",
        shape.kind.as_str(),
        shape.n_embd,
        shape.n_ff,
        shape.n_head,
        mib(pw),
        mib(pc)
    );
    (w, mib(pw), c, mib(pc))
}

#[test]
fn projector_weights_and_compute_match_the_real_llama_server() {
    for (id, quant) in [("qwen3.5-0.8b", "Q8_0"), ("gemma-3-4b", "Q4_0")] {
        let (w, pw, c, pc) = agree(id, quant);
        // the log prints MiB with two decimals
        assert!((w - pw).abs() <= 0.006, "{id}: weights {w} vs plan {pw}");
        assert!(
            (c - pc).abs() / c <= 0.03,
            "{id}: compute {c} MiB vs plan {pc} MiB"
        );
    }
}

/// Gemma 4's encoder (`gemma4v`): the 26B-A4B's real tower (its `[vision]` keys) and two
/// two-block towers of other widths, FFN sizes and head counts, each loaded beside the
/// small Gemma 3 text model (width 2560, so the projection is resized to it; the
/// projection runs on the 256 pooled tokens only). The compute formula must hold for all.
#[test]
fn gemma4v_projector_weights_and_compute_match_the_real_llama_server() {
    let main = "gemma-3-4b";
    let text_width = entry(main).params().n_embd;
    let e = entry("gemma-4-26b-a4b");
    let real = VisionShape::from_table(e.vision.as_ref().expect("[vision]")).expect("shape");
    let narrow = VisionShape {
        n_embd: 768,
        n_ff: 3072,
        n_head: 12,
        n_layer: 2,
        ..real.clone()
    };
    let wide_ffn = VisionShape {
        n_embd: 1024,
        n_ff: 8192,
        n_head: 8,
        n_layer: 2,
        ..real.clone()
    };
    let mut wrong = Vec::new();
    for shape in [real, narrow, wide_ffn] {
        let shape = VisionShape {
            projection_dim: text_width,
            ..shape
        };
        let (w, pw, c, pc) = agree_shape(main, "Q4_0", &shape);
        let id = format!("gemma4v d {} ff {}", shape.n_embd, shape.n_ff);
        if (w - pw).abs() > 0.006 {
            wrong.push(format!("{id}: weights {w} MiB vs plan {pw} MiB"));
        }
        if (c - pc).abs() / c > 0.03 {
            wrong.push(format!("{id}: compute {c} MiB vs plan {pc} MiB"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
