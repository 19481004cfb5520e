//! The ggml backends a GPU can run on, as engine knowledge: which backend a GPU vendor
//! gets when nothing else is known, and what each backend is in each pinned engine —
//! whether the engine has it, its CMake option, flash attention and the KV cache types
//! its flash-attention kernels read, the split modes it can run, the environment
//! variable that picks its visible devices and the name of its per-device buffer type.
//!
//! Every fact names the source it was read from (mainline: llama.cpp as pinned by
//! llama-cpp-python 0.3.36; ik: ik_llama.cpp as pinned by ik-llama-cpp-python 0.1.5).
//! Data only: the planner asks [`support`] and decides.

use super::EngineKind;
use crate::hardware::GpuVendor;
use crate::plan::Backend;

/// The backend a GPU of this vendor runs on by default: the vendor's own runtime
/// (CUDA, ROCm/HIP, Metal, SYCL via oneAPI), Vulkan for anything else (ggml's
/// vendor-neutral GPU backend, ggml/src/ggml-vulkan).
pub fn default_backend(vendor: GpuVendor) -> Backend {
    vendor.runtime_backend()
}

/// What one backend is in one pinned engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendSupport {
    pub backend: Backend,
    /// The CMake option that builds it.
    pub cmake_option: &'static str,
    /// The backend runs flash attention on the GPU (`supports_op` answers true for
    /// `GGML_OP_FLASH_ATTN_EXT` at the usual head sizes). Without it ggml's scheduler
    /// runs attention on the CPU, so a plan turns flash attention off.
    pub flash_attn: bool,
    /// The K/V cache types its flash-attention kernels read (lowercase `ggml_type`
    /// names); `None` for every type the engine offers (`EngineInfo::cache_types`).
    pub fa_kv_types: Option<&'static [&'static str]>,
    /// `-sm row`: the backend exports a split buffer type.
    pub row_split: bool,
    /// The engine's tensor-parallel split (mainline `-sm tensor`, ik `-sm graph`/`attn`).
    pub parallel_split: bool,
    /// The environment variable that restricts the devices the backend sees, and how a
    /// list of device indices is written into it (`{}` = comma-separated indices).
    pub visible_devices: Option<(&'static str, &'static str)>,
    /// The per-device buffer-type prefix `-ot PATTERN=BUFFER` names (`CUDA` → `CUDA0`).
    pub buffer_type_prefix: Option<&'static str>,
    /// Where these facts were read.
    pub source: &'static str,
}

/// CUDA's FA K/V types: `ggml_cuda_fattn_kv_type_supported`, ggml/src/ggml-cuda/fattn.cu.
const MAINLINE_CUDA_FA_KV: &[&str] =
    &["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"];
/// Vulkan's: the `fa_kv_ok` lambda in `ggml_backend_vk_device_supports_op`,
/// ggml/src/ggml-vulkan/ggml-vulkan.cpp.
const MAINLINE_VULKAN_FA_KV: &[&str] = &[
    "f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl",
];
/// Metal's: `ggml_metal_device_supports_op`, ggml/src/ggml-metal/ggml-metal-device.m.
const MAINLINE_METAL_FA_KV: &[&str] =
    &["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1"];
/// SYCL's: the vector-kernel instances of ggml/src/ggml-sycl/fattn.cpp
/// (`ggml_sycl_flash_attn_ext_supported`).
const MAINLINE_SYCL_FA_KV: &[&str] = &["f16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"];
/// ik Vulkan's: `ggml_backend_vk_supports_op`, ggml/src/ggml-vulkan.cpp.
const IK_VULKAN_FA_KV: &[&str] = &["f16", "q4_0", "q8_0", "q4_1", "q5_0", "q5_1"];
/// ik Metal's: K and V of one type, f16 or q8_0 (`ggml_metal_supports_op`,
/// ggml/src/ggml-metal.m).
const IK_METAL_FA_KV: &[&str] = &["f16", "q8_0"];

