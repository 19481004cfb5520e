//! Each GPU's ggml-vulkan matrix path (`GpuInfo::vulkan_matrix`), read from the device
//! extensions `vulkaninfo` lists (Khronos Vulkan-Tools; Debian/Ubuntu `vulkan-tools`).
//!
//! What is recorded is the best path the driver offers: VK_NV_cooperative_matrix2 gives
//! `NV_coopmat2`, VK_KHR_cooperative_matrix `KHR_coopmat`, neither `none`. Whether
//! ggml-vulkan takes it is engine knowledge (`engine::vulkan_matrix`: coopmat2 needs a
//! build whose shaders compiled it, and the engine refuses KHR_coopmat on some GPUs).
//! Without `vulkaninfo`, or for a GPU it does not list, the path stays unrecorded and the
//! speed model assumes the engine's usual one.
//! Parsing is pure; [`record`] runs the tool with a timeout.

use crate::hardware::exec::CommandRunner;
use crate::hardware::gpu_table;
use crate::hardware::{GpuInfo, GpuVendor, VulkanMatrix};
use crate::plan::Backend;
use std::time::Duration;

/// One physical device `vulkaninfo` lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulkanDevice {
    pub name: String,
    pub vendor: GpuVendor,
    pub coopmat2: bool,
    pub khr_coopmat: bool,
}

/// The devices of `vulkaninfo`'s text output: its `GPUn:` sections, each with
/// `deviceName`, `vendorID` and the `Device Extensions` list. CPU rasterisers (llvmpipe)
/// are skipped, as ggml-vulkan skips them.
pub fn parse(text: &str) -> Vec<VulkanDevice> {
    let mut out = Vec::new();
    let mut cur: Option<VulkanDevice> = None;
    let mut cpu = false;
    for line in text.lines() {
        let t = line.trim();
        let is_header = !line.starts_with(char::is_whitespace)
            && t.starts_with("GPU")
            && t.ends_with(':')
            && t[3..t.len() - 1].chars().all(|c| c.is_ascii_digit())
            && t.len() > 4;
        if is_header {
            if let Some(d) = cur.take().filter(|_| !cpu) {
                out.push(d);
            }
            cpu = false;
            cur = Some(VulkanDevice {
                name: String::new(),
                vendor: GpuVendor::Other,
                coopmat2: false,
                khr_coopmat: false,
            });
            continue;
        }
        let Some(d) = cur.as_mut() else { continue };
        if let Some((key, value)) = t.split_once('=') {
            let value = value.trim();
            match key.trim() {
                "deviceName" if d.name.is_empty() => d.name = value.to_string(),
                "vendorID" => d.vendor = vendor_of(value),
                "deviceType" => cpu = value.contains("CPU"),
                _ => {}
            }
        } else if let Some((ext, _)) = t.split_once(':') {
            match ext.trim() {
                "VK_NV_cooperative_matrix2" => d.coopmat2 = true,
                "VK_KHR_cooperative_matrix" => d.khr_coopmat = true,
                _ => {}
            }
        }
    }
    if let Some(d) = cur.filter(|_| !cpu) {
        out.push(d);
    }
    out
}

/// PCI vendor IDs (PCI-SIG): NVIDIA 0x10de, AMD 0x1002, Intel 0x8086; Apple's Vulkan
/// (MoltenVK) reports 0x106b.
fn vendor_of(id: &str) -> GpuVendor {
    let hex = id.split_whitespace().next().unwrap_or("");
    match hex.trim_start_matches("0x").to_ascii_lowercase().as_str() {
        "10de" => GpuVendor::Nvidia,
        "1002" => GpuVendor::Amd,
        "8086" => GpuVendor::Intel,
        "106b" => GpuVendor::Apple,
        _ => GpuVendor::Other,
    }
}

/// The best matrix path the device's driver offers.
pub fn offered(dev: &VulkanDevice) -> VulkanMatrix {
    if dev.coopmat2 {
        VulkanMatrix::NvCoopmat2
    } else if dev.khr_coopmat {
        VulkanMatrix::KhrCoopmat
    } else {
        VulkanMatrix::None
    }
}

/// The listed device that is `gpu`: the only one of its vendor, else the one whose name
/// shares the most words and numbers with it (the driver's name and the table's differ:
/// `AMD Radeon RX 7900 XTX (RADV NAVI31)`).
fn matching<'a>(gpu: &GpuInfo, devices: &'a [VulkanDevice]) -> Option<&'a VulkanDevice> {
    let same: Vec<&VulkanDevice> = devices.iter().filter(|d| d.vendor == gpu.vendor).collect();
    if same.len() <= 1 {
        return same.first().copied();
    }
    let want = gpu_table::tokens(&gpu.name);
    same.into_iter()
        .map(|d| (gpu_table::tokens(&d.name).intersection(&want).count(), d))
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, _)| *n)
        .map(|(_, d)| d)
}

