//! The bundled model catalog: models rigplan can plan for without a file on disk.
//!
//! One TOML per model under `profiles/models/`, embedded at build time. Each gives the
//! model's hyperparameters in GGUF key spelling (without the `{arch}.` prefix), the
//! sources of those facts, and published file sizes where known. A catalog entry plus a
//! quant becomes a [`ModelSpec`] of the same shape a real GGUF has: tensor shapes from
//! [`synth`], per-tensor types from llama.cpp's quant rules ([`quantize`]), exact ggml
//! byte sizes. A named non-standard file (e.g. `UD-Q4_K_XL`) uses the standard file type
//! it declares as `base` and scales every quantized tensor's bytes by one factor so the
//! total equals the recorded file size (types keep the base's labels; the note says so).
//! No I/O beyond the embedded text.

use crate::error::{Context, Error, Result};
use crate::gguf::{GgmlType, GgufString, MetaValue};
use crate::model::assemble::{assemble, RawTensor};
use crate::model::hparams::ArchParams;
use crate::model::quantize::{FileType, QuantContext, TensorFacts, TensorShape};
use crate::model::spec::ModelSpec;
use crate::model::synth::{tensor_shapes, Shape, SynthOptions};
use serde::Deserialize;

/// The embedded TOML files (file name, text).
const FILES: &[(&str, &str)] = &[
    (
        "qwen3.5-35b-a3b.toml",
        include_str!("../../profiles/models/qwen3.5-35b-a3b.toml"),
    ),
    (
        "qwen3.5-27b.toml",
        include_str!("../../profiles/models/qwen3.5-27b.toml"),
    ),
    (
        "qwen3.6-35b-a3b.toml",
        include_str!("../../profiles/models/qwen3.6-35b-a3b.toml"),
    ),
    (
        "gemma-4-26b-a4b.toml",
        include_str!("../../profiles/models/gemma-4-26b-a4b.toml"),
    ),
    (
        "qwen3-30b-a3b.toml",
        include_str!("../../profiles/models/qwen3-30b-a3b.toml"),
    ),
    (
        "qwen3-next-80b-a3b.toml",
        include_str!("../../profiles/models/qwen3-next-80b-a3b.toml"),
    ),
    (
        "gpt-oss-20b.toml",
        include_str!("../../profiles/models/gpt-oss-20b.toml"),
    ),
    (
        "gpt-oss-120b.toml",
        include_str!("../../profiles/models/gpt-oss-120b.toml"),
    ),
    (
        "llama-3.2-3b.toml",
        include_str!("../../profiles/models/llama-3.2-3b.toml"),
    ),
    (
        "llama-3.1-8b.toml",
        include_str!("../../profiles/models/llama-3.1-8b.toml"),
    ),
    (
        "llama-3.3-70b.toml",
        include_str!("../../profiles/models/llama-3.3-70b.toml"),
    ),
    (
        "mixtral-8x7b.toml",
        include_str!("../../profiles/models/mixtral-8x7b.toml"),
    ),
    (
        "deepseek-r1.toml",
        include_str!("../../profiles/models/deepseek-r1.toml"),
    ),
    (
        "glm-4.5-air.toml",
        include_str!("../../profiles/models/glm-4.5-air.toml"),
    ),
    (
        "deepseek-v3.1.toml",
        include_str!("../../profiles/models/deepseek-v3.1.toml"),
    ),
    (
        "devstral-small-2507.toml",
        include_str!("../../profiles/models/devstral-small-2507.toml"),
    ),
    (
        "gemma-3-12b.toml",
        include_str!("../../profiles/models/gemma-3-12b.toml"),
    ),
    (
        "gemma-3-1b.toml",
        include_str!("../../profiles/models/gemma-3-1b.toml"),
    ),
    (
        "gemma-3-27b.toml",
        include_str!("../../profiles/models/gemma-3-27b.toml"),
    ),
    (
        "gemma-3-4b.toml",
        include_str!("../../profiles/models/gemma-3-4b.toml"),
    ),
    (
        "glm-4.5.toml",
        include_str!("../../profiles/models/glm-4.5.toml"),
    ),
    (
        "glm-4.6.toml",
        include_str!("../../profiles/models/glm-4.6.toml"),
    ),
    (
        "kimi-k2.toml",
        include_str!("../../profiles/models/kimi-k2.toml"),
    ),
    (
        "llama-3.2-1b.toml",
        include_str!("../../profiles/models/llama-3.2-1b.toml"),
    ),
    (
        "mistral-nemo-12b.toml",
        include_str!("../../profiles/models/mistral-nemo-12b.toml"),
    ),
    (
        "mistral-small-3.2-24b.toml",
        include_str!("../../profiles/models/mistral-small-3.2-24b.toml"),
    ),
    (
        "qwen2.5-coder-32b.toml",
        include_str!("../../profiles/models/qwen2.5-coder-32b.toml"),
    ),
    (
        "qwen2.5-coder-7b.toml",
        include_str!("../../profiles/models/qwen2.5-coder-7b.toml"),
    ),
    (
        "qwen3-0.6b.toml",
        include_str!("../../profiles/models/qwen3-0.6b.toml"),
    ),
    (
        "qwen3-1.7b.toml",
        include_str!("../../profiles/models/qwen3-1.7b.toml"),
    ),
    (
        "qwen3-14b.toml",
        include_str!("../../profiles/models/qwen3-14b.toml"),
    ),
    (
        "qwen3-235b-a22b.toml",
        include_str!("../../profiles/models/qwen3-235b-a22b.toml"),
    ),
    (
        "qwen3-32b.toml",
        include_str!("../../profiles/models/qwen3-32b.toml"),
    ),
    (
        "qwen3-4b.toml",
        include_str!("../../profiles/models/qwen3-4b.toml"),
    ),
    (
        "qwen3-8b.toml",
        include_str!("../../profiles/models/qwen3-8b.toml"),
    ),
    (
        "qwen3-coder-30b-a3b.toml",
        include_str!("../../profiles/models/qwen3-coder-30b-a3b.toml"),
    ),
    (
        "qwen3-coder-480b-a35b.toml",
        include_str!("../../profiles/models/qwen3-coder-480b-a35b.toml"),
    ),
    (
        "qwen3-coder-next.toml",
        include_str!("../../profiles/models/qwen3-coder-next.toml"),
    ),
    (
        "qwen3.5-4b.toml",
        include_str!("../../profiles/models/qwen3.5-4b.toml"),
    ),
    (
        "qwen3.5-9b.toml",
        include_str!("../../profiles/models/qwen3.5-9b.toml"),
    ),
    (
        "granite-4.0-h-tiny.toml",
        include_str!("../../profiles/models/granite-4.0-h-tiny.toml"),
    ),
    (
        "minimax-m2.toml",
        include_str!("../../profiles/models/minimax-m2.toml"),
    ),
    (
        "phi-4.toml",
        include_str!("../../profiles/models/phi-4.toml"),
    ),
    (
        "nemotron-nano-9b-v2.toml",
        include_str!("../../profiles/models/nemotron-nano-9b-v2.toml"),
    ),
    (
        "llama-4-maverick.toml",
        include_str!("../../profiles/models/llama-4-maverick.toml"),
    ),
    (
        "llama-4-scout.toml",
        include_str!("../../profiles/models/llama-4-scout.toml"),
    ),
    (
        "qwen3.5-0.8b.toml",
        include_str!("../../profiles/models/qwen3.5-0.8b.toml"),
    ),
];

