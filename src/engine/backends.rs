//! The ggml backends a GPU can run on, as engine knowledge: which backend a GPU vendor
//! gets when nothing else is known. What each backend supports in the pinned engines
//! and how it is built live beside this as they are added.

use crate::hardware::GpuVendor;
use crate::plan::Backend;

/// The backend a GPU of this vendor runs on by default: the vendor's own runtime
/// (CUDA, ROCm/HIP, Metal, SYCL via oneAPI), Vulkan for anything else (ggml's
/// vendor-neutral GPU backend, ggml/src/ggml-vulkan).
pub fn default_backend(vendor: GpuVendor) -> Backend {
    match vendor {
        GpuVendor::Nvidia => Backend::Cuda,
        GpuVendor::Amd => Backend::Rocm,
        GpuVendor::Apple => Backend::Metal,
        GpuVendor::Intel => Backend::Sycl,
        GpuVendor::Other => Backend::Vulkan,
    }
}