const MAINLINE: &[BackendSupport] = &[
    BackendSupport {
        backend: Backend::Cuda,
        cmake_option: "GGML_CUDA",
        flash_attn: true,
        fa_kv_types: Some(MAINLINE_CUDA_FA_KV),
        // ggml_backend_cuda_reg_get_proc_address exports no split buffer type.
        row_split: false,
        // llama_prepare_model_devices (src/llama.cpp) wraps any devices in a meta device.
        parallel_split: true,
        // docs/multi-gpu.md: "CUDA_VISIBLE_DEVICES can be used to control which GPUs".
        visible_devices: Some(("CUDA_VISIBLE_DEVICES", "{}")),
        // GGML_CUDA_NAME "CUDA", ggml/include/ggml-cuda.h.
        buffer_type_prefix: Some("CUDA"),
        source: "ggml/CMakeLists.txt option(GGML_CUDA); ggml/src/ggml-cuda/ggml-cuda.cu ggml_backend_cuda_device_supports_op",
    },
    BackendSupport {
        backend: Backend::Rocm,
        cmake_option: "GGML_HIP",
        flash_attn: true,
        // ggml/src/ggml-hip/CMakeLists.txt compiles the ggml-cuda sources.
        fa_kv_types: Some(MAINLINE_CUDA_FA_KV),
        row_split: false,
        parallel_split: true,
        // docs/build.md (HIP): "HIP_VISIBLE_DEVICES can be used to specify which GPU(s)".
        visible_devices: Some(("HIP_VISIBLE_DEVICES", "{}")),
        // GGML_CUDA_NAME is "ROCm" under GGML_USE_HIP, ggml/include/ggml-cuda.h.
        buffer_type_prefix: Some("ROCm"),
        source: "ggml/CMakeLists.txt option(GGML_HIP); ggml/src/ggml-hip/CMakeLists.txt",
    },
    BackendSupport {
        backend: Backend::Vulkan,
        cmake_option: "GGML_VULKAN",
        flash_attn: true,
        fa_kv_types: Some(MAINLINE_VULKAN_FA_KV),
        row_split: false,
        parallel_split: true,
        // ggml_vk_instance_init: "Emulate behavior of CUDA_VISIBLE_DEVICES for Vulkan"
        // with GGML_VK_VISIBLE_DEVICES (indices in Vulkan's enumeration order).
        visible_devices: Some(("GGML_VK_VISIBLE_DEVICES", "{}")),
        // GGML_VK_NAME "Vulkan" + device index, ggml/include/ggml-vulkan.h.
        buffer_type_prefix: Some("Vulkan"),
        source: "ggml/CMakeLists.txt option(GGML_VULKAN); ggml/src/ggml-vulkan/ggml-vulkan.cpp ggml_backend_vk_device_supports_op",
    },
    BackendSupport {
        backend: Backend::Metal,
        cmake_option: "GGML_METAL",
        flash_attn: true,
        fa_kv_types: Some(MAINLINE_METAL_FA_KV),
        row_split: false,
        parallel_split: true,
        visible_devices: None,
        // GGML_METAL_NAME "MTL", ggml/src/ggml-metal/ggml-metal.cpp.
        buffer_type_prefix: Some("MTL"),
        source: "ggml/CMakeLists.txt option(GGML_METAL) (default ON on Apple); ggml/src/ggml-metal/ggml-metal-device.m",
    },
    BackendSupport {
        backend: Backend::Sycl,
        cmake_option: "GGML_SYCL",
        flash_attn: true,
        fa_kv_types: Some(MAINLINE_SYCL_FA_KV),
        // ggml_backend_sycl_reg_get_proc_address exports ggml_backend_split_buffer_type.
        row_split: true,
        parallel_split: true,
        // docs/backend/SYCL.md: ONEAPI_DEVICE_SELECTOR="level_zero:0;level_zero:1".
        visible_devices: Some(("ONEAPI_DEVICE_SELECTOR", "level_zero:{}")),
        // GGML_SYCL_NAME "SYCL", ggml/include/ggml-sycl.h.
        buffer_type_prefix: Some("SYCL"),
        source: "ggml/CMakeLists.txt option(GGML_SYCL); ggml/src/ggml-sycl/ggml-sycl.cpp",
    },
];

