//! Which prompt-matmul path ggml-vulkan takes on a GPU when the snapshot does not record
//! it (`GpuInfo::vulkan_matrix`, the `matrix cores:` field of ggml's device line).
//!
//! Read from the pinned llama.cpp, ggml/src/ggml-vulkan/ggml-vulkan.cpp:
//! - `NV_coopmat2` needs the device extension VK_NV_cooperative_matrix2 with its
//!   flexible dimensions (`ggml_vk_get_device`, the `coopmat2_features` block) and a
//!   build whose glslc compiles it (`GGML_VULKAN_COOPMAT2_GLSLC_SUPPORT`, set by
//!   ggml/src/ggml-vulkan/CMakeLists.txt's feature test). NVIDIA ships the extension for
//!   GPUs with tensor cores (Turing and later, GTX 16 excepted), so with a current
//!   driver and Vulkan SDK those GPUs take it.
//! - `KHR_coopmat` (VK_KHR_cooperative_matrix) is then allowed by
//!   `ggml_vk_khr_cooperative_matrix_support`: on AMD only RDNA3/RDNA4 (the AMD drivers
//!   report it everywhere; RADV exposes it only where WMMA exists), on Intel only Xe2/Xe3
//!   ("older hardware (ex. Arc A770) has performance regressions") and Windows
//!   integrated Xe.
//! - Anything else (Pascal and older, GTX 16, RDNA1/2 and GCN, Arc A-series, Apple
//!   through MoltenVK) multiplies on shader cores: `none`.
//!
//! A GPU is classified by its name and AMD gfx target; a recorded path (`detect` reads
//! what the driver offers from `vulkaninfo`; snapshots and `--gpu-spec vulkan_matrix=…`)
//! overrides it, KHR_coopmat only where the engine allows it.

use crate::hardware::{GpuInfo, GpuVendor, VulkanMatrix};

/// The matrix path ggml-vulkan takes on `gpu`: the recorded one (what its driver offers,
/// or what the engine printed), gated as the engine gates it, else the rule above.
pub fn vulkan_matrix(gpu: &GpuInfo) -> VulkanMatrix {
    match gpu.vulkan_matrix {
        Some(VulkanMatrix::KhrCoopmat) if !khr_coopmat_allowed(gpu) => VulkanMatrix::None,
        Some(path) => path,
        None => expected(gpu),
    }
}

/// Whether `gpu` has matrix units ggml-vulkan can use (its best path is a coopmat).
pub fn has_vulkan_matrix_units(gpu: &GpuInfo) -> bool {
    expected(gpu) != VulkanMatrix::None
}

/// Whether the pinned engine takes VK_KHR_cooperative_matrix on `gpu` when its driver
/// lists it (`ggml_vk_khr_cooperative_matrix_support`): NVIDIA always, AMD RDNA3/RDNA4,
/// Intel Xe2.
pub fn khr_coopmat_allowed(gpu: &GpuInfo) -> bool {
    gpu.vendor == GpuVendor::Nvidia || has_vulkan_matrix_units(gpu)
}

fn expected(gpu: &GpuInfo) -> VulkanMatrix {
    let name = format!(" {} ", gpu.name.to_ascii_uppercase());
    let any = |frags: &[&str]| frags.iter().any(|f| name.contains(f));
    match gpu.vendor {
        GpuVendor::Nvidia => {
            let no_tensor_cores = any(&[
                "GTX", " P100", " P40", " P4 ", "TITAN X", "QUADRO P", "QUADRO M", "TESLA K",
                "TESLA M",
            ]);
            if no_tensor_cores {
                VulkanMatrix::None
            } else {
                VulkanMatrix::NvCoopmat2
            }
        }
        GpuVendor::Amd => {
            let gfx = gpu.gfx_target.as_deref().unwrap_or("");
            let rdna3_or_4 = gfx.starts_with("gfx11")
                || gfx.starts_with("gfx12")
                || any(&[
                    "RX 7", "RX 9", "R9700", " W7", " 8060S", " 8050S", " 890M", " 880M", " 780M",
                    " 760M", " 740M", "RYZEN Z1",
                ]);
            if rdna3_or_4 {
                VulkanMatrix::KhrCoopmat
            } else {
                VulkanMatrix::None
            }
        }
        GpuVendor::Intel => {
            let xe2 = any(&[
                " B580", " B570", " B50", " B60", " B70", " 140V", " 130V", " 140T",
            ]);
            if xe2 {
                VulkanMatrix::KhrCoopmat
            } else {
                VulkanMatrix::None
            }
        }
        GpuVendor::Apple | GpuVendor::Other => VulkanMatrix::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(name: &str, vendor: GpuVendor) -> GpuInfo {
        let g = crate::hardware::gpu_table::lookup(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .to_gpu_info(0);
        assert_eq!(g.vendor, vendor, "{name}");
        g
    }

    #[test]
    fn each_vendor_generation_gets_the_path_the_pinned_engine_allows() {
        let cases = [
            ("RTX 3090", GpuVendor::Nvidia, VulkanMatrix::NvCoopmat2),
            ("RTX 2080 Ti", GpuVendor::Nvidia, VulkanMatrix::NvCoopmat2),
            ("GTX 1080 Ti", GpuVendor::Nvidia, VulkanMatrix::None),
            ("Tesla P40", GpuVendor::Nvidia, VulkanMatrix::None),
            ("RX 7900 XTX", GpuVendor::Amd, VulkanMatrix::KhrCoopmat),
            ("RX 9070 XT", GpuVendor::Amd, VulkanMatrix::KhrCoopmat),
            ("RX 6800 XT", GpuVendor::Amd, VulkanMatrix::None),
            ("Arc A770", GpuVendor::Intel, VulkanMatrix::None),
            ("Arc B580", GpuVendor::Intel, VulkanMatrix::KhrCoopmat),
        ];
        for (name, vendor, want) in cases {
            let g = gpu(name, vendor);
            assert_eq!(vulkan_matrix(&g), want, "{name}");
            assert_eq!(
                has_vulkan_matrix_units(&g),
                want != VulkanMatrix::None,
                "{name}"
            );
        }
    }

    #[test]
    fn a_recorded_path_wins_over_the_rule_where_the_engine_allows_it() {
        let mut g = gpu("RTX 3090", GpuVendor::Nvidia);
        g.vulkan_matrix = Some(VulkanMatrix::KhrCoopmat);
        assert_eq!(vulkan_matrix(&g), VulkanMatrix::KhrCoopmat);
        assert!(has_vulkan_matrix_units(&g));
        // The AMD drivers list KHR_cooperative_matrix on RDNA2 too; the engine refuses it.
        let mut rdna2 = gpu("RX 6800 XT", GpuVendor::Amd);
        rdna2.vulkan_matrix = Some(VulkanMatrix::KhrCoopmat);
        assert_eq!(vulkan_matrix(&rdna2), VulkanMatrix::None);
        let mut rdna3 = gpu("RX 7900 XTX", GpuVendor::Amd);
        rdna3.vulkan_matrix = Some(VulkanMatrix::KhrCoopmat);
        assert_eq!(vulkan_matrix(&rdna3), VulkanMatrix::KhrCoopmat);
    }
}