/// Records the matrix path of every GPU that can use Vulkan, from `vulkaninfo`.
pub fn record(runner: &dyn CommandRunner, gpus: &mut [GpuInfo], notes: &mut Vec<String>) {
    if !gpus
        .iter()
        .any(|g| g.usable_backends().contains(&Backend::Vulkan))
    {
        return;
    }
    let Some(tool) = runner.which("vulkaninfo") else {
        return;
    };
    let Some(text) = runner.run(&tool, &[], Duration::from_secs(10)) else {
        notes.push("vulkaninfo gave no output: Vulkan matrix paths not recorded".into());
        return;
    };
    let devices = parse(&text);
    for g in gpus
        .iter_mut()
        .filter(|g| g.usable_backends().contains(&Backend::Vulkan))
    {
        match matching(g, &devices) {
            Some(d) => g.vulkan_matrix = Some(offered(d)),
            None => notes.push(format!(
                "gpu {}: vulkaninfo lists no matching device; Vulkan matrix path not recorded",
                g.index
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_GPUS: &str = "\
==========
VULKANINFO
==========

Device Properties and Extensions:
=================================
GPU0:
VkPhysicalDeviceProperties:
---------------------------
\tapiVersion        = 1.4.303 (4210991)
\tdriverVersion     = 575.57.8.0 (2413643840)
\tvendorID          = 0x10de
\tdeviceID          = 0x2204
\tdeviceType        = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
\tdeviceName        = NVIDIA GeForce RTX 3090

Device Extensions: count = 3
----------------------------
\tVK_KHR_16bit_storage                : extension revision 1
\tVK_KHR_cooperative_matrix           : extension revision 2
\tVK_NV_cooperative_matrix2           : extension revision 1

GPU1:
VkPhysicalDeviceProperties:
---------------------------
\tvendorID          = 0x1002
\tdeviceType        = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
\tdeviceName        = AMD Radeon RX 6800 XT (RADV NAVI21)

Device Extensions: count = 1
----------------------------
\tVK_KHR_16bit_storage                : extension revision 1

GPU2:
VkPhysicalDeviceProperties:
---------------------------
\tvendorID          = 0x10005
\tdeviceType        = PHYSICAL_DEVICE_TYPE_CPU
\tdeviceName        = llvmpipe (LLVM 19.1.1, 256 bits)

Device Extensions: count = 1
----------------------------
\tVK_KHR_cooperative_matrix           : extension revision 2
";

    fn table_gpu(name: &str) -> GpuInfo {
        gpu_table::lookup(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .to_gpu_info(0)
    }

    #[test]
    fn devices_and_their_cooperative_matrix_extensions_are_read() {
        let devs = parse(TWO_GPUS);
        assert_eq!(devs.len(), 2, "{devs:?}");
        assert_eq!(devs[0].name, "NVIDIA GeForce RTX 3090");
        assert_eq!(devs[0].vendor, GpuVendor::Nvidia);
        assert!(devs[0].coopmat2 && devs[0].khr_coopmat);
        assert_eq!(devs[1].vendor, GpuVendor::Amd);
        assert!(!devs[1].coopmat2 && !devs[1].khr_coopmat);
    }

    #[test]
    fn the_best_offered_path_is_recorded() {
        let devs = parse(TWO_GPUS);
        assert_eq!(offered(&devs[0]), VulkanMatrix::NvCoopmat2);
        let mut old_driver = devs[0].clone();
        old_driver.coopmat2 = false;
        assert_eq!(offered(&old_driver), VulkanMatrix::KhrCoopmat);
        assert_eq!(offered(&devs[1]), VulkanMatrix::None);
    }

    struct Recorded(&'static str);
    impl CommandRunner for Recorded {
        fn run(&self, _: &std::path::Path, _: &[&str], _: Duration) -> Option<String> {
            Some(self.0.to_string())
        }
        fn which(&self, name: &str) -> Option<std::path::PathBuf> {
            Some(std::path::PathBuf::from(format!("/usr/bin/{name}")))
        }
    }

    #[test]
    fn record_sets_each_vulkan_gpu_and_leaves_the_rest() {
        let mut gpus = vec![
            table_gpu("RTX 3090"),
            table_gpu("RX 6800 XT"),
            table_gpu("RX 7900 XTX"),
        ];
        gpus[2].backends = vec![Backend::Rocm];
        let mut notes = Vec::new();
        record(&Recorded(TWO_GPUS), &mut gpus, &mut notes);
        assert_eq!(gpus[0].vulkan_matrix, Some(VulkanMatrix::NvCoopmat2));
        assert_eq!(gpus[1].vulkan_matrix, Some(VulkanMatrix::None));
        assert_eq!(gpus[2].vulkan_matrix, None, "ROCm only: not asked");
        assert!(notes.is_empty(), "{notes:?}");
        let mut gpus = vec![table_gpu("RTX 3090")];
        record(&crate::hardware::exec::NoCommands, &mut gpus, &mut notes);
        assert_eq!(gpus[0].vulkan_matrix, None);
    }
}
