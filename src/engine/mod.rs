//! Engine knowledge: what each pinned engine version accepts and how it lays memory out.
//!
//! Engines are data plus small functions: the options rigplan may emit with their value
//! syntax, cache types, split modes, CMake option names and binary names, per pinned
//! version. A flag is emitted only if the pinned engine accepts it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The two engines rigplan plans for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EngineKind {
    #[serde(rename = "llama.cpp")]
    LlamaCpp,
    #[serde(rename = "ik_llama.cpp")]
    IkLlamaCpp,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::LlamaCpp => "llama.cpp",
            EngineKind::IkLlamaCpp => "ik_llama.cpp",
        }
    }

    pub fn parse(s: &str) -> Option<EngineKind> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "llama.cpp" | "llama_cpp" | "llamacpp" | "mainline" => Some(EngineKind::LlamaCpp),
            "ik_llama.cpp" | "ik_llama_cpp" | "ik" | "ik_llamacpp" => Some(EngineKind::IkLlamaCpp),
            _ => None,
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub mod args;
pub mod backends;
pub mod ik_llama_cpp;
pub mod llama_cpp;
pub mod options;
pub mod rpc;
pub mod rules;
pub mod speculative;
pub mod split_modes;
pub mod vulkan_matrix;

pub use args::{
    bench_args, download_refusal, launch_args, launch_args_from, plan_projector_args,
    projector_args, unsupported_settings, BenchOptions, ModelSource, ProjectorSource,
    ServerOptions,
};
pub use options::{EngineInfo, OptionKind, OptionSpec, Tool, ValueSyntax};

/// The engine a Plan names (`engine.name`), read back from a saved plan (exit 2 if it is
/// neither pinned engine).
pub fn of_plan(plan: &crate::plan::Plan) -> crate::error::Result<EngineKind> {
    EngineKind::parse(&plan.engine.name).ok_or_else(|| {
        crate::error::user_error(format!(
            "plan engine '{}' is not llama.cpp or ik_llama.cpp",
            crate::error::input::Quoted(&plan.engine.name)
        ))
    })
}

/// The name both pinned engines give the buffer type of the `position`-th visible GPU of
/// a vendor, as `-ot PATTERN=BUFFER_TYPE` takes it: `CUDA0` (`GGML_CUDA_NAME`,
/// ggml/include/ggml-cuda.h), `ROCm1` (the same macro under `GGML_USE_HIP`). `None` for a
/// backend whose per-device buffer type rigplan cannot name (Vulkan, Metal, SYCL).
pub fn buffer_type_name(vendor: crate::hardware::GpuVendor, position: usize) -> Option<String> {
    use crate::hardware::GpuVendor;
    match vendor {
        GpuVendor::Nvidia => Some(format!("CUDA{position}")),
        GpuVendor::Amd => Some(format!("ROCm{position}")),
        GpuVendor::Intel | GpuVendor::Apple | GpuVendor::Other => None,
    }
}

/// The pinned version of an engine: its options, CMake names, targets, commit.
pub fn info(kind: EngineKind) -> &'static EngineInfo {
    match kind {
        EngineKind::LlamaCpp => &llama_cpp::ENGINE,
        EngineKind::IkLlamaCpp => &ik_llama_cpp::ENGINE,
    }
}
