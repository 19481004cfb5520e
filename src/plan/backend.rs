//! Which ggml backend runs the GPU part of a plan: CUDA, ROCm/HIP, Vulkan, Metal, SYCL,
//! or none (CPU only). The same GPU and model run at different speeds on different
//! backends, and each backend has its own build flags and engine features, so a plan
//! names the one it chose (`settings.backend` in the JSON contract).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A ggml compute backend for the GPUs of a plan (`cpu` when the plan uses none).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Cpu,
    Cuda,
    Rocm,
    Vulkan,
    Metal,
    Sycl,
}

impl Backend {
    /// Every backend, in the order `--backend` lists them.
    pub const ALL: [Backend; 6] = [
        Backend::Cuda,
        Backend::Rocm,
        Backend::Vulkan,
        Backend::Metal,
        Backend::Sycl,
        Backend::Cpu,
    ];

    /// The spelling of `--backend` and the JSON contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
            Backend::Rocm => "rocm",
            Backend::Vulkan => "vulkan",
            Backend::Metal => "metal",
            Backend::Sycl => "sycl",
        }
    }

    /// Parse `--backend` spelling (case-insensitive; `hip` is ROCm's runtime name).
    pub fn parse(s: &str) -> Option<Backend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hip" => Some(Backend::Rocm),
            other => Backend::ALL.into_iter().find(|b| b.as_str() == other),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.as_str()), Some(b));
            assert_eq!(Backend::parse(&b.as_str().to_uppercase()), Some(b));
        }
        assert_eq!(Backend::parse("hip"), Some(Backend::Rocm));
        assert_eq!(Backend::parse("opencl"), None);
    }

    #[test]
    fn json_spelling_is_lowercase() {
        assert_eq!(serde_json::to_string(&Backend::Rocm).unwrap(), "\"rocm\"");
    }
}
