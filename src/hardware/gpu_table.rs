//! The bundled GPU table (`profiles/gpus.toml`, embedded) and forgiving name matching.
//!
//! `--gpu NAME` accepts "3090", "RTX 3090" or "NVIDIA GeForce RTX 3090": names are
//! compared as token sets (case, spaces, punctuation and vendor words ignored; letters
//! and digits split, so "RTX3090" = "RTX 3090"). A name that is exactly one row, or
//! contained in exactly one row, selects it; anything else is bad input (exit 2) naming
//! the closest rows. Detected GPUs are looked up the same way, with VRAM breaking ties.
//! This module does no I/O beyond parsing the embedded text.

use super::{GpuInfo, GpuVendor, PcieLink};
use crate::error::{user_error, Error, Result};
use crate::units::GIB;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::OnceLock;

const TABLE_TOML: &str = include_str!("../../profiles/gpus.toml");

/// One row of the GPU table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub vendor: GpuVendor,
    pub vram_gib: f64,
    pub bandwidth_gbs: f64,
    pub fp16_tflops: f64,
    pub compute_capability: Option<String>,
    pub gfx_target: Option<String>,
    pub pcie_gen: Option<u32>,
    pub pcie_width: Option<u32>,
    #[serde(default)]
    pub unified: bool,
    pub source: String,
}

#[derive(Deserialize)]
struct TableFile {
    gpu: Vec<GpuSpec>,
}

/// The parsed table. The embedded text is checked by a unit test, so an error here
/// means a broken build; it is still reported, never panicked on.
pub fn table() -> Result<&'static [GpuSpec]> {
    static TABLE: OnceLock<Result<Vec<GpuSpec>, String>> = OnceLock::new();
    match TABLE.get_or_init(|| {
        toml::from_str::<TableFile>(TABLE_TOML)
            .map(|t| t.gpu)
            .map_err(|e| e.message().to_string())
    }) {
        Ok(v) => Ok(v.as_slice()),
        Err(e) => Err(Error::failed(format!(
            "bundled GPU table is malformed: {e}"
        ))),
    }
}

/// Words that say nothing about which GPU it is.
const NOISE: &[&str] = &[
    "nvidia",
    "geforce",
    "amd",
    "radeon",
    "intel",
    "apple",
    "tesla",
    "quadro",
    "graphics",
    "gpu",
    "edition",
    "workstation",
    "generation",
    "the",
    "rtx",
    "gtx",
    "rx",
];

/// Lowercase alphanumeric tokens, letters and digits split, noise dropped.
pub fn tokens(name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for word in name
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
    {
        let mut cur = String::new();
        let mut cur_digit = None;
        for ch in word.chars() {
            let d = ch.is_ascii_digit();
            if cur_digit.is_some_and(|cd| cd != d) {
                out.insert(std::mem::take(&mut cur));
            }
            cur.push(ch);
            cur_digit = Some(d);
        }
        if !cur.is_empty() {
            out.insert(cur);
        }
    }
    out.retain(|t| !NOISE.contains(&t.as_str()));
    out
}

fn row_token_sets(spec: &GpuSpec) -> Vec<BTreeSet<String>> {
    std::iter::once(&spec.name)
        .chain(spec.aliases.iter())
        .map(|n| tokens(n))
        .collect()
}

enum Found<'a> {
    One(&'a GpuSpec),
    Many(Vec<&'a GpuSpec>),
    None,
}

fn find<'a>(table: &'a [GpuSpec], query: &str) -> Found<'a> {
    let q = tokens(query);
    if q.is_empty() {
        return Found::None;
    }
    let exact: Vec<&GpuSpec> = table
        .iter()
        .filter(|s| row_token_sets(s).contains(&q))
        .collect();
    if exact.len() == 1 {
        return Found::One(exact[0]);
    }
    let containing: Vec<&GpuSpec> = table
        .iter()
        .filter(|s| row_token_sets(s).iter().any(|t| q.is_subset(t)))
        .collect();
    match containing.len() {
        0 => Found::None,
        1 => Found::One(containing[0]),
        _ => Found::Many(containing),
    }
}

/// Looks up a user-typed GPU name. Unknown or ambiguous → exit-2 error listing candidates.
pub fn lookup(query: &str) -> Result<&'static GpuSpec> {
    let table = table()?;
    match find(table, query) {
        Found::One(s) => Ok(s),
        Found::Many(v) => {
            let names: Vec<&str> = v.iter().take(8).map(|s| s.name.as_str()).collect();
            Err(user_error(format!(
                "GPU name '{query}' is ambiguous: it matches {}; say which",
                names.join(", ")
            )))
        }
        Found::None => Err(user_error(format!(
            "unknown GPU '{query}'; closest in the GPU table: {} (see `rigplan catalog gpus`), or give it by its numbers: --gpu-spec 'name={query},vram_gib=N,bandwidth_gbs=N,fp16_tflops=N,vendor=nvidia|amd|intel|apple|other'",
            closest(table, query, 5).join(", ")
        ))),
    }
}

