//! A small GGUF writer: builds valid GGUF v3 (or v2) files for tests and fixtures.
//!
//! It exists so that tests can describe a real model's header (its metadata and the
//! real tensor shapes and types) and get a file the engines and our reader accept,
//! without downloading anything. It is not used to plan and must not be used to
//! rewrite a user's model. Two modes:
//!
//! - **sparse** ([`GgufWriter::write_sparse`]): the header is written, then the file is
//!   extended with `File::set_len` to its full size, so a 20 GB model costs kilobytes
//!   of disk (the data reads back as zeros).
//! - **with data** ([`GgufWriter::write_with_data`]): every tensor's bytes are written,
//!   either supplied by the caller or filled from a seeded generator that produces
//!   finite, small weights (a tiny model with random weights loads and runs).
//!
//! Layout follows ggml's `gguf_write_to_buf` (ggml/src/gguf.cpp): magic, version,
//! tensor count, metadata count (u64 each since v2), the metadata, the tensor infos,
//! padding to `general.alignment` (default 32), then each tensor at an aligned offset
//! relative to the data section, each padded to the alignment.
//!
//! ```no_run
//! use rigplan::gguf::writer::{GgufWriter, TensorFill};
//! use rigplan::gguf::{GgmlType, MetaValue, GgufString};
//! # fn main() -> std::io::Result<()> {
//! let q4k = GgmlType::from_name("Q4_K").unwrap();
//! let f32t = GgmlType::from_name("F32").unwrap();
//! let mut w = GgufWriter::new();
//! w.meta("general.architecture", MetaValue::String(GgufString(b"llama".to_vec())))
//!     .meta("llama.block_count", MetaValue::U32(1))
//!     .tensor("token_embd.weight", &[4096, 32000], q4k)
//!     .tensor("output_norm.weight", &[4096], f32t);
//! // A sparse file of the full size (header only on disk):
//! let layout = w.write_sparse(std::path::Path::new("/tmp/big.gguf"))?;
//! assert!(layout.file_size > 4096 * 32000 / 2);
//! // Or a loadable file with seeded random weights, norms set to 1.0:
//! w.write_with_data(std::path::Path::new("/tmp/tiny.gguf"), 42, |t| {
//!     if t.name.ends_with("norm.weight") { TensorFill::Constant(1.0) } else { TensorFill::Random }
//! })?;
//! # Ok(()) }
//! ```

use super::types::{Dialect, GgmlType};
use super::{MetaValue, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// One tensor as the writer will lay it out.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedTensor {
    pub name: String,
    /// ggml dims, innermost first.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset relative to the data section (aligned).
    pub offset: u64,
    /// Exact ggml byte size (without padding).
    pub n_bytes: u64,
}

/// Where the writer put things: what a reader must find again.
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenLayout {
    pub version: u32,
    pub alignment: u64,
    /// Absolute offset of the data section.
    pub data_offset: u64,
    /// Total file size.
    pub file_size: u64,
    /// Type-id space the tensor types were written in.
    pub dialect: Dialect,
    pub tensors: Vec<PlannedTensor>,
}

/// What to put in one tensor's bytes in [`GgufWriter::write_with_data`].
#[derive(Clone, Debug, PartialEq)]
pub enum TensorFill {
    /// Seeded pseudo-random weights that decode to small finite values (|w| < ~0.1).
    /// Types without a known block layout get all-zero blocks (valid in every type).
    Random,
    /// Every element equal to this value (F32, F16, BF16 only; other types get zeros).
    Constant(f32),
    /// All-zero bytes.
    Zeros,
    /// Exactly these bytes; their length must equal the tensor's byte size.
    Bytes(Vec<u8>),
}

