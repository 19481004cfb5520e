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
use crate::planner::layout::DeviceId;
use crate::units::Bytes;

/// Buffer alignment each tensor is padded to (ggml CPU buffer: `TENSOR_ALIGNMENT` 32,
/// ggml/src/ggml-impl.h; CUDA buffers align to 128, ggml-cuda.cu).
fn alignment(dev: DeviceId) -> u64 {
    match dev {
        DeviceId::Cpu => 32,
        DeviceId::Gpu(_) => 128,
    }
}

/// A placement: which layers and experts go where.
#[derive(Clone, Debug, PartialEq)]
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
}

impl Placement {
    pub fn cpu_only() -> Placement {
        Placement {
            n_gpu_layers: 0,
            gpus: Vec::new(),
            tensor_split: Vec::new(),
            n_cpu_moe: 0,
            expert_overrides: Vec::new(),
        }
    }
}

/// Which device runs block `il` (`il == n_layer` is the output layer).
pub fn layer_device(p: &Placement, n_layer: u32, il: u32) -> DeviceId {
    if p.gpus.is_empty() || p.n_gpu_layers == 0 {
        return DeviceId::Cpu;
    }
    let total = i64::from(n_layer) + 1;
    let start = (total - i64::from(p.n_gpu_layers)).max(0);
    let act = i64::from(p.n_gpu_layers).min(total);
    let il = i64::from(il);
    if il < start || il - start >= act {
        return DeviceId::Cpu;
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
            return DeviceId::Gpu(p.gpus[i]);
        }
    }
    DeviceId::Gpu(*p.gpus.last().unwrap_or(&0))
}

fn is_mtp(spec: &ModelSpec, t: &TensorSpec) -> bool {
    t.class == TensorClass::Mtp
        || t.layer
            .is_some_and(|il| spec.layers.iter().any(|l| l.index == il && l.mtp))
}

/// The device a tensor lives on, or `None` if the engine does not load it.
pub fn tensor_device(spec: &ModelSpec, p: &Placement, t: &TensorSpec) -> Option<DeviceId> {
    if is_mtp(spec, t) {
        return None;
    }
    let n_layer = spec.n_layer;
    match (t.class, t.layer) {
        (TensorClass::TokenEmbedding, _) => Some(DeviceId::Cpu),
        (TensorClass::Output | TensorClass::OutputNorm, _) => {
            Some(layer_device(p, n_layer, n_layer))
        }
        (TensorClass::RoutedExperts, Some(il)) => {
            if il < p.n_cpu_moe {
                return Some(DeviceId::Cpu);
            }
            if let Some((_, d)) = p.expert_overrides.iter().find(|(l, _)| *l == il) {
                return Some(*d);
            }
            Some(layer_device(p, n_layer, il))
        }
        (_, Some(il)) => Some(layer_device(p, n_layer, il)),
        // Other global tensors (rope_freqs...) are tiny and belong to the input side.
        (_, None) => Some(DeviceId::Cpu),
    }
}

/// Weight bytes per device, including the tied-output duplicate.
pub fn bytes_by_device(spec: &ModelSpec, p: &Placement) -> Vec<(DeviceId, Bytes)> {
    let mut out: Vec<(DeviceId, Bytes)> = Vec::new();
    let mut add = |d: DeviceId, b: u64| {
        let b = Bytes(super::pad_to(b, alignment(d)));
        match out.iter_mut().find(|(x, _)| *x == d) {
            Some((_, v)) => *v += b,
            None => out.push((d, b)),
        }
    };
    for t in &spec.tensors {
        if let Some(d) = tensor_device(spec, p, t) {
            add(d, t.bytes.0);
        }
    }
    let has_output = spec.tensors.iter().any(|t| t.class == TensorClass::Output);
    if !has_output {
        let out_dev = layer_device(p, spec.n_layer, spec.n_layer);
        for t in spec
            .tensors
            .iter()
            .filter(|t| t.class == TensorClass::TokenEmbedding)
        {
            add(out_dev, t.bytes.0);
        }
    }
    out.sort_by_key(|(d, _)| *d);
    out
}

/// Weight bytes read per generated token on each device: everything except the
/// token-embedding lookup, routed experts scaled by `expert_used / expert_count`.
pub fn active_bytes_by_device(spec: &ModelSpec, p: &Placement) -> Vec<(DeviceId, Bytes, Bytes)> {
    let mut out: Vec<(DeviceId, Bytes, Bytes)> = Vec::new();
    let used = u64::from(spec.expert_used.max(1));
    let count = u64::from(spec.expert_count.max(1));
    for t in &spec.tensors {
        if t.class == TensorClass::TokenEmbedding {
            continue;
        }
        let Some(d) = tensor_device(spec, p, t) else {
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
        let d = layer_device(p, spec.n_layer, spec.n_layer);
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
