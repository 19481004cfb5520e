//! Split models (`NAME-00001-of-0000N.gguf`): find every shard, read each header, check
//! they belong together and present them as one model.
//!
//! The naming and the checks follow llama.cpp (src/llama.cpp `llama_split_path`, format
//! `%s-%05d-of-%05d.gguf`; src/llama-model-loader.cpp: `split.count` u16 in the first
//! shard, `split.no` u16 counted from 0 in each, no tensor name in two shards). Unlike
//! llama.cpp, any shard's name may be given: the first is found from it. Only headers
//! are read; this module never opens tensor data and knows nothing of architectures.

use super::{GgufError, GgufFile, MetaValue, TensorInfo};
use std::path::{Path, PathBuf};

/// `split.count`: how many shards the model has (llama-arch.cpp `LLM_KV_SPLIT_COUNT`).
pub const KEY_SPLIT_COUNT: &str = "split.count";
/// `split.no`: this shard's index, from 0 (llama-arch.cpp `LLM_KV_SPLIT_NO`).
pub const KEY_SPLIT_NO: &str = "split.no";
/// `split.tensors.count`: tensors in all shards together (`LLM_KV_SPLIT_TENSORS_COUNT`).
pub const KEY_SPLIT_TENSORS_COUNT: &str = "split.tensors.count";

/// The parts of a shard's file name: `PREFIX-NNNNN-of-MMMMM.gguf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardName {
    /// Everything before `-NNNNN-of-MMMMM.gguf` (may contain a directory).
    pub prefix: String,
    /// 1-based shard number from the name.
    pub number: u32,
    pub count: u32,
}

impl ShardName {
    /// Parses a shard name (a path or URL ending in `-NNNNN-of-MMMMM.gguf`).
    pub fn parse(name: &str) -> Option<ShardName> {
        let stem = name.strip_suffix(".gguf")?;
        let (rest, count) = stem.rsplit_once("-of-")?;
        let (prefix, number) = rest.rsplit_once('-')?;
        let digits = |s: &str| s.len() >= 5 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(number) || !digits(count) || prefix.is_empty() {
            return None;
        }
        let (number, count) = (number.parse().ok()?, count.parse().ok()?);
        if number == 0 || count == 0 || number > count {
            return None;
        }
        Some(ShardName {
            prefix: prefix.to_string(),
            number,
            count,
        })
    }

    /// The name of shard `number` (1-based), as llama.cpp's `llama_split_path` writes it.
    pub fn shard(&self, number: u32) -> String {
        format!("{}-{number:05}-of-{:05}.gguf", self.prefix, self.count)
    }
}

/// Opens a model: one file, or every shard of a split model (first shard first).
pub fn open_model(path: &Path) -> Result<Vec<GgufFile>, GgufError> {
    let name = path.to_string_lossy();
    let Some(shard_name) = ShardName::parse(&name) else {
        let file = GgufFile::open(path)?;
        if let Some(count) = split_count(&file)? {
            if count > 1 {
                return Err(invalid(
                    path,
                    format!(
                        "is shard {} of {count} of a split model, but its name does not end in -NNNNN-of-{count:05}.gguf, so the other shards cannot be found",
                        file.get_u64(KEY_SPLIT_NO).unwrap_or(0) + 1
                    ),
                ));
            }
        }
        return Ok(vec![file]);
    };
    let first_path = PathBuf::from(shard_name.shard(1));
    let first = if first_path == path {
        GgufFile::open(path)?
    } else {
        open_shard(&first_path, 1, &shard_name)?
    };
    let count = match split_count(&first)? {
        None | Some(0) | Some(1) => return Ok(vec![first]),
        Some(n) => n,
    };
    if count != shard_name.count {
        return Err(invalid(
            &first_path,
            format!(
                "split.count is {count} but the file name says {} shards",
                shard_name.count
            ),
        ));
    }
    let mut shards = vec![first];
    for number in 2..=count {
        let p = PathBuf::from(shard_name.shard(number));
        shards.push(open_shard(&p, number, &shard_name)?);
    }
    check_shards(&shards)?;
    Ok(shards)
}

fn open_shard(path: &Path, number: u32, name: &ShardName) -> Result<GgufFile, GgufError> {
    if !path.exists() {
        return Err(invalid(
            path,
            format!("shard {number} of {} is missing", name.count),
        ));
    }
    GgufFile::open(path)
}

fn invalid(path: &Path, what: String) -> GgufError {
    GgufError::Invalid {
        path: path.to_path_buf(),
        what,
    }
}

/// `split.count` of a shard, if present; malformed if present with a non-integer value.
fn split_count(file: &GgufFile) -> Result<Option<u32>, GgufError> {
    match file.get(KEY_SPLIT_COUNT) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| invalid(&file.path, format!("split.count is not a count: {v:?}"))),
    }
}