/// The table row for a detected GPU name, if it identifies one; `vram_bytes` breaks ties
/// (within 10%).
pub fn match_detected(name: &str, vram_bytes: Option<u64>) -> Option<&'static GpuSpec> {
    let table = table().ok()?;
    match find(table, name) {
        Found::One(s) => Some(s),
        Found::Many(v) => {
            let vram = vram_bytes? as f64 / GIB as f64;
            let near: Vec<&GpuSpec> = v
                .into_iter()
                .filter(|s| (s.vram_gib - vram).abs() <= s.vram_gib * 0.10)
                .collect();
            (near.len() == 1).then(|| near[0])
        }
        Found::None => None,
    }
}

/// The AMD row with this gfx target and about this much VRAM, when exactly one fits.
pub fn match_gfx(gfx: &str, vram_bytes: Option<u64>) -> Option<&'static GpuSpec> {
    let table = table().ok()?;
    let rows: Vec<&GpuSpec> = table
        .iter()
        .filter(|s| s.gfx_target.as_deref() == Some(gfx))
        .collect();
    // An APU's sysfs VRAM is only its BIOS carve-out, so a unified part that is the
    // table's only row for this target matches whatever VRAM the kernel shows.
    if let [only] = rows.as_slice() {
        if only.unified {
            return Some(only);
        }
    }
    let vram = vram_bytes.map(|b| b as f64 / GIB as f64);
    let near: Vec<&GpuSpec> = match vram {
        Some(v) => rows
            .into_iter()
            .filter(|s| (s.vram_gib - v).abs() <= s.vram_gib * 0.10)
            .collect(),
        None => rows,
    };
    (near.len() == 1).then(|| near[0])
}

