//! `--mmproj FILE|auto`: the vision projector a plan loads with its model, counted where
//! the engine puts it.
//!
//! mainline's mtmd (`tools/mtmd/clip.cpp`, `clip_ctx::clip_ctx`) loads the projector's
//! weights and reserves its compute buffer (`warmup` → `reserve_compute_meta`, sized for
//! the warmup image) on the first GPU backend — `-mmdev`, else the first `-dev`
//! (`common/arg.cpp`, "default the mmproj device") — or on the CPU with
//! `--no-mmproj-offload` or without a GPU. So both are taken off the first GPU's (else
//! RAM's) budget before the model is planned, and added to that device's memory row after.
//! `auto` is the catalog's recorded projector, which the engine downloads
//! (`--mmproj-url`); its weights are the published file's size. A FILE's weights are
//! the tensor bytes its GGUF header lists. The compute buffer is derived from the
//! encoder's shape (`model::projector::VisionShape`: the catalog's `[vision]` keys, or
//! the FILE's `clip.*` keys); for a projector type rigplan has no shape for, it is a
//! recorded engine measurement where the catalog has one, otherwise not counted and the
//! plan says so.

use crate::error::{user_error, Result};
use crate::hardware::HardwareSnapshot;
use crate::model::catalog;
use crate::model::projector::VisionShape;
use crate::model::reference::{self, ModelRef};
use crate::plan::{Plan, Projector};

/// What `--mmproj` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectorChoice {
    /// The catalog's projector of the model.
    Auto,
    File(String),
}

impl ProjectorChoice {
    pub fn parse(value: &str) -> ProjectorChoice {
        if value.eq_ignore_ascii_case("auto") {
            ProjectorChoice::Auto
        } else {
            ProjectorChoice::File(value.to_string())
        }
    }
}

/// The projector to load and what it needs, before a device is chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectorNeed {
    pub path: Option<String>,
    pub url: Option<String>,
    pub weights_bytes: u64,
    pub compute_bytes: u64,
    pub compute_source: String,
}

const NO_COMPUTE: &str = "not counted: rigplan has no shape for this projector type and no engine measurement of its image-encoding buffer is recorded (leave a few hundred MiB free on its device)";

/// The compute figure and its source for an encoder of `shape`.
fn derived(shape: &VisionShape) -> (u64, String) {
    (
        shape.compute_bytes(),
        format!(
            "derived from the {} encoder's shape ({} layers, width {}, FFN {}) at the engine's {}x{} warmup image ({} patches)",
            shape.kind.as_str(),
            shape.n_layer,
            shape.n_embd,
            shape.n_ff,
            shape.warmup_image_side(),
            shape.warmup_image_side(),
            shape.warmup_patches()
        ),
    )
}

/// The projector `choice` names for `model` (the catalog default when `None`).
pub fn need(choice: &ProjectorChoice, model: Option<&str>) -> Result<ProjectorNeed> {
    let entry = match model.map(reference::parse) {
        None => catalog::default_entry(),
        Some(ModelRef::Catalog { id, .. }) => catalog::find(&id),
        Some(_) => None,
    };
    let recorded = entry.as_ref().and_then(|e| e.projectors.first().cloned());
    match choice {
        ProjectorChoice::Auto => {
            let p = recorded.ok_or_else(|| {
                user_error(format!(
                    "--mmproj auto: the catalog records no projector for '{}'; pass --mmproj FILE",
                    model.unwrap_or("the default model")
                ))
            })?;
            let shape = entry
                .as_ref()
                .and_then(|e| e.vision.as_ref())
                .and_then(VisionShape::from_table);
            let (compute_bytes, compute_source) = match shape {
                Some(s) => derived(&s),
                None => (
                    p.compute_bytes.unwrap_or(0),
                    p.compute_source.unwrap_or_else(|| NO_COMPUTE.to_string()),
                ),
            };
            Ok(ProjectorNeed {
                path: None,
                url: Some(format!(
                    "https://huggingface.co/{}/resolve/main/{}",
                    p.hf_repo, p.hf_file
                )),
                weights_bytes: p.size_bytes,
                compute_bytes,
                compute_source,
            })
        }
        ProjectorChoice::File(f) => {
            let meta =
                std::fs::metadata(f).map_err(|e| user_error(format!("--mmproj '{f}': {e}")))?;
            if !meta.is_file() {
                return Err(user_error(format!("--mmproj '{f}' is not a file")));
            }
            let header = crate::gguf::GgufFile::open(std::path::Path::new(f))
                .map_err(|e| user_error(format!("--mmproj '{f}': not a GGUF projector: {e}")))?;
            let weights_bytes = header.tensors.iter().map(|t| t.n_bytes).sum();
            let shape = VisionShape::from_keys(|k| header.get(k).cloned());
            let (compute_bytes, compute_source) = match shape {
                Some(s) => derived(&s),
                None => (0, NO_COMPUTE.to_string()),
            };
            let abs =
                std::path::absolute(f).map_err(|e| user_error(format!("--mmproj '{f}': {e}")))?;
            let path = abs
                .to_str()
                .ok_or_else(|| user_error(format!("--mmproj '{f}' is not valid UTF-8")))?
                .to_string();
            Ok(ProjectorNeed {
                path: Some(path),
                url: None,
                weights_bytes,
                compute_bytes,
                compute_source,
            })
        }
    }
}

