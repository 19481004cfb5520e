//! Per-tensor types of llama-quantize's standard file types, as llama.cpp chooses them.
//!
//! A port of `llama_tensor_get_type` / `llama_tensor_get_type_impl`,
//! `tensor_allows_quantization`, `tensor_type_fallback` and
//! `llama_ftype_get_default_type` from src/llama-quant.cpp of the pinned llama.cpp
//! (llama-cpp-python 0.3.36), plus the source (BF16 GGUF) types that
//! `convert_hf_to_gguf.py` writes (conversion/base.py: 1-D tensors, `*_norm.weight`,
//! routers, `ssm_conv1d` and non-`.weight` tensors are F32). Used by the catalog to
//! give a model the per-tensor types a real file of that quant has. Pure, no I/O.

use crate::gguf::GgmlType;

/// A llama-quantize file type (`llama_ftype`, include/llama.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q6K,
    Q5KM,
    Q5KS,
    Q4KM,
    Q4KS,
    Q4_0,
    IQ4XS,
    IQ4NL,
    Q3KL,
    Q3KM,
    Q3KS,
    Q2K,
    IQ3M,
    IQ3XXS,
    IQ2M,
    IQ2S,
    IQ2XS,
    IQ2XXS,
    IQ1M,
    IQ1S,
    Mxfp4Moe,
}

/// (file type, spelling, llama_ftype id) — ids from include/llama.h `llama_ftype`.
const FILE_TYPES: &[(FileType, &str, u32)] = &[
    (FileType::F32, "F32", 0),
    (FileType::F16, "F16", 1),
    (FileType::Q4_0, "Q4_0", 2),
    (FileType::Q8_0, "Q8_0", 7),
    (FileType::Q2K, "Q2_K", 10),
    (FileType::Q3KS, "Q3_K_S", 11),
    (FileType::Q3KM, "Q3_K_M", 12),
    (FileType::Q3KL, "Q3_K_L", 13),
    (FileType::Q4KS, "Q4_K_S", 14),
    (FileType::Q4KM, "Q4_K_M", 15),
    (FileType::Q5KS, "Q5_K_S", 16),
    (FileType::Q5KM, "Q5_K_M", 17),
    (FileType::Q6K, "Q6_K", 18),
    (FileType::IQ2XXS, "IQ2_XXS", 19),
    (FileType::IQ2XS, "IQ2_XS", 20),
    (FileType::IQ3XXS, "IQ3_XXS", 23),
    (FileType::IQ1S, "IQ1_S", 24),
    (FileType::IQ4NL, "IQ4_NL", 25),
    (FileType::IQ3M, "IQ3_M", 27),
    (FileType::IQ2S, "IQ2_S", 28),
    (FileType::IQ2M, "IQ2_M", 29),
    (FileType::IQ4XS, "IQ4_XS", 30),
    (FileType::IQ1M, "IQ1_M", 31),
    (FileType::BF16, "BF16", 32),
    (FileType::Mxfp4Moe, "MXFP4_MOE", 38),
];

impl FileType {
    /// Parses a file-name spelling (`Q4_K_M`, `q4_k_m`, `IQ2_XXS`, `MXFP4_MOE`).
    pub fn parse(s: &str) -> Option<FileType> {
        FILE_TYPES
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(s))
            .map(|(f, _, _)| *f)
    }

    /// From `general.file_type`.
    pub fn from_id(id: u64) -> Option<FileType> {
        FILE_TYPES
            .iter()
            .find(|(_, _, i)| u64::from(*i) == id)
            .map(|(f, _, _)| *f)
    }

    pub fn name(self) -> &'static str {
        FILE_TYPES
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("?", |(_, n, _)| n)
    }

    pub fn all() -> impl Iterator<Item = FileType> {
        FILE_TYPES.iter().map(|(f, _, _)| *f)
    }

    /// `llama_ftype_get_default_type` (src/llama-quant.cpp).
    fn default_type(self) -> &'static str {
        use FileType::*;
        match self {
            F32 => "F32",
            F16 => "F16",
            BF16 => "BF16",
            Q8_0 => "Q8_0",
            Q4_0 => "Q4_0",
            Q6K => "Q6_K",
            Q5KM | Q5KS => "Q5_K",
            Q4KM | Q4KS => "Q4_K",
            Q3KL | Q3KM | Q3KS => "Q3_K",
            Q2K => "Q2_K",
            IQ4XS => "IQ4_XS",
            IQ4NL => "IQ4_NL",
            IQ3M => "IQ3_S",
            IQ3XXS => "IQ3_XXS",
            IQ2M => "IQ2_S",
            IQ2S | IQ2XS => "IQ2_XS",
            IQ2XXS => "IQ2_XXS",
            IQ1M => "IQ1_M",
            IQ1S => "IQ1_S",
            Mxfp4Moe => "MXFP4",
        }
    }

    fn is_iq2_family(self) -> bool {
        use FileType::*;
        matches!(self, IQ2XXS | IQ2XS | IQ1S | IQ2S | IQ2M | IQ1M)
    }
}

