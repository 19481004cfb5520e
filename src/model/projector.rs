//! Vision projectors (`mmproj` GGUFs): their shape from the `clip.*` keys, the tensors a
//! file of that shape holds, and the image-encoding compute buffer the engine reserves
//! for it.
//!
//! Everything here follows the pinned mainline `tools/mtmd`:
//! - keys: `clip-impl.h` (`KEY_*`), read in `clip.cpp` `clip_model_loader::load_hparams`;
//! - tensors: `clip.cpp` `load_tensors` (names `TN_*` in `clip-impl.h`) and the graphs in
//!   `models/siglip.cpp` (`gemma3`) and `models/qwen3vl.cpp` (`qwen3vl_merger`);
//! - the warmup image: `load_hparams` sets `warmup_image_size` per projector type
//!   (`image_size` for Gemma 3, `set_warmup_n_tokens(46*46)` merged tokens for Qwen-VL);
//!   `clip_model_loader::warmup` builds the graph for that image and reserves the compute
//!   buffer (`reserve_compute_meta`), flash attention first (`CLIP_FLASH_ATTN_TYPE_AUTO`).
//!
//! The compute buffer is the peak of the tensors ggml's graph allocator holds at once. A
//! ViT block's peak is either its attention (the residual, the projections, the F16 K
//! and V casts flash attention reads) or its FFN (the residual, the normed input and the
//! up projection; GELU runs in place); the image input and the patch embedding come
//! earlier and are smaller. [`VisionShape::compute_bytes`] is that peak per token of the
//! warmup image. The engine-agreement test (`tests/integration/projector.rs`) checks it
//! against the real llama-server's log.

use crate::gguf::types::GgmlType;
use crate::gguf::MetaValue;

/// The projector graphs rigplan knows the shape of (`clip.projector_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectorKind {
    /// Gemma 3: SigLIP encoder, 4x4 average pool, RMS norm, input projection.
    Gemma3,
    /// Qwen3-VL / Qwen3.5: fused-QKV encoder with a temporal patch pair, 2x2 merger MLP.
    Qwen3VlMerger,
}

impl ProjectorKind {
    pub fn parse(name: &str) -> Option<ProjectorKind> {
        match name {
            "gemma3" => Some(ProjectorKind::Gemma3),
            "qwen3vl_merger" => Some(ProjectorKind::Qwen3VlMerger),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProjectorKind::Gemma3 => "gemma3",
            ProjectorKind::Qwen3VlMerger => "qwen3vl_merger",
        }
    }
}

/// A vision encoder's shape, as its GGUF `clip.vision.*` keys give it.
#[derive(Clone, Debug, PartialEq)]
pub struct VisionShape {
    pub kind: ProjectorKind,
    pub image_size: u64,
    pub patch_size: u64,
    pub n_embd: u64,
    pub n_layer: u64,
    pub n_ff: u64,
    pub n_head: u64,
    /// The text model's embedding width the projector outputs.
    pub projection_dim: u64,
    /// Tokens merged per side (Gemma 3's pool kernel; Qwen-VL's spatial merge).
    pub n_merge: u64,
}

impl VisionShape {
    /// From `(key, value)` pairs with the full `clip.*` key names. `None` when the
    /// projector type is not one rigplan knows or a shape key is missing.
    pub fn from_keys(get: impl Fn(&str) -> Option<MetaValue>) -> Option<VisionShape> {
        let kind = ProjectorKind::parse(&get("clip.projector_type")?.as_str_lossy()?)?;
        let u = |k: &str| get(&format!("clip.vision.{k}")).and_then(|v| v.as_u64());
        // load_hparams: gemma3 n_merge = 4 (KEY_PROJ_SCALE_FACTOR may override);
        // Qwen-VL n_merge = 2 (KEY_SPATIAL_MERGE_SIZE may override).
        let n_merge = match kind {
            ProjectorKind::Gemma3 => get("clip.vision.projector.scale_factor")
                .and_then(|v| v.as_u64())
                .unwrap_or(4),
            ProjectorKind::Qwen3VlMerger => u("spatial_merge_size").unwrap_or(2),
        };
        let shape = VisionShape {
            kind,
            image_size: u("image_size")?,
            patch_size: u("patch_size")?,
            n_embd: u("embedding_length")?,
            n_layer: u("block_count")?,
            n_ff: u("feed_forward_length")?,
            n_head: u("attention.head_count")?,
            projection_dim: u("projection_dim")?,
            n_merge,
        };
        let sane = shape.patch_size > 0
            && shape.n_merge > 0
            && shape.n_head > 0
            && shape.n_embd % shape.n_head == 0
            && shape.image_size >= shape.patch_size;
        sane.then_some(shape)
    }

