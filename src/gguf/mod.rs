//! GGUF headers: the metadata and tensor directory of a model file, never its data.
//!
//! [`GgufFile`] is one parsed header (one shard). Parsing reads only the header with
//! bounded, buffered reads, so a 20 GB file costs what a 1 MB file costs. Every count
//! read from the file is checked against the bytes that remain, all arithmetic is
//! checked and allocations are capped: a hostile file yields a [`GgufError`] naming the
//! path, the byte offset and what is wrong — never a panic, never unbounded memory.
//! This module knows nothing about model architectures; `model::spec` interprets it.

pub mod reader;
pub mod split;
pub mod types;
pub mod writer;

pub use types::{Dialect, GgmlType};

/// The four bytes every GGUF file starts with (ggml/include/gguf.h `GGUF_MAGIC`).
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment when `general.alignment` is absent (ggml/include/gguf.h `GGUF_DEFAULT_ALIGNMENT`).
pub const GGUF_DEFAULT_ALIGNMENT: u64 = 32;

use std::path::PathBuf;

/// A malformed or unreadable GGUF file. Displayed as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("'{path}': at byte {offset}: {what}")]
    Malformed {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    /// A problem with the file as a whole rather than at one byte (split shards that do
    /// not match, a missing shard).
    #[error("'{path}': {what}")]
    Invalid { path: PathBuf, what: String },
    #[error("'{path}': {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A GGUF string: bytes that need not be UTF-8.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GgufString(pub Vec<u8>);

impl GgufString {
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

/// One metadata value, of any of the 13 GGUF value types. Arrays may nest.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(GgufString),
    Array(Vec<MetaValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl MetaValue {
    /// The GGUF value type id (ggml/include/gguf.h `enum gguf_type`).
    pub fn type_id(&self) -> u32 {
        match self {
            MetaValue::U8(_) => 0,
            MetaValue::I8(_) => 1,
            MetaValue::U16(_) => 2,
            MetaValue::I16(_) => 3,
            MetaValue::U32(_) => 4,
            MetaValue::I32(_) => 5,
            MetaValue::F32(_) => 6,
            MetaValue::Bool(_) => 7,
            MetaValue::String(_) => 8,
            MetaValue::Array(_) => 9,
            MetaValue::U64(_) => 10,
            MetaValue::I64(_) => 11,
            MetaValue::F64(_) => 12,
        }
    }

    /// The value as an unsigned integer, for any integer type holding a non-negative value.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            MetaValue::Bool(b) => Some(b.into()),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v.into()),
            MetaValue::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    pub fn as_str_lossy(&self) -> Option<String> {
        match self {
            MetaValue::String(s) => Some(s.to_string_lossy()),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One entry of the tensor directory.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Name as stored (lossy UTF-8).
    pub name: String,
    /// ggml dimensions, innermost first (`ne[0]` is the row length). At most 4.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset relative to the shard's data section.
    pub offset: u64,
    /// Exact byte size as ggml computes it (rows x row size).
    pub n_bytes: u64,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().fold(1u64, |a, &d| a.saturating_mul(d))
    }
}

/// One parsed GGUF header (one shard of a possibly split model).
#[derive(Clone, Debug)]
pub struct GgufFile {
    pub path: PathBuf,
    pub version: u32,
    /// Key/value metadata in file order.
    pub metadata: Vec<(String, MetaValue)>,
    pub tensors: Vec<TensorInfo>,
    /// `general.alignment`, default 32.
    pub alignment: u64,
    /// Absolute offset of the tensor data section.
    pub data_offset: u64,
    /// Size of the file on disk (or as reported by the server for a remote header).
    pub file_size: u64,
    /// Which engine's type table the tensor types were read with.
    pub dialect: Dialect,
}

impl GgufFile {
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(MetaValue::as_u64)
    }

    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(MetaValue::as_f64)
    }

    pub fn get_str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(MetaValue::as_str_lossy)
    }

    /// `general.architecture`, or an empty string.
    pub fn architecture(&self) -> String {
        self.get_str("general.architecture").unwrap_or_default()
    }
}
