//! A GPU given by its numbers: `--gpu-spec 'name=…,vram_gib=…,bandwidth_gbs=…,
//! fp16_tflops=…,vendor=…'` and the same fields in a snapshot file's `[[gpus]]` entry
//! ([`GpuEntry`], which every snapshot GPU is read through).
//!
//! Plans a GPU the bundled table lacks, as peers do (gguf-parser-go's `--device-*`
//! figures, llmfit). Every figure is checked against a bound; a bad one is bad input
//! (exit 2) naming the field and the bound. Parsing only: no I/O.

use super::{GpuInfo, GpuVendor, PcieLink, VulkanMatrix};
use crate::error::{user_error, Result};
use crate::plan::Backend;
use crate::units::GIB;
use serde::Deserialize;

/// Bounds of the figures a GPU may be given with. Generous: the largest parts of
/// 2026 (288 GB HBM3e, 8 TB/s, ~2.5 PFLOPS dense FP16 on B300) fit with room, and a
/// unified-memory part's "VRAM" is the RAM size.
pub const VRAM_GIB: (f64, f64) = (0.25, 4096.0);
pub const BANDWIDTH_GBS: (f64, f64) = (1.0, 50_000.0);
pub const FP16_TFLOPS: (f64, f64) = (0.01, 20_000.0);
const NAME_MAX: usize = 100;

/// The fields `--gpu-spec` takes (the snapshot entry takes these and the detected ones).
pub const SPEC_FIELDS: &[&str] = &[
    "name",
    "vram_gib",
    "bandwidth_gbs",
    "fp16_tflops",
    "vendor",
    "compute_capability",
    "gfx_target",
    "unified",
    "pcie_gen",
    "pcie_width",
    "backends",
    "vulkan_matrix",
];

/// One `[[gpus]]` entry as written: the snapshot's own fields, with `vram_gib` as an
/// alternative to `vram_bytes` and `index` optional (the file's order then).
#[derive(Debug, Deserialize)]
pub struct GpuEntry {
    #[serde(default)]
    index: Option<u32>,
    name: String,
    vendor: GpuVendor,
    #[serde(default)]
    vram_bytes: Option<u64>,
    #[serde(default)]
    vram_gib: Option<f64>,
    #[serde(default)]
    vram_free_bytes: Option<u64>,
    #[serde(default)]
    bandwidth_gbs: Option<f64>,
    #[serde(default)]
    fp16_tflops: Option<f64>,
    #[serde(default)]
    compute_capability: Option<String>,
    #[serde(default)]
    gfx_target: Option<String>,
    #[serde(default)]
    unified_memory: bool,
    #[serde(default)]
    pcie: Option<PcieLink>,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    pci_bus_id: Option<String>,
    #[serde(default)]
    power_limit_w: Option<f64>,
    #[serde(default)]
    backends: Vec<Backend>,
    #[serde(default)]
    vulkan_matrix: Option<VulkanMatrix>,
}

/// `value` within `(lo, hi)` inclusive, else the error naming `field` and the bound.
fn bounded(field: &str, value: f64, (lo, hi): (f64, f64)) -> std::result::Result<f64, String> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{field} '{value}' must be between {lo} and {hi}"))
    }
}

impl TryFrom<GpuEntry> for GpuInfo {
    type Error = String;

    fn try_from(e: GpuEntry) -> std::result::Result<GpuInfo, String> {
        let name = e.name.trim().to_string();
        if name.is_empty() || name.len() > NAME_MAX || name.chars().any(char::is_control) {
            return Err(format!(
                "GPU name '{}' must be 1 to {NAME_MAX} printable characters",
                e.name.escape_default()
            ));
        }
        let vram_bytes = match (e.vram_bytes, e.vram_gib) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "GPU '{name}': give vram_bytes or vram_gib, not both"
                ))
            }
            (Some(b), None) => b,
            (None, Some(g)) => (bounded("vram_gib", g, VRAM_GIB)? * GIB as f64).round() as u64,
            (None, None) => {
                return Err(format!("GPU '{name}': vram_bytes or vram_gib is required"))
            }
        };
        let bandwidth_gbs = e
            .bandwidth_gbs
            .map(|v| bounded("bandwidth_gbs", v, BANDWIDTH_GBS))
            .transpose()?;
        let fp16_tflops = e
            .fp16_tflops
            .map(|v| bounded("fp16_tflops", v, FP16_TFLOPS))
            .transpose()?;
        Ok(GpuInfo {
            index: e.index.unwrap_or(0),
            name,
            vendor: e.vendor,
            vram_bytes,
            vram_free_bytes: e.vram_free_bytes,
            bandwidth_gbs,
            fp16_tflops,
            compute_capability: e.compute_capability,
            gfx_target: e.gfx_target,
            unified_memory: e.unified_memory,
            pcie: e.pcie,
            uuid: e.uuid,
            pci_bus_id: e.pci_bus_id,
            power_limit_w: e.power_limit_w,
            backends: e.backends,
            vulkan_matrix: e.vulkan_matrix,
        })
    }
}

