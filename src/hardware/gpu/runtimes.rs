//! Which ggml backends each detected GPU can use on this machine: the driver and runtime
//! libraries the backend loads, looked for as files (no library is loaded, no command
//! run, so the probe is instant and safe on any machine).
//!
//! - CUDA: the driver library `libcuda.so.1` (what the CUDA runtime dlopens) or the
//!   kernel driver's `/proc/driver/nvidia/version`, with an NVIDIA GPU.
//! - ROCm/HIP: `/dev/kfd` (the amdgpu compute interface HIP talks to) and the HIP
//!   runtime `libamdhip64.so` (or an `/opt/rocm` install), with an AMD GPU.
//! - Vulkan: the loader `libvulkan.so.1` and an ICD manifest for the GPU's vendor in the
//!   loader's search directories (`nvidia_icd*.json`, `radeon_icd*`/`amd_icd*`,
//!   `intel_icd*`/`intel_hasvk_icd*`; any non-CPU ICD for other GPUs). ggml-vulkan
//!   enumerates devices through that loader (`ggml_vk_instance_init`,
//!   ggml/src/ggml-vulkan/ggml-vulkan.cpp).
//! - SYCL: the Level Zero loader `libze_loader.so.1` and Intel's GPU driver
//!   `libze_intel_gpu.so.1` (oneAPI's default SYCL device backend is level_zero,
//!   docs/backend/SYCL.md), with an Intel GPU.
//! - Metal: every Apple GPU (macOS ships it).
//!
//! When nothing is found the vendor's runtime is assumed, with a note saying so: a
//! library directory this probe does not know must not turn a GPU into no GPU.

use super::super::root::HostRoot;
use super::super::{GpuInfo, GpuVendor};
use crate::plan::Backend;

/// Directories the dynamic loader searches on common distributions (Debian/Ubuntu
/// multiarch, Fedora/RHEL lib64, Arch, WSL's driver directory, CUDA/ROCm installs).
const LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/usr/lib/wsl/lib",
    "/usr/local/cuda/lib64",
    "/usr/local/cuda/compat",
    "/opt/rocm/lib",
    "/opt/intel/oneapi/redist/lib",
];

/// Where the Vulkan loader looks for ICD manifests (Vulkan-Loader docs,
/// LoaderDriverInterface.md "Driver Discovery on Linux").
const ICD_DIRS: &[&str] = &[
    "/usr/share/vulkan/icd.d",
    "/usr/local/share/vulkan/icd.d",
    "/etc/vulkan/icd.d",
];

/// True when a file whose name starts with `prefix` is in one of [`LIB_DIRS`].
fn has_lib(root: &HostRoot, prefix: &str) -> bool {
    LIB_DIRS
        .iter()
        .any(|d| root.list(d).iter().any(|f| f.starts_with(prefix)))
}

/// The ICD manifest names found.
fn icds(root: &HostRoot) -> Vec<String> {
    ICD_DIRS
        .iter()
        .flat_map(|d| root.list(d))
        .filter(|f| f.ends_with(".json"))
        .collect()
}

/// What this machine has installed, read once for all GPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runtimes {
    pub cuda: bool,
    pub rocm: bool,
    pub vulkan_loader: bool,
    pub icds: Vec<String>,
    pub level_zero: bool,
}

impl Runtimes {
    pub fn probe(root: &HostRoot) -> Runtimes {
        Runtimes {
            cuda: has_lib(root, "libcuda.so") || root.exists("/proc/driver/nvidia/version"),
            rocm: root.exists("/dev/kfd")
                && (has_lib(root, "libamdhip64.so") || root.exists("/opt/rocm")),
            vulkan_loader: has_lib(root, "libvulkan.so"),
            icds: icds(root),
            level_zero: has_lib(root, "libze_loader.so") && has_lib(root, "libze_intel_gpu.so"),
        }
    }

    /// A Vulkan ICD for this vendor's GPUs is installed (lavapipe, `lvp_icd`, is a CPU
    /// rasteriser and ggml-vulkan skips CPU devices, so it never counts).
    fn vulkan_icd_for(&self, vendor: GpuVendor) -> bool {
        let prefixes: &[&str] = match vendor {
            GpuVendor::Nvidia => &["nvidia_icd"],
            GpuVendor::Amd => &["radeon_icd", "amd_icd"],
            GpuVendor::Intel => &["intel_icd", "intel_hasvk_icd"],
            GpuVendor::Apple => &["MoltenVK_icd"],
            GpuVendor::Other => &[""],
        };
        self.icds
            .iter()
            .filter(|f| !f.starts_with("lvp_icd"))
            .any(|f| prefixes.iter().any(|p| f.starts_with(p)))
    }

