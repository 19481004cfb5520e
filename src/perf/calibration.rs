//! Calibration: the measured points, the placements they describe, the fit, the report.
//!
//! `profiles/calibration/points.toml` (compiled in) lists GPUs, machines, models and
//! measured tg/pp figures with their sources. For each point this module builds the
//! HardwareSnapshot, ModelSpec, Settings and Layout the measurement describes — with a
//! deliberately simple layout builder (uniform blocks, llama.cpp's `-ngl` and
//! `--n-cpu-moe` rules), not the planner's — predicts, and reports the error. `fit`
//! moves the factors named in [`FIT_BOUNDS`] within their physical ranges to minimise
//! a robust loss of the log errors ([`robust_loss`]). Nothing here touches files at run time.

use super::factors::{Factors, FitBound, FIT_BOUNDS};
use crate::engine::EngineKind;
use crate::error::{Error, Result};
use crate::gguf::GgmlType;
use crate::hardware::{
    CpuInfo, GpuInfo, GpuVendor, HardwareSnapshot, MemoryInfo, PcieLink, SystemInfo, VulkanMatrix,
};
use crate::model::spec::{
    AttentionKind, EngineSupport, LayerSpec, ModelSpec, RecurrentState, TensorClass, TensorSpec,
};
use crate::plan::{Backend, Settings};
use crate::plan::{DeviceId, DeviceLoad, Layout};
use crate::units::Bytes;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The calibration data, compiled in.
pub const POINTS_TOML: &str = include_str!("../../profiles/calibration/points.toml");

/// Targets from issue 5 (in-sample): median absolute error of tg ≤ 15%, of pp ≤ 30%.
pub const TG_MEDIAN_TARGET: f64 = 0.15;
pub const PP_MEDIAN_TARGET: f64 = 0.30;

/// Targets from issue 13, leave-one-source-out cross-validated: median tg ≤ 10%, pp ≤ 20%,
/// and no backend's median tg above 15%.
pub const CV_TG_MEDIAN_TARGET: f64 = 0.10;
pub const CV_PP_MEDIAN_TARGET: f64 = 0.20;
pub const CV_BACKEND_TG_TARGET: f64 = 0.15;

/// What the model reaches today, cross-validated on the 577-point corpus
/// (docs/calibration.md: tg 13.5%, pp 20.5%; per backend tg CPU 13.3%, CUDA 12.4%,
/// Metal 14.9%, ROCm 13.6%, Vulkan 14.2%, SYCL 14.9%). The tg and pp targets above are
/// NOT met; every backend's tg is within its 15%, but by less than the fit's path noise
/// for Metal and SYCL. The test suite asserts these reached values (rounded up by about
/// one point: the fit's path moves the medians by a point or two when factors or points
/// are added, see `cross_validate_thorough`) so that a change that makes the model worse
/// on unseen sources fails. Lower them as the model improves.
pub const CV_TG_MEDIAN_REACHED: f64 = 0.145;
pub const CV_PP_MEDIAN_REACHED: f64 = 0.215;
/// Per backend, the cross-validated tg median reached (same run).
pub const CV_BACKEND_TG_REACHED: &[(&str, f64)] = &[
    ("cpu", 0.145),
    ("cuda", 0.135),
    ("metal", 0.16),
    ("rocm", 0.145),
    ("vulkan", 0.155),
    ("sycl", 0.16),
];

/// The start of every fit (the shipped one and each cross-validation fold): the shipped
/// factors with every fitted factor moved to the geometric middle of its range, so no
/// fold starts from values the left-out source helped choose.
pub fn neutral_start() -> Factors {
    let mut f = super::factors::DEFAULT_FACTORS.clone();
    for b in FIT_BOUNDS {
        let v = if b.min > 0.0 {
            (b.min * b.max).sqrt()
        } else {
            (b.min + b.max) / 2.0
        };
        f.set(b.name, v);
    }
    f
}

