//! BenchConfig: the engine settings one llama-bench run measures, and their argv.
//!
//! A [`BenchConfig`] is the part of a plan's [`Settings`] that changes speed and that
//! llama-bench can vary (threads, batch sizes, offload, KV types, flash attention, load
//! mode, split mode). It is written back onto the plan's `Settings` for each run (the
//! engine module turns those into llama-bench arguments) and for the winner's export.
//! Plain data: no process is started here.

use crate::plan::Settings;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How weights are loaded. The pinned mainline llama-bench spells these
/// `-lm none|mmap|mlock|mmap+mlock` (tools/llama-bench/llama-bench.cpp, `-lm/--load-mode`;
/// names from src/llama.cpp `llama_load_mode_name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Read into anonymous memory (`--no-mmap`).
    Read,
    Mmap,
    Mlock,
    MmapMlock,
}

impl LoadMode {
    pub fn from_flags(mmap: bool, mlock: bool) -> LoadMode {
        match (mmap, mlock) {
            (true, false) => LoadMode::Mmap,
            (false, false) => LoadMode::Read,
            (false, true) => LoadMode::Mlock,
            (true, true) => LoadMode::MmapMlock,
        }
    }

    pub fn mmap(self) -> bool {
        matches!(self, LoadMode::Mmap | LoadMode::MmapMlock)
    }

    pub fn mlock(self) -> bool {
        matches!(self, LoadMode::Mlock | LoadMode::MmapMlock)
    }

    /// The llama-bench `-lm` value.
    pub fn bench_arg(self) -> &'static str {
        match self {
            LoadMode::Read => "none",
            LoadMode::Mmap => "mmap",
            LoadMode::Mlock => "mlock",
            LoadMode::MmapMlock => "mmap+mlock",
        }
    }
}

/// One configuration to measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    pub threads: u32,
    pub batch: u32,
    pub ubatch: u32,
    pub n_gpu_layers: u32,
    pub n_cpu_moe: u32,
    #[serde(default)]
    pub override_tensors: Vec<String>,
    pub cache_type_k: String,
    pub cache_type_v: String,
    pub flash_attn: bool,
    pub load_mode: LoadMode,
    pub split_mode: String,
    #[serde(default)]
    pub tensor_split: Vec<f64>,
}

impl BenchConfig {
    /// The measurable part of a plan's settings.
    pub fn from_settings(s: &Settings) -> BenchConfig {
        BenchConfig {
            threads: s.threads,
            batch: s.batch,
            ubatch: s.ubatch,
            n_gpu_layers: s.n_gpu_layers,
            n_cpu_moe: s.n_cpu_moe,
            override_tensors: s.override_tensors.clone(),
            cache_type_k: s.cache_type_k.clone(),
            cache_type_v: s.cache_type_v.clone(),
            flash_attn: s.flash_attn,
            load_mode: LoadMode::from_flags(s.mmap, s.mlock),
            split_mode: s.split_mode.clone(),
            tensor_split: s.tensor_split.clone(),
        }
    }

    /// A copy of `base` with this configuration's values written over it.
    pub fn apply_to(&self, base: &Settings) -> Settings {
        let mut s = base.clone();
        s.threads = self.threads;
        s.batch = self.batch;
        s.ubatch = self.ubatch;
        s.n_gpu_layers = self.n_gpu_layers;
        s.n_cpu_moe = self.n_cpu_moe;
        s.override_tensors = self.override_tensors.clone();
        s.cache_type_k = self.cache_type_k.clone();
        s.cache_type_v = self.cache_type_v.clone();
        s.flash_attn = self.flash_attn;
        s.mmap = self.load_mode.mmap();
        s.mlock = self.load_mode.mlock();
        s.split_mode = self.split_mode.clone();
        s.tensor_split = self.tensor_split.clone();
        s
    }

    /// A quantized V cache needs flash attention (llama.cpp refuses the context otherwise:
    /// src/llama-context.cpp `llama_init_from_model`, "quantized V cache requires flash_attn").
    pub fn is_valid(&self) -> bool {
        let v_quantized = !matches!(self.cache_type_v.as_str(), "f16" | "f32" | "bf16");
        self.flash_attn || !v_quantized
    }

    /// The nearest valid configuration: a quantized V cache without flash attention
    /// falls back to an f16 V cache (K may stay quantized: only V needs flash attention).
    pub fn repaired(mut self) -> BenchConfig {
        if !self.is_valid() {
            self.cache_type_v = "f16".into();
        }
        self
    }
}

impl fmt::Display for BenchConfig {
    /// Compact one-line form for progress lines and tables.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={} ub={} b={} ngl={} ncmoe={} kv={}/{} fa={} lm={} sm={}",
            self.threads,
            self.ubatch,
            self.batch,
            self.n_gpu_layers,
            self.n_cpu_moe,
            self.cache_type_k,
            self.cache_type_v,
            if self.flash_attn { "on" } else { "off" },
            self.load_mode.bench_arg(),
            self.split_mode
        )?;
        if !self.override_tensors.is_empty() {
            write!(f, " ot={}", self.override_tensors.join(";"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cpu_settings() -> Settings {
        Settings {
            quant: Some("F16".into()),
            n_gpu_layers: 0,
            n_cpu_moe: 0,
            ctx: 4096,
            predict: 512,
            cache_type_k: "f16".into(),
            cache_type_v: "f16".into(),
            threads: 2,
            batch: 2048,
            ubatch: 512,
            parallel: 1,
            split_mode: "layer".into(),
            tensor_split: vec![],
            flash_attn: true,
            mlock: false,
            mmap: true,
            override_tensors: vec![],
            gpu_indices: vec![],
            backend: Default::default(),
            extras: Default::default(),
            speculative: Default::default(),
        }
    }

    #[test]
    fn settings_round_trip_through_config() {
        let s = cpu_settings();
        let c = BenchConfig::from_settings(&s);
        assert_eq!(c.apply_to(&s), s);
        let mut c2 = c.clone();
        c2.load_mode = LoadMode::Read;
        c2.threads = 1;
        let s2 = c2.apply_to(&s);
        assert!(!s2.mmap && !s2.mlock);
        assert_eq!(s2.threads, 1);
    }

    #[test]
    fn quantized_v_needs_flash_attention() {
        let mut c = BenchConfig::from_settings(&cpu_settings());
        c.cache_type_v = "q8_0".into();
        assert!(c.is_valid());
        c.flash_attn = false;
        assert!(!c.is_valid());
        let r = c.clone().repaired();
        assert!(r.is_valid());
        assert_eq!(
            (r.cache_type_k.as_str(), r.cache_type_v.as_str()),
            ("f16", "f16")
        );
        c.cache_type_v = "f16".into();
        c.cache_type_k = "q8_0".into();
        assert!(c.is_valid());
    }
}
