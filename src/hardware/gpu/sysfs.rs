//! GPUs as the kernel lists them: `/sys/class/drm/card*`, AMD's KFD topology and the
//! PCIe link attributes of each device.
//!
//! Reads through a [`HostRoot`] only; never opens a device node, never loads a driver
//! library. Missing attributes are `None`.

use crate::hardware::root::{parse_u64, HostRoot};
use crate::hardware::PcieLink;

/// One `/sys/class/drm/cardN` that is a PCI device.
#[derive(Clone, Debug, Default)]
pub struct DrmDevice {
    pub card: String,
    pub vendor_id: u32,
    pub device_id: u32,
    /// `0000:01:00.0`
    pub pci_slot: Option<String>,
    pub pcie: PcieLink,
    pub vram_total: Option<u64>,
    pub vram_used: Option<u64>,
}

pub const VENDOR_NVIDIA: u32 = 0x10de;
pub const VENDOR_AMD: u32 = 0x1002;
pub const VENDOR_INTEL: u32 = 0x8086;

/// Display adapters that are not compute GPUs: server BMCs and virtual consoles.
/// (ASPEED AST BMC 0x1a03, Matrox G200 BMC 0x102b, virtio 0x1af4, Bochs/QEMU 0x1234,
/// VMware SVGA 0x15ad, Hyper-V 0x1414, Cirrus 0x1013.)
pub const NOT_A_GPU: &[u32] = &[0x1a03, 0x102b, 0x1af4, 0x1234, 0x15ad, 0x1414, 0x1013];

/// `None` when `/sys/class/drm` itself is absent (typical of containers).
pub fn drm_devices(root: &HostRoot) -> Option<Vec<DrmDevice>> {
    if !root.exists("/sys/class/drm") {
        return None;
    }
    let mut out = Vec::new();
    for card in root.list("/sys/class/drm") {
        let is_card = card
            .strip_prefix("card")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if !is_card {
            continue; // connectors (card0-DP-1), renderD*, version
        }
        let dev = format!("/sys/class/drm/{card}/device");
        let Some(vendor_id) = root.read_u64(&format!("{dev}/vendor")) else {
            continue;
        };
        let pci_slot = root.read(&format!("{dev}/uevent")).and_then(|u| {
            u.lines().find_map(|l| {
                l.strip_prefix("PCI_SLOT_NAME=")
                    .map(|s| s.trim().to_ascii_lowercase())
            })
        });
        out.push(DrmDevice {
            card: card.clone(),
            vendor_id: vendor_id as u32,
            device_id: root.read_u64(&format!("{dev}/device")).unwrap_or(0) as u32,
            pci_slot,
            pcie: pcie_link(root, &dev),
            vram_total: root.read_u64(&format!("{dev}/mem_info_vram_total")),
            vram_used: root.read_u64(&format!("{dev}/mem_info_vram_used")),
        });
    }
    Some(out)
}

/// PCIe generation from a `*_link_speed` attribute (`8.0 GT/s PCIe`).
pub fn gen_from_speed(s: &str) -> Option<u32> {
    let gts: f64 = s.split_whitespace().next()?.parse().ok()?;
    // Transfer rate per lane of each generation (PCI-SIG base specifications 1.0-6.0).
    let table = [
        (2.5, 1),
        (5.0, 2),
        (8.0, 3),
        (16.0, 4),
        (32.0, 5),
        (64.0, 6),
    ];
    table
        .iter()
        .find(|(rate, _)| (gts - rate).abs() < 0.01)
        .map(|&(_, g)| g)
}