    /// From a catalog entry's `[vision]` table (keys spelled as in the GGUF).
    pub fn from_table(table: &toml::Table) -> Option<VisionShape> {
        VisionShape::from_keys(|k| match table.get(k)? {
            toml::Value::Integer(i) => Some(MetaValue::U64(u64::try_from(*i).ok()?)),
            toml::Value::String(s) => Some(MetaValue::String(crate::gguf::GgufString(
                s.clone().into_bytes(),
            ))),
            _ => None,
        })
    }

    /// The side of the square image the engine warms up with (`warmup_image_size`).
    pub fn warmup_image_side(&self) -> u64 {
        match self.kind {
            ProjectorKind::Gemma3 => self.image_size,
            // set_warmup_n_tokens(46*46): 46 merged tokens per side
            ProjectorKind::Qwen3VlMerger => 46 * self.patch_size * self.n_merge,
        }
    }

    /// Encoder tokens (patches) of the warmup image.
    pub fn warmup_patches(&self) -> u64 {
        let side = self.warmup_image_side() / self.patch_size;
        side * side
    }

    /// The tensors of a projector file of this shape, as `(name, ggml dims, type)`, with
    /// matrices in `weight_type` and norms and biases in F32 (as the converter writes them).
    pub fn tensors(&self, weight_type: GgmlType) -> Vec<(String, Vec<u64>, GgmlType)> {
        // F32 is in every type table; without it there is nothing to list
        let Some(f32) = GgmlType::from_name("F32") else {
            return Vec::new();
        };
        let (d, ff, p) = (self.n_embd, self.n_ff, self.patch_size);
        let mut out: Vec<(String, Vec<u64>, GgmlType)> = Vec::new();
        let w = |out: &mut Vec<(String, Vec<u64>, GgmlType)>, name: String, dims: Vec<u64>| {
            let ty = if dims.len() == 1 { f32 } else { weight_type };
            out.push((name, dims, ty));
        };
        // conv kernels are F16 in every converted file (conversion/base.py tensor_force_quant)
        w(&mut out, "v.patch_embd.weight".into(), vec![p, p, 3, d]);
        if self.kind == ProjectorKind::Qwen3VlMerger {
            // the second temporal patch (TN_PATCH_EMBD_1)
            w(&mut out, "v.patch_embd.weight.1".into(), vec![p, p, 3, d]);
        }
        w(&mut out, "v.patch_embd.bias".into(), vec![d]);
        let n_pos = match self.kind {
            ProjectorKind::Gemma3 => self.warmup_patches(),
            // num_position_embeddings: (image_size / patch_size)^2
            ProjectorKind::Qwen3VlMerger => (self.image_size / p) * (self.image_size / p),
        };
        // F32 in every converted file (conversion/base.py: V_ENC_EMBD_POS is kept F32)
        out.push(("v.position_embd.weight".into(), vec![d, n_pos], f32));
        for il in 0..self.n_layer {
            let b = format!("v.blk.{il}");
            match self.kind {
                ProjectorKind::Gemma3 => {
                    for t in ["attn_q", "attn_k", "attn_v"] {
                        w(&mut out, format!("{b}.{t}.weight"), vec![d, d]);
                        w(&mut out, format!("{b}.{t}.bias"), vec![d]);
                    }
                }
                ProjectorKind::Qwen3VlMerger => {
                    w(&mut out, format!("{b}.attn_qkv.weight"), vec![d, 3 * d]);
                    w(&mut out, format!("{b}.attn_qkv.bias"), vec![3 * d]);
                }
            }
            w(&mut out, format!("{b}.attn_out.weight"), vec![d, d]);
            w(&mut out, format!("{b}.attn_out.bias"), vec![d]);
            for t in ["ln1", "ln2"] {
                w(&mut out, format!("{b}.{t}.weight"), vec![d]);
                w(&mut out, format!("{b}.{t}.bias"), vec![d]);
            }
            w(&mut out, format!("{b}.ffn_up.weight"), vec![d, ff]);
            w(&mut out, format!("{b}.ffn_up.bias"), vec![ff]);
            w(&mut out, format!("{b}.ffn_down.weight"), vec![ff, d]);
            w(&mut out, format!("{b}.ffn_down.bias"), vec![d]);
        }
        w(&mut out, "v.post_ln.weight".into(), vec![d]);
        w(&mut out, "v.post_ln.bias".into(), vec![d]);
        match self.kind {
            ProjectorKind::Gemma3 => {
                // used transposed: mul_mat(cont(transpose(w)), cur) in models/siglip.cpp
                w(
                    &mut out,
                    "mm.input_projection.weight".into(),
                    vec![self.projection_dim, d],
                );
                w(&mut out, "mm.soft_emb_norm.weight".into(), vec![d]);
            }
            ProjectorKind::Qwen3VlMerger => {
                let m = d * self.n_merge * self.n_merge;
                w(&mut out, "mm.0.weight".into(), vec![m, m]);
                w(&mut out, "mm.0.bias".into(), vec![m]);
                w(&mut out, "mm.2.weight".into(), vec![m, self.projection_dim]);
                w(&mut out, "mm.2.bias".into(), vec![self.projection_dim]);
            }
        }
        out
    }

