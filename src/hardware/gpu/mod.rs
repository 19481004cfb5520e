//! GPU discovery: NVML for NVIDIA, sysfs/KFD for AMD, `/sys/class/drm` for the rest,
//! PCIe links from sysfs for all; the GPU table fills what the driver cannot say
//! (FP16 throughput always, bandwidth when NVML/sysfs have none).
//!
//! Never fails: no driver, no /sys/class/drm, an unknown card — each is a note.

pub mod nvidia;
pub mod runtimes;
pub mod sysfs;
pub mod vulkan_info;

use super::gpu_table;
use super::root::HostRoot;
use super::{GpuInfo, GpuVendor, PcieLink};
use nvidia::{normalize_bus_id, GpuProbe, NvmlReport};
use sysfs::{DrmDevice, VENDOR_AMD, VENDOR_INTEL, VENDOR_NVIDIA};

/// What the GPU probes found, plus driver versions for [`super::SystemInfo`].
#[derive(Debug, Default)]
pub struct GpuFindings {
    pub gpus: Vec<GpuInfo>,
    pub nvidia_driver_version: Option<String>,
    pub cuda_driver_version: Option<String>,
}

pub fn probe(root: &HostRoot, nvml: &dyn GpuProbe, notes: &mut Vec<String>) -> GpuFindings {
    let drm = sysfs::drm_devices(root);
    if drm.is_none() {
        notes.push(
            "gpu: /sys/class/drm absent (container without GPU devices?); PCIe links unknown"
                .into(),
        );
    }
    let drm = drm.unwrap_or_default();
    let mut out = GpuFindings::default();

    match nvml.probe() {
        Ok(report) if !report.devices.is_empty() => nvidia_gpus(report, &drm, &mut out, notes),
        Ok(_) => notes.push("no NVIDIA GPUs (NVML reports none)".into()),
        Err(reason) => {
            notes.push(format!("no NVIDIA GPUs ({reason})"));
            for d in drm.iter().filter(|d| d.vendor_id == VENDOR_NVIDIA) {
                notes.push(format!(
                    "gpu: {} is an NVIDIA device [10de:{:04x}] but NVML cannot read it; VRAM unknown",
                    d.card, d.device_id
                ));
                let index = next_index(&out.gpus);
                out.gpus.push(bare_gpu(
                    index,
                    format!("NVIDIA GPU [10de:{:04x}]", d.device_id),
                    GpuVendor::Nvidia,
                    d,
                ));
            }
        }
    }

    let kfd = sysfs::kfd_nodes(root);
    for d in &drm {
        match d.vendor_id {
            VENDOR_NVIDIA => {}
            VENDOR_AMD => {
                let node = kfd
                    .iter()
                    .find(|n| n.pci_slot.is_some() && n.pci_slot == d.pci_slot);
                let gfx = node.map(|n| n.gfx_target.clone());
                if gfx.is_none() {
                    notes.push(format!(
                        "gpu: {} (AMD) has no KFD node; gfx target unknown",
                        d.card
                    ));
                }
                let spec = gfx
                    .as_deref()
                    .and_then(|g| gpu_table::match_gfx(g, d.vram_total));
                let index = next_index(&out.gpus);
                let name = match (spec, &gfx) {
                    (Some(s), _) => s.name.clone(),
                    (None, Some(g)) => format!("AMD Radeon ({g})"),
                    (None, None) => format!("AMD GPU [1002:{:04x}]", d.device_id),
                };
                let mut g = bare_gpu(index, name, GpuVendor::Amd, d);
                g.gfx_target = gfx;
                if let Some(s) = spec {
                    fill_from_table(&mut g, s);
                } else {
                    notes.push(format!(
                        "gpu: {} not identified in the GPU table; bandwidth unknown",
                        g.name
                    ));
                }
                out.gpus.push(g);
            }
            other if sysfs::NOT_A_GPU.contains(&other) => notes.push(format!(
                "gpu: ignored display adapter {} [{other:04x}:{:04x}] (BMC or virtual console)",
                d.card, d.device_id
            )),
            other => {
                let (vendor, label) = if other == VENDOR_INTEL {
                    (GpuVendor::Intel, "Intel GPU")
                } else {
                    (GpuVendor::Other, "GPU")
                };
                let index = next_index(&out.gpus);
                let g = bare_gpu(
                    index,
                    format!("{label} [{other:04x}:{:04x}]", d.device_id),
                    vendor,
                    d,
                );
                notes.push(format!(
                    "gpu: {} listed from sysfs only; not used for offload",
                    g.name
                ));
                out.gpus.push(g);
            }
        }
    }
    out
}

