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
        // The file type llama-quantize records; files without one (converters, tests)
        // are named by the quant in their file name, as the hub's listings are.
        let quant = first
            .get_u64("general.file_type")
            .and_then(FileType::from_id)
            .map(|f| f.name().to_string())
            .or_else(|| {
                first
                    .path
                    .file_stem()
                    .and_then(|s| crate::gguf::remote::quant_label(&s.to_string_lossy()))
            });
        let mut spec = assemble(&params, raw, name, quant);
        if shards.len() > 1 {
            spec.notes
                .push(format!("split model: {} shards", shards.len()));
        }
        spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{Dialect, GgmlType, GgufString, MetaValue, TensorInfo};
    use std::path::PathBuf;

    fn shard(name: &str, meta: Vec<(String, MetaValue)>, tensors: &[(&str, Vec<u64>)]) -> GgufFile {
        let q8 = GgmlType::from_name("Q8_0").unwrap();
        GgufFile {
            path: PathBuf::from(name),
            version: 3,
            metadata: meta,
            tensors: tensors
                .iter()
                .map(|(n, d)| TensorInfo {
                    name: n.to_string(),
                    dims: d.clone(),
                    ggml_type: q8,
                    offset: 0,
                    n_bytes: q8.tensor_size(d).unwrap(),
                })
                .collect(),
            alignment: 32,
            data_offset: 0,
            file_size: 0,
            dialect: Dialect::Mainline,
        }
    }

    #[test]
    fn split_shards_form_one_model_with_metadata_from_the_first() {
        let meta = vec![
            (
                "general.architecture".to_string(),
                MetaValue::String(GgufString(b"qwen3moe".to_vec())),
            ),
            ("qwen3moe.block_count".to_string(), MetaValue::U32(2)),
            ("qwen3moe.expert_count".to_string(), MetaValue::U32(4)),
            ("qwen3moe.expert_used_count".to_string(), MetaValue::U32(2)),
            ("general.file_type".to_string(), MetaValue::U32(7)),
        ];
        let a = shard(
            "m-00001-of-00002.gguf",
            meta,
            &[
                ("token_embd.weight", vec![64, 100]),
                ("blk.0.ffn_up_exps.weight", vec![64, 32, 4]),
            ],
        );
        let b = shard(
            "m-00002-of-00002.gguf",
            Vec::new(),
            &[
                ("blk.1.ffn_up_exps.weight", vec![64, 32, 4]),
                ("output.weight", vec![64, 100]),
            ],
        );
        let spec = ModelSpec::from_gguf(&[a, b]);
        assert_eq!(spec.tensors.len(), 4);
        assert_eq!(spec.n_vocab, 100);
        assert_eq!(spec.quant.as_deref(), Some("Q8_0"));
        assert!(spec.layers.iter().all(|l| l.moe));
        assert_eq!(spec.layers[1].expert_bytes.0, spec.tensors[2].bytes.0);
        assert!(spec.notes.iter().any(|n| n.contains("2 shards")));
        assert!(spec.engines.llama_cpp && spec.engines.ik_llama_cpp);
    }

    #[test]
    fn ik_only_tensor_types_rule_out_mainline() {
        let meta = vec![(
            "general.architecture".to_string(),
            MetaValue::String(GgufString(b"llama".to_vec())),
        )];
        let mut f = shard("m.gguf", meta, &[("blk.0.attn_q.weight", vec![256, 256])]);
        let iq4ks = GgmlType::from_name("IQ4_KS").unwrap();
        f.tensors[0].ggml_type = iq4ks;
        f.tensors[0].n_bytes = iq4ks.tensor_size(&[256, 256]).unwrap();
        let spec = ModelSpec::from_gguf(&[f]);
        assert!(!spec.engines.llama_cpp);
        assert!(spec.engines.ik_llama_cpp);
        assert!(
            spec.engines.notes[0].contains("IQ4_KS"),
            "{:?}",
            spec.engines.notes
        );
    }
}