    /// The backends a GPU of `vendor` can use here, the vendor's runtime first.
    pub fn backends_for(&self, vendor: GpuVendor) -> Vec<Backend> {
        let mut out = Vec::new();
        let runtime = match vendor {
            GpuVendor::Nvidia => self.cuda,
            GpuVendor::Amd => self.rocm,
            GpuVendor::Intel => self.level_zero,
            GpuVendor::Apple => true,
            GpuVendor::Other => false,
        };
        if runtime {
            out.push(vendor.runtime_backend());
        }
        if self.vulkan_loader && self.vulkan_icd_for(vendor) && !out.contains(&Backend::Vulkan) {
            out.push(Backend::Vulkan);
        }
        out
    }
}

/// Records on every GPU the backends it can use, noting where none was found.
pub fn record(root: &HostRoot, gpus: &mut [GpuInfo], notes: &mut Vec<String>) {
    if gpus.is_empty() {
        return;
    }
    let rt = Runtimes::probe(root);
    for g in gpus {
        let found = rt.backends_for(g.vendor);
        g.backends = if found.is_empty() {
            let assumed = g.vendor.runtime_backend();
            notes.push(format!(
                "gpu {}: no GPU runtime found (driver library, Vulkan loader and ICD); assuming {assumed}",
                g.index
            ));
            vec![assumed]
        } else {
            found
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(files: &[&str]) -> (tempfile::TempDir, HostRoot) {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f.trim_start_matches('/'));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "").unwrap();
        }
        let root = HostRoot::at(dir.path());
        (dir, root)
    }

    #[test]
    fn backends_follow_the_installed_runtimes() {
        let (_d, root) = tree(&[
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
            "/usr/share/vulkan/icd.d/nvidia_icd.json",
            "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
        ]);
        let rt = Runtimes::probe(&root);
        assert_eq!(
            rt.backends_for(GpuVendor::Nvidia),
            vec![Backend::Cuda, Backend::Vulkan]
        );
        // No ROCm, and lavapipe is no AMD ICD.
        assert!(rt.backends_for(GpuVendor::Amd).is_empty());
        let (_d, root) = tree(&[
            "/dev/kfd",
            "/opt/rocm/lib/libamdhip64.so.6",
            "/usr/lib64/libvulkan.so.1",
            "/etc/vulkan/icd.d/radeon_icd.x86_64.json",
        ]);
        let rt = Runtimes::probe(&root);
        assert_eq!(
            rt.backends_for(GpuVendor::Amd),
            vec![Backend::Rocm, Backend::Vulkan]
        );
        // Vulkan without ROCm: a desktop AMD install with Mesa only.
        let (_d, root) = tree(&[
            "/usr/lib/libvulkan.so.1",
            "/usr/share/vulkan/icd.d/radeon_icd.x86_64.json",
        ]);
        assert_eq!(
            Runtimes::probe(&root).backends_for(GpuVendor::Amd),
            vec![Backend::Vulkan]
        );
        let (_d, root) = tree(&[
            "/usr/lib/x86_64-linux-gnu/libze_loader.so.1",
            "/usr/lib/x86_64-linux-gnu/libze_intel_gpu.so.1",
        ]);
        assert_eq!(
            Runtimes::probe(&root).backends_for(GpuVendor::Intel),
            vec![Backend::Sycl]
        );
    }

    #[test]
    fn nothing_found_assumes_the_vendor_runtime_with_a_note() {
        let (_d, root) = tree(&[]);
        let mut gpus = vec![crate::hardware::gpu_table::lookup("3060 12GB")
            .unwrap()
            .to_gpu_info(0)];
        let mut notes = Vec::new();
        record(&root, &mut gpus, &mut notes);
        assert_eq!(gpus[0].backends, vec![Backend::Cuda]);
        assert!(notes[0].contains("assuming cuda"), "{notes:?}");
    }
}
