//! HardwareSnapshot: a versioned, serialisable description of one machine.
//!
//! Field names follow the `detect --format json` contract in DESIGN.md. Unknown values
//! are `None` (JSON `null`), never guessed. The same struct is written by `detect --save`
//! and read by `--hardware FILE`; round-tripping through TOML or JSON is lossless.

use crate::plan::Backend;
use serde::{Deserialize, Serialize};

/// Current snapshot schema version. Readers refuse newer versions with a clear error.
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HardwareSnapshot {
    pub schema_version: u32,
    /// Where this came from: `detected on HOST`, `preset z440-2x3060`, a file path...
    pub source: String,
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    #[serde(default)]
    pub gpus: Vec<GpuInfo>,
    #[serde(default)]
    pub system: SystemInfo,
    /// What could not be read, and what was assumed.
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuInfo {
    pub vendor: String,
    pub brand: String,
    /// `haswell`, `zen4`, `arrowlake`, `neoverse-v2`...
    pub microarchitecture: Option<String>,
    /// The compiler `-march` value for this microarchitecture.
    pub march: Option<String>,
    /// `x86_64`, `aarch64`...
    #[serde(default)]
    pub arch: String,
    pub physical_cores: u32,
    pub threads: u32,
    pub sockets: u32,
    pub numa_nodes: u32,
    /// Performance cores on hybrid CPUs (None when not hybrid or unknown).
    #[serde(default)]
    pub performance_cores: Option<u32>,
    /// Efficiency cores on hybrid CPUs.
    #[serde(default)]
    pub efficiency_cores: Option<u32>,
    #[serde(default)]
    pub l2_bytes: Option<u64>,
    #[serde(default)]
    pub l3_bytes: Option<u64>,
    /// ISA flags in /proc/cpuinfo spelling: `avx2`, `fma`, `avx512f`, `asimddp`...
    #[serde(default)]
    pub flags: Vec<String>,
    /// Base (nominal) clock of the cores the engine runs on, MHz: the rate the speed
    /// model's CPU compute scales with. None when the system does not say (the model
    /// then assumes 3.0 GHz).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_clock_mhz: Option<u32>,
}

impl CpuInfo {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryInfo {
    pub total_bytes: u64,
    pub available_bytes: Option<u64>,
    #[serde(default)]
    pub swap_bytes: Option<u64>,
    /// RLIMIT_MEMLOCK soft limit; None = unlimited or unknown (see notes).
    pub memlock_limit_bytes: Option<u64>,
    /// True when RLIMIT_MEMLOCK is `unlimited` (then `memlock_limit_bytes` is None).
    #[serde(default)]
    pub memlock_unlimited: bool,
    /// Channels x MT/s x 8 bytes, decimal GB/s.
    pub theoretical_bandwidth_gbs: Option<f64>,
    /// Measured multi-threaded read bandwidth, decimal GB/s.
    pub measured_bandwidth_gbs: Option<f64>,
    /// `DDR4`, `DDR5`, `LPDDR5X`...
    #[serde(default)]
    pub dimm_type: Option<String>,
    #[serde(default)]
    pub speed_mts: Option<u32>,
    #[serde(default)]
    pub channels: Option<u32>,
    #[serde(default)]
    pub hugepages_total: Option<u64>,
    /// Size of one huge page (`Hugepagesize`), bytes.
    #[serde(default)]
    pub hugepage_bytes: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuVendor {
    Nvidia,
    Amd,
    Intel,
    Apple,
    Other,
}

impl GpuVendor {
    /// The vendor's own GPU runtime: CUDA, ROCm/HIP, Metal, SYCL (oneAPI Level Zero);
    /// Vulkan for anything else (ggml's vendor-neutral GPU backend).
    pub fn runtime_backend(self) -> Backend {
        match self {
            GpuVendor::Nvidia => Backend::Cuda,
            GpuVendor::Amd => Backend::Rocm,
            GpuVendor::Apple => Backend::Metal,
            GpuVendor::Intel => Backend::Sycl,
            GpuVendor::Other => Backend::Vulkan,
        }
    }

    /// The backends a machine with this vendor's usual driver stack can use: the
    /// vendor's runtime and Vulkan (the NVIDIA, AMD and Intel Linux/Windows drivers all
    /// ship a Vulkan ICD), runtime first. What presets and `--gpu` what-ifs assume.
    pub fn usual_backends(self) -> &'static [Backend] {
        match self {
            GpuVendor::Nvidia => &[Backend::Cuda, Backend::Vulkan],
            GpuVendor::Amd => &[Backend::Rocm, Backend::Vulkan],
            GpuVendor::Intel => &[Backend::Sycl, Backend::Vulkan],
            GpuVendor::Apple => &[Backend::Metal],
            GpuVendor::Other => &[Backend::Vulkan],
        }
    }

    /// `nvidia`, `amd`, `intel`, `apple` or `other`, any case.
    pub fn parse(s: &str) -> Option<GpuVendor> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nvidia" => Some(GpuVendor::Nvidia),
            "amd" => Some(GpuVendor::Amd),
            "intel" => Some(GpuVendor::Intel),
            "apple" => Some(GpuVendor::Apple),
            "other" => Some(GpuVendor::Other),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcieLink {
    pub gen: Option<u32>,
    pub width: Option<u32>,
    pub max_gen: Option<u32>,
    pub max_width: Option<u32>,
}

/// One GPU. Read through [`super::gpu_spec::GpuEntry`], so a snapshot's entry may give
/// `vram_gib` instead of `vram_bytes` and omit `index` (the `--gpu-spec` fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "super::gpu_spec::GpuEntry")]
pub struct GpuInfo {
    pub index: u32,
    pub name: String,
    pub vendor: GpuVendor,
    pub vram_bytes: u64,
    pub vram_free_bytes: Option<u64>,
    /// Memory bandwidth, decimal GB/s.
    pub bandwidth_gbs: Option<f64>,
    /// Dense FP16 tensor throughput, TFLOPS (from the GPU table).
    #[serde(default)]
    pub fp16_tflops: Option<f64>,
    /// CUDA compute capability, `8.6`.
    pub compute_capability: Option<String>,
    /// AMD gfx target, `gfx1100`.
    #[serde(default)]
    pub gfx_target: Option<String>,
    /// Shares system RAM (Apple, Strix Halo, GB10).
    #[serde(default)]
    pub unified_memory: bool,
    pub pcie: Option<PcieLink>,
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub pci_bus_id: Option<String>,
    #[serde(default)]
    pub power_limit_w: Option<f64>,
    /// The ggml backends this GPU can use on this machine (driver and runtime found),
    /// in order of preference. Empty in snapshots written before rigplan recorded them:
    /// then the vendor's runtime ([`GpuInfo::usable_backends`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<Backend>,
    /// How ggml-vulkan runs prompt matmuls on this GPU, as its start-up device line
    /// prints it (`matrix cores: NV_coopmat2`); absent when not known, and then
    /// `engine::backends::vulkan_matrix` says what the pinned engine picks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulkan_matrix: Option<VulkanMatrix>,
}

/// ggml-vulkan's prompt-matmul path on one GPU: the `matrix cores:` field of its
/// device line (`ggml_vk_print_gpu_info`, pinned ggml/src/ggml-vulkan/ggml-vulkan.cpp).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VulkanMatrix {
    /// NVIDIA's VK_NV_cooperative_matrix2 (the build's glslc must support it too).
    #[serde(rename = "NV_coopmat2", alias = "nv_coopmat2")]
    NvCoopmat2,
    /// VK_KHR_cooperative_matrix.
    #[serde(rename = "KHR_coopmat", alias = "khr_coopmat")]
    KhrCoopmat,
    /// Shader cores only (integer dot products where the GPU has them).
    #[serde(rename = "none")]
    None,
}

impl VulkanMatrix {
    pub const ALL: [VulkanMatrix; 3] = [Self::NvCoopmat2, Self::KhrCoopmat, Self::None];

    /// The spelling of ggml's device line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NvCoopmat2 => "NV_coopmat2",
            Self::KhrCoopmat => "KHR_coopmat",
            Self::None => "none",
        }
    }

    /// Parses ggml's spelling, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The path named on a ggml-vulkan device line (`... | matrix cores: KHR_coopmat`).
    pub fn from_device_line(line: &str) -> Option<Self> {
        let (_, rest) = line.split_once("matrix cores:")?;
        Self::parse(rest.split('|').next().unwrap_or(""))
    }
}

