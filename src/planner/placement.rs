//! Placement search: where layers and experts go, maximising predicted decode speed
//! subject to every device's free memory minus its margin.
//!
//! Candidates: everything on the GPU(s); for MoE, all layers on the GPUs with the routed
//! experts of the first N layers in system RAM (`-ngl 999 --n-cpu-moe N`, N searched);
//! partial `-ngl` (dense models, and MoE for comparison); multi-GPU layer split weighted
//! by free memory (`--tensor-split`); CPU only. Each candidate becomes a
//! [`Layout`] and is ranked by the scorer passed in. Pure: no I/O.

use crate::hardware::HardwareSnapshot;
use crate::model::{ModelSpec, TensorClass};
use crate::planner::layout::{DeviceId, DeviceLoad, Layout};
use crate::planner::memory::{self, weights, weights::Placement, DeviceBytes, MemoryConfig};
use crate::planner::plan::Settings;
use crate::planner::roofline::{Scorer, Speed};
use crate::units::Bytes;

/// One evaluated candidate.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub placement: Placement,
    pub memory: Vec<(DeviceId, DeviceBytes)>,
    pub layout: Layout,
    pub speed: Speed,
    /// How much the worst device misses by (zero when it fits).
    pub shortfall: Bytes,
    /// The device that misses most, when one does.
    pub short_device: Option<DeviceId>,
}

impl Candidate {
    pub fn fits(&self) -> bool {
        self.shortfall == Bytes::ZERO
    }
}

/// Usable bytes per device: free (or total) memory minus the margin.
pub fn budget(hw: &HardwareSnapshot, dev: DeviceId) -> Bytes {
    match dev {
        DeviceId::Cpu => {
            let total = Bytes(hw.memory.total_bytes);
            total - memory::host_margin(total)
        }
        DeviceId::Gpu(i) => hw
            .gpus
            .iter()
            .find(|g| g.index == i)
            .map(|g| Bytes(g.vram_free_bytes.unwrap_or(g.vram_bytes)) - memory::GPU_MARGIN)
            .unwrap_or(Bytes::ZERO),
    }
}

/// Builds the Layout the speed model needs for one placement.
pub fn layout_for(
    spec: &ModelSpec,
    p: &Placement,
    cfg: &MemoryConfig,
    mem: &[(DeviceId, DeviceBytes)],
) -> Layout {
    let depth = cfg.n_ctx / 2;
    let active = weights::active_bytes_by_device(spec, p);
    let kv_layers = memory::kv::per_layer(spec, cfg).unwrap_or_default();
    let used = u64::from(spec.expert_used.max(1));
    let count = u64::from(spec.expert_count.max(1));
    let mut devices = Vec::new();
    for (d, b) in mem {
        let (act, routed) = active
            .iter()
            .find(|(x, _, _)| x == d)
            .map(|(_, a, r)| (*a, *r))
            .unwrap_or((Bytes::ZERO, Bytes::ZERO));
        let mut kv_read = Bytes::ZERO;
        for l in &kv_layers {
            if weights::layer_device(p, spec.n_layer, l.layer) == *d {
                if let Some(per_cell) = l.attention.0.checked_div(l.cells) {
                    kv_read += Bytes(per_cell * depth.min(l.cells));
                }
                kv_read += l.recurrent;
            }
        }
        let layers = (0..spec.n_layer)
            .filter(|il| weights::layer_device(p, spec.n_layer, *il) == *d)
            .count() as u32;
        let active_params: u64 = spec
            .tensors
            .iter()
            .filter(|t| t.class != TensorClass::TokenEmbedding)
            .filter(|t| weights::tensor_device(spec, p, t) == Some(*d))
            .map(|t| {
                let n: u64 = t.dims.iter().product();
                if t.class == TensorClass::RoutedExperts {
                    n / count * used
                } else {
                    n
                }
            })
            .sum();
        devices.push(DeviceLoad {
            device: *d,
            weight_bytes: b.weights,
            active_weight_bytes_per_token: act,
            routed_expert_bytes: routed,
            kv_bytes: b.kv,
            kv_read_bytes_per_token: kv_read,
            compute_bytes: b.compute,
            layers,
            active_params,
        });
    }
    // Device changes along the per-token path: input (CPU) -> layers -> output.
    let mut path: Vec<DeviceId> = vec![DeviceId::Cpu];
    for il in 0..=spec.n_layer {
        path.push(weights::layer_device(p, spec.n_layer, il));
        if il < spec.n_layer && il < p.n_cpu_moe && spec.is_moe() {
            // experts of this layer run on the CPU: out and back.
            path.push(DeviceId::Cpu);
            path.push(weights::layer_device(p, spec.n_layer, il));
        }
    }
    path.dedup();
    let host_experts: Bytes = spec
        .tensors
        .iter()
        .filter(|t| t.class == TensorClass::RoutedExperts)
        .filter(|t| {
            weights::tensor_device(spec, p, t) == Some(DeviceId::Cpu)
                && t.layer
                    .is_some_and(|il| weights::layer_device(p, spec.n_layer, il) != DeviceId::Cpu)
        })
        .map(|t| t.bytes)
        .sum();
    Layout {
        devices,
        boundary_crossings: path.len().saturating_sub(1) as u32,
        host_experts_offloaded_bytes: host_experts,
        depth_tokens: depth,
        n_embd: spec.n_embd,
    }
}