/// Model facts the rules consult (`qs.model.hparams`, `qs.model.type`, `qs.has_imatrix`).
#[derive(Clone, Debug)]
pub struct QuantContext {
    pub arch: String,
    pub n_expert: u32,
    /// `hparams.n_gqa()` of layer 0.
    pub n_gqa: u64,
    pub n_layer_all: u32,
    /// llama.cpp's `LLM_TYPE_70B` (llama/qwen2 with 80 layers and GQA).
    pub is_70b: bool,
    /// Published IQ/K quants are made with an importance matrix (llama-quantize refuses
    /// IQ2_XXS/IQ2_XS/IQ1_S without one); true for catalog sizes.
    pub has_imatrix: bool,
}

/// One tensor to type: name and ggml dims.
pub struct TensorShape<'a> {
    pub name: &'a str,
    pub dims: &'a [u64],
}

fn t(name: &str) -> Option<GgmlType> {
    GgmlType::from_name(name)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Category {
    Output,
    TokenEmbd,
    AttnQkv,
    AttnKvB,
    AttnV,
    AttnK,
    AttnQ,
    AttnOutput,
    FfnUp,
    FfnGate,
    FfnDown,
    Other,
}

/// `tensor_get_category` (src/llama-quant.cpp).
fn category(name: &str) -> Category {
    if name == "output.weight" {
        Category::Output
    } else if name == "token_embd.weight" || name == "per_layer_token_embd.weight" {
        Category::TokenEmbd
    } else if name.contains("attn_qkv.weight") {
        Category::AttnQkv
    } else if name.contains("attn_kv_b.weight") {
        Category::AttnKvB
    } else if name.contains("attn_v.weight") {
        Category::AttnV
    } else if name.contains("attn_k.weight") {
        Category::AttnK
    } else if name.contains("attn_q.weight") {
        Category::AttnQ
    } else if name.contains("attn_output.weight") {
        Category::AttnOutput
    } else if name.contains("ffn_up") {
        Category::FfnUp
    } else if name.contains("ffn_gate") {
        Category::FfnGate
    } else if name.contains("ffn_down") {
        Category::FfnDown
    } else {
        Category::Other
    }
}

fn is_attn_v(c: Category) -> bool {
    matches!(c, Category::AttnV | Category::AttnQkv | Category::AttnKvB)
}

fn n_dims(dims: &[u64]) -> usize {
    let mut n = dims.len();
    while n > 1 && dims[n - 1] == 1 {
        n -= 1;
    }
    n
}

/// The type name `convert_hf_to_gguf.py` writes for a tensor of a BF16 conversion
/// (conversion/base.py `prepare_tensors`).
pub fn source_type_name(name: &str, dims: &[u64]) -> &'static str {
    let f32_forced = n_dims(dims) <= 1
        || name.ends_with("_norm.weight")
        || name.contains("ffn_gate_inp")
        || name.contains("ssm_conv1d")
        || !name.ends_with(".weight");
    if f32_forced {
        "F32"
    } else {
        "BF16"
    }
}

/// `tensor_allows_quantization` with default params (src/llama-quant.cpp).
fn allows_quantization(name: &str, dims: &[u64]) -> bool {
    if n_dims(dims) < 2 || !name.ends_with("weight") {
        return false;
    }
    const NEVER: &[&str] = &[
        "_norm.weight",
        "ffn_gate_inp.weight",
        "ffn_gate_tid2eid.weight",
        "altup",
        "laurel",
        "per_layer_model_proj",
        "ssm_conv1d",
        "shortconv.conv.weight",
        "attn_rel_b.weight",
        ".position_embd",
        ".patch_embd",
    ];
    !NEVER.iter().any(|s| name.contains(s)) && name != "position_embd.weight"
}