/// Parses one `--gpu-spec` value into a GPU numbered `index`. Required: `name`,
/// `vram_gib`, `bandwidth_gbs`, `fp16_tflops`, `vendor`; optional: `compute_capability`,
/// `gfx_target`, `unified` (true/false), `pcie_gen`, `pcie_width`, `backends`
/// (`cuda+vulkan`), `vulkan_matrix` (`NV_coopmat2`, `KHR_coopmat`, `none`: ggml-vulkan's
/// `matrix cores:`). Without `backends` the GPU gets its vendor's usual set.
pub fn parse(spec: &str, index: u32) -> Result<GpuInfo> {
    let bad = |msg: String| user_error(format!("--gpu-spec '{spec}': {msg}"));
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("'{part}' is not FIELD=VALUE")))?;
        let k = k.trim();
        if !SPEC_FIELDS.contains(&k) {
            return Err(bad(format!(
                "unknown field '{k}' (fields: {})",
                SPEC_FIELDS.join(", ")
            )));
        }
        if fields.iter().any(|(f, _)| *f == k) {
            return Err(bad(format!("field '{k}' given twice")));
        }
        fields.push((k, v.trim()));
    }
    let get = |k: &str| fields.iter().find(|(f, _)| *f == k).map(|(_, v)| *v);
    let need = |k: &str| get(k).ok_or_else(|| bad(format!("field '{k}' is required")));
    let number = |k: &str, bounds: (f64, f64)| -> Result<f64> {
        let v = need(k)?;
        let x: f64 = v
            .parse()
            .map_err(|_| bad(format!("{k} '{v}' is not a number")))?;
        bounded(k, x, bounds).map_err(bad)
    };
    let small = |k: &str, max: u32| -> Result<Option<u32>> {
        get(k)
            .map(|v| match v.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(bad(format!(
                    "{k} '{v}' must be a whole number from 1 to {max}"
                ))),
            })
            .transpose()
    };
    let name = need("name")?;
    let vram_gib = number("vram_gib", VRAM_GIB)?;
    let bandwidth_gbs = number("bandwidth_gbs", BANDWIDTH_GBS)?;
    let fp16_tflops = number("fp16_tflops", FP16_TFLOPS)?;
    let vendor_text = need("vendor")?;
    let vendor = GpuVendor::parse(vendor_text).ok_or_else(|| {
        bad(format!(
            "vendor '{vendor_text}' must be nvidia, amd, intel, apple or other"
        ))
    })?;
    let unified = match get("unified") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => return Err(bad(format!("unified '{v}' must be true or false"))),
    };
    let backends = match get("backends") {
        None => vendor.usual_backends().to_vec(),
        Some(list) => list
            .split('+')
            .map(|b| {
                Backend::parse(b)
                    .filter(|b| *b != Backend::Cpu)
                    .ok_or_else(|| {
                        bad(format!(
                            "backends '{list}': '{b}' is not cuda, rocm, vulkan, metal or sycl"
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let (pcie_gen, pcie_width) = (small("pcie_gen", 7)?, small("pcie_width", 16)?);
    let vulkan_matrix = get("vulkan_matrix")
        .map(|v| {
            VulkanMatrix::parse(v).ok_or_else(|| {
                bad(format!(
                    "vulkan_matrix '{v}' must be NV_coopmat2, KHR_coopmat or none"
                ))
            })
        })
        .transpose()?;
    let entry = GpuEntry {
        index: Some(index),
        name: name.to_string(),
        vendor,
        vram_bytes: None,
        vram_gib: Some(vram_gib),
        vram_free_bytes: None,
        bandwidth_gbs: Some(bandwidth_gbs),
        fp16_tflops: Some(fp16_tflops),
        compute_capability: get("compute_capability").map(str::to_string),
        gfx_target: get("gfx_target").map(str::to_string),
        unified_memory: unified,
        pcie: (pcie_gen.is_some() || pcie_width.is_some()).then_some(PcieLink {
            gen: pcie_gen,
            width: pcie_width,
            max_gen: pcie_gen,
            max_width: pcie_width,
        }),
        uuid: None,
        pci_bus_id: None,
        power_limit_w: None,
        backends,
        vulkan_matrix,
    };
    GpuInfo::try_from(entry).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EXIT_BAD_INPUT;

    const FOO: &str = "name=Foo 9000,vram_gib=48,bandwidth_gbs=1200,fp16_tflops=150,vendor=nvidia";

    #[test]
    fn a_gpu_by_its_numbers() {
        let g = parse(&format!("{FOO},compute_capability=9.0"), 1).unwrap();
        assert_eq!(g.index, 1);
        assert_eq!(g.name, "Foo 9000");
        assert_eq!(g.vram_bytes, 48 * GIB);
        assert_eq!(g.bandwidth_gbs, Some(1200.0));
        assert_eq!(g.fp16_tflops, Some(150.0));
        assert_eq!(g.compute_capability.as_deref(), Some("9.0"));
        assert_eq!(g.backends, vec![Backend::Cuda, Backend::Vulkan]);
        let g = parse(
            "name=X,vram_gib=16,bandwidth_gbs=500,fp16_tflops=40,vendor=amd,backends=vulkan",
            0,
        )
        .unwrap();
        assert_eq!(g.backends, vec![Backend::Vulkan]);
        assert_eq!(g.vulkan_matrix, None);
        let g = parse(
            "name=X,vram_gib=16,bandwidth_gbs=500,fp16_tflops=40,vendor=amd,vulkan_matrix=khr_coopmat",
            0,
        )
        .unwrap();
        assert_eq!(g.vulkan_matrix, Some(VulkanMatrix::KhrCoopmat));
        let err = parse(
            "name=X,vram_gib=16,bandwidth_gbs=500,fp16_tflops=40,vendor=amd,vulkan_matrix=wmma",
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("vulkan_matrix 'wmma' must be NV_coopmat2, KHR_coopmat or none"),
            "{err}"
        );
    }

    #[test]
    fn each_bad_field_is_named_with_its_bound() {
        let cases = [
            ("vram_gib=0,", "vram_gib '0' must be between 0.25 and 4096"),
            ("vram_gib=-3,", "vram_gib '-3' must be between"),
            (
                "bandwidth_gbs=1e9,",
                "bandwidth_gbs '1000000000' must be between 1 and 50000",
            ),
            ("fp16_tflops=NaN,", "fp16_tflops 'NaN' must be between"),
            ("vendor=acme,", "vendor 'acme' must be nvidia, amd"),
            ("colour=red,", "unknown field 'colour'"),
            (
                "pcie_gen=9,",
                "pcie_gen '9' must be a whole number from 1 to 7",
            ),
            ("backends=cuda+opencl,", "'opencl' is not cuda"),
        ];
        for (change, want) in cases {
            let field = change.split('=').next().unwrap();
            // Replace the field if FOO has it, else add it.
            let spec: Vec<String> = FOO
                .split(',')
                .filter(|p| !p.starts_with(&format!("{field}=")))
                .map(str::to_string)
                .chain(std::iter::once(change.trim_end_matches(',').to_string()))
                .collect();
            let e = parse(&spec.join(","), 0).unwrap_err();
            assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
            let msg = format!("{e:#}");
            assert!(msg.contains(want), "{change}: {msg}");
        }
        let e = parse("name=Foo,vram_gib=8", 0).unwrap_err();
        assert!(format!("{e:#}").contains("field 'bandwidth_gbs' is required"));
        let e = parse("name=Foo,nvidia", 0).unwrap_err();
        assert!(format!("{e:#}").contains("is not FIELD=VALUE"));
    }

    #[test]
    fn snapshot_entries_take_the_same_fields() {
        let toml_text = r#"
            name = "Foo 9000"
            vendor = "other"
            vram_gib = 24
            bandwidth_gbs = 800.0
            fp16_tflops = 90.0
        "#;
        let g: GpuInfo = toml::from_str(toml_text).unwrap();
        assert_eq!(g.vram_bytes, 24 * GIB);
        assert_eq!(g.usable_backends(), vec![Backend::Vulkan]);
        let bad = toml_text.replace("vram_gib = 24", "vram_gib = 100000");
        let e = toml::from_str::<GpuInfo>(&bad).unwrap_err();
        assert!(
            e.to_string().contains("vram_gib '100000' must be between"),
            "{e}"
        );
        let none = toml_text.replace("vram_gib = 24", "");
        let e = toml::from_str::<GpuInfo>(&none).unwrap_err();
        assert!(
            e.to_string().contains("vram_bytes or vram_gib is required"),
            "{e}"
        );
    }
}