/// A published GGUF file of a catalog model.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct KnownFile {
    /// File-name spelling of the quant (`IQ2_XXS`, `UD-Q4_K_XL`, `MXFP4`).
    pub quant: String,
    pub size_bytes: u64,
    /// True when the source gives a rounded figure ("~60 GB", "9.6GB").
    #[serde(default)]
    pub approximate: bool,
    /// For a non-standard quant: the llama-quantize file type whose rules it starts from.
    #[serde(default)]
    pub base: Option<String>,
    pub source: String,
    /// The Hugging Face repository publishing this file (`unsloth/Qwen3.5-35B-A3B-GGUF`).
    #[serde(default)]
    pub hf_repo: Option<String>,
    /// The file's path in `hf_repo`; for a split model its first shard
    /// (`Q8_0/X-Q8_0-00001-of-00003.gguf`).
    #[serde(default)]
    pub hf_file: Option<String>,
    /// Number of files of a split model.
    #[serde(default)]
    pub shards: Option<u32>,
    /// A standard quant name whose published file is larger than llama-quantize's own
    /// rules for that quant give (the publisher's recipe keeps some tensors at more
    /// bits, or the file carries extra tensors): its quantized tensors are scaled to
    /// the published size, as for a named quant, so a plan counts the file the engine
    /// downloads. Say why in `source`.
    #[serde(default)]
    pub publisher_recipe: bool,
}