/// Assigns llama-quantize's type to every tensor, in file order. `None` only if the
/// ggml type table lacks a type the rules name (F32/BF16 or the file type's own).
pub fn assign_types(
    tensors: &[TensorShape<'_>],
    ftype: FileType,
    ctx: &QuantContext,
) -> Option<Vec<GgmlType>> {
    TensorFacts::new(tensors)?.assign(ftype, ctx)
}

/// What the rules read of one tensor that does not depend on the file type.
struct Facts {
    cat: Category,
    /// The type `convert_hf_to_gguf.py` writes (`source_type_name`).
    source: GgmlType,
    /// `tensor_allows_quantization`.
    quantizable: bool,
    /// The `blk.N.` index, if any.
    layer: Option<u32>,
    /// `ne[0]`: the row width the fallback checks.
    ncols: u64,
    /// `ne[2]`: more than one for stacked experts.
    ne2: u64,
}

/// A model's tensors as the quant rules see them, computed once (names are parsed here
/// and nowhere else) and typed for any number of file types with [`TensorFacts::assign`].
pub struct TensorFacts {
    facts: Vec<Facts>,
    /// llama-quantize's walk order (`weight_name_comparer`) as indices into `facts`.
    order: Vec<usize>,
    n_attention_wv: i64,
    /// No `output.weight`: `token_embd` is also the output.
    has_tied: bool,
}

impl TensorFacts {
    /// `None` only if the ggml type table lacks F32 or BF16.
    pub fn new(tensors: &[TensorShape<'_>]) -> Option<TensorFacts> {
        let facts = tensors
            .iter()
            .map(|s| {
                Some(Facts {
                    cat: category(s.name),
                    source: t(source_type_name(s.name, s.dims))?,
                    quantizable: allows_quantization(s.name, s.dims),
                    layer: crate::model::classify::layer_of(s.name),
                    ncols: s.dims.first().copied().unwrap_or(0),
                    ne2: s.dims.get(2).copied().unwrap_or(1),
                })
            })
            .collect::<Option<Vec<Facts>>>()?;
        // llama-quantize walks tensors in the loader's `weights_map` order
        // (src/llama-model-loader.h `weight_name_comparer`: by block number, non-block
        // tensors first, then by name); the attn_v / ffn_down counters depend on it.
        let mut order: Vec<usize> = (0..tensors.len()).collect();
        order.sort_by_cached_key(|&i| weight_order_key(tensors[i].name));
        Some(TensorFacts {
            n_attention_wv: facts.iter().filter(|f| is_attn_v(f.cat)).count() as i64,
            has_tied: !tensors.iter().any(|s| s.name == "output.weight"),
            facts,
            order,
        })
    }

    /// llama-quantize's type for every tensor at `ftype`, in file order; `None` only if
    /// the ggml type table lacks the file type's own type.
    pub fn assign(&self, ftype: FileType, ctx: &QuantContext) -> Option<Vec<GgmlType>> {
        let mut st = State {
            i_attention_wv: 0,
            i_ffn_down: 0,
            n_attention_wv: self.n_attention_wv,
            n_layer: i64::from(ctx.n_layer_all),
            has_tied: self.has_tied,
        };
        let def = t(ftype.default_type())?;
        let mut out: Vec<GgmlType> = self.facts.iter().map(|f| f.source).collect();
        for &i in &self.order {
            let f = &self.facts[i];
            if !f.quantizable {
                continue;
            }
            // `ggml_is_quantized(default_type)`: F16/BF16/F32 file types apply as is.
            out[i] = if def.traits().block_size <= 1 {
                def
            } else {
                let name = rule(&mut st, ftype, def, f, ctx);
                let chosen = if name == def.name() {
                    def
                } else {
                    t(name).unwrap_or(def)
                };
                fallback(chosen, f.ncols)
            };
        }
        Some(out)
    }
}

/// `weight_name_comparer` (src/llama-model-loader.h).
fn weight_order_key(name: &str) -> (i64, &[u8]) {
    (
        crate::model::classify::layer_of(name).map_or(-1, i64::from),
        name.as_bytes(),
    )
}

struct State {
    i_attention_wv: i64,
    i_ffn_down: i64,
    n_attention_wv: i64,
    n_layer: i64,
    has_tied: bool,
}

fn use_more_bits(i_layer: i64, n_layers: i64) -> bool {
    i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2
}

/// `llama_tensor_get_type_impl`, returning a ggml type name.
fn rule(
    st: &mut State,
    ftype: FileType,
    def: GgmlType,
    f: &Facts,
    ctx: &QuantContext,
) -> &'static str {
    use FileType::*;
    let def_name = def.name();
    let mut new = def_name;
    let n_expert = ctx.n_expert.max(1);
    // layer_info: for MoE the layer comes from the tensor name, else from the counter.
    let layer_from = |counter: i64| -> i64 {
        if n_expert > 1 {
            f.layer.map_or(counter, i64::from)
        } else {
            counter
        }
    };
    let n_layer = st.n_layer;
    let gqa = ctx.n_gqa;
    let nx = f.ncols;
    let cat = f.cat;

    if cat == Category::Output || (st.has_tied && cat == Category::TokenEmbd) {
        let qk = def.traits().block_size;
        // MXFP4_MOE, and rows that are not whole blocks, use Q8_0
        if ftype == Mxfp4Moe || qk == 0 || nx % qk != 0 {
            new = "Q8_0";
        } else if matches!(ftype, IQ2XXS | IQ2XS | IQ3XXS | IQ1S | IQ2S | IQ2M | IQ1M) {
            new = "Q5_K";
        } else if new != "Q8_0" {
            new = "Q6_K";
        }
    } else if ftype == Mxfp4Moe {
        new = if f.ne2 > 1 { "MXFP4" } else { "Q8_0" };
    } else if cat == Category::TokenEmbd {
        if matches!(ftype, IQ2XXS | IQ2XS | IQ1S | IQ1M) {
            new = "Q2_K";
        } else if matches!(ftype, IQ2S | IQ2M | IQ3XXS) {
            new = "IQ3_S";
        }
    } else if ftype.is_iq2_family() {
        if is_attn_v(cat) {
            new = if gqa >= 4 || ctx.n_expert >= 4 {
                "Q4_K"
            } else if matches!(ftype, IQ2S | IQ2M) {
                "IQ3_S"
            } else {
                "Q2_K"
            };
            st.i_attention_wv += 1;
        } else if ctx.n_expert == 8 && cat == Category::AttnK {
            new = "Q4_K";
        } else if cat == Category::FfnDown {
            if st.i_ffn_down < n_layer / 8 {
                new = if matches!(ftype, IQ2S | IQ2M) {
                    "IQ3_S"
                } else {
                    "Q2_K"
                };
            }
            st.i_ffn_down += 1;
        } else if cat == Category::AttnOutput {
            if ctx.n_expert == 8 {
                new = "Q5_K";
            } else if matches!(ftype, IQ1S | IQ1M) {
                new = "IQ2_XXS";
            } else if matches!(ftype, IQ2S | IQ2M) {
                new = "IQ3_S";
            }
        }
    } else if is_attn_v(cat) {
        let i = st.i_attention_wv;
        match ftype {
            Q2K => new = if gqa >= 4 { "Q4_K" } else { "Q3_K" },
            IQ3XXS => {
                new = if gqa >= 4 {
                    "Q4_K"
                } else if !ctx.has_imatrix {
                    "IQ3_S"
                } else {
                    "IQ3_XXS"
                }
            }
            IQ3M => new = "Q4_K",
            Q3KM => new = if i < 2 { "Q5_K" } else { "Q4_K" },
            Q3KL => new = "Q5_K",
            IQ4NL | IQ4XS if gqa >= 4 => new = "Q5_K",
            Q4KM | Q5KM if use_more_bits(i, st.n_attention_wv) => new = "Q6_K",
            Q4KS if i < 4 => new = "Q5_K",
            _ => {}
        }
        if ctx.is_70b && (new == "Q3_K" || new == "Q4_K") {
            new = "Q5_K";
        }
        if ctx.n_expert == 8 {
            new = "Q8_0";
        }
        st.i_attention_wv += 1;
    } else if cat == Category::AttnK {
        if ctx.n_expert == 8 {
            new = "Q8_0";
        } else if ftype == IQ3XXS {
            new = "IQ2_S";
        }
    } else if cat == Category::AttnQ {
        if ftype == IQ3XXS {
            new = "IQ2_S";
        }
    } else if cat == Category::FfnDown {
        let i_layer = layer_from(st.i_ffn_down);
        match ftype {
            Q2K => new = "Q3_K",
            IQ3XXS if !ctx.has_imatrix => {
                new = if i_layer < n_layer / 8 {
                    "Q4_K"
                } else {
                    "Q3_K"
                }
            }
            Q3KM => {
                new = if i_layer < n_layer / 16 {
                    "Q5_K"
                } else {
                    // `arch != FALCON || use_more_bits` is always true for our arches
                    "Q4_K"
                }
            }
            IQ3M if i_layer < n_layer / 8
                || (ctx.n_expert == 8 && use_more_bits(i_layer, n_layer)) =>
            {
                new = "Q4_K"
            }
            Q3KL => new = "Q5_K",
            Q4KM if use_more_bits(i_layer, n_layer) => new = "Q6_K",
            IQ4NL | IQ4XS if i_layer < n_layer / 8 && !ctx.has_imatrix => new = "Q5_K",
            Q5KM if use_more_bits(i_layer, n_layer) => new = "Q6_K",
            Q4KS if i_layer < n_layer / 8 => new = "Q5_K",
            _ => {}
        }
        st.i_ffn_down += 1;
    } else if cat == Category::AttnOutput {
        if ctx.n_expert == 8 {
            if matches!(
                ftype,
                Q2K | IQ3XXS | Q3KS | Q3KM | IQ4NL | Q4KS | Q4KM | IQ3M | IQ4XS
            ) {
                new = "Q5_K";
            }
        } else {
            match ftype {
                Q2K => new = "Q3_K",
                IQ3XXS => new = "IQ3_S",
                Q3KM | IQ3M => new = "Q4_K",
                Q3KL => new = "Q5_K",
                _ => {}
            }
        }
    } else if cat == Category::AttnQkv {
        match ftype {
            Q3KM | Q3KL | IQ3M => new = "Q4_K",
            Q4KM => new = "Q5_K",
            Q5KM => new = "Q6_K",
            _ => {}
        }
    }
    // FFN_GATE / FFN_UP only change for IQ3_XS, which is not among our file types.
    let _ = def_name;
    new
}

/// `tensor_type_fallback`: a row that is not a whole number of blocks falls back to a
/// 32-block type, then to F16.
fn fallback(ty: GgmlType, ncols: u64) -> GgmlType {
    let bs = ty.traits().block_size;
    if bs == 0 || ncols % bs == 0 {
        return ty;
    }
    let alt = match ty.name() {
        "IQ1_S" | "IQ1_M" | "IQ2_XXS" | "IQ2_XS" | "IQ2_S" | "IQ3_XXS" | "IQ3_S" | "IQ4_XS" => {
            "IQ4_NL"
        }
        "Q2_K" | "Q3_K" => "Q4_0",
        "Q4_K" => "Q5_0",
        "Q5_K" => "Q5_1",
        "Q6_K" => "Q8_0",
        _ => ty.name(),
    };
    let alt_ty = t(alt).unwrap_or(ty);
    if ncols % alt_ty.traits().block_size.max(1) != 0 {
        t("F16").unwrap_or(ty)
    } else {
        alt_ty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(n_expert: u32, n_gqa: u64, n_layer: u32) -> QuantContext {
        QuantContext {
            arch: "llama".into(),
            n_expert,
            n_gqa,
            n_layer_all: n_layer,
            is_70b: false,
            has_imatrix: true,
        }
    }

    fn names(v: &[GgmlType]) -> Vec<&'static str> {
        v.iter().map(|t| t.name()).collect()
    }

    #[test]
    fn q4_k_m_bumps_attn_v_and_ffn_down_on_use_more_bits_layers() {
        // 16 layers: use_more_bits(i, 16) is true for i < 2, i >= 14, (i-2)%3 == 2.
        let dims = [4096u64, 4096];
        let names_owned: Vec<String> = (0..16)
            .map(|i| format!("blk.{i}.ffn_down.weight"))
            .collect();
        let shapes: Vec<TensorShape> = names_owned
            .iter()
            .map(|n| TensorShape {
                name: n,
                dims: &dims,
            })
            .collect();
        let got = assign_types(&shapes, FileType::Q4KM, &ctx(0, 4, 16)).unwrap();
        let want: Vec<&str> = (0..16)
            .map(|i| if use_more_bits(i, 16) { "Q6_K" } else { "Q4_K" })
            .collect();
        assert_eq!(names(&got), want);
        assert_eq!(got[0].name(), "Q6_K");
        assert_eq!(got[2].name(), "Q4_K");
        assert_eq!(got[4].name(), "Q6_K");
    }

    #[test]
    fn norms_routers_and_conv_keep_source_types_and_output_gets_q6_k() {
        let cases: [(&str, &[u64], FileType, &str); 6] = [
            ("blk.0.attn_norm.weight", &[4096], FileType::Q4KM, "F32"),
            (
                "blk.0.ffn_gate_inp.weight",
                &[2048, 128],
                FileType::Q4KM,
                "F32",
            ),
            ("blk.0.ssm_conv1d.weight", &[4, 8192], FileType::Q4KM, "F32"),
            ("output.weight", &[4096, 151936], FileType::Q4KM, "Q6_K"),
            ("output.weight", &[4096, 151936], FileType::IQ2XXS, "Q5_K"),
            (
                "blk.0.ffn_up_exps.weight",
                &[2048, 768, 128],
                FileType::Q8_0,
                "Q8_0",
            ),
        ];
        for (name, dims, ft, want) in cases {
            let got = assign_types(&[TensorShape { name, dims }], ft, &ctx(128, 8, 48)).unwrap();
            assert_eq!(got[0].name(), want, "{name} {ft:?}");
        }
    }

    #[test]
    fn rows_not_divisible_by_256_fall_back() {
        // gemma4 expert_feed_forward_length 704 is not a multiple of 256.
        let dims = [704u64, 2816, 128];
        let got = assign_types(
            &[TensorShape {
                name: "blk.3.ffn_down_exps.weight",
                dims: &dims,
            }],
            FileType::Q4KS,
            &ctx(128, 2, 30),
        )
        .unwrap();
        assert_eq!(got[0].name(), "Q5_0");
        let got = assign_types(
            &[TensorShape {
                name: "blk.3.ffn_down_exps.weight",
                dims: &dims,
            }],
            FileType::IQ2XXS,
            &ctx(128, 2, 30),
        )
        .unwrap();
        // IQ2 family: the first n_layer/8 ffn_down tensors (a counter, not the layer)
        // get Q2_K, which falls back to Q4_0 on a 704-wide row.
        assert_eq!(got[0].name(), "Q4_0");
        let dims = [704u64, 2816];
        let got = assign_types(
            &[TensorShape {
                name: "blk.3.attn_q.weight",
                dims: &dims,
            }],
            FileType::IQ2XXS,
            &ctx(128, 2, 30),
        )
        .unwrap();
        assert_eq!(got[0].name(), "IQ4_NL");
    }

    #[test]
    fn one_set_of_facts_types_every_file_type_as_a_fresh_one_does() {
        // The counters (attn_v, ffn_down) start again for each file type: typing
        // Q4_K_M after IQ2_XXS on shared facts equals typing it alone.
        let tensor_names: Vec<String> = (0..16)
            .flat_map(|i| {
                ["attn_v", "ffn_down", "attn_output"].map(|t| format!("blk.{i}.{t}.weight"))
            })
            .chain(["token_embd.weight".to_string()])
            .collect();
        let dims = [4096u64, 4096];
        let shapes: Vec<TensorShape> = tensor_names
            .iter()
            .map(|n| TensorShape {
                name: n,
                dims: &dims,
            })
            .collect();
        let c = ctx(0, 1, 16);
        let facts = TensorFacts::new(&shapes).unwrap();
        let shared: Vec<Vec<GgmlType>> = [FileType::IQ2XXS, FileType::Q4KM, FileType::Q3KM]
            .iter()
            .map(|&f| facts.assign(f, &c).unwrap())
            .collect();
        for (got, f) in shared
            .iter()
            .zip([FileType::IQ2XXS, FileType::Q4KM, FileType::Q3KM])
        {
            let fresh = TensorFacts::new(&shapes).unwrap().assign(f, &c).unwrap();
            assert_eq!(names(got), names(&fresh), "{f:?}");
        }
        // and the rules did act: Q4_K_M gives use_more_bits layers' attn_v Q6_K
        assert_eq!(shared[1][0].name(), "Q6_K");
        assert_eq!(shared[1][3 * 3].name(), "Q4_K");
    }

    #[test]
    fn file_type_names_round_trip() {
        for f in FileType::all() {
            assert_eq!(FileType::parse(f.name()), Some(f));
        }
        assert_eq!(FileType::from_id(15), Some(FileType::Q4KM));
    }
}