/// `hw` with the projector's bytes taken off the device the engine puts it on (the first
/// GPU's free memory, else system RAM), and that GPU's index (`None`: the CPU).
pub fn reserve(hw: &HardwareSnapshot, need: &ProjectorNeed) -> (HardwareSnapshot, Option<u32>) {
    let mut out = hw.clone();
    let bytes = need.weights_bytes + need.compute_bytes;
    match out.gpus.first_mut() {
        Some(g) => {
            let free = g.vram_free_bytes.unwrap_or(g.vram_bytes);
            g.vram_free_bytes = Some(free.saturating_sub(bytes));
            let i = g.index;
            (out, Some(i))
        }
        None => {
            out.memory.total_bytes = out.memory.total_bytes.saturating_sub(bytes);
            (out, None)
        }
    }
}

/// Adds the projector to the plan: its bytes to the memory row of its device (whose
/// capacity is the real one again for RAM), and `plan.projector`.
pub fn attach(plan: &mut Plan, need: &ProjectorNeed, gpu: Option<u32>) {
    let bytes = need.weights_bytes + need.compute_bytes;
    let row = plan.memory.devices.iter_mut().find(|d| match gpu {
        Some(i) => d.kind == "gpu" && d.name.starts_with(&format!("GPU {i}:")),
        None => d.kind == "cpu",
    });
    let mut device = String::from("?");
    if let Some(d) = row {
        d.weights_bytes += need.weights_bytes;
        d.compute_bytes += need.compute_bytes;
        d.total_bytes += bytes;
        if gpu.is_none() {
            // RAM was planned at capacity less the projector.
            d.capacity_bytes += bytes;
        }
        device = d.name.clone();
    }
    if gpu
        .is_some_and(|i| !plan.settings.gpu_indices.is_empty() && plan.settings.gpu_indices[0] != i)
    {
        plan.warnings.push(format!(
            "the projector is counted on {device}, the first GPU, but the model uses GPUs {:?}: the engine puts it on the first visible one",
            plan.settings.gpu_indices
        ));
    }
    if need.compute_bytes == 0 {
        plan.warnings
            .push(format!("projector compute buffer {}", need.compute_source));
    }
    plan.projector = Some(Projector {
        path: need.path.clone(),
        url: need.url.clone(),
        device,
        offload: gpu.is_some(),
        weights_bytes: need.weights_bytes,
        compute_bytes: need.compute_bytes,
        compute_source: need.compute_source.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::PlanRequest;

    #[test]
    fn auto_is_the_catalogs_projector_and_a_model_without_one_is_bad_input() {
        let n = need(&ProjectorChoice::Auto, None).unwrap();
        assert_eq!(
            n.url.as_deref(),
            Some(
                "https://huggingface.co/unsloth/Qwen3.5-35B-A3B-GGUF/resolve/main/mmproj-F16.gguf"
            )
        );
        assert!(n.weights_bytes > 0 && n.compute_bytes > 0);
        let e = need(&ProjectorChoice::Auto, Some("llama-3.1-8b")).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_BAD_INPUT);
        let e = need(
            &ProjectorChoice::File("/nonexistent/mmproj.gguf".into()),
            None,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_BAD_INPUT);
    }

    #[test]
    fn the_projector_is_counted_on_the_first_gpu_and_the_model_fits_around_it() {
        let hw = crate::hardware::presets::get("desktop-3090")
            .unwrap()
            .unwrap();
        let n = need(&ProjectorChoice::Auto, None).unwrap();
        let req = PlanRequest {
            ctx: Some(32768),
            quant: Some("Q4_K_M".into()),
            ..Default::default()
        };
        let plain = crate::ops::plan::plan_model(None, &hw, req.clone()).unwrap();
        let with = crate::ops::plan::plan_model_with(None, &hw, req, Some(&ProjectorChoice::Auto))
            .unwrap();
        let gpu = |p: &Plan| {
            p.memory
                .devices
                .iter()
                .find(|d| d.kind == "gpu")
                .unwrap()
                .clone()
        };
        let (a, b) = (gpu(&plain), gpu(&with));
        // The projector's bytes are in the GPU row, which still fits its capacity.
        assert!(b.weights_bytes >= n.weights_bytes && b.compute_bytes >= n.compute_bytes);
        assert!(b.total_bytes + b.margin_bytes <= b.capacity_bytes, "{b:?}");
        assert_eq!(a.capacity_bytes, b.capacity_bytes);
        let p = with.projector.as_ref().unwrap();
        assert!(p.offload && p.device.starts_with("GPU 0"));
        // The command loads it from its URL and still refuses the repository's own pick.
        let i = with.args.iter().position(|a| a == "--mmproj-url").unwrap();
        assert_eq!(with.args[i + 1], n.url.unwrap());
        assert!(with.args.iter().any(|a| a == "--no-mmproj"));
        // Without a GPU it is in RAM and the command says so.
        let mut cpu = hw.clone();
        cpu.gpus.clear();
        let on_cpu = crate::ops::plan::plan_model_with(
            Some("qwen3.5-35b-a3b"),
            &cpu,
            PlanRequest::default(),
            Some(&ProjectorChoice::Auto),
        )
        .unwrap();
        let ram = &on_cpu.memory.devices[0];
        assert_eq!(ram.capacity_bytes, cpu.memory.total_bytes);
        assert!(on_cpu.args.iter().any(|a| a == "--no-mmproj-offload"));
    }
}
