//! ModelSpec from parsed GGUF headers (one file or every shard of a split model).
//!
//! Metadata comes from the first shard, tensors from all shards in order. Hyperparameters
//! are read as llama.cpp reads them ([`ArchParams`]); tensor byte sizes are the reader's
//! exact ggml sizes. Never fails: an unknown architecture or missing key yields generic
//! facts and a note. Reads nothing itself (the headers are already parsed).

use crate::gguf::GgufFile;
use crate::model::assemble::{assemble, RawTensor};
use crate::model::hparams::ArchParams;
use crate::model::quantize::FileType;
use crate::model::spec::ModelSpec;

impl ModelSpec {
    /// Builds the spec of a model from its shards' headers (first shard first).
    pub fn from_gguf(shards: &[GgufFile]) -> ModelSpec {
        let Some(first) = shards.first() else {
            return assemble(&ArchParams::default(), Vec::new(), String::new(), None);
        };
        let raw: Vec<RawTensor> = shards
            .iter()
            .flat_map(|s| s.tensors.iter())
            .map(|t| RawTensor {
                name: t.name.clone(),
                dims: t.dims.clone(),
                ggml_type: t.ggml_type,
                bytes: t.n_bytes,
            })
            .collect();
        let tensor_vocab = raw
            .iter()
            .find(|t| t.name == "token_embd.weight")
            .and_then(|t| t.dims.get(1).copied());
        let params = ArchParams::from_metadata(&first.metadata, tensor_vocab);
        let name = first
            .get_str("general.name")
            .filter(|n| !n.is_empty())
            .or_else(|| {
                first
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        let quant = first
            .get_u64("general.file_type")
            .and_then(FileType::from_id)
            .map(|f| f.name().to_string());
        let mut spec = assemble(&params, raw, name, quant);
        if shards.len() > 1 {
            spec.notes
                .push(format!("split model: {} shards", shards.len()));
        }
        spec
    }
}
