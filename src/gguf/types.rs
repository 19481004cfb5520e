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

/// Every type either engine can read from a GGUF file, with both engines' ids.
///
/// Sources: ids from `enum ggml_type` in ggml/include/ggml.h; block size, bytes per block
/// and per-row metadata bytes from the `type_traits` table in ggml/src/ggml.c (`blck_size`,
/// `type_size`, ik's `row_meta_size`), with each `sizeof(block_*)` evaluated by compiling
/// those headers (ggml/src/ggml-common.h). Trees: llama.cpp vendored in the
/// llama-cpp-python 0.3.36 sdist (mainline columns) and ik_llama.cpp vendored in the
/// ik-llama-cpp-python 0.1.5 sdist (ik column). Mainline ids 31-33 and 36-38 are removed
/// types mainline refuses to load; ik reuses 36 for I2_S and keeps 31-33. ik's ids 97-99
/// and Q8_K* are activation types, listed so every id ik knows is recognised.
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
    t!("Q8_K", 256, 292, 0, Some(15), Some(15)), // ik_llama.cpp: 296 bytes per block (never stored in files; activation type)
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
    t!("TQ1_0", 256, 54, 0, Some(34), None),
    t!("TQ2_0", 256, 66, 0, Some(35), None),
    t!("MXFP4", 32, 17, 0, Some(39), Some(39)),
    t!("NVFP4", 64, 36, 0, Some(40), None),
    t!("Q1_0", 128, 18, 0, Some(41), Some(41)), // ik_llama.cpp names id 41 Q1_0_G128 (same block layout)
    t!("Q2_0", 64, 18, 0, Some(42), None),
    t!("Q4_0_4_4", 32, 18, 0, None, Some(31)),
    t!("Q4_0_4_8", 32, 18, 0, None, Some(32)),
    t!("Q4_0_8_8", 32, 18, 0, None, Some(33)),
    t!("I2_S", 1, 1, 0, None, Some(36)), // ggml_nbytes special case: elements/4 + 32 bytes
    t!("Q8_0_X4", 32, 34, 0, None, Some(97)),
    t!("Q8_1_X4", 32, 36, 0, None, Some(98)),
    t!("Q8_2_X4", 32, 36, 0, None, Some(99)),
    t!("Q6_0", 32, 26, 0, None, Some(133)),
    t!("IQ1_BN", 64, 13, 2, None, Some(134)),
    t!("IQ2_BN", 64, 16, 4, None, Some(135)),
    t!("Q8_K64", 64, 68, 0, None, Some(136)),
    t!("IQ2_K", 256, 76, 0, None, Some(137)),
    t!("IQ3_K", 256, 110, 0, None, Some(138)),
    t!("IQ4_K", 256, 144, 0, None, Some(139)),
    t!("IQ5_K", 256, 176, 0, None, Some(140)),
    t!("IQ6_K", 256, 212, 0, None, Some(141)),
    t!("IQ4_KS", 256, 136, 4, None, Some(144)),
    t!("IQ2_KS", 256, 70, 2, None, Some(145)),
    t!("IQ4_KSS", 256, 128, 4, None, Some(146)),
    t!("Q8_K16", 64, 64, 20, None, Some(147)),
    t!("Q8_K32", 256, 296, 0, None, Some(148)),
    t!("Q8_KR8", 256, 296, 0, None, Some(149)),
    t!("Q8_K128", 128, 140, 0, None, Some(150)),
    t!("Q8_KV", 32, 32, 8, None, Some(151)),
    t!("IQ5_KS", 256, 168, 4, None, Some(152)),
    t!("IQ2_KT", 256, 68, 4, None, Some(153)),
    t!("IQ3_KT", 256, 100, 4, None, Some(154)),
    t!("IQ4_KT", 256, 128, 4, None, Some(155)),
    t!("IQ3_KS", 256, 102, 2, None, Some(156)),
    t!("IQ2_KL", 256, 86, 2, None, Some(157)),
    t!("IQ1_KT", 256, 56, 4, None, Some(158)),
    t!("Q4_0_R8", 32, 18, 0, None, Some(202)),
    t!("Q5_0_R4", 32, 22, 0, None, Some(206)),
    t!("Q8_0_R8", 32, 34, 0, None, Some(208)),
    t!("Q2_K_R4", 256, 84, 0, None, Some(210)),
    t!("Q3_K_R4", 256, 110, 0, None, Some(211)),
    t!("Q4_K_R4", 256, 144, 0, None, Some(212)),
    t!("Q5_K_R4", 256, 176, 0, None, Some(213)),
    t!("Q6_K_R4", 256, 210, 0, None, Some(214)),
    t!("IQ2_XXS_R4", 256, 66, 0, None, Some(216)),
    t!("IQ2_XS_R4", 256, 74, 0, None, Some(217)),
    t!("IQ3_XXS_R4", 256, 98, 0, None, Some(218)),
    t!("IQ1_S_R4", 32, 6, 2, None, Some(219)),
    t!("IQ4_NL_R4", 32, 18, 0, None, Some(220)),
    t!("IQ3_S_R4", 256, 110, 0, None, Some(221)),
    t!("IQ2_S_R4", 256, 82, 0, None, Some(222)),
    t!("IQ4_XS_R8", 256, 136, 0, None, Some(223)),
    t!("IQ1_M_R4", 32, 7, 2, None, Some(229)),
    t!("BF16_R16", 1, 2, 0, None, Some(230)),
    t!("Q6_0_R4", 32, 26, 0, None, Some(233)),
    t!("IQ2_BN_R4", 64, 16, 4, None, Some(335)),
    t!("IQ2_K_R4", 256, 76, 0, None, Some(337)),
    t!("IQ3_K_R4", 256, 110, 0, None, Some(338)),
    t!("IQ4_K_R4", 256, 144, 0, None, Some(339)),
    t!("IQ5_K_R4", 256, 176, 0, None, Some(340)),
    t!("IQ4_KS_R4", 256, 136, 4, None, Some(344)),
    t!("IQ5_KS_R4", 256, 168, 4, None, Some(352)),
    t!("Q8_K_R16", 256, 258, 0, None, Some(397)),
    t!("Q8_KV_R8", 32, 32, 4, None, Some(398)),
    t!("Q8_K_R8", 256, 258, 0, None, Some(399)),
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
        if self.0.name == "I2_S" {
            // ik_llama.cpp ggml.c `ggml_nbytes`: "hack for I2_S", nbytes / 4 + 32.
            let n = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
            return (n / 4).checked_add(32);
        }
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