#[cfg(test)]
mod vulkan_matrix_tests {
    use super::VulkanMatrix;

    #[test]
    fn the_device_line_names_the_path() {
        let line = "ggml_vulkan: 0 = NVIDIA GeForce RTX 3090 (NVIDIA) | uma: 0 | fp16: 1 | \
                    warp size: 32 | shared memory: 49152 | int dot: 1 | matrix cores: NV_coopmat2";
        assert_eq!(
            VulkanMatrix::from_device_line(line),
            Some(VulkanMatrix::NvCoopmat2)
        );
        let amd = "ggml_vulkan: 0 = AMD Radeon Graphics (RADV GFX1151) (radv) | uma: 1 | fp16: 1 \
                   | bf16: 0 | warp size: 64 | shared memory: 65536 | int dot: 1 | matrix cores: KHR_coopmat";
        assert_eq!(
            VulkanMatrix::from_device_line(amd),
            Some(VulkanMatrix::KhrCoopmat)
        );
        let old = "ggml_vulkan: 0 = Intel(R) Arc(TM) A770 Graphics | uma: 0 | fp16: 1 | warp size: 32 | matrix cores: none";
        assert_eq!(
            VulkanMatrix::from_device_line(old),
            Some(VulkanMatrix::None)
        );
        assert_eq!(
            VulkanMatrix::from_device_line("ggml_vulkan: 0 = GPU | fp16: 1"),
            None
        );
        for m in VulkanMatrix::ALL {
            assert_eq!(VulkanMatrix::parse(&m.as_str().to_lowercase()), Some(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
        }
    }
}

impl GpuInfo {
    /// The backends this GPU can use: the recorded ones, else the vendor's runtime.
    pub fn usable_backends(&self) -> Vec<Backend> {
        if self.backends.is_empty() {
            vec![self.vendor.runtime_backend()]
        } else {
            self.backends.clone()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub os: Option<String>,
    pub kernel: Option<String>,
    #[serde(default)]
    pub container: bool,
    #[serde(default)]
    pub virtual_machine: bool,
    #[serde(default)]
    pub compilers: Vec<String>,
    pub nvcc_version: Option<String>,
    pub cuda_driver_version: Option<String>,
    pub nvidia_driver_version: Option<String>,
}
