//! NVIDIA GPUs through NVML, behind the [`GpuProbe`] trait.
//!
//! [`NvmlProbe`] loads `libnvidia-ml.so` at run time (nvml-wrapper), initialises NVML
//! once and reads each device; a machine without the driver gets `Err(reason)`, which
//! the caller turns into the note "no NVIDIA GPUs (reason)". [`RecordedNvml`] answers
//! from a TOML file holding what NVML said on a real machine, so tests need no GPU.
//! Every per-device field is optional: one failing query never drops the device.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// What NVML reports about one device (units as NVML returns them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NvmlDevice {
    pub index: u32,
    pub name: String,
    pub uuid: Option<String>,
    /// `00000000:01:00.0` (NVML's 8-digit domain).
    pub pci_bus_id: Option<String>,
    pub memory_total_bytes: Option<u64>,
    pub memory_free_bytes: Option<u64>,
    pub cc_major: Option<i32>,
    pub cc_minor: Option<i32>,
    pub memory_bus_width_bits: Option<u32>,
    /// Maximum memory clock, MHz (`nvmlDeviceGetMaxClockInfo(NVML_CLOCK_MEM)`).
    pub max_memory_clock_mhz: Option<u32>,
    pub pcie_gen: Option<u32>,
    pub pcie_width: Option<u32>,
    pub pcie_max_gen: Option<u32>,
    pub pcie_max_width: Option<u32>,
    pub power_limit_mw: Option<u32>,
}

impl NvmlDevice {
    /// Peak memory bandwidth from bus width and memory clock, decimal GB/s:
    /// `bits / 8 × clock × 2` — NVML's memory clock is half the data rate for GDDR6/6X/7
    /// and HBM alike (RTX 3060: 192 bit, 7501 MHz → 360 GB/s; H100 SXM: 5120 bit,
    /// 2619 MHz → 3352 GB/s, matching NVIDIA's 3.35 TB/s).
    pub fn bandwidth_gbs(&self) -> Option<f64> {
        let bits = f64::from(self.memory_bus_width_bits.filter(|&b| b > 0)?);
        let mhz = f64::from(self.max_memory_clock_mhz.filter(|&c| c > 0)?);
        Some(bits / 8.0 * mhz * 2.0 / 1000.0)
    }
}

/// What NVML reports about the machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NvmlReport {
    pub driver_version: Option<String>,
    /// `12.4` (from `nvmlSystemGetCudaDriverVersion`).
    pub cuda_version: Option<String>,
    #[serde(default)]
    pub devices: Vec<NvmlDevice>,
    /// A recorded failure: NVML could not be used, for this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Something that can list NVIDIA GPUs. `Err` carries the reason there are none.
pub trait GpuProbe {
    fn probe(&self) -> Result<NvmlReport, String>;
}

/// The real NVML.
pub struct NvmlProbe;

impl GpuProbe for NvmlProbe {
    fn probe(&self) -> Result<NvmlReport, String> {
        use nvml_wrapper::enum_wrappers::device::Clock;
        let nvml = nvml_wrapper::Nvml::init().map_err(|e| format!("NVML unavailable: {e}"))?;
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML device count: {e}"))?;
        let cuda = nvml
            .sys_cuda_driver_version()
            .ok()
            .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10));
        let mut report = NvmlReport {
            driver_version: nvml.sys_driver_version().ok(),
            cuda_version: cuda,
            devices: Vec::new(),
            error: None,
        };
        for index in 0..count {
            let Ok(d) = nvml.device_by_index(index) else {
                continue;
            };
            let mem = d.memory_info().ok();
            let cc = d.cuda_compute_capability().ok();
            report.devices.push(NvmlDevice {
                index,
                name: d.name().unwrap_or_else(|_| format!("NVIDIA GPU {index}")),
                uuid: d.uuid().ok(),
                pci_bus_id: d.pci_info().ok().map(|p| p.bus_id),
                memory_total_bytes: mem.as_ref().map(|m| m.total),
                memory_free_bytes: mem.as_ref().map(|m| m.free),
                cc_major: cc.as_ref().map(|c| c.major),
                cc_minor: cc.as_ref().map(|c| c.minor),
                memory_bus_width_bits: d.memory_bus_width().ok(),
                max_memory_clock_mhz: d.max_clock_info(Clock::Memory).ok(),
                pcie_gen: d.current_pcie_link_gen().ok(),
                pcie_width: d.current_pcie_link_width().ok(),
                pcie_max_gen: d.max_pcie_link_gen().ok(),
                pcie_max_width: d.max_pcie_link_width().ok(),
                power_limit_mw: d.enforced_power_limit().ok(),
            });
        }
        Ok(report)
    }
}

/// NVML answers recorded from a real machine (a TOML [`NvmlReport`]), or a recorded
/// failure reason. The fake is a first-class input: `RIGPLAN_NVML_RECORDING` points
/// `detect` at one, which is how the integration tests run the NVIDIA path without a GPU.
pub struct RecordedNvml {
    answer: Result<NvmlReport, String>,
}

impl RecordedNvml {
    pub fn from_file(path: &Path) -> RecordedNvml {
        let answer = std::fs::read_to_string(path)
            .map_err(|e| format!("NVML recording '{}': {e}", path.display()))
            .and_then(|t| {
                toml::from_str::<NvmlReport>(&t)
                    .map_err(|e| format!("NVML recording '{}': {}", path.display(), e.message()))
            });
        RecordedNvml { answer }
    }

    pub fn failing(reason: &str) -> RecordedNvml {
        RecordedNvml {
            answer: Err(reason.to_string()),
        }
    }
}

impl GpuProbe for RecordedNvml {
    fn probe(&self) -> Result<NvmlReport, String> {
        match &self.answer {
            Ok(r) => match &r.error {
                Some(reason) => Err(reason.clone()),
                None => Ok(r.clone()),
            },
            Err(e) => Err(e.clone()),
        }
    }
}

/// `00000000:01:00.0` / `0000:01:00.0` → `0000:01:00.0` (lowercase, 4-digit domain).
pub fn normalize_bus_id(id: &str) -> Option<String> {
    let id = id.trim().to_ascii_lowercase();
    let (domain, rest) = id.split_once(':')?;
    let domain = u32::from_str_radix(domain, 16).ok()?;
    Some(format!("{domain:04x}:{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_from_bus_and_clock_matches_vendor_figures() {
        let d = |bits, mhz| NvmlDevice {
            memory_bus_width_bits: Some(bits),
            max_memory_clock_mhz: Some(mhz),
            ..Default::default()
        };
        // RTX 3060 12GB: 192-bit, 15 Gbps GDDR6 → 360 GB/s (NVIDIA spec page).
        assert!((d(192, 7501).bandwidth_gbs().unwrap() - 360.0).abs() < 0.1);
        // RTX 3090: 384-bit, 19.5 Gbps GDDR6X → 936 GB/s.
        assert!((d(384, 9751).bandwidth_gbs().unwrap() - 936.1).abs() < 0.1);
        assert_eq!(d(0, 7501).bandwidth_gbs(), None);
    }

    #[test]
    fn bus_ids_normalise_to_sysfs_form() {
        assert_eq!(
            normalize_bus_id("00000000:01:00.0").as_deref(),
            Some("0000:01:00.0")
        );
        assert_eq!(
            normalize_bus_id("0000:0A:00.0").as_deref(),
            Some("0000:0a:00.0")
        );
        assert_eq!(normalize_bus_id("garbage"), None);
    }
}