/// A published vision projector (`mmproj`) GGUF of a catalog model.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct KnownProjector {
    pub hf_repo: String,
    pub hf_file: String,
    /// Its weights' type: `F16`, `BF16`, `Q8_0`.
    #[serde(rename = "type")]
    pub weight_type: String,
    pub size_bytes: u64,
    pub source: String,
    /// Its image-encoding compute buffer on the GPU, as the engine logged it
    /// (`alloc_compute_meta: CUDA0 compute buffer size`), with `compute_source`.
    #[serde(default)]
    pub compute_bytes: Option<u64>,
    #[serde(default)]
    pub compute_source: Option<String>,
}

/// The Hugging Face repository publishing a catalog model's quants when no file of it
/// is recorded, or why none is. The engine's downloader picks the quant's file from the
/// repository listing (`-hf REPO:QUANT`: `common/download.cpp` `find_best_model`, a
/// file whose path contains `QUANT.` or `QUANT-`, first shard of a split, and
/// `get_split_files` fetches every shard), so the repository name is enough.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct KnownRepo {
    /// `OWNER/NAME`; absent when no repository could be confirmed.
    #[serde(default)]
    pub hf_repo: Option<String>,
    /// Quant tags a source shows in the repository.
    #[serde(default)]
    pub quants: Vec<String>,
    /// Where the repository (and its quants) was confirmed; without a repository, why
    /// there is none.
    pub source: String,
}

/// Where a quant of a catalog model is published (see [`CatalogEntry::hf_location`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HfLocation {
    pub repo: String,
    /// Path in the repository (first shard of a split model), when recorded.
    pub file: Option<String>,
    pub quant: String,
    pub shards: Option<u32>,
}

/// One catalog model as written in its TOML.
#[derive(Clone, Debug, Deserialize)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub default: bool,
    pub default_quant: String,
    #[serde(default)]
    pub tied_output: bool,
    #[serde(default)]
    pub rope_freqs: bool,
    #[serde(default)]
    pub k_eq_v: bool,
    /// Hyperparameters in GGUF key spelling without the `{arch}.` prefix, plus
    /// `architecture`.
    pub gguf: toml::Table,
    #[serde(default)]
    pub files: Vec<KnownFile>,
    /// Published vision projectors, for `--mmproj auto`.
    #[serde(default)]
    pub projectors: Vec<KnownProjector>,
    /// The repository of its quants when `files` records none (or no download).
    #[serde(default)]
    pub download: Option<KnownRepo>,
    /// The projector's GGUF `clip.vision.*` keys (without the prefix): image_size,
    /// patch_size, embedding_length, block_count, feed_forward_length, head_count,
    /// projection_dim.
    #[serde(default)]
    pub vision: Option<toml::Table>,
}

/// Every catalog entry. A TOML that fails to parse is a build defect caught by tests;
/// here it is skipped rather than panicking.
/// The TOMLs are compiled in, so they are parsed once per process (parsing all of them
/// cost a plan about a quarter of its instructions when every lookup did it).
pub fn entries() -> Vec<CatalogEntry> {
    all().to_vec()
}

/// The parsed catalog, shared: lookups clone only the entry they return (cloning all of
/// them cost a plan about 5% of its instructions).
pub fn all() -> &'static [CatalogEntry] {
    static PARSED: std::sync::OnceLock<Vec<CatalogEntry>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        FILES
            .iter()
            .filter_map(|(_, text)| toml::from_str::<CatalogEntry>(text).ok())
            .collect()
    })
}

/// The default model (`default = true`).
pub fn default_entry() -> Option<CatalogEntry> {
    all().iter().find(|e| e.default).cloned()
}

/// Looks an id up (case-insensitive).
pub fn find(id: &str) -> Option<CatalogEntry> {
    all()
        .iter()
        .find(|e| e.id.eq_ignore_ascii_case(id))
        .cloned()
}

