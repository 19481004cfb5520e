//! Vision projectors (`mmproj` GGUFs): their shape from the `clip.*` keys, the tensors a
//! file of that shape holds, and the image-encoding compute buffer the engine reserves
//! for it.
//!
//! Everything here follows the pinned mainline `tools/mtmd`:
//! - keys: `clip-impl.h` (`KEY_*`), read in `clip.cpp` `clip_model_loader::load_hparams`;
//! - tensors: `clip.cpp` `load_tensors` (names `TN_*` in `clip-impl.h`) and the graphs in
//!   `models/siglip.cpp` (`gemma3`), `models/qwen3vl.cpp` (`qwen3vl_merger`) and
//!   `models/gemma4v.cpp` (`gemma4v`);
//! - the warmup image: `load_hparams` sets `warmup_image_size` per projector type
//!   (`image_size` for Gemma 3, `set_warmup_n_tokens(46*46)` merged tokens for Qwen-VL,
//!   `set_warmup_n_tokens(256)` for Gemma 4; `clip-model.h` `set_warmup_n_tokens` makes
//!   the side `sqrt(n) * patch_size * n_merge`);
//!   `clip_model_loader::warmup` builds the graph for that image and reserves the compute
//!   buffer (`reserve_compute_meta`), flash attention first (`CLIP_FLASH_ATTN_TYPE_AUTO`).
//!
//! The compute buffer is the peak of the tensors ggml's graph allocator holds at once. A
//! ViT block's peak is either its attention (the residual, the projections, the F16 K
//! and V casts flash attention reads) or its FFN (the residual, the normed input and the
//! up projection; GELU runs in place; `gemma4v`'s gated FFN also holds the gate and the
//! product); the image input and the patch embedding come earlier and are smaller, but
//! `gemma4v`'s freed image input stays beside the peak when no activation reuses it. [`VisionShape::compute_bytes`] is that peak per token of the
//! warmup image. The engine-agreement test (`tests/integration/projector.rs`) checks it
//! against the real llama-server's log.

use crate::gguf::types::GgmlType;
use crate::gguf::MetaValue;

/// Rows of each of Gemma 4's two position lookup tables (`v.position_embd.weight` is
/// `[n_embd, 10240, 2]`); no GGUF key carries it. Source: `"position_embedding_size":
/// 10240` in the 31B's extracted tower config,
/// https://huggingface.co/rnagabh/gemma4-vision-encoder/blob/main/config.json (whose
/// `_verified_total_params` 569,550,384 is this module's tensor list for that shape less
/// its 27 `out_scale` scalars, a buffer in transformers). With it the 26B-A4B's tensor
/// list weighs 22,612 bytes less than ggml-org's Q8_0 mmproj (806,408,320 bytes): the
/// file's header.
pub const GEMMA4_POSITION_TABLE: u64 = 10240;

/// The projector graphs rigplan knows the shape of (`clip.projector_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectorKind {
    /// Gemma 3: SigLIP encoder, 4x4 average pool, RMS norm, input projection.
    Gemma3,
    /// Qwen3-VL / Qwen3.5: fused-QKV encoder with a temporal patch pair, 2x2 merger MLP.
    Qwen3VlMerger,
    /// Gemma 4 (26B-A4B, 31B): RMS-norm encoder with Q/K norms, 2D RoPE and a gated FFN,
    /// 3x3 average pool, input projection.
    Gemma4V,
}