    /// Bytes of the weights in a file of this shape.
    pub fn weights_bytes(&self, weight_type: GgmlType) -> u64 {
        self.tensors(weight_type)
            .iter()
            .filter_map(|(_, dims, ty)| ty.tensor_size(dims))
            .sum()
    }

    /// The warmup compute buffer the engine reserves with flash attention (see the module
    /// paragraph): a block's peak of live F32 activations per token of the warmup image.
    pub fn compute_bytes(&self) -> u64 {
        let n = self.warmup_patches();
        let (d, ff) = (self.n_embd, self.n_ff);
        let per_token = match self.kind {
            // Attention-bound: the residual, the fused QKV output (3 d), roped Q and K,
            // and the F16 K cast (d / 2) when K's cast is made: 6.5 d floats = 26 d
            // bytes. The FFN (residual, normed input, up projection: 2 d + ff floats)
            // is smaller for every Qwen-VL shape in the catalog.
            ProjectorKind::Qwen3VlMerger => (26 * d).max(4 * (2 * d + ff)),
            // FFN-bound: three width-d blocks and the up projection, 4 (3 d + ff)
            // bytes. Separate Q/K/V (5 d floats at most) stay below it. The third
            // width-d block is what ggml's allocator keeps beside the residual and the
            // normed input; the pinned llama-server's CPU buffer grows by exactly 4
            // bytes per token per FFN unit and 12 per width unit (measured with
            // tests/integration/projector.rs shapes d 768/1152, ff 4304/8608).
            ProjectorKind::Gemma3 => 4 * (3 * d + ff),
        };
        n * per_token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog;

    #[test]
    fn every_catalog_vision_table_is_a_known_shape_and_warms_up_as_the_engine_does() {
        let mut seen = 0;
        for e in catalog::entries() {
            let Some(t) = &e.vision else { continue };
            let s = VisionShape::from_table(t)
                .unwrap_or_else(|| panic!("{}: [vision] is not a known shape", e.id));
            seen += 1;
            match s.kind {
                // 896 / 14 = 64 patches per side
                ProjectorKind::Gemma3 => assert_eq!(s.warmup_patches(), 64 * 64, "{}", e.id),
                // 46 merged tokens per side, 2x2 patches each: the 1472 x 1472 image the
                // engine logs ("warmup with image size = 1472 x 1472")
                ProjectorKind::Qwen3VlMerger => {
                    assert_eq!(s.warmup_image_side(), 1472, "{}", e.id);
                    assert_eq!(s.warmup_patches(), 92 * 92, "{}", e.id);
                }
            }
        }
        assert!(seen >= 6, "{seen} catalog models with a [vision] table");
    }

    #[test]
    fn the_derived_buffer_is_within_three_percent_of_the_recorded_cuda_log() {
        // qwen3.5-35b-a3b records a public mainline log of the same 27-block encoder:
        // "CUDA0 compute buffer size = 248.10 MiB" at the 1472 x 1472 warmup image.
        let e = catalog::find("qwen3.5-35b-a3b").unwrap();
        let s = VisionShape::from_table(e.vision.as_ref().unwrap()).unwrap();
        let logged = e.projectors[0].compute_bytes.unwrap() as f64;
        let derived = s.compute_bytes() as f64;
        assert!(
            (derived - logged).abs() / logged < 0.03,
            "derived {derived} vs logged {logged}"
        );
    }

    /// Every published F16/BF16 projector of a model with a `[vision]` table weighs what
    /// that shape's tensors do (the file adds a header of a few MB): the keys are right.
    #[test]
    fn published_projectors_weigh_what_their_shape_does() {
        let f16 = GgmlType::from_name("F16").unwrap();
        let mut checked = 0;
        for e in catalog::entries() {
            let Some(shape) = e.vision.as_ref().and_then(VisionShape::from_table) else {
                continue;
            };
            for p in &e.projectors {
                if !matches!(p.weight_type.as_str(), "F16" | "BF16") {
                    continue;
                }
                let w = shape.weights_bytes(f16) as f64;
                let err = (p.size_bytes as f64 - w) / p.size_bytes as f64;
                assert!(
                    (0.0..0.02).contains(&err),
                    "{}: {w} vs {}",
                    e.id,
                    p.size_bytes
                );
                checked += 1;
            }
        }
        assert!(checked >= 5, "{checked}");
    }
}
