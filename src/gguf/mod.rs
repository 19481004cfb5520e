//! GGUF headers: the metadata and tensor directory of a model file, never its data.
//!
//! [`GgufFile`] is one parsed header (one shard). Parsing reads only the header with
//! bounded, buffered reads, so a 20 GB file costs what a 1 MB file costs. Every count
//! read from the file is checked against the bytes that remain, all arithmetic is
//! checked and allocations are capped: a hostile file yields a [`GgufError`] naming the
//! path, the byte offset and what is wrong — never a panic, never unbounded memory.
//! This module knows nothing about model architectures; `model::spec` interprets it.
//!
//! - [`reader`]: [`GgufFile::open`] and the in-memory prefix parser.
//! - [`split`]: [`split::open_model`], every shard of `NAME-00001-of-0000N.gguf`.
//! - [`remote`]: [`remote::open_url`], [`remote::open_hf`], [`remote::list_hf_quants`]
//!   over HTTP range requests.
//! - [`types`]: both engines' ggml type tables and the file's [`Dialect`].
//! - [`writer`]: [`writer::GgufWriter`], valid (sparse or filled) files for tests.

pub mod reader;
pub mod remote;
pub mod split;
pub mod types;
pub mod writer;

pub use types::{Dialect, GgmlType};

/// The four bytes every GGUF file starts with (ggml/include/gguf.h `GGUF_MAGIC`).
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment when `general.alignment` is absent (ggml/include/gguf.h `GGUF_DEFAULT_ALIGNMENT`).
pub const GGUF_DEFAULT_ALIGNMENT: u64 = 32;

use std::path::PathBuf;
use std::sync::OnceLock;

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

/// A bad GGUF file is bad input (exit 2); the error is kept whole, so it displays as
/// itself and keeps its I/O cause.
impl From<GgufError> for crate::error::Error {
    fn from(e: GgufError) -> Self {
        crate::error::Error::BadFile(Box::new(e))
    }
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
///
/// An array of strings may come as [`MetaValue::Array`] of [`MetaValue::String`] or as
/// [`MetaValue::Strings`] (what the reader produces: one byte buffer for a 250k-token
/// vocabulary instead of 250k allocations), and a long numeric array as
/// [`MetaValue::Numbers`]. Each compact form is the same GGUF value as its `Array`:
/// they compare equal, write the same bytes and [`MetaValue::as_array`] answers for
/// both (building the `Array` form once); [`MetaValue::array_len`] never builds it.
#[derive(Clone, Debug)]
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
    /// An array of strings stored compactly (GGUF type 9 of element type 8).
    Strings(Box<StringArray>),
    /// A long array of fixed-size numbers stored as the file's little-endian bytes
    /// (GGUF type 9 of a numeric or bool element type, at least
    /// [`COMPACT_NUMBERS_MIN`] elements: token types, scores).
    Numbers(Box<NumberArray>),
}

/// Numeric arrays with at least this many elements are read as [`MetaValue::Numbers`];
/// shorter ones (per-layer values: at most 512 layers, llama.cpp `LLAMA_MAX_LAYERS`)
/// stay [`MetaValue::Array`].
pub const COMPACT_NUMBERS_MIN: usize = 4096;