/// Builder for a GGUF file. See the module docs for usage.
#[derive(Clone, Debug)]
pub struct GgufWriter {
    version: u32,
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<(String, Vec<u64>, GgmlType)>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        Self::new()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl GgufWriter {
    /// An empty GGUF v3 file.
    pub fn new() -> Self {
        GgufWriter {
            version: 3,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// Writes this version number (2 or 3; the layouts are identical little-endian).
    pub fn version(&mut self, version: u32) -> &mut Self {
        self.version = version;
        self
    }

    /// Adds one metadata entry (in order). `general.alignment` (u32) sets the alignment.
    /// Arrays of arrays are written as GGUF defines them, but llama.cpp's loader
    /// (ggml/src/gguf.cpp) refuses them: use them only for reader tests.
    pub fn meta(&mut self, key: &str, value: MetaValue) -> &mut Self {
        self.metadata.push((key.to_string(), value));
        self
    }

    /// Adds many metadata entries.
    pub fn metas(&mut self, entries: impl IntoIterator<Item = (String, MetaValue)>) -> &mut Self {
        self.metadata.extend(entries);
        self
    }

    /// Adds one tensor (ggml dims, innermost first).
    pub fn tensor(&mut self, name: &str, dims: &[u64], ggml_type: GgmlType) -> &mut Self {
        self.tensors
            .push((name.to_string(), dims.to_vec(), ggml_type));
        self
    }

    /// The alignment the file will use: `general.alignment` if set, else 32.
    pub fn alignment(&self) -> u64 {
        self.metadata
            .iter()
            .find(|(k, _)| k == "general.alignment")
            .and_then(|(_, v)| v.as_u64())
            .unwrap_or(GGUF_DEFAULT_ALIGNMENT)
    }

    /// The type-id space: ik_llama.cpp's if any tensor has a type only ik knows.
    pub fn dialect(&self) -> Dialect {
        if self.tensors.iter().any(|(_, _, t)| t.ik_only()) {
            Dialect::IkOnly
        } else {
            Dialect::Mainline
        }
    }

    /// The header bytes (up to and including the padding before the data section) and
    /// the layout. Fails on invalid input (bad alignment, heterogeneous arrays, a row
    /// length that is not a whole number of blocks, > 4 dims, overflow).
    pub fn header(&self) -> io::Result<(Vec<u8>, WrittenLayout)> {
        let alignment = self.alignment();
        if alignment == 0 || !alignment.is_power_of_two() {
            return Err(invalid(format!(
                "alignment {alignment} is not a power of two"
            )));
        }
        let dialect = self.dialect();
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(&GGUF_MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        put_u64(&mut out, self.tensors.len() as u64);
        put_u64(&mut out, self.metadata.len() as u64);
        for (key, value) in &self.metadata {
            put_str(&mut out, key.as_bytes());
            out.extend_from_slice(&value.type_id().to_le_bytes());
            put_value(&mut out, value)?;
        }
        let mut planned = Vec::with_capacity(self.tensors.len());
        let mut offset = 0u64;
        for (name, dims, ty) in &self.tensors {
            if dims.is_empty() || dims.len() > 4 {
                return Err(invalid(format!("tensor '{name}': {} dims", dims.len())));
            }
            let n_bytes = ty.tensor_size(dims).ok_or_else(|| {
                invalid(format!(
                    "tensor '{name}': dims {dims:?} do not fit type {ty}"
                ))
            })?;
            let id = ty
                .id(dialect)
                .ok_or_else(|| invalid(format!("tensor '{name}': type {ty} has no id")))?;
            put_str(&mut out, name.as_bytes());
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                put_u64(&mut out, *d);
            }
            out.extend_from_slice(&id.to_le_bytes());
            put_u64(&mut out, offset);
            planned.push(PlannedTensor {
                name: name.clone(),
                dims: dims.clone(),
                ggml_type: *ty,
                offset,
                n_bytes,
            });
            offset = pad(n_bytes, alignment)
                .and_then(|p| offset.checked_add(p))
                .ok_or_else(|| invalid("tensor data size overflows".into()))?;
        }
        let data_offset = pad(out.len() as u64, alignment)
            .ok_or_else(|| invalid("header size overflows".into()))?;
        out.resize(data_offset as usize, 0);
        let file_size = data_offset
            .checked_add(offset)
            .ok_or_else(|| invalid("file size overflows".into()))?;
        Ok((
            out,
            WrittenLayout {
                version: self.version,
                alignment,
                data_offset,
                file_size,
                dialect,
                tensors: planned,
            },
        ))
    }

    /// Writes the header and extends the file to its full size without writing data.
    pub fn write_sparse(&self, path: &Path) -> io::Result<WrittenLayout> {
        let (header, layout) = self.header()?;
        let mut file = File::create(path)?;
        file.write_all(&header)?;
        file.set_len(layout.file_size)?;
        Ok(layout)
    }

    /// Writes the header and every tensor's bytes, chosen per tensor by `fill`;
    /// `seed` drives [`TensorFill::Random`] (same seed, same file).
    pub fn write_with_data(
        &self,
        path: &Path,
        seed: u64,
        mut fill: impl FnMut(&PlannedTensor) -> TensorFill,
    ) -> io::Result<WrittenLayout> {
        let (header, layout) = self.header()?;
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(&header)?;
        let mut rng = SplitMix64(seed);
        for t in &layout.tensors {
            let bytes = match fill(t) {
                TensorFill::Bytes(b) => {
                    if b.len() as u64 != t.n_bytes {
                        return Err(invalid(format!(
                            "tensor '{}': {} bytes given, {} needed",
                            t.name,
                            b.len(),
                            t.n_bytes
                        )));
                    }
                    b
                }
                TensorFill::Zeros => zeros(t.n_bytes)?,
                TensorFill::Constant(v) => constant_bytes(t, v)?,
                TensorFill::Random => random_bytes(t, &mut rng)?,
            };
            out.write_all(&bytes)?;
            let padded = pad(t.n_bytes, layout.alignment)
                .ok_or_else(|| invalid("tensor size overflows".into()))?;
            out.write_all(&vec![0u8; (padded - t.n_bytes) as usize])?;
        }
        out.flush()?;
        Ok(layout)
    }
}

fn pad(n: u64, alignment: u64) -> Option<u64> {
    n.checked_add(alignment - 1)
        .map(|v| v / alignment * alignment)
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Writes a value's payload (not its type id).
fn put_value(out: &mut Vec<u8>, value: &MetaValue) -> io::Result<()> {
    match value {
        MetaValue::U8(v) => out.push(*v),
        MetaValue::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::Bool(v) => out.push(u8::from(*v)),
        MetaValue::String(s) => put_str(out, &s.0),
        MetaValue::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::Numbers(numbers) => {
            out.extend_from_slice(&numbers.elem_type().to_le_bytes());
            put_u64(out, numbers.len() as u64);
            out.extend_from_slice(numbers.raw_le_bytes());
        }
        MetaValue::Strings(strings) => {
            out.extend_from_slice(&8u32.to_le_bytes());
            put_u64(out, strings.len() as u64);
            for b in strings.iter() {
                put_str(out, b);
            }
        }
        MetaValue::Array(items) => {
            // An empty array has no element to take a type from; u8 is as good as any.
            let elem = items.first().map_or(0, MetaValue::type_id);
            if items.iter().any(|i| i.type_id() != elem) {
                return Err(invalid("array elements of different types".into()));
            }
            out.extend_from_slice(&elem.to_le_bytes());
            put_u64(out, items.len() as u64);
            // Nested arrays carry their own element type and count (put_value recurses).
            for item in items {
                put_value(out, item)?;
            }
        }
    }
    Ok(())
}

fn zeros(n: u64) -> io::Result<Vec<u8>> {
    let n = usize::try_from(n).map_err(|_| invalid(format!("{n} bytes do not fit memory")))?;
    Ok(vec![0u8; n])
}

/// A tiny deterministic generator (SplitMix64, Steele et al. 2014); no crate needed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn next_unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// IEEE half from f32, round to nearest even; enough for the small finite values we write.
pub(crate) fn f32_to_f16_bits(v: f32) -> u16 {
    let x = v.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let mant = x & 0x007f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x0080_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rounded = (m + half - 1 + ((m >> shift) & 1)) >> shift;
        return sign | rounded as u16;
    }
    let half_mant = mant >> 13;
    let rest = mant & 0x1fff;
    let mut h = (sign as u32) | ((e as u32) << 10) | half_mant;
    if rest > 0x1000 || (rest == 0x1000 && (half_mant & 1) == 1) {
        h += 1;
    }
    h as u16
}

fn constant_bytes(t: &PlannedTensor, v: f32) -> io::Result<Vec<u8>> {
    let n = t.n_elements_usize()?;
    let mut out = Vec::with_capacity(t.n_bytes as usize);
    match t.ggml_type.name() {
        "F32" => (0..n).for_each(|_| out.extend_from_slice(&v.to_le_bytes())),
        "F16" => (0..n).for_each(|_| out.extend_from_slice(&f32_to_f16_bits(v).to_le_bytes())),
        "BF16" => {
            (0..n).for_each(|_| out.extend_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes()))
        }
        _ => return zeros(t.n_bytes),
    }
    Ok(out)
}

/// Byte offsets of the f16 scale fields inside one block, per type (ggml/src/ggml-common.h
/// `block_q4_0` ... `block_q6_K`, `block_iq4_nl`, `block_iq4_xs`). Everything else in
/// these blocks is quant bits, for which any byte is valid.
fn f16_scale_offsets(name: &str) -> Option<&'static [usize]> {
    Some(match name {
        "Q4_0" | "Q5_0" | "Q8_0" | "IQ4_NL" | "IQ4_XS" => &[0],
        "Q4_1" | "Q5_1" | "Q4_K" | "Q5_K" => &[0, 2],
        "Q2_K" => &[80, 82],
        "Q3_K" => &[108],
        "Q6_K" => &[208],
        _ => return None,
    })
}

fn random_bytes(t: &PlannedTensor, rng: &mut SplitMix64) -> io::Result<Vec<u8>> {
    let name = t.ggml_type.name();
    let mut out = Vec::with_capacity(usize::try_from(t.n_bytes).unwrap_or(0));
    match name {
        "F32" => {
            for _ in 0..t.n_elements_usize()? {
                out.extend_from_slice(&(rng.next_unit() * 0.05).to_le_bytes());
            }
        }
        "F16" => {
            for _ in 0..t.n_elements_usize()? {
                out.extend_from_slice(&f32_to_f16_bits(rng.next_unit() * 0.05).to_le_bytes());
            }
        }
        "BF16" => {
            for _ in 0..t.n_elements_usize()? {
                let b = ((rng.next_unit() * 0.05).to_bits() >> 16) as u16;
                out.extend_from_slice(&b.to_le_bytes());
            }
        }
        _ => {
            let Some(scales) = f16_scale_offsets(name) else {
                return zeros(t.n_bytes);
            };
            let traits = t.ggml_type.traits();
            let block = traits.type_size as usize;
            let n_blocks = t.n_bytes / traits.type_size;
            for _ in 0..n_blocks {
                let start = out.len();
                let mut left = block;
                while left > 0 {
                    let r = rng.next_u64().to_le_bytes();
                    let k = left.min(8);
                    out.extend_from_slice(&r[..k]);
                    left -= k;
                }
                for &off in scales {
                    // Scales of ~1e-3 keep dequantised weights well under 0.1.
                    let d = f32_to_f16_bits(0.0005 + rng.next_unit().abs() * 0.001);
                    out[start + off..start + off + 2].copy_from_slice(&d.to_le_bytes());
                }
            }
        }
    }
    Ok(out)
}

impl PlannedTensor {
    fn n_elements_usize(&self) -> io::Result<usize> {
        let n = self
            .dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| invalid("element count overflows".into()))?;
        usize::try_from(n).map_err(|_| invalid("element count overflows".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_known_values() {
        assert_eq!(f32_to_f16_bits(1.0), 0x3c00);
        assert_eq!(f32_to_f16_bits(-2.0), 0xc000);
        assert_eq!(f32_to_f16_bits(0.0), 0);
        assert_eq!(f32_to_f16_bits(65504.0), 0x7bff);
        assert_eq!(f32_to_f16_bits(1e9), 0x7c00);
        // Smallest subnormal 2^-24.
        assert_eq!(f32_to_f16_bits(5.960_464_5e-8), 1);
        assert_eq!(f32_to_f16_bits(0.1), 0x2e66);
    }

    #[test]
    fn layout_aligns_offsets_and_data_section() {
        let q4k = GgmlType::from_name("Q4_K").unwrap();
        let f32t = GgmlType::from_name("F32").unwrap();
        let mut w = GgufWriter::new();
        w.meta("general.alignment", MetaValue::U32(64))
            .tensor("a", &[256, 3], q4k)
            .tensor("b", &[5], f32t)
            .tensor("c", &[256], q4k);
        let (bytes, layout) = w.header().unwrap();
        assert_eq!(layout.alignment, 64);
        assert_eq!(bytes.len() as u64, layout.data_offset);
        assert_eq!(layout.data_offset % 64, 0);
        let offs: Vec<u64> = layout.tensors.iter().map(|t| t.offset).collect();
        // a = 3*144 = 432 -> padded 448; b = 20 -> padded 64.
        assert_eq!(offs, vec![0, 448, 512]);
        assert_eq!(layout.file_size, layout.data_offset + 512 + 192);
    }

    #[test]
    fn rejects_rows_that_are_not_whole_blocks_and_mixed_arrays() {
        let q4k = GgmlType::from_name("Q4_K").unwrap();
        let mut w = GgufWriter::new();
        w.tensor("bad", &[100], q4k);
        assert!(w.header().is_err());
        let mut w = GgufWriter::new();
        w.meta(
            "x",
            MetaValue::Array(vec![MetaValue::U8(1), MetaValue::I8(1)]),
        );
        assert!(w.header().is_err());
    }

    #[test]
    fn random_fill_is_deterministic_and_finite() {
        let f16 = GgmlType::from_name("F16").unwrap();
        let q8 = GgmlType::from_name("Q8_0").unwrap();
        let t = PlannedTensor {
            name: "w".into(),
            dims: vec![64, 2],
            ggml_type: q8,
            offset: 0,
            n_bytes: q8.tensor_size(&[64, 2]).unwrap(),
        };
        let a = random_bytes(&t, &mut SplitMix64(7)).unwrap();
        let b = random_bytes(&t, &mut SplitMix64(7)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len() as u64, t.n_bytes);
        for block in a.chunks(34) {
            let d = u16::from_le_bytes([block[0], block[1]]);
            assert!(d & 0x7c00 != 0x7c00, "scale must be finite");
        }
        let t16 = PlannedTensor {
            ggml_type: f16,
            n_bytes: 256,
            ..t
        };
        let h = random_bytes(&t16, &mut SplitMix64(1)).unwrap();
        assert_eq!(h.len(), 256);
        assert!(h
            .chunks(2)
            .all(|c| u16::from_le_bytes([c[0], c[1]]) & 0x7c00 != 0x7c00));
    }
}
