//! ggml tensor types of both engines: ids, block geometry and exact byte sizes.
//!
//! Mainline llama.cpp and ik_llama.cpp number some types differently and ik_llama.cpp
//! has many of its own (ids above 100, `_R4/_R8` repacked layouts, per-row metadata).
//! Each [`GgmlType`] points at one row of a static table that records its name, block
//! size, bytes per block, per-row metadata bytes and its id in each engine. Sizes are
//! computed exactly as ggml does: `row_size = row_meta + ne0 / block_size * type_size`.

use std::fmt;

/// Which engine's id space a file's type ids are read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// Ids as mainline llama.cpp assigns them (the usual case).
    Mainline,
    /// The file uses ids only ik_llama.cpp knows: only ik_llama.cpp can load it.
    IkOnly,
}

/// Static facts about one ggml type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TypeTraits {
    pub name: &'static str,
    /// Elements per block.
    pub block_size: u64,
    /// Bytes per block.
    pub type_size: u64,
    /// Extra bytes stored once per row (ik_llama.cpp's row-scale types), 0 otherwise.
    pub row_meta_size: u64,
    /// Id in mainline ggml, if mainline knows the type.
    pub mainline_id: Option<u32>,
    /// Id in ik_llama.cpp's ggml, if ik knows the type.
    pub ik_id: Option<u32>,
}

/// A ggml tensor type (a handle into the static table).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GgmlType(&'static TypeTraits);

macro_rules! t {
    ($name:expr, $bs:expr, $ts:expr, $meta:expr, $main:expr, $ik:expr) => {
        TypeTraits {
            name: $name,
            block_size: $bs,
            type_size: $ts,
            row_meta_size: $meta,
            mainline_id: $main,
            ik_id: $ik,
        }
    };
}

/// Source: ggml/include/ggml.h and ggml/src/ggml.c `type_traits` of llama.cpp
/// (llama-cpp-python 0.3.36 sdist). The ik_llama.cpp column is completed from its
/// ggml/include/ggml.h (ik-llama-cpp-python 0.1.5 sdist).
static TYPES: &[TypeTraits] = &[
    t!("F32", 1, 4, 0, Some(0), Some(0)),
    t!("F16", 1, 2, 0, Some(1), Some(1)),
    t!("Q4_0", 32, 18, 0, Some(2), Some(2)),
    t!("Q4_1", 32, 20, 0, Some(3), Some(3)),
    t!("Q5_0", 32, 22, 0, Some(6), Some(6)),
    t!("Q5_1", 32, 24, 0, Some(7), Some(7)),
    t!("Q8_0", 32, 34, 0, Some(8), Some(8)),
    t!("Q8_1", 32, 36, 0, Some(9), Some(9)),
    t!("Q2_K", 256, 84, 0, Some(10), Some(10)),
    t!("Q3_K", 256, 110, 0, Some(11), Some(11)),
    t!("Q4_K", 256, 144, 0, Some(12), Some(12)),
    t!("Q5_K", 256, 176, 0, Some(13), Some(13)),
    t!("Q6_K", 256, 210, 0, Some(14), Some(14)),
    t!("Q8_K", 256, 292, 0, Some(15), Some(15)),
    t!("IQ2_XXS", 256, 66, 0, Some(16), Some(16)),
    t!("IQ2_XS", 256, 74, 0, Some(17), Some(17)),
    t!("IQ3_XXS", 256, 98, 0, Some(18), Some(18)),
    t!("IQ1_S", 256, 50, 0, Some(19), Some(19)),
    t!("IQ4_NL", 32, 18, 0, Some(20), Some(20)),
    t!("IQ3_S", 256, 110, 0, Some(21), Some(21)),
    t!("IQ2_S", 256, 82, 0, Some(22), Some(22)),
    t!("IQ4_XS", 256, 136, 0, Some(23), Some(23)),
    t!("I8", 1, 1, 0, Some(24), Some(24)),
    t!("I16", 1, 2, 0, Some(25), Some(25)),
    t!("I32", 1, 4, 0, Some(26), Some(26)),
    t!("I64", 1, 8, 0, Some(27), Some(27)),
    t!("F64", 1, 8, 0, Some(28), Some(28)),
    t!("IQ1_M", 256, 56, 0, Some(29), Some(29)),
    t!("BF16", 1, 2, 0, Some(30), Some(30)),
];

impl GgmlType {
    /// Looks a type id up in one engine's id space.
    pub fn from_id(id: u32, dialect: Dialect) -> Option<GgmlType> {
        TYPES
            .iter()
            .find(|t| match dialect {
                Dialect::Mainline => t.mainline_id == Some(id),
                Dialect::IkOnly => t.ik_id == Some(id),
            })
            .map(GgmlType)
    }

    /// Looks a type up by its ggml name (`Q4_K`, `bf16`, case-insensitive).
    pub fn from_name(name: &str) -> Option<GgmlType> {
        TYPES
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .map(GgmlType)
    }

    /// This type's id in one engine's id space, if that engine knows it.
    pub fn id(self, dialect: Dialect) -> Option<u32> {
        match dialect {
            Dialect::Mainline => self.0.mainline_id,
            Dialect::IkOnly => self.0.ik_id,
        }
    }

    pub fn traits(self) -> &'static TypeTraits {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// Bytes of one row of `ne0` elements, or `None` if `ne0` is not a whole number of
    /// blocks or the size overflows.
    pub fn row_size(self, ne0: u64) -> Option<u64> {
        let t = self.0;
        if t.block_size == 0 || ne0 % t.block_size != 0 {
            return None;
        }
        (ne0 / t.block_size)
            .checked_mul(t.type_size)?
            .checked_add(t.row_meta_size)
    }

    /// Bytes of a tensor with these ggml dims (innermost first), or `None` on overflow or
    /// a row length that is not a whole number of blocks.
    pub fn tensor_size(self, dims: &[u64]) -> Option<u64> {
        let ne0 = *dims.first()?;
        let rows = dims[1..].iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
        self.row_size(ne0)?.checked_mul(rows)
    }

    /// Average bits per weight, ignoring per-row metadata.
    pub fn bits_per_weight(self) -> f64 {
        self.0.type_size as f64 * 8.0 / self.0.block_size as f64
    }

    /// True if only ik_llama.cpp knows this type.
    pub fn ik_only(self) -> bool {
        self.0.mainline_id.is_none()
    }
}

impl fmt::Debug for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl serde::Serialize for GgmlType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

impl<'de> serde::Deserialize<'de> for GgmlType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        GgmlType::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown ggml type '{name}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_ggml_block_geometry() {
        let q4k = GgmlType::from_name("q4_k").unwrap();
        assert_eq!(q4k.row_size(4096), Some(16 * 144));
        assert_eq!(q4k.row_size(100), None);
        let f32t = GgmlType::from_id(0, Dialect::Mainline).unwrap();
        assert_eq!(f32t.tensor_size(&[4096, 2]), Some(4096 * 4 * 2));
        assert_eq!(GgmlType::from_name("Q8_0").unwrap().bits_per_weight(), 8.5);
    }
}