impl ProjectorKind {
    pub fn parse(name: &str) -> Option<ProjectorKind> {
        match name {
            "gemma3" => Some(ProjectorKind::Gemma3),
            "qwen3vl_merger" => Some(ProjectorKind::Qwen3VlMerger),
            "gemma4v" => Some(ProjectorKind::Gemma4V),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProjectorKind::Gemma3 => "gemma3",
            ProjectorKind::Qwen3VlMerger => "qwen3vl_merger",
            ProjectorKind::Gemma4V => "gemma4v",
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
        // Qwen-VL n_merge = 2 (KEY_SPATIAL_MERGE_SIZE may override); gemma4v n_merge = 3
        // ("pooling_kernel_size"; KEY_PROJ_SCALE_FACTOR may override).
        let scale_factor = || get("clip.vision.projector.scale_factor").and_then(|v| v.as_u64());
        let n_merge = match kind {
            ProjectorKind::Gemma3 => scale_factor().unwrap_or(4),
            ProjectorKind::Gemma4V => scale_factor().unwrap_or(3),
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
            // set_warmup_n_tokens(256): 16 pooled tokens per side
            ProjectorKind::Gemma4V => 16 * self.patch_size * self.n_merge,
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
        // gemma4v has its own list; the arms below that name it are never reached
        if self.kind == ProjectorKind::Gemma4V {
            return self.gemma4v_tensors(weight_type, f32);
        }
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
            ProjectorKind::Gemma3 | ProjectorKind::Gemma4V => self.warmup_patches(),
            // num_position_embeddings: (image_size / patch_size)^2
            ProjectorKind::Qwen3VlMerger => (self.image_size / p) * (self.image_size / p),
        };
        // F32 in every converted file (conversion/base.py: V_ENC_EMBD_POS is kept F32)
        out.push(("v.position_embd.weight".into(), vec![d, n_pos], f32));
        for il in 0..self.n_layer {
            let b = format!("v.blk.{il}");
            match self.kind {
                ProjectorKind::Gemma3 | ProjectorKind::Gemma4V => {
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
            ProjectorKind::Gemma3 | ProjectorKind::Gemma4V => {
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

    /// Gemma 4's tensors (`clip.cpp` `load_tensors`: the common per-layer names, plus
    /// `mm.input_projection` and the optional `v.std_bias`/`v.std_scale` for GEMMA4V),
    /// typed as the pinned converter writes them (`conversion/gemma.py`
    /// `Gemma4VisionAudioModel`, `conversion/base.py`): the patch kernel F16 in an F16
    /// file and F32 otherwise (`MmprojModel.tensor_force_quant`), the position tables F32,
    /// and a matrix whose rows are not whole blocks of `weight_type` (ffn_down's 4304 in
    /// Q8_0) F16 (`prepare_tensors`: "falling back to F16"). The per-linear clamp scalars
    /// (`.input_max` ...) are read as values (`get_scalar`), not loaded as weights.
    fn gemma4v_tensors(
        &self,
        weight_type: GgmlType,
        f32: GgmlType,
    ) -> Vec<(String, Vec<u64>, GgmlType)> {
        let (d, ff, p) = (self.n_embd, self.n_ff, self.patch_size);
        let f16 = GgmlType::from_name("F16").unwrap_or(f32);
        let matrix = |ne0: u64| {
            if weight_type.row_size(ne0).is_some() {
                weight_type
            } else {
                f16
            }
        };
        let patch_type = if weight_type == f16 { f16 } else { f32 };
        let mut out: Vec<(String, Vec<u64>, GgmlType)> = vec![
            // no patch bias (models/gemma4v.cpp: "note: no patch bias")
            ("v.patch_embd.weight".into(), vec![p, p, 3, d], patch_type),
            // one x and one y lookup table of GEMMA4_POSITION_TABLE rows (gemma4v.cpp
            // views ne[1] rows twice)
            (
                "v.position_embd.weight".into(),
                vec![d, GEMMA4_POSITION_TABLE, 2],
                f32,
            ),
        ];
        let head_dim = d / self.n_head;
        for il in 0..self.n_layer {
            let b = format!("v.blk.{il}");
            for t in ["attn_q", "attn_k", "attn_v", "attn_out"] {
                out.push((format!("{b}.{t}.weight"), vec![d, d], matrix(d)));
            }
            for t in ["attn_q_norm", "attn_k_norm"] {
                out.push((format!("{b}.{t}.weight"), vec![head_dim], f32));
            }
            for t in ["ln1", "ln2", "attn_post_norm", "ffn_post_norm"] {
                out.push((format!("{b}.{t}.weight"), vec![d], f32));
            }
            out.push((format!("{b}.out_scale.weight"), vec![1], f32));
            for t in ["ffn_gate", "ffn_up"] {
                out.push((format!("{b}.{t}.weight"), vec![d, ff], matrix(d)));
            }
            out.push((format!("{b}.ffn_down.weight"), vec![ff, d], matrix(ff)));
        }
        out.push(("v.std_bias".into(), vec![d], f32));
        out.push(("v.std_scale".into(), vec![d], f32));
        // used as mul_mat(w, x) (gemma4v.cpp build_mm): [n_embd, projection_dim]
        out.push((
            "mm.input_projection.weight".into(),
            vec![d, self.projection_dim],
            matrix(d),
        ));
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
            // FFN-bound: three width-d blocks and the gated FFN's gate, up and product
            // (12 d + 12 ff bytes); attention-bound below ff = 2 d / 3 (five width-d
            // blocks, 20 d). Beside it stays the freed warmup image (3 channels of
            // patch_size^2 F32 pixels per patch) when a width-d block is larger than it,
            // or what is left of it after one width-d block reuses it. Measured on the
            // pinned llama-server's CPU buffer with tests/integration/projector.rs towers
            // (d, ff) = (512, 3072), (768, 3072), (768, 6144), (800, 3072),
            // (1024, 8192), (1152, 4304), (1536, 3072), (1536, 64), (768, 64), heads
            // 6..24 (no effect): all within 9 bytes per patch of this.
            ProjectorKind::Gemma4V => {
                let image = 12 * self.patch_size * self.patch_size;
                let left = if 4 * d > image { image } else { image - 4 * d };
                (20 * d).max(12 * d + 12 * ff) + left
            }
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
                // 16 pooled tokens per side, 3x3 patches of 16 px each: 768 x 768
                ProjectorKind::Gemma4V => {
                    assert_eq!(s.warmup_image_side(), 768, "{}", e.id);
                    assert_eq!(s.warmup_patches(), 48 * 48, "{}", e.id);
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

    /// The 26B-A4B's gemma4v tower, typed as the pinned converter writes a Q8_0 file
    /// (F32 patch kernel, ffn_down's 4304-long rows F16), weighs ggml-org's Q8_0 mmproj
    /// less its header; the 31B tower config's parameter count is the same list's.
    #[test]
    fn the_gemma4v_tower_weighs_ggml_orgs_q8_0_projector() {
        let e = catalog::find("gemma-4-26b-a4b").unwrap();
        let s = VisionShape::from_table(e.vision.as_ref().unwrap()).unwrap();
        assert_eq!(s.kind, ProjectorKind::Gemma4V);
        assert_eq!(s.n_merge, 3);
        let q8 = GgmlType::from_name("Q8_0").unwrap();
        let file = e.projectors[0].size_bytes;
        let w = s.weights_bytes(q8);
        assert_eq!(w, 806_385_708);
        assert!(file > w && file - w < 64 * 1024, "{w} vs {file}");
        let f16 = GgmlType::from_name("F16").unwrap();
        let ffn_down = s.tensors(q8);
        let ffn_down = ffn_down.iter().find(|t| t.0 == "v.blk.0.ffn_down.weight");
        assert_eq!(ffn_down.map(|t| t.2), Some(f16));
        // rnagabh/gemma4-vision-encoder config.json: "_verified_total_params": 569550384
        // (no input projection; the 27 out_scale scalars are a buffer there)
        let params: u64 = s
            .tensors(f16)
            .iter()
            .filter(|t| t.0 != "mm.input_projection.weight" && !t.0.ends_with("out_scale.weight"))
            .map(|t| t.1.iter().product::<u64>())
            .sum();
        assert_eq!(params, 569_550_384);
    }

    #[test]
    fn the_gemma4v_warmup_buffer_grows_by_the_measured_bytes_per_unit() {
        let e = catalog::find("gemma-4-26b-a4b").unwrap();
        let s = VisionShape::from_table(e.vision.as_ref().unwrap()).unwrap();
        let wider = VisionShape {
            n_embd: s.n_embd + 1,
            ..s.clone()
        };
        let longer = VisionShape {
            n_ff: s.n_ff + 1,
            ..s.clone()
        };
        let n = s.warmup_patches();
        assert_eq!(wider.compute_bytes() - s.compute_bytes(), 12 * n);
        assert_eq!(longer.compute_bytes() - s.compute_bytes(), 12 * n);
        // the engine's 150.63 MiB for this tower (the engine test's first case)
        assert_eq!(
            s.compute_bytes(),
            2304 * (12 * 1152 + 12 * 4304 + 3 * 16 * 16 * 4)
        );
    }
}