/// Catalog ids closest to `input` (for "did you mean" messages).
pub fn close_ids(input: &str) -> Vec<String> {
    let needle = input.to_ascii_lowercase();
    let mut scored: Vec<(usize, String)> = entries()
        .into_iter()
        .map(|e| {
            let d = if e.id.starts_with(&needle) {
                0
            } else {
                edit_distance(&needle, &e.id)
            };
            (d, e.id)
        })
        .collect();
    scored.sort();
    let best = scored.first().map_or(0, |(d, _)| *d);
    scored
        .into_iter()
        .filter(|(d, id)| *d <= best + 2 || id.contains(&needle) || needle.contains(id.as_str()))
        .take(3)
        .map(|(_, id)| id)
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl CatalogEntry {
    /// An integer hyperparameter in GGUF key spelling without the `{arch}.` prefix
    /// (`block_count`, `embedding_length`), as the entry gives it.
    pub fn hparam(&self, key: &str) -> Option<u64> {
        self.gguf
            .get(key)
            .and_then(|v| v.as_integer())
            .and_then(|v| u64::try_from(v).ok())
    }

    pub fn architecture(&self) -> String {
        self.gguf
            .get("architecture")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// The metadata list a GGUF of this model would carry.
    pub fn metadata(&self) -> Vec<(String, MetaValue)> {
        let arch = self.architecture();
        let mut out = vec![(
            "general.architecture".to_string(),
            MetaValue::String(GgufString(arch.clone().into_bytes())),
        )];
        for (k, v) in &self.gguf {
            if k == "architecture" {
                continue;
            }
            if let Some(mv) = toml_to_meta(v) {
                out.push((format!("{arch}.{k}"), mv));
            }
        }
        out
    }

    pub fn params(&self) -> ArchParams {
        ArchParams::from_metadata(&self.metadata(), None)
    }

    pub fn synth_options(&self) -> SynthOptions {
        SynthOptions {
            tied_output: self.tied_output,
            rope_freqs: self.rope_freqs,
            k_eq_v: self.k_eq_v,
        }
    }

    /// The quants this entry can produce: every standard file type plus named files.
    pub fn quants(&self) -> Vec<String> {
        let mut q: Vec<String> = FileType::all().map(|f| f.name().to_string()).collect();
        q.push("MXFP4".into());
        for f in &self.files {
            if !q.iter().any(|x| x.eq_ignore_ascii_case(&f.quant)) {
                q.push(f.quant.clone());
            }
        }
        q
    }

    /// Where `quant` of this model is published on Hugging Face: the recorded file, else
    /// the repository of the entry's recorded files with only the quant known (the
    /// engine looks for the file whose name carries it); `None` without any repository.
    pub fn hf_location(&self, quant: &str) -> Option<HfLocation> {
        if let Some(f) = self
            .files
            .iter()
            .find(|f| f.quant.eq_ignore_ascii_case(quant) && f.hf_repo.is_some())
        {
            return Some(HfLocation {
                repo: f.hf_repo.clone()?,
                file: f.hf_file.clone(),
                quant: f.quant.clone(),
                shards: f.shards,
            });
        }
        let repo = self
            .files
            .iter()
            .find_map(|f| f.hf_repo.clone())
            .or_else(|| self.download.as_ref().and_then(|d| d.hf_repo.clone()))?;
        Some(HfLocation {
            repo,
            file: None,
            quant: quant.to_string(),
            shards: None,
        })
    }

    /// When `quant` downloads from [`Self::download`]'s repository but no source shows
    /// that quant there: the quants a source does show.
    pub fn unconfirmed_download(&self, quant: &str) -> Option<(String, Vec<String>)> {
        if self
            .files
            .iter()
            .any(|f| f.hf_repo.is_some() && f.quant.eq_ignore_ascii_case(quant))
        {
            return None;
        }
        if self.files.iter().any(|f| f.hf_repo.is_some()) {
            return None;
        }
        let d = self.download.as_ref()?;
        let repo = d.hf_repo.clone()?;
        let shown = d.quants.iter().any(|q| q.eq_ignore_ascii_case(quant));
        (!shown && !d.quants.is_empty()).then(|| (repo, d.quants.clone()))
    }

    /// The spec of this model at `quant` (default: `default_quant`).
    pub fn spec(&self, quant: Option<&str>) -> Result<ModelSpec> {
        let quant = quant.unwrap_or(&self.default_quant);
        let ftype = self.file_type(quant)?;
        self.shapes()?.spec_at(quant, ftype)
    }

    /// The llama-quantize file type `quant` is, or whose rules a named file follows.
    fn file_type(&self, quant: &str) -> Result<FileType> {
        let known = self.file(quant);
        parse_file_type(quant)
            .or_else(|| {
                known
                    .and_then(|f| f.base.as_deref())
                    .and_then(parse_file_type)
            })
            .ok_or_else(|| {
                let named: Vec<&str> = self.files.iter().map(|f| f.quant.as_str()).collect();
                crate::error::user_error(format!(
                    "'{}' has no quant '{quant}' (use a llama-quantize type such as Q4_K_M, IQ2_XXS, Q8_0{}{})",
                    self.id,
                    if named.is_empty() { "" } else { ", or a published file: " },
                    named.join(", ")
                ))
            })
    }

    fn file(&self, quant: &str) -> Option<&KnownFile> {
        self.files
            .iter()
            .find(|f| f.quant.eq_ignore_ascii_case(quant))
    }

    /// What every quant of this entry shares: hyperparameters, tensor shapes and the
    /// quant rules' per-tensor facts, built once for any number of [`Shapes::spec`]s.
    pub fn shapes(&self) -> Result<Shapes<'_>> {
        let params = self.params();
        let shapes = tensor_shapes(&params, self.synth_options()).ok_or_else(|| {
            Error::failed(format!("catalog entry '{}': unknown architecture", self.id))
        })?;
        let ts: Vec<TensorShape<'_>> = shapes
            .iter()
            .map(|(n, d)| TensorShape { name: n, dims: d })
            .collect();
        let facts = TensorFacts::new(&ts)
            .ok_or_else(|| Error::failed("ggml type table lacks F32 or BF16"))?;
        Ok(Shapes {
            entry: self,
            ctx: quant_context(&params),
            params,
            shapes,
            facts,
        })
    }
}

/// A catalog entry's quant-independent part (see [`CatalogEntry::shapes`]).
pub struct Shapes<'e> {
    entry: &'e CatalogEntry,
    params: ArchParams,
    shapes: Vec<Shape>,
    ctx: QuantContext,
    facts: TensorFacts,
}

