//! Where each weight tensor lives for a placement, with mainline llama.cpp's rules.
//!
//! `llama_model::load_tensors` (src/llama-model.cpp): with `-ngl N` the layers from
//! `i_gpu_start = max(n_layer + 1 - N, 0)` on run on the GPUs, the output layer counting
//! as layer `n_layer`; GPU layers are split by the cumulative `--tensor-split`
//! proportions (`upper_bound` over `(il - i_gpu_start) / act_gpu_layers`); the input
//! layer (token embeddings) always stays on the CPU. `--n-cpu-moe N` keeps the routed
//! experts (`blk.I.ffn_*_exps`) of layers `0..N` in system RAM (common/arg.cpp); `-ot`
//! overrides move routed experts of single layers elsewhere. Nextn/MTP tensors are not
//! loaded unless speculative decoding asks for them (`TENSOR_SKIP`). A tied output
//! (no `output.weight`) is duplicated onto the output device (`TENSOR_DUPLICATED`) and
//! counted again there, as the engine's memory breakdown does. Pure counting.

use crate::model::{ModelSpec, TensorClass, TensorSpec};
use crate::plan::{DeviceId, Unit};
use crate::units::Bytes;

/// Buffer alignment each tensor is padded to (ggml CPU buffer: `TENSOR_ALIGNMENT` 32,
/// ggml/src/ggml-impl.h; CUDA buffers align to 128, ggml-cuda.cu).
pub(crate) fn alignment(dev: DeviceId) -> u64 {
    match dev.unit() {
        Unit::Cpu => 32,
        Unit::Gpu(_) => 128,
    }
}

/// How the used GPUs share the GPU layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GpuSplit {
    /// Whole layers per GPU in turn (`-sm layer`), by the `--tensor-split` proportions.
    #[default]
    Layer,
    /// Every GPU layer cut across all GPUs, which run it together (mainline
    /// `-sm tensor`, ik `-sm graph`): memory by `memory::split`.
    Parallel,
}

/// A placement: which layers and experts go where.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    /// `-ngl`: trailing layers on GPUs (the output counts as one more).
    pub n_gpu_layers: u32,
    /// GPUs used, in order, as indices into `HardwareSnapshot::gpus`.
    pub gpus: Vec<u32>,
    /// `--tensor-split` proportions per used GPU (empty: equal shares).
    pub tensor_split: Vec<f64>,
    /// `--n-cpu-moe`: routed experts of layers `0..n` in system RAM.
    pub n_cpu_moe: u32,
    /// `-ot` routed-expert overrides for single layers beyond `n_cpu_moe`.
    pub expert_overrides: Vec<(u32, DeviceId)>,
    /// Layer split or tensor-parallel split over `gpus`.
    pub gpu_split: GpuSplit,
}

impl Placement {
    /// True for a tensor-parallel split over two or more GPUs.
    pub fn is_parallel(&self) -> bool {
        self.gpu_split == GpuSplit::Parallel && self.gpus.len() > 1 && self.n_gpu_layers > 0
    }

    pub fn cpu_only() -> Placement {
        Placement {
            n_gpu_layers: 0,
            gpus: Vec::new(),
            tensor_split: Vec::new(),
            n_cpu_moe: 0,
            expert_overrides: Vec::new(),
            gpu_split: GpuSplit::Layer,
        }
    }
}

/// Which device runs block `il` (`il == n_layer` is the output layer).
pub fn layer_device(p: &Placement, n_layer: u32, il: u32) -> DeviceId {
    if p.gpus.is_empty() || p.n_gpu_layers == 0 {
        return DeviceId::CPU;
    }
    let total = i64::from(n_layer) + 1;
    let start = (total - i64::from(p.n_gpu_layers)).max(0);
    let act = i64::from(p.n_gpu_layers).min(total);
    let il = i64::from(il);
    if il < start || il - start >= act {
        return DeviceId::CPU;
    }
    let shares: Vec<f64> = if p.tensor_split.len() == p.gpus.len() {
        p.tensor_split.clone()
    } else {
        vec![1.0; p.gpus.len()]
    };
    let sum: f64 = shares.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let x = (il - start) as f64 / act as f64;
    let mut acc = 0.0;
    for (i, s) in shares.iter().enumerate() {
        acc += s / sum;
        // upper_bound: the first split point strictly greater than x.
        if acc > x {
            return DeviceId::gpu(p.gpus[i]);
        }
    }
    DeviceId::gpu(*p.gpus.last().unwrap_or(&0))
}

/// `layer_device` for every block and the output, computed once per placement.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceMap {
    devices: Vec<DeviceId>,
    /// Nextn/MTP blocks by index (not loaded for plain decoding).
    mtp: Vec<bool>,
}

impl DeviceMap {
    pub fn new(spec: &ModelSpec, p: &Placement) -> DeviceMap {
        let n_layer = spec.n_layer;
        let mut mtp = vec![false; spec.layers.len().max(n_layer as usize) + 1];
        for l in spec.layers.iter().filter(|l| l.mtp) {
            if let Some(m) = mtp.get_mut(l.index as usize) {
                *m = true;
            }
        }
        DeviceMap {
            devices: (0..=n_layer)
                .map(|il| layer_device(p, n_layer, il))
                .collect(),
            mtp,
        }
    }