const IK: &[BackendSupport] = &[
    BackendSupport {
        backend: Backend::Cuda,
        cmake_option: "GGML_CUDA",
        flash_attn: true,
        fa_kv_types: None,
        // llama_default_buffer_type_split (src/llama.cpp): GGML_USE_CUDA or GGML_USE_SYCL.
        row_split: true,
        parallel_split: true,
        visible_devices: Some(("CUDA_VISIBLE_DEVICES", "{}")),
        buffer_type_prefix: Some("CUDA"),
        source: "ggml/CMakeLists.txt option(GGML_CUDA); src/llama.cpp llama_default_buffer_type_split",
    },
    BackendSupport {
        backend: Backend::Rocm,
        cmake_option: "GGML_HIPBLAS",
        flash_attn: true,
        fa_kv_types: None,
        // ggml/src/CMakeLists.txt defines GGML_USE_CUDA for GGML_HIPBLAS builds too.
        row_split: true,
        parallel_split: true,
        visible_devices: Some(("HIP_VISIBLE_DEVICES", "{}")),
        buffer_type_prefix: Some("ROCm"),
        source: "ggml/CMakeLists.txt option(GGML_HIPBLAS); ggml/src/CMakeLists.txt",
    },
    BackendSupport {
        backend: Backend::Vulkan,
        cmake_option: "GGML_VULKAN",
        flash_attn: true,
        fa_kv_types: Some(IK_VULKAN_FA_KV),
        row_split: false,
        // llama_default_buffer_type_split: no split buffer outside CUDA/SYCL.
        parallel_split: false,
        visible_devices: Some(("GGML_VK_VISIBLE_DEVICES", "{}")),
        buffer_type_prefix: Some("Vulkan"),
        source: "ggml/CMakeLists.txt option(GGML_VULKAN); ggml/src/ggml-vulkan.cpp ggml_backend_vk_supports_op",
    },
    BackendSupport {
        backend: Backend::Metal,
        cmake_option: "GGML_METAL",
        flash_attn: true,
        fa_kv_types: Some(IK_METAL_FA_KV),
        row_split: false,
        parallel_split: false,
        visible_devices: None,
        // ggml_backend_metal_buffer_type_get_name returns "Metal", no device number.
        buffer_type_prefix: None,
        source: "ggml/CMakeLists.txt option(GGML_METAL); ggml/src/ggml-metal.m ggml_metal_supports_op",
    },
    BackendSupport {
        backend: Backend::Sycl,
        cmake_option: "GGML_SYCL",
        // ggml_backend_sycl_supports_op (ggml/src/ggml-sycl.cpp) has no
        // GGML_OP_FLASH_ATTN_EXT case: it falls to `default: return false`.
        flash_attn: false,
        fa_kv_types: Some(&[]),
        row_split: true,
        parallel_split: true,
        visible_devices: Some(("ONEAPI_DEVICE_SELECTOR", "level_zero:{}")),
        buffer_type_prefix: None,
        source: "ggml/CMakeLists.txt option(GGML_SYCL); ggml/src/ggml-sycl.cpp ggml_backend_sycl_supports_op",
    },
];

/// What `backend` is in `engine`, or `None` for the CPU backend (always there) and for
/// a GPU backend the engine does not have.
pub fn support(engine: EngineKind, backend: Backend) -> Option<&'static BackendSupport> {
    let table = match engine {
        EngineKind::LlamaCpp => MAINLINE,
        EngineKind::IkLlamaCpp => IK,
    };
    table.iter().find(|s| s.backend == backend)
}

impl BackendSupport {
    /// Whether flash attention with this K/V cache pair runs on the backend.
    pub fn fa_reads(&self, type_k: &str, type_v: &str) -> bool {
        if !self.flash_attn {
            return false;
        }
        match self.fa_kv_types {
            None => true,
            Some(list) => {
                let ok = |t: &str| list.iter().any(|l| l.eq_ignore_ascii_case(t));
                ok(type_k) && ok(type_v)
            }
        }
    }