/// Evaluates one placement: memory, fit and speed.
pub fn evaluate(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    p: Placement,
    cfg: &MemoryConfig,
    settings: &Settings,
    scorer: &Scorer,
) -> Result<Candidate, String> {
    let mem = memory::breakdown(spec, &p, cfg)?;
    let mut shortfall = Bytes::ZERO;
    let mut short_device = None;
    for (d, b) in &mem {
        let miss = b.total() - budget(hw, *d);
        if miss > shortfall {
            shortfall = miss;
            short_device = Some(*d);
        }
    }
    let layout = layout_for(spec, &p, cfg, &mem);
    let speed = scorer(&layout, hw, settings);
    Ok(Candidate {
        placement: p,
        memory: mem,
        layout,
        speed,
        shortfall,
        short_device,
    })
}

/// Free-memory shares for a layer split (`--tensor-split`), as the engine's default
/// split does (`llama_model::load_tensors`), in GiB rounded to one decimal.
fn split_by_free(hw: &HardwareSnapshot, gpus: &[u32]) -> Vec<f64> {
    gpus.iter()
        .map(|i| (budget(hw, DeviceId::Gpu(*i)).gib() * 10.0).round() / 10.0)
        .collect()
}

/// What the user pinned about placement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlacementPins {
    pub ngl: Option<u32>,
    pub n_cpu_moe: Option<u32>,
    pub tensor_split: Option<Vec<f64>>,
}

/// All candidate placements for this model and machine, honouring the pins.
pub fn candidates(spec: &ModelSpec, hw: &HardwareSnapshot, pins: &PlacementPins) -> Vec<Placement> {
    let all = spec.n_layer + 1;
    let mut gpu_sets: Vec<Vec<u32>> = Vec::new();
    let every: Vec<u32> = hw.gpus.iter().map(|g| g.index).collect();
    if !every.is_empty() {
        gpu_sets.push(every.clone());
        if every.len() > 1 && pins.tensor_split.is_none() {
            for g in &every {
                gpu_sets.push(vec![*g]);
            }
        }
    }
    let mut out = Vec::new();
    for gpus in &gpu_sets {
        let split = match &pins.tensor_split {
            Some(s) => s.clone(),
            None if gpus.len() > 1 => split_by_free(hw, gpus),
            None => Vec::new(),
        };
        let ngls: Vec<u32> = match pins.ngl {
            Some(n) => vec![n.min(all)],
            None => (0..=all).rev().collect(),
        };
        for ngl in ngls {
            if ngl == 0 {
                continue;
            }
            let moes: Vec<u32> = match pins.n_cpu_moe {
                Some(n) => vec![n.min(spec.n_layer)],
                None if spec.is_moe() && ngl == all => (0..=spec.n_layer).collect(),
                None => vec![0],
            };
            for n_cpu_moe in moes {
                out.push(Placement {
                    n_gpu_layers: ngl,
                    gpus: gpus.clone(),
                    tensor_split: split.clone(),
                    n_cpu_moe,
                    expert_overrides: Vec::new(),
                });
            }
        }
    }
    if pins.ngl.unwrap_or(0) == 0 {
        let mut cpu = Placement::cpu_only();
        cpu.n_cpu_moe = pins.n_cpu_moe.unwrap_or(0);
        out.push(cpu);
    }
    out
}

/// Evaluates every candidate; returns them best first (fitting ones before the rest).
pub fn search(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    cfg: &MemoryConfig,
    settings: &Settings,
    pins: &PlacementPins,
    scorer: &Scorer,
) -> Result<Vec<Candidate>, String> {
    let mut out = Vec::new();
    for p in candidates(spec, hw, pins) {
        out.push(evaluate(spec, hw, p, cfg, settings, scorer)?);
    }
    out.sort_by(|a, b| {
        b.fits()
            .cmp(&a.fits())
            .then(
                b.speed
                    .tg_tokens_per_s
                    .partial_cmp(&a.speed.tg_tokens_per_s)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
            .then(a.shortfall.cmp(&b.shortfall))
    });
    Ok(out)
}