/// Checks that shards (first first) belong together: each `split.no` is its position,
/// each `split.count` agrees, no tensor appears twice, and `split.tensors.count` (when
/// present) equals the tensors found.
pub fn check_shards(shards: &[GgufFile]) -> Result<(), GgufError> {
    let Some(first) = shards.first() else {
        return Ok(());
    };
    let count = shards.len() as u64;
    let mut names = std::collections::HashSet::new();
    for (i, shard) in shards.iter().enumerate() {
        let no = shard.get_u64(KEY_SPLIT_NO);
        if count > 1 && no != Some(i as u64) {
            return Err(invalid(
                &shard.path,
                format!(
                    "split.no is {} but this is shard {} (split.no counts from 0)",
                    no.map_or_else(|| "missing".to_string(), |n| n.to_string()),
                    i + 1
                ),
            ));
        }
        if let Some(c) = shard.get_u64(KEY_SPLIT_COUNT) {
            if count > 1 && c != count {
                return Err(invalid(
                    &shard.path,
                    format!("split.count is {c}, the first shard says {count}"),
                ));
            }
        }
        for t in &shard.tensors {
            if !names.insert(t.name.as_str()) {
                return Err(invalid(
                    &shard.path,
                    format!("tensor '{}' also appears in an earlier shard", t.name),
                ));
            }
        }
    }
    if let Some(total) = first.get_u64(KEY_SPLIT_TENSORS_COUNT) {
        if count > 1 && total != names.len() as u64 {
            return Err(invalid(
                &first.path,
                format!(
                    "split.tensors.count is {total} but the {count} shards hold {} tensors",
                    names.len()
                ),
            ));
        }
    }
    Ok(())
}

/// One model made of one or more shards: metadata from the first, tensors from all.
#[derive(Clone, Debug)]
pub struct GgufModel {
    pub shards: Vec<GgufFile>,
}

impl GgufModel {
    pub fn open(path: &Path) -> Result<GgufModel, GgufError> {
        Ok(GgufModel {
            shards: open_model(path)?,
        })
    }

    /// The first shard's metadata (the one llama.cpp reads hyperparameters from).
    pub fn metadata(&self) -> &[(String, MetaValue)] {
        self.shards.first().map_or(&[], |s| &s.metadata)
    }

    /// Every tensor with the index of the shard holding it.
    pub fn tensors(&self) -> impl Iterator<Item = (usize, &TensorInfo)> {
        self.shards
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.tensors.iter().map(move |t| (i, t)))
    }

    /// Bytes of tensor data in all shards.
    pub fn tensor_bytes(&self) -> u64 {
        self.tensors().map(|(_, t)| t.n_bytes).sum()
    }

    /// Sum of the shards' file sizes.
    pub fn file_size(&self) -> u64 {
        self.shards.iter().map(|s| s.file_size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::writer::GgufWriter;
    use crate::gguf::GgmlType;

    #[test]
    fn parses_and_formats_shard_names() {
        let n = ShardName::parse("/m/Qwen3-235B-Q4_K_M-00002-of-00005.gguf").unwrap();
        assert_eq!(n.prefix, "/m/Qwen3-235B-Q4_K_M");
        assert_eq!((n.number, n.count), (2, 5));
        assert_eq!(n.shard(1), "/m/Qwen3-235B-Q4_K_M-00001-of-00005.gguf");
        for bad in [
            "m.gguf",
            "m-00001-of-00002.bin",
            "m-1-of-2.gguf",
            "m-00003-of-00002.gguf",
            "m-00000-of-00002.gguf",
            "-00001-of-00002.gguf",
        ] {
            assert_eq!(ShardName::parse(bad), None, "{bad}");
        }
    }

    fn write_shards(dir: &Path, count: u16, skip_no: Option<u16>) -> PathBuf {
        let f32t = GgmlType::from_name("F32").unwrap();
        for no in 0..count {
            let mut w = GgufWriter::new();
            w.meta(
                KEY_SPLIT_NO,
                MetaValue::U16(skip_no.filter(|&s| s == no).map_or(no, |s| s + 7)),
            )
            .meta(KEY_SPLIT_COUNT, MetaValue::U16(count))
            .meta(
                KEY_SPLIT_TENSORS_COUNT,
                MetaValue::I32(i32::from(count) * 2),
            )
            .tensor(&format!("t{no}a"), &[64], f32t)
            .tensor(&format!("t{no}b"), &[32, 2], f32t);
            let p = dir.join(format!("m-{:05}-of-{count:05}.gguf", no + 1));
            w.write_sparse(&p).unwrap();
        }
        dir.join(format!("m-00001-of-{count:05}.gguf"))
    }

    #[test]
    fn opens_every_shard_from_any_shard_name() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_shards(dir.path(), 3, None);
        let shards = open_model(&first).unwrap();
        assert_eq!(shards.len(), 3);
        let third = dir.path().join("m-00003-of-00003.gguf");
        let again = GgufModel::open(&third).unwrap();
        assert_eq!(again.shards[0].path, first);
        let located: Vec<(usize, &str)> =
            again.tensors().map(|(i, t)| (i, t.name.as_str())).collect();
        assert_eq!(located[5], (2, "t2b"));
        assert_eq!(again.tensor_bytes(), 3 * (64 * 4 + 64 * 4));
    }

    #[test]
    fn missing_or_mismatched_shards_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_shards(dir.path(), 3, None);
        std::fs::remove_file(dir.path().join("m-00002-of-00003.gguf")).unwrap();
        let e = open_model(&first).unwrap_err().to_string();
        assert!(
            e.ends_with("m-00002-of-00003.gguf': shard 2 of 3 is missing"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        let first = write_shards(dir.path(), 2, Some(1));
        let e = open_model(&first).unwrap_err().to_string();
        assert!(e.ends_with("m-00002-of-00002.gguf': split.no is 8 but this is shard 2 (split.no counts from 0)"), "{e}");
    }
}