    fn is_mtp_layer(&self, il: u32) -> bool {
        self.mtp.get(il as usize).copied().unwrap_or(false)
    }

    /// The device of block `il` (`n_layer` is the output layer).
    pub fn layer(&self, il: u32) -> DeviceId {
        self.devices
            .get(il as usize)
            .copied()
            .unwrap_or(DeviceId::CPU)
    }

    /// The output layer's device.
    pub fn output(&self) -> DeviceId {
        self.devices.last().copied().unwrap_or(DeviceId::CPU)
    }

    /// True if any block (not the output) runs on `d`.
    pub fn runs_blocks(&self, d: DeviceId) -> bool {
        let n = self.devices.len().saturating_sub(1);
        self.devices[..n].contains(&d)
    }
}

/// The device a tensor lives on, or `None` if the engine does not load it.
pub fn tensor_device(p: &Placement, map: &DeviceMap, t: &TensorSpec) -> Option<DeviceId> {
    if t.class == TensorClass::Mtp || t.layer.is_some_and(|il| map.is_mtp_layer(il)) {
        return None;
    }
    match (t.class, t.layer) {
        (TensorClass::TokenEmbedding, _) => Some(DeviceId::CPU),
        (TensorClass::Output | TensorClass::OutputNorm, _) => Some(map.output()),
        (TensorClass::RoutedExperts, Some(il)) => {
            if il < p.n_cpu_moe {
                return Some(DeviceId::CPU);
            }
            if let Some((_, d)) = p.expert_overrides.iter().find(|(l, _)| *l == il) {
                return Some(*d);
            }
            Some(map.layer(il))
        }
        (_, Some(il)) => Some(map.layer(il)),
        // Other global tensors (rope_freqs...) are tiny and belong to the input side.
        (_, None) => Some(DeviceId::CPU),
    }
}

/// Weight bytes per device, including the tied-output duplicate.
pub fn bytes_by_device(spec: &ModelSpec, p: &Placement, map: &DeviceMap) -> Vec<(DeviceId, Bytes)> {
    let mut out: Vec<(DeviceId, Bytes)> = Vec::new();
    let mut add = |d: DeviceId, b: u64| {
        let b = Bytes(super::pad_to(b, alignment(d)));
        match out.iter_mut().find(|(x, _)| *x == d) {
            Some((_, v)) => *v += b,
            None => out.push((d, b)),
        }
    };
    for t in &spec.tensors {
        if let Some(d) = tensor_device(p, map, t) {
            add(d, t.bytes.0);
        }
    }
    // Tied output: a second copy wherever the output layer lives unless the loader can
    // reuse the CPU embedding (`ModelSpec::tied_output_bytes` / `loaded_weight_bytes`).
    let tied = spec.tied_output_bytes();
    if tied > Bytes::ZERO {
        let out_dev = map.output();
        let cpu_dup = spec.loaded_weight_bytes() - (spec.total_bytes() - spec.mtp_bytes());
        if out_dev != DeviceId::CPU {
            add(out_dev, tied.0);
        } else if cpu_dup > Bytes::ZERO {
            add(DeviceId::CPU, cpu_dup.0);
        }
    }
    out.sort_by_key(|(d, _)| *d);
    out
}

/// Weight bytes read per generated token on each device: everything except the
/// token-embedding lookup, routed experts scaled by `expert_used / expert_count`.
pub fn active_bytes_by_device(
    spec: &ModelSpec,
    p: &Placement,
    map: &DeviceMap,
) -> Vec<(DeviceId, Bytes, Bytes)> {
    let mut out: Vec<(DeviceId, Bytes, Bytes)> = Vec::new();
    let used = u64::from(spec.expert_used.max(1));
    let count = u64::from(spec.expert_count.max(1));
    for t in &spec.tensors {
        if t.class == TensorClass::TokenEmbedding {
            continue;
        }
        let Some(d) = tensor_device(p, map, t) else {
            continue;
        };
        let (active, routed) = if t.class == TensorClass::RoutedExperts {
            (Bytes(t.bytes.0 / count * used), t.bytes)
        } else {
            (t.bytes, Bytes::ZERO)
        };
        match out.iter_mut().find(|(x, _, _)| *x == d) {
            Some((_, a, r)) => {
                *a += active;
                *r += routed;
            }
            None => out.push((d, active, routed)),
        }
    }
    let has_output = spec.tensors.iter().any(|t| t.class == TensorClass::Output);
    if !has_output {
        let d = map.output();
        let emb: Bytes = spec
            .tensors
            .iter()
            .filter(|t| t.class == TensorClass::TokenEmbedding)
            .map(|t| t.bytes)
            .sum();
        match out.iter_mut().find(|(x, _, _)| *x == d) {
            Some((_, a, _)) => *a += emb,
            None => out.push((d, emb, Bytes::ZERO)),
        }
    }
    out.sort_by_key(|(d, _, _)| *d);
    out
}