impl Shapes<'_> {
    /// The spec at `quant`, as [`CatalogEntry::spec`] gives it.
    pub fn spec(&self, quant: &str) -> Result<ModelSpec> {
        self.spec_at(quant, self.entry.file_type(quant)?)
    }

    fn spec_at(&self, quant: &str, ftype: FileType) -> Result<ModelSpec> {
        let entry = self.entry;
        let types = self.facts.assign(ftype, &self.ctx).ok_or_else(|| {
            Error::failed(format!(
                "ggml type table lacks a type {} needs",
                ftype.name()
            ))
        })?;
        let mut raw = Vec::with_capacity(self.shapes.len());
        for ((name, dims), ty) in self.shapes.iter().zip(types) {
            let bytes = ty
                .tensor_size(dims)
                .with_context(|| format!("catalog '{}': tensor '{name}' size", entry.id))?;
            raw.push(RawTensor {
                name: name.clone(),
                dims: dims.clone(),
                ggml_type: ty,
                bytes,
            });
        }
        let mut notes = Vec::new();
        let computed: u64 = raw.iter().map(|t| t.bytes).sum();
        if let Some(f) = entry.file(quant) {
            if parse_file_type(quant).is_none() || f.publisher_recipe {
                scale_to(&mut raw, f.size_bytes);
                notes.push(format!(
                    "{quant}: per-tensor types from llama.cpp's {} rules; bytes of quantized tensors scaled by {:.3} to the published size {} ({})",
                    ftype.name(),
                    f.size_bytes as f64 / computed.max(1) as f64,
                    f.size_bytes,
                    f.source
                ));
            } else {
                notes.push(format!(
                    "published {quant} file: {} bytes{} ({}); computed {computed}",
                    f.size_bytes,
                    if f.approximate { " (rounded)" } else { "" },
                    f.source
                ));
            }
        }
        let mut spec = assemble(
            &self.params,
            raw,
            entry.name.clone(),
            Some(quant.to_string()),
        );
        spec.notes
            .push(format!("from the catalog entry '{}'", entry.id));
        spec.notes.extend(notes);
        Ok(spec)
    }
}

fn parse_file_type(q: &str) -> Option<FileType> {
    if q.eq_ignore_ascii_case("MXFP4") {
        return Some(FileType::Mxfp4Moe);
    }
    FileType::parse(q)
}

/// Model facts the quant rules read (`qs.model.hparams`, `qs.model.type`).
pub fn quant_context(p: &ArchParams) -> QuantContext {
    let kv0 = p.n_head_kv_at(0);
    let n_gqa = p.n_head_at(0).checked_div(kv0).unwrap_or(0);
    QuantContext {
        arch: p.arch.clone(),
        n_expert: p.n_expert,
        n_gqa,
        n_layer_all: p.n_layer_all,
        // LLM_TYPE_70B: llama with 80 layers and n_head != n_head_kv
        // (src/models/llama.cpp), qwen2 with 80 layers (src/models/qwen2.cpp).
        is_70b: (p.arch == "llama" && p.n_layer() == 80 && n_gqa > 1)
            || (p.arch == "qwen2" && p.n_layer() == 80),
        has_imatrix: true,
    }
}