/// Current and maximum link of a PCI device. The usable maximum is the lower of the
/// device's and its upstream bridge's (a PCIe 4.0 card in a 3.0 slot tops out at 3.0).
pub fn pcie_link(root: &HostRoot, dev: &str) -> PcieLink {
    let speed = |d: &str, attr: &str| {
        root.read_trim(&format!("{d}/{attr}"))
            .and_then(|s| gen_from_speed(&s))
    };
    let width = |d: &str, attr: &str| {
        root.read_trim(&format!("{d}/{attr}"))
            .and_then(|s| parse_u64(&s))
            .and_then(|w| u32::try_from(w).ok())
            .filter(|&w| w > 0)
    };
    let mut link = PcieLink {
        gen: speed(dev, "current_link_speed"),
        width: width(dev, "current_link_width"),
        max_gen: speed(dev, "max_link_speed"),
        max_width: width(dev, "max_link_width"),
    };
    if let Some(parent) = root.resolve(dev).and_then(|real| {
        let p = std::path::Path::new(&real)
            .parent()?
            .to_string_lossy()
            .into_owned();
        Some(p)
    }) {
        if let Some(g) = speed(&parent, "max_link_speed") {
            link.max_gen = Some(link.max_gen.map_or(g, |d| d.min(g)));
        }
        if let Some(w) = width(&parent, "max_link_width") {
            link.max_width = Some(link.max_width.map_or(w, |d| d.min(w)));
        }
    }
    link
}

/// One GPU node of the KFD topology (`/sys/class/kfd/kfd/topology/nodes/N/properties`).
#[derive(Clone, Debug, Default)]
pub struct KfdNode {
    pub gfx_target: String,
    /// PCI slot `0000:03:00.0`, from `domain` and `location_id`.
    pub pci_slot: Option<String>,
    pub simd_count: Option<u64>,
    pub max_engine_clk_mhz: Option<u64>,
}

pub fn kfd_nodes(root: &HostRoot) -> Vec<KfdNode> {
    let base = "/sys/class/kfd/kfd/topology/nodes";
    let mut out = Vec::new();
    for node in root.list(base) {
        let Some(text) = root.read(&format!("{base}/{node}/properties")) else {
            continue;
        };
        let prop = |key: &str| {
            text.lines().find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next()? == key).then(|| it.next().and_then(|v| v.parse::<u64>().ok()))?
            })
        };
        let Some(version) = prop("gfx_target_version").filter(|&v| v > 0) else {
            continue; // CPU node
        };
        let pci_slot = prop("location_id").map(|loc| {
            let domain = prop("domain").unwrap_or(0);
            let bus = (loc >> 8) & 0xff;
            let devfn = loc & 0xff;
            format!("{domain:04x}:{bus:02x}:{:02x}.{:x}", devfn >> 3, devfn & 7)
        });
        out.push(KfdNode {
            gfx_target: gfx_name(version),
            pci_slot,
            simd_count: prop("simd_count"),
            max_engine_clk_mhz: prop("max_engine_clk_fcompute"),
        });
    }
    out
}

/// KFD's `gfx_target_version` (major*10000 + minor*100 + stepping) → `gfx1100`, `gfx90a`.
pub fn gfx_name(version: u64) -> String {
    let major = version / 10000;
    let minor = (version / 100) % 100;
    let step = version % 100;
    format!("gfx{major}{minor:x}{step:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gfx_versions_decode_like_rocm_names_them() {
        assert_eq!(gfx_name(110000), "gfx1100");
        assert_eq!(gfx_name(90010), "gfx90a");
        assert_eq!(gfx_name(90402), "gfx942");
        assert_eq!(gfx_name(110501), "gfx1151");
        assert_eq!(gfx_name(120001), "gfx1201");
        assert_eq!(gfx_name(100300), "gfx1030");
    }

    #[test]
    fn link_speeds_map_to_generations() {
        assert_eq!(gen_from_speed("8.0 GT/s PCIe"), Some(3));
        assert_eq!(gen_from_speed("16.0 GT/s PCIe"), Some(4));
        assert_eq!(gen_from_speed("2.5 GT/s PCIe"), Some(1));
        assert_eq!(gen_from_speed("32.0 GT/s PCIe"), Some(5));
        assert_eq!(gen_from_speed("Unknown"), None);
    }
}