/// Bytes of one value of a fixed-size GGUF type, `None` for strings, arrays, unknown.
pub fn fixed_size(type_id: u32) -> Option<usize> {
    match type_id {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// Decodes one little-endian value of fixed-size type `type_id` from `b`
/// (`b.len()` = [`fixed_size`]`(type_id)`; anything else reads as zeros past its end).
pub fn decode_number(type_id: u32, b: &[u8]) -> MetaValue {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    let v = u64::from_le_bytes(a);
    match type_id {
        0 => MetaValue::U8(v as u8),
        1 => MetaValue::I8(v as u8 as i8),
        2 => MetaValue::U16(v as u16),
        3 => MetaValue::I16(v as u16 as i16),
        4 => MetaValue::U32(v as u32),
        5 => MetaValue::I32(v as u32 as i32),
        6 => MetaValue::F32(f32::from_bits(v as u32)),
        7 => MetaValue::Bool(v != 0),
        10 => MetaValue::U64(v),
        11 => MetaValue::I64(v as i64),
        _ => MetaValue::F64(f64::from_bits(v)),
    }
}

/// An array of fixed-size numbers as little-endian bytes, one buffer however long.
/// The `Vec<MetaValue>` form is built only if [`MetaValue::as_array`] asks for it.
#[derive(Clone, Debug)]
pub struct NumberArray {
    elem: u32,
    raw: Vec<u8>,
    items: OnceLock<Vec<MetaValue>>,
}

impl NumberArray {
    /// `raw` holds whole little-endian values of type `elem`; `None` if `elem` is not a
    /// fixed-size type or `raw` does not divide into its values.
    pub fn from_le_bytes(elem: u32, raw: Vec<u8>) -> Option<Self> {
        let size = fixed_size(elem)?;
        (raw.len() % size == 0).then_some(NumberArray {
            elem,
            raw,
            items: OnceLock::new(),
        })
    }

    /// The GGUF type id of the elements.
    pub fn elem_type(&self) -> u32 {
        self.elem
    }

    pub fn len(&self) -> usize {
        self.raw.len() / fixed_size(self.elem).unwrap_or(1)
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Element `i`.
    pub fn get(&self, i: usize) -> Option<MetaValue> {
        let size = fixed_size(self.elem)?;
        let b = self
            .raw
            .get(i.checked_mul(size)?..(i + 1).checked_mul(size)?)?;
        Some(decode_number(self.elem, b))
    }

    /// The elements' bytes as stored in the file.
    pub fn raw_le_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Whether [`MetaValue::as_array`] has built the one-value-per-element form.
    pub fn materialised(&self) -> bool {
        self.items.get().is_some()
    }

    /// The elements as `MetaValue`s, built on first use.
    pub fn items(&self) -> &[MetaValue] {
        self.items.get_or_init(|| {
            let size = fixed_size(self.elem).unwrap_or(1);
            self.raw
                .chunks_exact(size)
                .map(|b| decode_number(self.elem, b))
                .collect()
        })
    }
}

impl PartialEq for NumberArray {
    fn eq(&self, other: &Self) -> bool {
        self.elem == other.elem && self.raw == other.raw
    }
}

/// An array of GGUF strings in one contiguous buffer: string `i` is
/// `bytes[ends[i - 1]..ends[i]]`. The `Vec<MetaValue>` form is built only if someone
/// asks for it ([`MetaValue::as_array`]); use [`StringArray::get`] / [`StringArray::iter`]
/// or [`MetaValue::array_len`] to avoid that.
#[derive(Clone, Debug, Default)]
pub struct StringArray {
    bytes: Vec<u8>,
    /// u32 halves this vector for a 250k vocabulary; a header holds at most
    /// 256 MiB (`reader::MAX_HEADER_BYTES`), far below 4 GiB.
    ends: Vec<u32>,
    items: OnceLock<Vec<MetaValue>>,
}

impl StringArray {
    /// An empty array with room for `n` strings of `bytes` bytes in all.
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        StringArray {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(n),
            items: OnceLock::new(),
        }
    }

    /// Appends a string; `false` (and nothing appended) if the array would then hold
    /// 4 GiB of string bytes or more.
    #[must_use]
    #[inline]
    pub fn push(&mut self, s: &[u8]) -> bool {
        let Some(end) = self
            .bytes
            .len()
            .checked_add(s.len())
            .and_then(|e| u32::try_from(e).ok())
        else {
            return false;
        };
        self.bytes.extend_from_slice(s);
        self.ends.push(end);
        if self.items.get().is_some() {
            self.items = OnceLock::new();
        }
        true
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// String `i`'s bytes.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => *self.ends.get(i - 1)? as usize,
        };
        self.bytes.get(start..end)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// Total bytes of all strings (without their length prefixes).
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether [`MetaValue::as_array`] has built the one-allocation-per-string form
    /// (until then the strings live in two buffers however many there are).
    pub fn materialised(&self) -> bool {
        self.items.get().is_some()
    }

    /// The strings as `MetaValue::String`s, built on first use.
    pub fn items(&self) -> &[MetaValue] {
        self.items.get_or_init(|| {
            self.iter()
                .map(|b| MetaValue::String(GgufString(b.to_vec())))
                .collect()
        })
    }
}

impl PartialEq for StringArray {
    fn eq(&self, other: &Self) -> bool {
        self.ends == other.ends && self.bytes == other.bytes
    }
}

/// Whether `items` holds exactly the strings of `s`.
fn same_strings(items: &[MetaValue], s: &StringArray) -> bool {
    items.len() == s.len()
        && items
            .iter()
            .zip(s.iter())
            .all(|(v, b)| matches!(v, MetaValue::String(x) if x.0 == b))
}

impl PartialEq for MetaValue {
    fn eq(&self, other: &Self) -> bool {
        use MetaValue as M;
        match (self, other) {
            (M::U8(a), M::U8(b)) => a == b,
            (M::I8(a), M::I8(b)) => a == b,
            (M::U16(a), M::U16(b)) => a == b,
            (M::I16(a), M::I16(b)) => a == b,
            (M::U32(a), M::U32(b)) => a == b,
            (M::I32(a), M::I32(b)) => a == b,
            (M::F32(a), M::F32(b)) => a == b,
            (M::Bool(a), M::Bool(b)) => a == b,
            (M::String(a), M::String(b)) => a == b,
            (M::Array(a), M::Array(b)) => a == b,
            (M::U64(a), M::U64(b)) => a == b,
            (M::I64(a), M::I64(b)) => a == b,
            (M::F64(a), M::F64(b)) => a == b,
            (M::Strings(a), M::Strings(b)) => a == b,
            (M::Array(a), M::Strings(s)) | (M::Strings(s), M::Array(a)) => same_strings(a, s),
            (M::Numbers(a), M::Numbers(b)) => a == b,
            (M::Array(a), M::Numbers(n)) | (M::Numbers(n), M::Array(a)) => a == n.items(),
            _ => false,
        }
    }
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
            MetaValue::Strings(_) | MetaValue::Numbers(_) => 9,
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

    /// The elements of an array. For [`MetaValue::Strings`] this builds (once) one
    /// `MetaValue::String` per element: prefer [`MetaValue::array_len`] or
    /// [`MetaValue::as_strings`] for a vocabulary.
    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(a) => Some(a),
            MetaValue::Strings(s) => Some(s.items()),
            MetaValue::Numbers(n) => Some(n.items()),
            _ => None,
        }
    }

    /// The number of elements of an array, without materialising anything.
    pub fn array_len(&self) -> Option<usize> {
        match self {
            MetaValue::Array(a) => Some(a.len()),
            MetaValue::Strings(s) => Some(s.len()),
            MetaValue::Numbers(n) => Some(n.len()),
            _ => None,
        }
    }

    /// The compact form of an array of strings, if this is one.
    pub fn as_strings(&self) -> Option<&StringArray> {
        match self {
            MetaValue::Strings(s) => Some(s),
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