/// Scales quantized tensors' bytes so the total equals `target`.
fn scale_to(raw: &mut [RawTensor], target: u64) {
    let fixed: u64 = raw
        .iter()
        .filter(|t| !is_quantized(t.ggml_type))
        .map(|t| t.bytes)
        .sum();
    let q: u64 = raw
        .iter()
        .filter(|t| is_quantized(t.ggml_type))
        .map(|t| t.bytes)
        .sum();
    if q == 0 || target <= fixed {
        return;
    }
    let f = (target - fixed) as f64 / q as f64;
    for t in raw.iter_mut().filter(|t| is_quantized(t.ggml_type)) {
        t.bytes = (t.bytes as f64 * f).round() as u64;
    }
}

fn is_quantized(t: GgmlType) -> bool {
    t.traits().block_size > 1
}

fn toml_to_meta(v: &toml::Value) -> Option<MetaValue> {
    Some(match v {
        toml::Value::Integer(i) => {
            if let Ok(u) = u32::try_from(*i) {
                MetaValue::U32(u)
            } else {
                MetaValue::I64(*i)
            }
        }
        toml::Value::Float(f) => MetaValue::F32(*f as f32),
        toml::Value::Boolean(b) => MetaValue::Bool(*b),
        toml::Value::String(s) => MetaValue::String(GgufString(s.clone().into_bytes())),
        toml::Value::Array(a) => MetaValue::Array(a.iter().filter_map(toml_to_meta).collect()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_parses_and_ids_match_file_names() {
        assert_eq!(entries().len(), FILES.len());
        for (file, text) in FILES {
            let e: CatalogEntry = toml::from_str(text).unwrap();
            assert_eq!(format!("{}.toml", e.id), *file);
            assert_eq!(e.id, e.id.to_ascii_lowercase());
            assert!(e.params().known, "{}", e.id);
        }
        assert_eq!(default_entry().unwrap().id, "qwen3.5-35b-a3b");
    }

    #[test]
    fn every_entry_builds_at_its_default_quant() {
        for e in entries() {
            let s = e.spec(None).unwrap();
            // a real model (the smallest entries are 0.6B) at a 4- to 8-bit default quant:
            // between 0.45 and 1.1 bytes a parameter
            let per_param = s.total_bytes().0 as f64 / s.total_parameters() as f64;
            assert!(s.total_parameters() > 500_000_000, "{}", e.id);
            assert!((0.45..1.1).contains(&per_param), "{}: {per_param}", e.id);
            assert_eq!(s.layers.len() as u32, s.n_layer);
        }
    }

    /// Every recorded file of a standard quant is within 2% of the computed size.
    #[test]
    fn computed_sizes_match_published_files() {
        let mut checked = 0;
        for e in entries() {
            for f in &e.files {
                if f.base.is_some() || f.publisher_recipe {
                    continue;
                }
                let s = e.spec(Some(&f.quant)).unwrap();
                let got = s.total_bytes().0 as f64;
                let want = f.size_bytes as f64;
                let err = (got - want).abs() / want;
                // gpt-oss figures are rounded to whole GB on their page ("~11 GB"): 10%.
                let tol = if f.approximate && want < 1e11 && f.source.contains("~") {
                    0.10
                } else {
                    0.02
                };
                assert!(
                    err < tol,
                    "{} {}: computed {got} vs published {want} ({:.1}%)",
                    e.id,
                    f.quant,
                    err * 100.0
                );
                checked += 1;
            }
        }
        assert!(checked >= 3);
    }

    /// A published file whose recipe is larger than llama-quantize's rules for its quant
    /// is counted at its published size, and llama-quantize's own size is still what
    /// the rules give (the dry-run test checks those types against the pinned engine).
    #[test]
    fn publisher_recipes_count_the_published_size() {
        let mut checked = 0;
        for e in entries() {
            for f in e.files.iter().filter(|f| f.publisher_recipe) {
                assert!(parse_file_type(&f.quant).is_some(), "{} {}", e.id, f.quant);
                let got = e.spec(Some(&f.quant)).unwrap().total_bytes().0;
                assert!(
                    got.abs_diff(f.size_bytes) < f.size_bytes / 10_000,
                    "{} {}: {got} vs {}",
                    e.id,
                    f.quant,
                    f.size_bytes
                );
                let mut plain = e.clone();
                plain.files.clear();
                let rules = plain.spec(Some(&f.quant)).unwrap().total_bytes().0;
                assert!(rules < f.size_bytes, "{} {}", e.id, f.quant);
                checked += 1;
            }
        }
        assert!(checked >= 2);
    }

    /// Parameter counts match what llama-bench reports for real files of these models
    /// (public benchmark table: Qwen3.5-35B-A3B 34.66 B, Qwen3.5-27B 26.90 B).
    #[test]
    fn parameter_counts_match_llama_bench() {
        for (id, want) in [("qwen3.5-35b-a3b", 34.66), ("qwen3.5-27b", 26.90)] {
            let s = find(id).unwrap().spec(None).unwrap();
            let got = s.total_parameters() as f64 / 1e9;
            assert!((got - want).abs() < 0.006, "{id}: {got:.3} B vs {want} B");
        }
    }

    /// Parameter counts match llama.cpp's `print_info: model params` for real files of
    /// these models (printed to 0.01 B): gpt-oss-120b 116.83 B
    /// (https://github.com/ggml-org/llama.cpp/issues/15253 and a public LM Studio log of the
    /// same lmstudio-community file); Llama-3.2-3B 3.21 B
    /// (https://github.com/geerlingguy/ai-benchmarks/issues/53, llama-bench); Llama-3.1-8B
    /// 8.03 B (llama.cpp loads of Ollama's llama3.1:8b blob sha256-667b0c19..., in public logs).
    #[test]
    fn parameter_counts_match_print_info() {
        for (id, want) in [
            ("gpt-oss-120b", 116.83),
            ("llama-3.2-3b", 3.21),
            ("llama-3.1-8b", 8.03),
        ] {
            let s = find(id).unwrap().spec(None).unwrap();
            let got = s.total_parameters() as f64 / 1e9;
            assert!((got - want).abs() < 0.006, "{id}: {got:.3} B vs {want} B");
        }
    }

    /// GLM-4.5-Air's GGUF prints "model params = 110.469 B"
    /// (https://github.com/ikawrakow/ik_llama.cpp/issues/749), counting the MTP layer's
    /// optional nextn.embed_tokens and nextn.shared_head_head ({n_embd, n_vocab} each,
    /// listed in that log), which synth.rs emits for glm4moe.
    #[test]
    fn glm_parameter_count_matches_the_published_file() {
        let s = find("glm-4.5-air").unwrap().spec(None).unwrap();
        let got = s.total_parameters() as f64 / 1e9;
        assert!((got - 110.469).abs() < 0.0006, "{got:.4} B");
    }

    /// Tensor count per ggml type equals what llama.cpp's loader listed for real files:
    /// gpt-oss-120b MXFP4 (https://github.com/ggml-org/llama.cpp/issues/15253: f32 433,
    /// q8_0 146, mxfp4 108); Ollama's llama3.2 Q4_K_M blob sha256-dde5aa3f... (f32 58, q4_K
    /// 168, q6_K 29) and llama3.1:8b blob sha256-667b0c19... (f32 66, q4_K 193, q6_K 33), from
    /// llama.cpp load logs of those blobs quoted in public repositories.
    #[test]
    fn tensor_types_match_published_files() {
        type TypeCounts = &'static [(&'static str, usize)];
        let cases: [(&str, &str, TypeCounts); 3] = [
            (
                "gpt-oss-120b",
                "MXFP4",
                &[("F32", 433), ("Q8_0", 146), ("MXFP4", 108)],
            ),
            (
                "llama-3.2-3b",
                "Q4_K_M",
                &[("F32", 58), ("Q4_K", 168), ("Q6_K", 29)],
            ),
            (
                "llama-3.1-8b",
                "Q4_K_M",
                &[("F32", 66), ("Q4_K", 193), ("Q6_K", 33)],
            ),
        ];
        for (id, quant, want) in cases {
            let s = find(id).unwrap().spec(Some(quant)).unwrap();
            let total: usize = want.iter().map(|(_, n)| n).sum();
            assert_eq!(s.tensors.len(), total, "{id} {quant} tensor count");
            for (ty, n) in want {
                let got = s
                    .tensors
                    .iter()
                    .filter(|t| t.ggml_type.name() == *ty)
                    .count();
                assert_eq!(got, *n, "{id} {quant} {ty}");
            }
        }
    }

    /// A GGUF file is its tensor bytes plus a header, for Llama 3 about 7.8 MB (128,256 token
    /// strings and 280,147 merges). Ollama's Q4_K_M and F16 files of Llama-3.1-8B share one
    /// header, so both must exceed the computed tensor bytes by the same amount, to the byte;
    /// the Llama-3.2-3B file by a header of the same kind. Sizes: the `[[files]]` entries.
    #[test]
    fn llama_files_are_tensor_bytes_plus_a_tokenizer_header() {
        let header = |id: &str, quant: &str| {
            let e = find(id).unwrap();
            let file = e.files.iter().find(|f| f.quant == quant).unwrap();
            let tensors = e.spec(Some(quant)).unwrap().total_bytes().0;
            file.size_bytes as i64 - tensors as i64
        };
        let q4 = header("llama-3.1-8b", "Q4_K_M");
        assert_eq!(q4, header("llama-3.1-8b", "F16"));
        for h in [q4, header("llama-3.2-3b", "Q4_K_M")] {
            assert!(h > 7_000_000 && h < 8_000_000, "header {h} bytes");
        }
    }

    /// A named non-standard file keeps its base's types and totals its published size.
    #[test]
    fn named_files_scale_to_their_published_size() {
        let e = find("gemma-4-26b-a4b").unwrap();
        let s = e.spec(Some("UD-Q4_K_XL")).unwrap();
        let want = 17_010_980_576u64;
        let got = s.total_bytes().0;
        assert!(got.abs_diff(want) < 1_000_000, "{got} vs {want}");
        assert!(s.notes.iter().any(|n| n.contains("scaled")));
        let base = e.spec(Some("Q4_K_M")).unwrap();
        assert_eq!(base.tensors.len(), s.tensors.len());
    }

    #[test]
    fn published_quants_name_their_file_and_others_their_repository() {
        let e = find("qwen3.5-35b-a3b").unwrap();
        let at = |q: &str| e.hf_location(q).unwrap();
        assert_eq!(
            at("ud-q4_k_xl").file.as_deref(),
            Some("Qwen3.5-35B-A3B-UD-Q4_K_XL.gguf")
        );
        assert_eq!(at("UD-Q4_K_XL").repo, "unsloth/Qwen3.5-35B-A3B-GGUF");
        let q6 = at("Q6_K");
        assert_eq!((q6.file, q6.quant.as_str()), (None, "Q6_K"));
        // Every recorded location names an OWNER/REPO and a .gguf file.
        for e in entries() {
            for f in &e.files {
                if let Some(r) = &f.hf_repo {
                    assert_eq!(r.split('/').count(), 2, "{} {r}", e.id);
                    let file = f.hf_file.as_deref().unwrap_or("");
                    assert!(file.ends_with(".gguf"), "{} {}: '{file}'", e.id, f.quant);
                }
            }
            for p in &e.projectors {
                assert!(p.hf_file.ends_with(".gguf") && p.size_bytes > 0, "{}", e.id);
            }
        }
    }

    /// Every catalog model can be downloaded by the emitted command (a recorded file or
    /// repository), or records why not; a repository names where it was confirmed.
    #[test]
    fn every_entry_has_a_download_or_a_recorded_reason() {
        for e in entries() {
            let file = e.files.iter().any(|f| f.hf_repo.is_some());
            match &e.download {
                Some(d) => {
                    assert!(!d.source.trim().is_empty(), "{}: empty source", e.id);
                    if let Some(r) = &d.hf_repo {
                        assert_eq!(r.split('/').count(), 2, "{} {r}", e.id);
                        assert!(d.source.contains(r.as_str()), "{}: source names {r}", e.id);
                    }
                }
                None => assert!(file, "{}: no download and no reason recorded", e.id),
            }
            if file || e.download.as_ref().is_some_and(|d| d.hf_repo.is_some()) {
                let at = e.hf_location(&e.default_quant).unwrap();
                assert_eq!(at.repo.split('/').count(), 2, "{}", e.id);
            }
        }
        let r1 = find("deepseek-r1").unwrap().hf_location("Q4_K_M").unwrap();
        assert_eq!(
            (r1.repo.as_str(), r1.file, r1.quant.as_str()),
            ("unsloth/DeepSeek-R1-GGUF", None, "Q4_K_M")
        );
        // a quant no source shows in that repository is named as such
        let e = find("mixtral-8x7b").unwrap();
        assert_eq!(e.unconfirmed_download("Q4_K_M"), None);
        let (repo, seen) = e.unconfirmed_download("IQ4_XS").unwrap();
        assert_eq!(repo, "TheBloke/Mixtral-8x7B-Instruct-v0.1-GGUF");
        assert!(seen.contains(&"Q4_K_M".to_string()));
        // models with recorded files are not second-guessed
        assert_eq!(
            find("qwen3.5-35b-a3b")
                .unwrap()
                .unconfirmed_download("Q6_K"),
            None
        );
    }

    #[test]
    fn close_ids_suggest_the_near_miss() {
        assert_eq!(close_ids("qwen3.5-35b")[0], "qwen3.5-35b-a3b");
        assert!(close_ids("gpt-oss-21b").contains(&"gpt-oss-20b".to_string()));
    }
}