#[derive(Clone, Debug, Deserialize)]
pub struct CalibrationData {
    pub gpu: Vec<GpuEntry>,
    pub machine: Vec<MachineEntry>,
    pub model: Vec<ModelEntry>,
    pub point: Vec<PointEntry>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GpuEntry {
    pub name: String,
    pub vendor: String,
    pub bandwidth_gbs: f64,
    pub fp16_tflops: f64,
    pub vram_gib: u64,
    /// Shares system memory with the CPU (Apple M-series, Strix Halo).
    #[serde(default)]
    pub unified: bool,
    pub source: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct MachineEntry {
    pub id: String,
    pub cpu: String,
    pub physical_cores: u32,
    pub threads: u32,
    pub flags: Vec<String>,
    pub ram_bandwidth_gbs: f64,
    pub dimm_type: String,
    pub gpus: Vec<String>,
    pub pcie_gen: Option<u32>,
    pub pcie_width: Option<u32>,
    /// Base clock where the source or vendor states it, GHz (`CpuInfo::base_clock_mhz`;
    /// without it the model assumes 3.0 GHz, `devices::cpu_peak_flops`).
    #[serde(default)]
    pub clock_ghz: Option<f64>,
    /// Where `clock_ghz` comes from, when the entry's note does not say.
    #[serde(default)]
    pub clock_source: Option<String>,
    #[serde(default)]
    pub sockets: Option<u32>,
    #[serde(default)]
    pub numa_nodes: Option<u32>,
    pub note: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ModelEntry {
    pub id: String,
    pub architecture: String,
    pub n_layer: u32,
    pub n_embd: u64,
    pub params_total: f64,
    pub embedding_params: f64,
    pub tied_output: bool,
    pub routed_expert_params: f64,
    pub expert_count: u32,
    pub expert_used: u32,
    pub layer_pattern: String,
    pub kv_bytes_full: u64,
    #[serde(default)]
    pub kv_bytes_swa: u64,
    #[serde(default)]
    pub swa_window: u64,
    #[serde(default)]
    pub recurrent_state_bytes: u64,
    pub source: String,
    /// Query heads and the key / value widths attention multiplies by, per block, where
    /// they differ from `n_embd` (MLA, wide heads); absent: `n_head x head_dim = n_embd`.
    #[serde(default)]
    pub n_head: u64,
    #[serde(default)]
    pub head_dim_k: u64,
    #[serde(default)]
    pub head_dim_v: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PointEntry {
    pub id: String,
    pub source: String,
    /// When the figure was published (as precise as the source is).
    #[serde(default)]
    pub date: String,
    /// The engine build the source names (commit / build number / PR).
    #[serde(default)]
    pub build: String,
    /// The ggml backend the measurement ran on (`cuda`, `rocm`, `vulkan`, `metal`, `cpu`).
    pub backend: String,
    /// The command-line flags or environment the source states.
    #[serde(default)]
    pub flags: String,
    pub quote: String,
    pub machine: String,
    pub model: String,
    pub quant: String,
    pub file_gb: f64,
    pub engine: String,
    #[serde(default = "default_ngl")]
    pub ngl: u32,
    #[serde(default)]
    pub n_cpu_moe: u32,
    pub threads: Option<u32>,
    #[serde(default)]
    pub batch: Option<u32>,
    #[serde(default)]
    pub ubatch: Option<u32>,
    #[serde(default)]
    pub cache_type: Option<String>,
    /// Flash attention as the measurement ran it (absent: on, the engines' 2026 default).
    #[serde(default)]
    pub flash_attn: Option<bool>,
    pub test: String,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub depth: u64,
    /// The engine version of the measurement ran recurrent (delta-net) ops on the CPU.
    #[serde(default)]
    pub recurrent_on_cpu: bool,
    /// Bits per weight of the routed experts when the file's mix puts them well below
    /// its average (`IQ2_XXS` files keep attention at higher precision).
    #[serde(default)]
    pub expert_bpw: Option<f64>,
    pub measured: f64,
    #[serde(default)]
    pub note: Option<String>,
    /// ggml-vulkan's prompt-matmul path as the source states it (`NV_coopmat2`,
    /// `KHR_coopmat`, `none`); absent when it does not.
    #[serde(default)]
    pub vulkan_matrix: Option<String>,
    /// The ggml-vulkan device line as the source prints it; its `matrix cores:` must
    /// agree with `vulkan_matrix`.
    #[serde(default)]
    pub vulkan_device: Option<String>,
}

impl PointEntry {
    /// The Vulkan matrix path the source states, checked against its device line.
    pub fn stated_vulkan_matrix(&self) -> Result<Option<VulkanMatrix>> {
        let bad = |what: String| Error::failed(format!("point '{}': {what}", self.id));
        let stated = self
            .vulkan_matrix
            .as_deref()
            .map(|v| VulkanMatrix::parse(v).ok_or_else(|| bad(format!("vulkan_matrix '{v}'"))))
            .transpose()?;
        let printed = self.vulkan_device.as_deref().map(|line| {
            VulkanMatrix::from_device_line(line)
                .ok_or_else(|| bad(format!("vulkan_device has no 'matrix cores:' ({line})")))
        });
        match (stated, printed.transpose()?) {
            (Some(s), Some(p)) if s != p => Err(bad(format!(
                "vulkan_matrix {} disagrees with its device line ({})",
                s.as_str(),
                p.as_str()
            ))),
            (s, p) => Ok(s.or(p)),
        }
    }
}

fn default_ngl() -> u32 {
    999
}

/// Everything `predict` needs for one point.
pub struct Scenario {
    pub hw: HardwareSnapshot,
    pub spec: ModelSpec,
    pub settings: Settings,
    pub layout: Layout,
    pub engine: EngineKind,
}

/// One point's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct PointResult {
    pub id: String,
    pub test: String,
    pub measured: f64,
    pub predicted: f64,
    /// predicted / measured − 1.
    pub error: f64,
    pub bottleneck: String,
}

pub fn load() -> Result<CalibrationData> {
    let data: CalibrationData = toml::from_str(POINTS_TOML)
        .map_err(|e| Error::failed(format!("profiles/calibration/points.toml: {e}")))?;
    Ok(data)
}

impl CalibrationData {
    /// Builds the scenario a point describes.
    pub fn scenario(&self, p: &PointEntry) -> Result<Scenario> {
        let machine = self
            .machine
            .iter()
            .find(|m| m.id == p.machine)
            .ok_or_else(|| {
                Error::failed(format!("point '{}': unknown machine '{}'", p.id, p.machine))
            })?;
        let model = self.model.iter().find(|m| m.id == p.model).ok_or_else(|| {
            Error::failed(format!("point '{}': unknown model '{}'", p.id, p.model))
        })?;
        let engine = EngineKind::parse(&p.engine).ok_or_else(|| {
            Error::failed(format!("point '{}': unknown engine '{}'", p.id, p.engine))
        })?;
        let mut hw = self.snapshot(machine)?;
        if let Some(path) = p.stated_vulkan_matrix()? {
            for g in &mut hw.gpus {
                g.vulkan_matrix = Some(path);
            }
        }
        let backend = Backend::parse(&p.backend).ok_or_else(|| {
            Error::failed(format!("point '{}': unknown backend '{}'", p.id, p.backend))
        })?;
        let spec = model_spec(model, p);
        let threads = p.threads.unwrap_or(machine.physical_cores);
        let ubatch = match (p.test.as_str(), p.n) {
            ("pp", Some(n)) => n.min(p.ubatch.unwrap_or(512)),
            _ => p.ubatch.unwrap_or(512),
        };
        let cache = p.cache_type.clone().unwrap_or_else(|| "f16".into());
        let settings = Settings {
            quant: Some(p.quant.clone()),
            n_gpu_layers: p.ngl,
            n_cpu_moe: p.n_cpu_moe,
            ctx: 8192,
            predict: 512,
            cache_type_k: cache.clone(),
            cache_type_v: cache,
            threads,
            batch: p.batch.unwrap_or(2048),
            ubatch,
            parallel: 1,
            split_mode: "layer".into(),
            tensor_split: vec![],
            flash_attn: p.flash_attn.unwrap_or(true),
            mlock: false,
            mmap: true,
            override_tensors: vec![],
            gpu_indices: (0..hw.gpus.len() as u32).collect(),
            backend,
            extras: Default::default(),
            speculative: Default::default(),
        };
        // A pp test of n tokens runs n / ubatch ubatches, each starting where the last
        // ended: their mean start is (n - ubatch) / 2 past the depth the test begins at
        // (llama-bench `-d`), and the speed model adds the half ubatch itself.
        let depth = match (p.test.as_str(), p.n) {
            ("pp", Some(n)) => p.depth + u64::from(n.saturating_sub(ubatch)) / 2,
            _ => p.depth,
        };
        let layout = build_layout(model, p, &hw, depth);
        Ok(Scenario {
            hw,
            spec,
            settings,
            layout,
            engine,
        })
    }

    fn snapshot(&self, m: &MachineEntry) -> Result<HardwareSnapshot> {
        let mut gpus = Vec::new();
        for (i, name) in m.gpus.iter().enumerate() {
            let g = self.gpu.iter().find(|g| &g.name == name).ok_or_else(|| {
                Error::failed(format!("machine '{}': unknown GPU '{name}'", m.id))
            })?;
            let vendor = match g.vendor.as_str() {
                "apple" => GpuVendor::Apple,
                "amd" => GpuVendor::Amd,
                "intel" => GpuVendor::Intel,
                "nvidia" => GpuVendor::Nvidia,
                other => {
                    return Err(Error::failed(format!(
                        "GPU '{}': unknown vendor '{other}'",
                        g.name
                    )))
                }
            };
            gpus.push(GpuInfo {
                index: i as u32,
                name: g.name.clone(),
                vendor,
                vram_bytes: g.vram_gib << 30,
                vram_free_bytes: None,
                bandwidth_gbs: Some(g.bandwidth_gbs),
                fp16_tflops: Some(g.fp16_tflops),
                compute_capability: None,
                gfx_target: None,
                unified_memory: vendor == GpuVendor::Apple || g.unified,
                pcie: m.pcie_gen.map(|gen| PcieLink {
                    gen: Some(gen),
                    width: m.pcie_width,
                    max_gen: None,
                    max_width: None,
                }),
                uuid: None,
                pci_bus_id: None,
                power_limit_w: None,
                backends: Vec::new(),
                vulkan_matrix: None,
            });
        }
        Ok(HardwareSnapshot {
            schema_version: crate::hardware::snapshot::SNAPSHOT_SCHEMA_VERSION,
            source: format!("calibration machine {}", m.id),
            cpu: CpuInfo {
                vendor: String::new(),
                brand: m.cpu.clone(),
                physical_cores: m.physical_cores,
                threads: m.threads,
                sockets: m.sockets.unwrap_or(1),
                numa_nodes: m.numa_nodes.unwrap_or(1),
                flags: m.flags.clone(),
                base_clock_mhz: m.clock_ghz.map(|g| (g * 1000.0).round() as u32),
                ..Default::default()
            },
            memory: MemoryInfo {
                total_bytes: 128 << 30,
                theoretical_bandwidth_gbs: Some(m.ram_bandwidth_gbs),
                dimm_type: Some(m.dimm_type.clone()),
                ..Default::default()
            },
            gpus,
            system: SystemInfo::default(),
            notes: vec![m.note.clone()],
        })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum BlockKind {
    Full,
    Swa,
    Recurrent,
}

fn block_kinds(m: &ModelEntry) -> Vec<BlockKind> {
    let pattern: Vec<BlockKind> = m
        .layer_pattern
        .chars()
        .map(|c| match c {
            'S' => BlockKind::Swa,
            'R' => BlockKind::Recurrent,
            _ => BlockKind::Full,
        })
        .collect();
    let pattern = if pattern.is_empty() {
        vec![BlockKind::Full]
    } else {
        pattern
    };
    (0..m.n_layer as usize)
        .map(|i| pattern[i % pattern.len()])
        .collect()
}

/// Bytes per parameter of (routed experts, everything else).
fn bytes_per_param(m: &ModelEntry, p: &PointEntry) -> (f64, f64) {
    let avg = p.file_gb * 1e9 / m.params_total;
    match p.expert_bpw {
        Some(bpw) if m.routed_expert_params > 0.0 => {
            let expert = bpw / 8.0;
            let rest_params = m.params_total - m.routed_expert_params;
            let rest = (p.file_gb * 1e9 - expert * m.routed_expert_params) / rest_params;
            (expert, rest.max(expert))
        }
        _ => (avg, avg),
    }
}

fn model_spec(m: &ModelEntry, p: &PointEntry) -> ModelSpec {
    let (ebpp, bpp) = bytes_per_param(m, p);
    let moe = m.expert_count > 1;
    let expert_bytes = m.routed_expert_params / m.n_layer as f64 * ebpp;
    let output = if m.tied_output {
        0.0
    } else {
        m.embedding_params
    };
    let block_bytes = expert_bytes
        + (m.params_total - m.routed_expert_params - m.embedding_params - output)
            / m.n_layer as f64
            * bpp;
    let layers = block_kinds(m)
        .into_iter()
        .enumerate()
        .map(|(i, k)| LayerSpec {
            index: i as u32,
            attention: match k {
                BlockKind::Full => AttentionKind::Full,
                BlockKind::Swa => AttentionKind::SlidingWindow,
                BlockKind::Recurrent => AttentionKind::Recurrent,
            },
            n_head: m.n_head,
            n_head_kv: 0,
            n_embd_k_gqa: 0,
            n_embd_v_gqa: 0,
            head_dim_k: m.head_dim_k,
            head_dim_v: m.head_dim_v,
            recurrent: (k == BlockKind::Recurrent).then_some(RecurrentState {
                r_elements: 0,
                s_elements: m.recurrent_state_bytes / 4,
            }),
            moe,
            expert_bytes: Bytes(if moe { expert_bytes as u64 } else { 0 }),
            bytes: Bytes(block_bytes as u64),
            mtp: false,
        })
        .collect();
    let embd_type = GgmlType::from_name("Q4_K");
    let tensors = embd_type
        .map(|t| {
            vec![TensorSpec {
                name: "token_embd.weight".into(),
                dims: vec![m.n_embd, (m.embedding_params / m.n_embd as f64) as u64],
                ggml_type: t,
                bytes: Bytes((m.embedding_params * bpp) as u64),
                class: TensorClass::TokenEmbedding,
                layer: None,
            }]
        })
        .unwrap_or_default();
    ModelSpec {
        name: m.id.clone(),
        architecture: m.architecture.clone(),
        architecture_known: true,
        quant: Some(p.quant.clone()),
        n_layer: m.n_layer,
        n_embd: m.n_embd,
        n_vocab: (m.embedding_params / m.n_embd as f64) as u64,
        n_ctx_train: 0,
        n_swa: (m.swa_window > 0).then_some(m.swa_window),
        expert_count: m.expert_count,
        expert_used: m.expert_used,
        expert_shared: 0,
        leading_dense: 0,
        mla: None,
        nextn_layers: 0,
        layers,
        tensors,
        engines: EngineSupport::default(),
        notes: vec![m.source.clone()],
    }
}

/// KV bytes per element relative to F16 (ggml block sizes: q8_0 34 B / 32, q4_0 18 B / 32).
fn kv_type_factor(t: &str) -> f64 {
    match t.to_ascii_lowercase().as_str() {
        "q8_0" => 34.0 / 64.0,
        "q4_0" => 18.0 / 64.0,
        "q4_1" => 20.0 / 64.0,
        "q5_0" => 22.0 / 64.0,
        "q5_1" => 24.0 / 64.0,
        "f32" => 2.0,
        _ => 1.0,
    }
}

#[derive(Default, Clone)]
struct Acc {
    weight: f64,
    active: f64,
    routed: f64,
    kv: f64,
    kv_read: f64,
    layers: u32,
    params: f64,
}

/// llama.cpp's placement for `-ngl N` and `--n-cpu-moe N` with uniform blocks: the last
/// `N-1` blocks and the output on the GPUs (src/llama-model.cpp, `i_gpu_start = n_layer
/// + 1 - n_gpu_layers`), blocks split evenly over equal GPUs in order, token embeddings
/// on the CPU, routed experts of the first `n_cpu_moe` blocks on the CPU.
fn build_layout(m: &ModelEntry, p: &PointEntry, hw: &HardwareSnapshot, depth: u64) -> Layout {
    let (ebpp, bpp) = bytes_per_param(m, p);
    let n = m.n_layer as usize;
    let g = hw.gpus.len();
    let kinds = block_kinds(m);
    let output_params = m.embedding_params;
    let untied_output = if m.tied_output {
        0.0
    } else {
        m.embedding_params
    };
    let block_params = (m.params_total - m.embedding_params - untied_output) / n as f64;
    let routed = m.routed_expert_params / n as f64;
    let nonexpert = block_params - routed;
    let used = if m.expert_count > 1 {
        m.expert_used as f64 / m.expert_count as f64
    } else {
        1.0
    };
    let kv_factor = kv_type_factor(p.cache_type.as_deref().unwrap_or("f16"));

    let gpu_blocks = if g == 0 {
        0
    } else {
        (p.ngl.min(m.n_layer + 1) as usize).saturating_sub(1).min(n)
    };
    let output_on_gpu = g > 0 && p.ngl >= 1;
    let first_gpu_block = n - gpu_blocks;
    let device_of_block = |i: usize| -> DeviceId {
        if i < first_gpu_block || g == 0 {
            DeviceId::CPU
        } else {
            let k = (i - first_gpu_block) * g / gpu_blocks.max(1);
            DeviceId::gpu(k.min(g - 1) as u32)
        }
    };
    let mut accs: Vec<(DeviceId, Acc)> = Vec::new();
    fn acc(accs: &mut Vec<(DeviceId, Acc)>, d: DeviceId) -> usize {
        match accs.iter().position(|(id, _)| *id == d) {
            Some(i) => i,
            None => {
                accs.push((d, Acc::default()));
                accs.len() - 1
            }
        }
    }
    // Token embeddings: CPU, looked up (not read in full).
    let cpu = acc(&mut accs, DeviceId::CPU);
    accs[cpu].1.weight += m.embedding_params * bpp;

    let mut path = vec![DeviceId::CPU];
    let mut host_experts = 0.0;
    for (i, kind) in kinds.iter().enumerate() {
        let dev = device_of_block(i);
        let experts_on_cpu = (i as u32) < p.n_cpu_moe;
        let expert_dev = if experts_on_cpu { DeviceId::CPU } else { dev };
        let di = acc(&mut accs, dev);
        let a = &mut accs[di].1;
        a.layers += 1;
        a.weight += nonexpert * bpp;
        a.active += nonexpert * bpp;
        a.params += nonexpert;
        // KV cache / recurrent state of this block.
        let (state_dev, state_read, state_alloc) = match kind {
            BlockKind::Full => {
                let per_cell = m.kv_bytes_full as f64 * kv_factor;
                (dev, per_cell * depth as f64, per_cell * 8192.0)
            }
            BlockKind::Swa => {
                let per_cell = m.kv_bytes_swa as f64 * kv_factor;
                let cells = depth.min(m.swa_window.max(1)) as f64;
                (dev, per_cell * cells, per_cell * m.swa_window as f64)
            }
            BlockKind::Recurrent => {
                let s = m.recurrent_state_bytes as f64;
                let d = if p.recurrent_on_cpu {
                    DeviceId::CPU
                } else {
                    dev
                };
                (d, 2.0 * s, s)
            }
        };
        path.push(dev);
        let si = acc(&mut accs, state_dev);
        accs[si].1.kv_read += state_read;
        accs[si].1.kv += state_alloc;
        if state_dev != dev {
            path.push(state_dev);
            path.push(dev);
        }
        if routed > 0.0 {
            let ei = acc(&mut accs, expert_dev);
            let e = &mut accs[ei].1;
            e.weight += routed * ebpp;
            e.routed += routed * ebpp;
            e.active += routed * used * ebpp;
            e.params += routed * used;
            if expert_dev != dev {
                host_experts += routed * ebpp;
                path.push(expert_dev);
                path.push(dev);
            }
        }
    }
    let out_dev = if output_on_gpu {
        DeviceId::gpu((g - 1) as u32)
    } else {
        DeviceId::CPU
    };
    let oi = acc(&mut accs, out_dev);
    accs[oi].1.active += output_params * bpp;
    accs[oi].1.params += output_params;
    if !m.tied_output {
        accs[oi].1.weight += output_params * bpp;
    }
    path.push(out_dev);
    let crossings = path.windows(2).filter(|w| w[0] != w[1]).count() as u32;

    Layout {
        devices: accs
            .into_iter()
            .map(|(device, a)| DeviceLoad {
                device,
                weight_bytes: Bytes(a.weight as u64),
                active_weight_bytes_per_token: Bytes(a.active as u64),
                routed_expert_bytes: Bytes(a.routed as u64),
                kv_bytes: Bytes(a.kv as u64),
                kv_read_bytes_per_token: Bytes(a.kv_read as u64),
                compute_bytes: Bytes(0),
                layers: a.layers,
                active_params: a.params as u64,
            })
            .collect(),
        boundary_crossings: crossings,
        host_experts_offloaded_bytes: Bytes(host_experts as u64),
        depth_tokens: depth,
        n_embd: m.n_embd,
    }
}

/// A point with its scenario built once, for repeated evaluation (fit, cross-validation).
pub struct Prepared {
    pub id: String,
    pub test: String,
    pub backend: String,
    /// The publication the point comes from (the unit left out in cross-validation).
    pub source: String,
    /// The thread the point comes from (a whole discussion is one; see [`thread_keys`]).
    pub thread: String,
    pub measured: f64,
    scenario: Scenario,
    facts: super::ModelFacts,
}

/// Builds every point's scenario once.
pub fn prepare(data: &CalibrationData) -> Result<Vec<Prepared>> {
    let keys = source_keys(data);
    let threads = thread_keys(data);
    data.point
        .iter()
        .zip(keys.into_iter().zip(threads))
        .map(|(p, (source, thread))| {
            let scenario = data.scenario(p)?;
            let facts = super::ModelFacts::of(&scenario.spec);
            Ok(Prepared {
                id: p.id.clone(),
                test: p.test.clone(),
                backend: p.backend.clone(),
                source,
                thread,
                measured: p.measured,
                scenario,
                facts,
            })
        })
        .collect()
}

/// The source of each point, the unit left out by [`cross_validate`]: a repository
/// (`.../blob/...` paths of one repository are one source), a pull request or issue, a
/// post, `published_calibration.csv` (one notebook set), or a seed write-up; `same post`
/// continues the point before it. A comment in a GitHub *discussion*
/// (`.../discussions/N#discussioncomment-M`, the crowd-sourced scoreboards) is its own
/// source: a different person, machine and run. Every other URL anchor is dropped.
pub fn source_keys(data: &CalibrationData) -> Vec<String> {
    publication_keys(data, true)
}

/// The thread of each point: as [`source_keys`], but a whole discussion (every comment)
/// is one unit: the stricter leave-one-thread-out protocol of the report.
pub fn thread_keys(data: &CalibrationData) -> Vec<String> {
    publication_keys(data, false)
}

fn publication_keys(data: &CalibrationData, discussion_comments: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(data.point.len());
    for p in &data.point {
        let s = p.source.trim();
        let key = if s.starts_with("same") {
            out.last().cloned().unwrap_or_else(|| s.to_string())
        } else if s.starts_with("published_calibration.csv") {
            "published_calibration.csv".to_string()
        } else if let Some(rest) = s.strip_prefix("seed ") {
            format!("seed {}", rest.chars().take(3).collect::<String>())
        } else {
            let url = s.split_whitespace().next().unwrap_or(s);
            let keep_anchor = discussion_comments && url.contains("/discussions/");
            let url = if keep_anchor {
                url
            } else {
                url.split('#').next().unwrap_or(url)
            };
            match url.find("/blob/") {
                Some(i) => url[..i].to_string(),
                None => url.to_string(),
            }
        };
        out.push(key);
    }
    out
}

/// Predicted rate of one prepared point (tokens/s of its test kind) and the bottleneck.
fn predict_prepared(f: &Factors, p: &Prepared) -> (f64, String) {
    let s = &p.scenario;
    let pred = super::predict_from_facts(f, &s.layout, &s.hw, &s.settings, &p.facts, s.engine);
    let v = if p.test == "pp" {
        pred.pp_tokens_per_s
    } else {
        pred.tg_tokens_per_s
    };
    (v, pred.bottleneck)
}

/// Predicts every prepared point with `f`.
pub fn evaluate_prepared(prepared: &[Prepared], f: &Factors) -> Vec<PointResult> {
    prepared
        .iter()
        .map(|p| {
            let (predicted, bottleneck) = predict_prepared(f, p);
            PointResult {
                id: p.id.clone(),
                test: p.test.clone(),
                measured: p.measured,
                predicted,
                error: predicted / p.measured - 1.0,
                bottleneck,
            }
        })
        .collect()
}

/// Predicts every point with `f`.
pub fn evaluate(data: &CalibrationData, f: &Factors) -> Result<Vec<PointResult>> {
    Ok(evaluate_prepared(&prepare(data)?, f))
}

/// Median absolute relative error of the points of one test kind.
pub fn median_abs_error(results: &[PointResult], test: &str) -> f64 {
    let mut v: Vec<f64> = results
        .iter()
        .filter(|r| r.test == test)
        .map(|r| r.error.abs())
        .collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The fit's objective: the summed [`robust_loss`] of the absolute log errors.
pub fn objective(results: &[PointResult]) -> f64 {
    results
        .iter()
        .map(|r| {
            if r.predicted > 0.0 && r.predicted.is_finite() {
                robust_loss((r.predicted / r.measured).ln().abs())
            } else {
                10.0
            }
        })
        .sum()
}

/// Predicted rate of one prepared point for the fit: only the phase its test measures,
/// without the breakdown's bottleneck text.
fn rate_of(f: &Factors, p: &Prepared) -> f64 {
    let s = &p.scenario;
    if p.test == "pp" {
        let t = super::prefill::prefill_time(f, &s.layout, &s.hw, &s.settings, &p.facts, s.engine)
            .total();
        let u = super::prefill::effective_ubatch(&s.settings) as f64;
        if t > 0.0 && t.is_finite() {
            u / t
        } else {
            0.0
        }
    } else {
        let t = super::decode::decode_time(f, &s.layout, &s.hw, &s.settings, &p.facts, s.engine)
            .total();
        if t > 0.0 && t.is_finite() {
            1.0 / t
        } else {
            0.0
        }
    }
}

/// The fit's per-point loss: [`robust_loss`] of |ln(predicted / measured)| (10 for a
/// non-prediction).
fn log_error(f: &Factors, p: &Prepared) -> f64 {
    let v = rate_of(f, p);
    if v > 0.0 && v.is_finite() {
        robust_loss((v / p.measured).ln().abs())
    } else {
        10.0
    }
}

/// The scale of the fit's robust loss: ln 2, a factor-of-two error.
const ROBUST_LOSS_SCALE: f64 = std::f64::consts::LN_2;

/// The fit's loss for an absolute log error `e`: `c·tanh(e/c)` with `c` =
/// [`ROBUST_LOSS_SCALE`]. Below ~1.5x it is the absolute log error; a point the model
/// misses by 3x or more counts about `c` whatever its size, so the few points whose
/// physics the model lacks (a driver or host anomaly, an old build) stop dragging the
/// shared factors away from every other point. Measured on the corpus (leave-one-source-out,
/// docs/calibration.md): the plain absolute log error gave tg 14.5% / pp 16.7% and Vulkan
/// tg 21.6%; this loss tg 12.9% / pp 15.2% / Vulkan 8.3% (scales 0.5-1.0 all gave tg 12-13%).
fn robust_loss(e: f64) -> f64 {
    ROBUST_LOSS_SCALE * (e / ROBUST_LOSS_SCALE).tanh()
}

/// Grid points per factor and sweep of the coordinate descent.
const GRID: usize = 16;

/// Coordinate descent over [`FIT_BOUNDS`]: each factor in turn takes the best of a
/// log-spaced grid over its whole range, then of a finer grid around that; repeated
/// `sweeps` times or until a sweep no longer moves the objective. Only the points `use_point`
/// accepts count. The objective is the summed [`robust_loss`] of the absolute log errors; for each factor only the points whose prediction moves between
/// the ends of its range are re-predicted (every prediction is monotone in each factor,
/// so a point equal at both ends and at the current value does not depend on it).
pub fn fit_prepared(
    prepared: &[Prepared],
    start: &Factors,
    sweeps: usize,
    use_point: &dyn Fn(usize) -> bool,
) -> Factors {
    let used: Vec<usize> = (0..prepared.len()).filter(|&i| use_point(i)).collect();
    let mut best = start.clone();
    let mut err: Vec<f64> = used
        .iter()
        .map(|&i| log_error(&best, &prepared[i]))
        .collect();
    for _ in 0..sweeps {
        let before: f64 = err.iter().sum();
        for b in FIT_BOUNDS {
            let log = b.min > 0.0;
            let to_v = |t: f64| {
                if log {
                    b.min * (b.max / b.min).powf(t)
                } else {
                    b.min + (b.max - b.min) * t
                }
            };
            let mut lo = best.clone();
            lo.set(b.name, b.min);
            let mut hi = best.clone();
            hi.set(b.name, b.max);
            let sensitive: Vec<usize> = (0..used.len())
                .filter(|&k| {
                    let p = &prepared[used[k]];
                    log_error(&lo, p) != err[k] || log_error(&hi, p) != err[k]
                })
                .collect();
            if sensitive.is_empty() {
                continue;
            }
            let sub = |f: &Factors| -> Vec<f64> {
                sensitive
                    .iter()
                    .map(|&k| log_error(f, &prepared[used[k]]))
                    .collect()
            };
            let mut best_sub: Vec<f64> = sensitive.iter().map(|&k| err[k]).collect();
            let mut best_obj: f64 = best_sub.iter().sum();
            let mut cand = best.clone();
            let mut best_t = None;
            let mut try_t =
                |t: f64, best: &mut Factors, best_obj: &mut f64, best_sub: &mut Vec<f64>| {
                    cand.set(b.name, to_v(t));
                    let e = sub(&cand);
                    let obj: f64 = e.iter().sum();
                    if obj < *best_obj - 1e-12 {
                        *best_obj = obj;
                        *best = cand.clone();
                        *best_sub = e;
                        true
                    } else {
                        false
                    }
                };
            for k in 0..=GRID {
                let t = k as f64 / GRID as f64;
                if try_t(t, &mut best, &mut best_obj, &mut best_sub) {
                    best_t = Some(t);
                }
            }
            // Refine between the neighbours of the grid winner.
            if let Some(t0) = best_t {
                let step = 1.0 / GRID as f64;
                for k in 1..8 {
                    let t = (t0 - step + 2.0 * step * k as f64 / 8.0).clamp(0.0, 1.0);
                    try_t(t, &mut best, &mut best_obj, &mut best_sub);
                }
            }
            for (j, &k) in sensitive.iter().enumerate() {
                err[k] = best_sub[j];
            }
        }
        // Converged: a whole sweep moved the objective by less than FIT_TOLERANCE.
        let after: f64 = err.iter().sum();
        if before - after < FIT_TOLERANCE * before.max(1e-9) {
            break;
        }
    }
    best
}

/// Random-direction refinement of a fit, the report's convergence check: factors that
/// trade off against each other (a per-layer cost against a bandwidth efficiency) can
/// leave the coordinate descent stuck where no single factor's move helps. (Not part of
/// the fit itself: it lowers the objective ~3% at about 40x the time per fold.) Each step draws a
/// direction over every fitted factor (in the normalised, log-spaced coordinates of
/// their ranges), tries a few step lengths both ways, and keeps the best. Deterministic
/// (a fixed-seed xorshift), so the shipped fit and every fold are reproducible.
pub fn polish_prepared(
    prepared: &[Prepared],
    start: &Factors,
    steps: usize,
    use_point: &dyn Fn(usize) -> bool,
) -> Factors {
    let used: Vec<usize> = (0..prepared.len()).filter(|&i| use_point(i)).collect();
    let obj = |f: &Factors| -> f64 { used.iter().map(|&i| log_error(f, &prepared[i])).sum() };
    let to_t = |b: &FitBound, v: f64| -> f64 {
        if b.min > 0.0 {
            (v / b.min).ln() / (b.max / b.min).ln()
        } else {
            (v - b.min) / (b.max - b.min)
        }
    };
    let to_v = |b: &FitBound, t: f64| -> f64 {
        let t = t.clamp(0.0, 1.0);
        if b.min > 0.0 {
            b.min * (b.max / b.min).powf(t)
        } else {
            b.min + (b.max - b.min) * t
        }
    };
    let mut t0: Vec<f64> = FIT_BOUNDS
        .iter()
        .map(|b| to_t(b, start.get(b.name).unwrap_or(b.min)))
        .collect();
    let mut best = start.clone();
    let mut best_obj = obj(&best);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..steps {
        // A sparse direction: each factor moves with probability 1/4, by ±U(0, 1).
        let dir: Vec<f64> = FIT_BOUNDS
            .iter()
            .map(|_| {
                if rand() < 0.25 {
                    2.0 * rand() - 1.0
                } else {
                    0.0
                }
            })
            .collect();
        if dir.iter().all(|d| *d == 0.0) {
            continue;
        }
        let mut improved = None;
        for step in [0.2, 0.1, 0.05, 0.02, 0.01, 0.005] {
            for sign in [1.0, -1.0] {
                let mut cand = best.clone();
                let t: Vec<f64> = t0
                    .iter()
                    .zip(&dir)
                    .map(|(t, d)| (t + sign * step * d).clamp(0.0, 1.0))
                    .collect();
                for (b, &tv) in FIT_BOUNDS.iter().zip(&t) {
                    cand.set(b.name, to_v(b, tv));
                }
                let o = obj(&cand);
                if o < best_obj - 1e-9 {
                    best_obj = o;
                    best = cand;
                    improved = Some(t);
                }
            }
        }
        if let Some(t) = improved {
            t0 = t;
        }
    }
    best
}

/// Relative objective improvement below which a sweep counts as converged.
const FIT_TOLERANCE: f64 = 1e-4;

/// [`fit_prepared`] on every point.
pub fn fit(data: &CalibrationData, start: &Factors, sweeps: usize) -> Result<Factors> {
    let prepared = prepare(data)?;
    Ok(fit_prepared(&prepared, start, sweeps, &|_| true))
}

/// Most sweeps of the coordinate descent for the shipped fit and every cross-validation
/// fold (each stops earlier once a sweep no longer moves the objective).
pub const FIT_SWEEPS: usize = 10;

/// Leave-one-source-out cross-validation: for each source, refit from `start` on the
/// points of every other source and predict the left-out source's points. Returns one
/// result per point, in corpus order, each predicted by a fit that never saw its source.
/// Folds run on all available cores.
pub fn cross_validate(prepared: &[Prepared], start: &Factors, sweeps: usize) -> Vec<PointResult> {
    cross_validate_by(prepared, start, sweeps, 0, &|p: &Prepared| {
        p.source.as_str()
    })
}

/// [`cross_validate`] with each fold's fit refined by `polish_steps` of
/// [`polish_prepared`] and a second coordinate descent: the fit lands in a different
/// coordinate-wise optimum when factors are added or the corpus grows, which moves the
/// plain cross-validated medians by a point or two; this measures a model change with
/// less of that path noise (about 20x the time).
pub fn cross_validate_thorough(
    prepared: &[Prepared],
    start: &Factors,
    sweeps: usize,
    polish_steps: usize,
) -> Vec<PointResult> {
    cross_validate_by(prepared, start, sweeps, polish_steps, &|p: &Prepared| {
        p.source.as_str()
    })
}

/// Leave-one-thread-out cross-validation: as [`cross_validate`], but a whole discussion,
/// repository, pull request or issue is left out at once.
pub fn cross_validate_threads(
    prepared: &[Prepared],
    start: &Factors,
    sweeps: usize,
) -> Vec<PointResult> {
    cross_validate_by(prepared, start, sweeps, 0, &|p: &Prepared| {
        p.thread.as_str()
    })
}

/// Cross-validation leaving out, in turn, every group of points with one `key`.
fn cross_validate_by(
    prepared: &[Prepared],
    start: &Factors,
    sweeps: usize,
    polish_steps: usize,
    key: &(dyn Fn(&Prepared) -> &str + Sync),
) -> Vec<PointResult> {
    let mut sources: Vec<&str> = prepared.iter().map(key).collect();
    sources.sort_unstable();
    sources.dedup();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let mut out: Vec<Option<PointResult>> = (0..prepared.len()).map(|_| None).collect();
    let chunks: Vec<Vec<&str>> = (0..threads)
        .map(|t| sources.iter().skip(t).step_by(threads).copied().collect())
        .collect();
    let results: Vec<Vec<(usize, PointResult)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                scope.spawn(move || {
                    let mut v = Vec::new();
                    for src in chunk {
                        let keep = |i: usize| key(&prepared[i]) != *src;
                        let mut f = fit_prepared(prepared, start, sweeps, &keep);
                        if polish_steps > 0 {
                            f = polish_prepared(prepared, &f, polish_steps, &keep);
                            f = fit_prepared(prepared, &f, sweeps, &keep);
                        }
                        for (i, p) in prepared.iter().enumerate() {
                            if key(p) == *src {
                                let (predicted, bottleneck) = predict_prepared(&f, p);
                                v.push((
                                    i,
                                    PointResult {
                                        id: p.id.clone(),
                                        test: p.test.clone(),
                                        measured: p.measured,
                                        predicted,
                                        error: predicted / p.measured - 1.0,
                                        bottleneck,
                                    },
                                ));
                            }
                        }
                    }
                    v
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in results.into_iter().flatten() {
        out[i] = Some(r);
    }
    out.into_iter().flatten().collect()
}

/// Median and 90th-percentile absolute error of the results `keep` accepts, and their count.
pub fn error_stats(
    results: &[PointResult],
    keep: &dyn Fn(&PointResult) -> bool,
) -> (usize, f64, f64) {
    let mut v: Vec<f64> = results
        .iter()
        .filter(|r| keep(r))
        .map(|r| r.error.abs())
        .collect();
    if v.is_empty() {
        return (0, 0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let p90 = v[((0.9 * n as f64).ceil() as usize).clamp(1, n) - 1];
    (n, median, p90)
}

/// The markdown report written to `docs/calibration.md`.
/// What the report shows besides the factors: the two cross-validations and a polished
/// fit (the fresh fit refined by [`polish_prepared`], to show how close the coordinate
/// descent gets to an optimum).
pub struct Validation<'a> {
    /// Leave-one-source-out results ([`cross_validate`]).
    pub by_source: &'a [PointResult],
    /// Leave-one-thread-out results ([`cross_validate_threads`]).
    pub by_thread: &'a [PointResult],
    /// The fresh fit after [`POLISH_STEPS`] random-direction steps.
    pub polished: &'a Factors,
}

/// Random-direction steps of the report's convergence check.
pub const POLISH_STEPS: usize = 2000;

pub fn report(
    data: &CalibrationData,
    fitted: &Factors,
    shipped: &Factors,
    v: &Validation,
) -> Result<String> {
    let cv = v.by_source;
    let prepared = prepare(data)?;
    let fit_res = evaluate_prepared(&prepared, fitted);
    let ship_res = evaluate_prepared(&prepared, shipped);
    let pol_res = evaluate_prepared(&prepared, v.polished);
    let mut s = String::new();
    let _ = writeln!(s, "# Speed-model calibration\n");
    let _ = writeln!(
        s,
        "Generated by `cargo run --release --example calibration_report` from \
         `profiles/calibration/points.toml` ({} points). Do not edit by hand.\n",
        data.point.len()
    );
    let _ = writeln!(s, "## Accuracy (shipped factors, `src/perf/factors.rs`)\n");
    let _ = writeln!(s, "| test | points | median abs error | target |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for (t, target) in [("tg", TG_MEDIAN_TARGET), ("pp", PP_MEDIAN_TARGET)] {
        let n = ship_res.iter().filter(|r| r.test == t).count();
        let _ = writeln!(
            s,
            "| {t} | {n} | {:.1}% | ≤ {:.0}% |",
            100.0 * median_abs_error(&ship_res, t),
            100.0 * target
        );
    }
    let _ = writeln!(
        s,
        "\nA fresh fit from `calibration::neutral_start()` (coordinate descent, at most {} \
         sweeps, stopping when a sweep improves the objective by less than {}) reaches tg \
         {:.1}% / pp {:.1}% (objective {:.3} vs shipped {:.3}). The objective is the summed \
         robust loss `ln2·tanh(|ln(predicted/measured)| / ln2)`: linear in the log error up \
         to about 1.5x, then saturating, so a point missed by 3x or more (physics the model \
         lacks) does not drag the shared factors. Convergence check: {} random-direction \
         steps after the fit lower the objective to {:.3} ({:.1}%) and give tg {:.1}% / pp \
         {:.1}% in sample: what a longer search would still find. The cross-validation below \
         uses the coordinate descent alone (the search would multiply each fold's time by about 40).\n",
        FIT_SWEEPS,
        FIT_TOLERANCE,
        100.0 * median_abs_error(&fit_res, "tg"),
        100.0 * median_abs_error(&fit_res, "pp"),
        objective(&fit_res),
        objective(&ship_res),
        POLISH_STEPS,
        objective(&pol_res),
        100.0 * (objective(&pol_res) / objective(&fit_res) - 1.0),
        100.0 * median_abs_error(&pol_res, "tg"),
        100.0 * median_abs_error(&pol_res, "pp"),
    );
    accuracy_tables(&mut s, &prepared, &ship_res, cv, CvUnit::Source);
    accuracy_tables(&mut s, &prepared, &ship_res, v.by_thread, CvUnit::Thread);
    corpus_table(&mut s, &prepared);
    let _ = writeln!(s, "## Factors\n");
    let _ = writeln!(s, "| factor | shipped | fresh fit | allowed range |");
    let _ = writeln!(s, "|---|---:|---:|---|");
    for b in FIT_BOUNDS {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} … {} |",
            b.name,
            fmt_num(shipped.get(b.name).unwrap_or(f64::NAN)),
            fmt_num(fitted.get(b.name).unwrap_or(f64::NAN)),
            fmt_num(b.min),
            fmt_num(b.max)
        );
    }
    let _ = writeln!(
        s,
        "\nFixed (cited or assumed, see `src/perf/factors.rs`): `cpu_bw_eff_measured` {}, \
         `numa_remote_eff` {}, `pcie_eff` {}.\n",
        fmt_num(shipped.cpu_bw_eff_measured),
        fmt_num(shipped.numa_remote_eff),
        fmt_num(shipped.pcie_eff)
    );
    let _ = writeln!(s, "## Points (shipped factors)\n");
    let _ = writeln!(
        s,
        "| point | machine | model | quant | engine | backend | test | measured tok/s | predicted | error | cross-validated error | bottleneck |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---:|---:|---:|---:|---|");
    for (p, r) in data.point.iter().zip(&ship_res) {
        let cv_err = cv
            .iter()
            .find(|c| c.id == p.id)
            .map_or("—".to_string(), |c| format!("{:+.1}%", 100.0 * c.error));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:+.1}% | {} | {} |",
            p.id,
            p.machine,
            p.model,
            p.quant,
            p.engine,
            p.backend,
            p.test,
            r.measured,
            r.predicted,
            100.0 * r.error,
            cv_err,
            r.bottleneck
        );
    }
    let _ = writeln!(s, "\n## Sources\n");
    for p in &data.point {
        let _ = write!(
            s,
            "- **{}** — {} ({}; build: {}; flags: {}): “{}”",
            p.id,
            p.source,
            if p.date.is_empty() {
                "date in source"
            } else {
                &p.date
            },
            if p.build.is_empty() {
                "not stated"
            } else {
                &p.build
            },
            if p.flags.is_empty() {
                "defaults"
            } else {
                &p.flags
            },
            p.quote
        );
        if let Some(n) = &p.note {
            let _ = write!(s, " _Note: {n}_");
        }
        let _ = writeln!(s);
    }
    s.push_str(GPU_CHECK_SECTION);
    Ok(s)
}

/// The report's last section: where the predicted-vs-measured GPU check lives (its
/// table is written by `scripts/gpu-check.sh`, not by this report).
const GPU_CHECK_SECTION: &str = "
## GPU check (predicted vs measured on a CUDA GPU)

`scripts/gpu-check.sh` builds the pinned llama.cpp with CUDA, writes the sparse
real-shape models, runs `llama-fit-params` and `llama-bench` (dense and MoE, full and
expert offload) and writes predicted vs measured per-device memory and tg/pp into
`docs/gpu-check.md`, which says whether it has been run and on which GPU.
";

/// In-sample and leave-one-source-out error per backend and test kind, and the corpus
/// counts.
fn accuracy_tables(
    s: &mut String,
    prepared: &[Prepared],
    in_sample: &[PointResult],
    cv: &[PointResult],
    unit: CvUnit,
) {
    let mut units: Vec<&str> = prepared
        .iter()
        .map(|p| match unit {
            CvUnit::Source => p.source.as_str(),
            CvUnit::Thread => p.thread.as_str(),
        })
        .collect();
    units.sort_unstable();
    units.dedup();
    match unit {
        CvUnit::Source => {
            let _ = writeln!(
                s,
                "## Cross-validated accuracy (leave one source out)\n\n\
                 Each of the {} sources (a pull request, issue, repository, post, seed, or one \
                 comment of a GitHub discussion) is left out in turn; the factors are refitted \
                 from `calibration::neutral_start()` on the other sources' points (the same fit \
                 as above) and the left-out points are predicted. Targets (issue 13): median tg \
                 ≤ {:.0}%, pp ≤ {:.0}%, no backend's median tg above {:.0}%; the test suite \
                 asserts this table.\n",
                units.len(),
                100.0 * CV_TG_MEDIAN_TARGET,
                100.0 * CV_PP_MEDIAN_TARGET,
                100.0 * CV_BACKEND_TG_TARGET
            );
        }
        CvUnit::Thread => {
            let _ = writeln!(
                s,
                "## Cross-validated accuracy (leave one thread out, stricter)\n\n\
                 As above, but each of the {} threads is left out whole: every comment of a \
                 discussion, every point of a repository, pull request, issue or post at once. \
                 A crowd-sourced scoreboard thread then predicts none of its own machines.\n",
                units.len()
            );
        }
    }
    let _ = writeln!(
        s,
        "| backend | test | points | in-sample median | in-sample p90 | cross-validated median | cross-validated p90 |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|");
    let backend_of = |id: &str| {
        prepared
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.backend.clone())
            .unwrap_or_default()
    };
    let mut backends: Vec<String> = prepared.iter().map(|p| p.backend.clone()).collect();
    backends.sort();
    backends.dedup();
    let mut rows: Vec<(String, String)> =
        vec![("all".into(), "tg".into()), ("all".into(), "pp".into())];
    for b in &backends {
        rows.push((b.clone(), "tg".into()));
        rows.push((b.clone(), "pp".into()));
    }
    for (b, t) in rows {
        let keep = |r: &PointResult| r.test == t && (b == "all" || backend_of(&r.id) == b);
        let (n, m, p90) = error_stats(in_sample, &keep);
        let (_, cm, cp90) = error_stats(cv, &keep);
        if n == 0 {
            continue;
        }
        let _ = writeln!(
            s,
            "| {b} | {t} | {n} | {:.1}% | {:.1}% | {:.1}% | {:.1}% |",
            100.0 * m,
            100.0 * p90,
            100.0 * cm,
            100.0 * cp90
        );
    }
    let _ = writeln!(s);
}

/// Which points one cross-validation fold leaves out together.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CvUnit {
    Source,
    Thread,
}

/// Points and sources per backend.
fn corpus_table(s: &mut String, prepared: &[Prepared]) {
    let mut sources: Vec<&str> = prepared.iter().map(|p| p.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    let mut backends: Vec<String> = prepared.iter().map(|p| p.backend.clone()).collect();
    backends.sort();
    backends.dedup();
    let _ = writeln!(s, "## Corpus\n");
    let _ = writeln!(s, "| backend | points | sources |");
    let _ = writeln!(s, "|---|---:|---:|");
    for b in &backends {
        let pts: Vec<&Prepared> = prepared.iter().filter(|p| &p.backend == b).collect();
        let mut srcs: Vec<&str> = pts.iter().map(|p| p.source.as_str()).collect();
        srcs.sort_unstable();
        srcs.dedup();
        let _ = writeln!(s, "| {b} | {} | {} |", pts.len(), srcs.len());
    }
    let _ = writeln!(s, "| all | {} | {} |\n", prepared.len(), sources.len());
}

fn fmt_num(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_builds_a_scenario() {
        let data = load().unwrap();
        assert!(data.point.len() >= 40);
        for p in &data.point {
            let s = data.scenario(p).unwrap();
            assert!(!s.layout.devices.is_empty(), "{}", p.id);
        }
    }

    #[test]
    fn a_discussion_comment_is_its_own_source_but_not_its_own_thread() {
        let point = |id: &str, source: &str| {
            format!(
                "[[point]]\nid = \"{id}\"\nsource = \"{source}\"\nbackend = \"cuda\"\n\
                 quote = \"q\"\nmachine = \"m\"\nmodel = \"x\"\nquant = \"Q4_0\"\n\
                 file_gb = 1.0\nengine = \"llama.cpp\"\ntest = \"tg\"\nmeasured = 1.0\n\n"
            )
        };
        let d = "https://github.com/ggml-org/llama.cpp/discussions/15013";
        let pr = "https://github.com/ggml-org/llama.cpp/pull/5835";
        let text = format!(
            "gpu = []\nmachine = []\nmodel = []\n\n{}{}{}{}{}",
            point("a", &format!("{d}#discussioncomment-1")),
            point("b", "same comment"),
            point("c", &format!("{d}#discussioncomment-2")),
            point("e", &format!("{pr}#issuecomment-7")),
            point("f", &format!("{pr}#issuecomment-8")),
        );
        let data: CalibrationData = toml::from_str(&text).unwrap();
        let sources = source_keys(&data);
        let threads = thread_keys(&data);
        assert_eq!(
            sources[0], sources[1],
            "'same' continues the comment before it"
        );
        assert_ne!(sources[0], sources[2], "two comments, two sources");
        assert_eq!(sources[3], sources[4], "a pull request is one source");
        assert_eq!(sources[3], pr);
        assert!(threads[..3].iter().all(|t| t == d), "{threads:?}");
    }

    #[test]
    fn ngl_27_of_40_puts_26_blocks_and_output_on_the_gpu() {
        let data = load().unwrap();
        let p = data.point.iter().find(|p| p.id == "seed001-t8").unwrap();
        let s = data.scenario(p).unwrap();
        let gpu = s.layout.device(DeviceId::gpu(0)).unwrap();
        let cpu = s.layout.device(DeviceId::CPU).unwrap();
        assert_eq!(gpu.layers, 26);
        assert_eq!(cpu.layers, 14);
        assert_eq!(s.layout.boundary_crossings, 1);
    }

    #[test]
    fn n_cpu_moe_hops_twice_per_offloaded_block() {
        let data = load().unwrap();
        let p = data
            .point
            .iter()
            .find(|p| p.id == "ext-5080-q4-ncmoe24")
            .unwrap();
        let s = data.scenario(p).unwrap();
        assert_eq!(s.layout.boundary_crossings, 1 + 2 * 24);
        assert!(s.layout.host_experts_offloaded_bytes.as_u64() > 0);
    }
}