/// Up to `n` row names ranked by shared tokens, then by edit distance.
pub fn closest(table: &[GpuSpec], query: &str, n: usize) -> Vec<String> {
    let q = tokens(query);
    let qs = q.iter().cloned().collect::<Vec<_>>().join(" ");
    let mut scored: Vec<(usize, usize, &str)> = table
        .iter()
        .map(|s| {
            let best = row_token_sets(s)
                .into_iter()
                .map(|t| {
                    let shared = t.intersection(&q).count();
                    let ts = t.into_iter().collect::<Vec<_>>().join(" ");
                    (shared, levenshtein(&qs, &ts))
                })
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                .unwrap_or((0, usize::MAX));
            (best.0, best.1, s.name.as_str())
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(n)
        .map(|s| s.2.to_string())
        .collect()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl GpuSpec {
    /// A snapshot GPU made from this row (what-if `--gpu` and presets).
    pub fn to_gpu_info(&self, index: u32) -> GpuInfo {
        let pcie = match (self.pcie_gen, self.pcie_width) {
            (None, None) => None,
            (g, w) => Some(PcieLink {
                gen: g,
                width: w,
                max_gen: g,
                max_width: w,
            }),
        };
        GpuInfo {
            index,
            name: self.name.clone(),
            vendor: self.vendor,
            vram_bytes: (self.vram_gib * GIB as f64).round() as u64,
            vram_free_bytes: None,
            bandwidth_gbs: Some(self.bandwidth_gbs),
            fp16_tflops: Some(self.fp16_tflops),
            compute_capability: self.compute_capability.clone(),
            gfx_target: self.gfx_target.clone(),
            unified_memory: self.unified,
            pcie,
            uuid: None,
            pci_bus_id: None,
            power_limit_w: None,
            backends: self.vendor.usual_backends().to_vec(),
            vulkan_matrix: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EXIT_BAD_INPUT;

    #[test]
    fn the_table_parses_and_has_what_the_issue_lists() {
        let t = table().unwrap();
        assert!(t.len() >= 120, "only {} GPUs", t.len());
        let required = [
            "3060 12GB",
            "3070",
            "3080",
            "3090",
            "4060 Ti 16GB",
            "4070 Ti",
            "4090",
            "5060 Ti 16GB",
            "5080",
            "5090",
            "RTX PRO 4000 SFF",
            "RTX PRO 6000 Blackwell",
            "A4000",
            "A5000",
            "A6000",
            "P40",
            "V100 PCIe",
            "T4",
            "L4",
            "L40S",
            "A100 40GB",
            "A100 80GB SXM",
            "H100 PCIe",
            "H100 SXM",
            "H200",
            "GB10",
            "6800 XT",
            "6900 XT",
            "7900 XT",
            "7900 XTX",
            "R9700",
            "MI210",
            "MI300X",
            "Arc A770",
            "B580",
            "M1 Pro",
            "M1 Max",
            "M1 Ultra",
            "M2 Pro",
            "M2 Max",
            "M2 Ultra",
            "M3 Pro",
            "M3 Max",
            "M3 Ultra",
            "M4 Pro",
            "M4 Max",
            "Strix Halo",
            // issue 16: cards people run that the first table lacked
            "MI50",
            "MI60",
            "MI100",
            "MI250X",
            "Arc A310",
            "Arc A380",
            "Orin Nano",
            "Orin NX 16GB",
            "AGX Orin 64GB",
            "A30",
            "P100",
            "B200",
        ];
        for name in required {
            assert!(
                lookup(name).is_ok(),
                "'{name}' not found: {:?}",
                lookup(name).err()
            );
        }
        for s in t {
            assert!(
                s.vram_gib > 0.0 && s.bandwidth_gbs > 0.0 && s.fp16_tflops > 0.0,
                "{}",
                s.name
            );
            assert!(!s.source.trim().is_empty(), "{} has no source", s.name);
            assert!(
                s.compute_capability.is_some()
                    || s.gfx_target.is_some()
                    || s.vendor != GpuVendor::Nvidia && s.vendor != GpuVendor::Amd,
                "{}",
                s.name
            );
            assert!(
                s.unified || s.pcie_gen.is_some(),
                "{} has no host interface",
                s.name
            );
        }
        // Every name (and alias) selects its own row: no row shadows another.
        for s in t {
            for n in std::iter::once(&s.name).chain(s.aliases.iter()) {
                assert_eq!(lookup(n).unwrap().name, s.name, "'{n}'");
            }
        }
    }

    #[test]
    fn names_match_forgivingly() {
        for q in [
            "3090",
            "RTX 3090",
            "NVIDIA GeForce RTX 3090",
            "rtx3090",
            "  geforce  rtx-3090 ",
        ] {
            assert_eq!(lookup(q).unwrap().name, "NVIDIA GeForce RTX 3090", "{q}");
        }
        assert_eq!(lookup("RTX 3060 12GB").unwrap().vram_gib, 12.0);
        assert_eq!(lookup("3060").unwrap().name, "NVIDIA GeForce RTX 3060 12GB");
        assert_eq!(
            lookup("3090 ti").unwrap().name,
            "NVIDIA GeForce RTX 3090 Ti"
        );
        assert_eq!(
            lookup("NVIDIA RTX PRO 4000 Blackwell SFF Edition")
                .unwrap()
                .bandwidth_gbs,
            432.0
        );
        assert_eq!(lookup("m4 max").unwrap().name, "Apple M4 Max");
    }

    #[test]
    fn ambiguous_and_unknown_names_are_bad_input_with_candidates() {
        let e = lookup("A100").unwrap_err();
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
        let msg = format!("{e:#}");
        assert!(
            msg.contains("ambiguous")
                && msg.contains("A100 40GB PCIe")
                && msg.contains("A100 80GB SXM"),
            "{msg}"
        );
        let e = lookup("RTX 9999").unwrap_err();
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
        assert!(format!("{e:#}").contains("unknown GPU 'RTX 9999'"));
        let e = lookup("RTX 3095").unwrap_err();
        assert!(format!("{e:#}").contains("closest"));
        assert!(lookup("").is_err());
    }

    #[test]
    fn detected_names_use_vram_to_break_ties() {
        // NVML names the 80 GB SXM A100 "NVIDIA A100-SXM4-80GB".
        assert_eq!(
            match_detected("NVIDIA A100-SXM4-80GB", None).unwrap().name,
            "NVIDIA A100 80GB SXM"
        );
        assert_eq!(
            match_gfx("gfx1100", Some(24 * GIB)).unwrap().name,
            "AMD Radeon RX 7900 XTX"
        );
        assert_eq!(
            match_gfx("gfx1100", Some(20 * GIB)).unwrap().name,
            "AMD Radeon RX 7900 XT"
        );
        assert!(match_gfx("gfx1100", None).is_none());
        // Strix Halo with a 512 MiB BIOS carve-out is still the 8060S row.
        assert!(
            match_gfx("gfx1151", Some(512 * 1024 * 1024))
                .unwrap()
                .unified
        );
    }

    #[test]
    fn tokens_split_letters_from_digits() {
        let t: Vec<String> = tokens("RTX3060 12GB").into_iter().collect();
        assert_eq!(t, vec!["12", "3060", "gb"]);
    }
}