fn next_index(gpus: &[GpuInfo]) -> u32 {
    gpus.iter().map(|g| g.index + 1).max().unwrap_or(0)
}

fn bare_gpu(index: u32, name: String, vendor: GpuVendor, d: &DrmDevice) -> GpuInfo {
    let vram = d.vram_total.unwrap_or(0);
    GpuInfo {
        index,
        name,
        vendor,
        vram_bytes: vram,
        vram_free_bytes: d
            .vram_total
            .zip(d.vram_used)
            .map(|(t, u)| t.saturating_sub(u)),
        bandwidth_gbs: None,
        fp16_tflops: None,
        compute_capability: None,
        gfx_target: None,
        unified_memory: false,
        pcie: link_or_none(d.pcie),
        uuid: None,
        pci_bus_id: d.pci_slot.clone(),
        power_limit_w: None,
        backends: Vec::new(),
        vulkan_matrix: None,
    }
}

fn link_or_none(l: PcieLink) -> Option<PcieLink> {
    (l != PcieLink::default()).then_some(l)
}

fn fill_from_table(g: &mut GpuInfo, s: &gpu_table::GpuSpec) {
    if g.bandwidth_gbs.is_none() {
        g.bandwidth_gbs = Some(s.bandwidth_gbs);
    }
    g.fp16_tflops = Some(s.fp16_tflops);
    g.unified_memory = s.unified;
    if g.compute_capability.is_none() {
        g.compute_capability = s.compute_capability.clone();
    }
}

fn nvidia_gpus(
    report: NvmlReport,
    drm: &[DrmDevice],
    out: &mut GpuFindings,
    notes: &mut Vec<String>,
) {
    out.nvidia_driver_version = report.driver_version.clone();
    out.cuda_driver_version = report.cuda_version.clone();
    for d in report.devices {
        let bus = d.pci_bus_id.as_deref().and_then(normalize_bus_id);
        let sys = drm
            .iter()
            .find(|x| x.pci_slot.is_some() && x.pci_slot == bus);
        let nvml_link = PcieLink {
            gen: d.pcie_gen,
            width: d.pcie_width,
            max_gen: d.pcie_max_gen,
            max_width: d.pcie_max_width,
        };
        // NVML's link is authoritative; sysfs fills what it could not report.
        let link = match sys.map(|s| s.pcie) {
            Some(s) => PcieLink {
                gen: nvml_link.gen.or(s.gen),
                width: nvml_link.width.or(s.width),
                max_gen: nvml_link.max_gen.or(s.max_gen),
                max_width: nvml_link.max_width.or(s.max_width),
            },
            None => nvml_link,
        };
        let cc = d.cc_major.zip(d.cc_minor).map(|(a, b)| format!("{a}.{b}"));
        let mut g = GpuInfo {
            index: d.index,
            name: d.name.clone(),
            vendor: GpuVendor::Nvidia,
            vram_bytes: d.memory_total_bytes.unwrap_or(0),
            vram_free_bytes: d.memory_free_bytes,
            bandwidth_gbs: d.bandwidth_gbs(),
            fp16_tflops: None,
            compute_capability: cc,
            gfx_target: None,
            unified_memory: false,
            pcie: link_or_none(link),
            uuid: d.uuid.clone(),
            pci_bus_id: bus.or(d.pci_bus_id.clone()),
            power_limit_w: d.power_limit_mw.map(|mw| f64::from(mw) / 1000.0),
            backends: Vec::new(),
            vulkan_matrix: None,
        };
        if d.memory_total_bytes.is_none() {
            notes.push(format!("gpu {}: NVML gave no memory size", d.index));
        }
        match gpu_table::match_detected(&d.name, d.memory_total_bytes) {
            Some(s) => fill_from_table(&mut g, s),
            None => notes.push(format!(
                "gpu {}: '{}' not in the GPU table; FP16 throughput unknown{}",
                d.index,
                d.name,
                if g.bandwidth_gbs.is_none() {
                    ", bandwidth unknown"
                } else {
                    ""
                }
            )),
        }
        out.gpus.push(g);
    }
}