    /// The `VAR=value` restricting the backend to these device indices, if it has one.
    pub fn visible_devices_env(&self, indices: &[u32]) -> Option<(String, String)> {
        let (var, form) = self.visible_devices?;
        let value = indices
            .iter()
            .map(|i| form.replace("{}", &i.to_string()))
            .collect::<Vec<_>>()
            .join(if var == "ONEAPI_DEVICE_SELECTOR" {
                ";"
            } else {
                ","
            });
        Some((var.to_string(), value))
    }

    /// Why this backend cannot run these settings in the engine, or `None`.
    pub fn refuses(
        &self,
        split_mode: &str,
        flash_attn: bool,
        type_k: &str,
        type_v: &str,
    ) -> Option<String> {
        let b = self.backend;
        match split_mode {
            "row" if !self.row_split => {
                return Some(format!(
                    "{b} has no split buffer type for -sm row ({})",
                    self.source
                ))
            }
            "tensor" | "graph" | "attn" if !self.parallel_split => {
                return Some(format!(
                    "{b} cannot run the tensor-parallel split -sm {split_mode} ({})",
                    self.source
                ))
            }
            _ => {}
        }
        if flash_attn && !self.fa_reads(type_k, type_v) {
            return Some(format!(
                "{b} has no flash-attention kernel for a {type_k}/{type_v} KV cache ({})",
                self.source
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gpu_backend_is_described_for_both_engines() {
        for engine in [EngineKind::LlamaCpp, EngineKind::IkLlamaCpp] {
            for b in Backend::ALL.into_iter().filter(|b| *b != Backend::Cpu) {
                let s = support(engine, b).unwrap_or_else(|| panic!("{engine:?} {b}"));
                assert!(s.cmake_option.starts_with("GGML_"));
                assert!(!s.source.is_empty());
            }
            assert!(support(engine, Backend::Cpu).is_none());
        }
        // The engines spell the HIP option differently (their ggml/CMakeLists.txt).
        assert_eq!(
            support(EngineKind::LlamaCpp, Backend::Rocm)
                .unwrap()
                .cmake_option,
            "GGML_HIP"
        );
        assert_eq!(
            support(EngineKind::IkLlamaCpp, Backend::Rocm)
                .unwrap()
                .cmake_option,
            "GGML_HIPBLAS"
        );
    }

    #[test]
    fn feature_checks_follow_the_sources() {
        let vk = support(EngineKind::LlamaCpp, Backend::Vulkan).unwrap();
        assert!(vk.fa_reads("q8_0", "q8_0"));
        assert!(!vk.fa_reads("q4_k", "q4_k"));
        assert!(vk.refuses("row", true, "f16", "f16").is_some());
        let ik_metal = support(EngineKind::IkLlamaCpp, Backend::Metal).unwrap();
        assert!(ik_metal.refuses("layer", true, "q4_0", "q4_0").is_some());
        assert!(ik_metal.refuses("layer", true, "q8_0", "q8_0").is_none());
        let ik_vk = support(EngineKind::IkLlamaCpp, Backend::Vulkan).unwrap();
        assert!(ik_vk.refuses("graph", true, "f16", "f16").is_some());
        let ik_cuda = support(EngineKind::IkLlamaCpp, Backend::Cuda).unwrap();
        assert!(ik_cuda.refuses("graph", true, "q6_0", "q6_0").is_none());
        let ik_sycl = support(EngineKind::IkLlamaCpp, Backend::Sycl).unwrap();
        assert!(ik_sycl.refuses("layer", true, "f16", "f16").is_some());
        assert!(ik_sycl.refuses("layer", false, "f16", "f16").is_none());
    }

    #[test]
    fn visible_devices_are_written_per_backend() {
        let env = |e, b, i: &[u32]| support(e, b).unwrap().visible_devices_env(i);
        assert_eq!(
            env(EngineKind::LlamaCpp, Backend::Vulkan, &[0, 1]),
            Some(("GGML_VK_VISIBLE_DEVICES".into(), "0,1".into()))
        );
        assert_eq!(
            env(EngineKind::LlamaCpp, Backend::Sycl, &[0, 1]),
            Some((
                "ONEAPI_DEVICE_SELECTOR".into(),
                "level_zero:0;level_zero:1".into()
            ))
        );
        assert_eq!(env(EngineKind::LlamaCpp, Backend::Metal, &[0]), None);
    }
}
