//! Placement search: where layers and experts go, maximising predicted decode speed
//! subject to every device's free memory minus its margin.
//!
//! Candidates: everything on the GPU(s); for MoE, all layers on the GPUs with the routed
//! experts of the first N layers in system RAM (`-ngl 999 --n-cpu-moe N`, N searched);
//! partial `-ngl` (dense models, and MoE for comparison); multi-GPU layer split weighted
//! by free memory (`--tensor-split`); with two or more GPUs and an engine and
//! architecture that support it, the same shapes as a tensor-parallel split (mainline
//! `-sm tensor`, ik `-sm graph`; [`parallel_candidates`]); CPU only. Each candidate
//! becomes a [`Layout`] and is ranked by the scorer passed in. Pure: no I/O.

use crate::engine::split_modes::{self, SplitContext};
use crate::hardware::{GpuVendor, HardwareSnapshot};
use crate::model::{ModelSpec, TensorClass};
use crate::planner::layout::{DeviceId, DeviceLoad, Layout};
use crate::planner::memory::{
    self, split, weights, weights::GpuSplit, weights::Placement, DeviceBytes, MemoryConfig,
};
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
    if p.is_parallel() {
        return parallel_layout_for(spec, p, cfg, mem);
    }
    let depth = cfg.n_ctx / 2;
    let map = weights::DeviceMap::new(spec, p);
    let active = weights::active_bytes_by_device(spec, p, &map);
    let kv_layers = memory::kv::per_layer(spec, cfg).unwrap_or_default();
    let used = u64::from(spec.expert_used.max(1));
    let count = u64::from(spec.expert_count.max(1));
    // Active parameters per device, one pass over the tensors.
    let mut params: Vec<(DeviceId, u64)> = Vec::new();
    for t in spec
        .tensors
        .iter()
        .filter(|t| t.class != TensorClass::TokenEmbedding)
    {
        let Some(d) = weights::tensor_device(p, &map, t) else {
            continue;
        };
        let n: u64 = t.dims.iter().product();
        let n = if t.class == TensorClass::RoutedExperts {
            n / count * used
        } else {
            n
        };
        match params.iter_mut().find(|(x, _)| *x == d) {
            Some((_, v)) => *v += n,
            None => params.push((d, n)),
        }
    }
    let mut devices = Vec::new();
    for (d, b) in mem {
        let (act, routed) = active
            .iter()
            .find(|(x, _, _)| x == d)
            .map(|(_, a, r)| (*a, *r))
            .unwrap_or((Bytes::ZERO, Bytes::ZERO));
        let mut kv_read = Bytes::ZERO;
        for l in &kv_layers {
            if map.layer(l.layer) == *d {
                if let Some(per_cell) = l.attention.0.checked_div(l.cells) {
                    kv_read += Bytes(per_cell * depth.min(l.cells));
                }
                kv_read += l.recurrent;
            }
        }
        let layers = (0..spec.n_layer).filter(|il| map.layer(*il) == *d).count() as u32;
        let active_params = params
            .iter()
            .find(|(x, _)| x == d)
            .map(|(_, n)| *n)
            .unwrap_or(0);
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
        path.push(map.layer(il));
        if il < spec.n_layer && il < p.n_cpu_moe && spec.is_moe() {
            // experts of this layer run on the CPU: out and back.
            path.push(DeviceId::Cpu);
            path.push(map.layer(il));
        }
    }
    path.dedup();
    let host_experts: Bytes = spec
        .tensors
        .iter()
        .filter(|t| t.class == TensorClass::RoutedExperts)
        .filter(|t| {
            weights::tensor_device(p, &map, t) == Some(DeviceId::Cpu)
                && t.layer.is_some_and(|il| map.layer(il) != DeviceId::Cpu)
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

/// [`layout_for`] of a tensor-parallel placement: every GPU holds and reads its share of
/// each GPU layer (`memory::split`) and runs every GPU layer, so each GPU's `layers` is
/// the number of GPU blocks; the GPUs count as one stop on the per-token path (their
/// per-layer all-reduces are the speed model's business, `perf::decode`).
fn parallel_layout_for(
    spec: &ModelSpec,
    p: &Placement,
    cfg: &MemoryConfig,
    mem: &[(DeviceId, DeviceBytes)],
) -> Layout {
    let depth = cfg.n_ctx / 2;
    let map = weights::DeviceMap::new(spec, p);
    let w = split::weights(spec, p, &map, split::output_is_split(cfg));
    let kv = split::kv_by_device(spec, p, cfg, &map, depth).unwrap_or_default();
    let on_cpu = |il: u32| map.layer(il) == DeviceId::Cpu;
    let cpu_blocks = (0..spec.n_layer).filter(|il| on_cpu(*il)).count() as u32;
    let gpu_blocks = spec.n_layer - cpu_blocks;
    let mut devices = Vec::new();
    for (d, b) in mem {
        let (act, routed, params) = w
            .iter()
            .find(|x| x.device == *d)
            .map(|x| (x.active, x.routed, x.active_params))
            .unwrap_or((Bytes::ZERO, Bytes::ZERO, 0));
        let kv_read = kv
            .iter()
            .find(|(x, _, _)| x == d)
            .map(|(_, _, r)| *r)
            .unwrap_or(Bytes::ZERO);
        devices.push(DeviceLoad {
            device: *d,
            weight_bytes: b.weights,
            active_weight_bytes_per_token: act,
            routed_expert_bytes: routed,
            kv_bytes: b.kv,
            kv_read_bytes_per_token: kv_read,
            compute_bytes: b.compute,
            layers: if *d == DeviceId::Cpu {
                cpu_blocks
            } else {
                gpu_blocks
            },
            active_params: params,
        });
    }
    // Per-token path with the GPUs as one stop: input (CPU) -> blocks -> output.
    let stop = |il: u32| on_cpu(il);
    let mut path: Vec<bool> = vec![true];
    for il in 0..=spec.n_layer {
        path.push(stop(il));
        if il < spec.n_layer && il < p.n_cpu_moe && spec.is_moe() {
            path.push(true);
            path.push(stop(il));
        }
    }
    path.dedup();
    let host_experts: Bytes = spec
        .tensors
        .iter()
        .filter(|t| t.class == TensorClass::RoutedExperts)
        .filter(|t| {
            weights::tensor_device(p, &map, t) == Some(DeviceId::Cpu)
                && t.layer.is_some_and(|il| !on_cpu(il))
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
    scorer: &Scorer<'_>,
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
    // The speed model reads the split mode from the settings.
    let speed = if p.is_parallel() {
        let s = Settings {
            split_mode: split_modes::parallel_mode(cfg.engine).name.into(),
            ..settings.clone()
        };
        scorer(&layout, hw, &s)
    } else {
        scorer(&layout, hw, settings)
    };
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
    /// Pinned multi-GPU split: `Some(Layer)` for `-sm layer|none|row|attn`,
    /// `Some(Parallel)` for the engine's tensor-parallel mode; `None` lets speed choose.
    pub gpu_split: Option<GpuSplit>,
}

/// Shortfall of a placement (zero when every device fits), without scoring it.
pub fn shortfall(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    p: &Placement,
    cfg: &MemoryConfig,
) -> Result<Bytes, String> {
    let mem = memory::breakdown(spec, p, cfg)?;
    Ok(mem
        .iter()
        .map(|(d, b)| b.total() - budget(hw, *d))
        .max()
        .unwrap_or(Bytes::ZERO))
}

/// The GPU sets and split proportions worth trying: all GPUs with a split by free
/// memory (and, for MoE hybrids, that split shifted towards the first GPU, whose
/// layers give up their experts first under `--n-cpu-moe`), and each GPU alone.
fn gpu_layouts(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    pins: &PlacementPins,
) -> Vec<(Vec<u32>, Vec<f64>)> {
    let every: Vec<u32> = hw.gpus.iter().map(|g| g.index).collect();
    let mut out = Vec::new();
    if every.is_empty() {
        return out;
    }
    match &pins.tensor_split {
        Some(ts) => out.push((every.clone(), ts.clone())),
        None if every.len() > 1 => {
            let base = split_by_free(hw, &every);
            out.push((every.clone(), base.clone()));
            if spec.is_moe() {
                for shift in [0.1, 0.2, 0.3] {
                    let mut v = base.clone();
                    v[0] *= 1.0 + shift;
                    out.push((
                        every.clone(),
                        v.iter().map(|x| (x * 10.0).round() / 10.0).collect(),
                    ));
                }
            }
            for g in &every {
                out.push((vec![*g], Vec::new()));
            }
        }
        None => out.push((every, Vec::new())),
    }
    out
}

/// Smallest `n` in `lo..=hi` for which `fits(n)` holds, assuming it stays true above.
fn first_fitting(
    lo: u32,
    hi: u32,
    mut fits: impl FnMut(u32) -> Result<bool, String>,
) -> Result<Option<u32>, String> {
    if lo > hi || !fits(hi)? {
        return Ok(None);
    }
    let (mut a, mut b) = (lo, hi);
    while a < b {
        let mid = a + (b - a) / 2;
        if fits(mid)? {
            b = mid;
        } else {
            a = mid + 1;
        }
    }
    Ok(Some(a))
}

/// The candidate placements worth scoring for this model and machine, honouring the
/// pins. Instead of scoring every `--n-cpu-moe` and `-ngl` value, it bisects for the
/// boundary of what fits (more on the GPU is never slower in a bandwidth model) and
/// keeps the boundary, one step back (runner-up), and the closest miss.
pub fn candidates(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    cfg: &MemoryConfig,
    pins: &PlacementPins,
) -> Result<Vec<Placement>, String> {
    let all = spec.n_layer + 1;
    let mut out = Vec::new();
    let n_all_gpus = hw.gpus.len();
    // Set once the all-GPU layout is known to hold everything: single-GPU layouts and
    // shifted splits then cannot do better.
    let mut base_holds_all = false;
    for (gpus, split) in gpu_layouts(spec, hw, pins) {
        let mk = |ngl: u32, ncmoe: u32| Placement {
            n_gpu_layers: ngl,
            gpus: gpus.clone(),
            tensor_split: split.clone(),
            n_cpu_moe: ncmoe,
            expert_overrides: Vec::new(),
            gpu_split: weights::GpuSplit::Layer,
        };
        let fits = |p: &Placement| -> Result<bool, String> {
            Ok(shortfall(spec, hw, p, cfg)? == Bytes::ZERO)
        };
        let is_base = gpus.len() == n_all_gpus && out.is_empty();
        if !is_base && base_holds_all {
            continue;
        }
        if is_base && pins.ngl.is_none() && pins.n_cpu_moe.is_none() && fits(&mk(all, 0))? {
            base_holds_all = true;
            out.push(mk(all, 0));
            continue;
        }
        if gpus.len() == 1 && n_all_gpus > 1 && !fits(&mk(all, 0))? {
            // One GPU of several that cannot hold the model alone: using both is better.
            continue;
        }
        match (pins.ngl, pins.n_cpu_moe) {
            (Some(n), Some(m)) => out.push(mk(n.min(all), m.min(spec.n_layer))),
            (ngl_pin, None) if spec.is_moe() && ngl_pin.is_none_or(|n| n >= all) => {
                // MoE hybrid: all layers on the GPUs, experts of the first N in RAM.
                match first_fitting(0, spec.n_layer, |m| fits(&mk(all, m)))? {
                    Some(m) => {
                        out.push(mk(all, m));
                        if m < spec.n_layer {
                            out.push(mk(all, m + 1));
                        }
                    }
                    None => out.push(mk(all, spec.n_layer)),
                }
                if ngl_pin.is_none() {
                    // Partial -ngl for comparison (the seeds' approach).
                    let best = first_fitting(0, all - 1, |k| fits(&mk(all - 1 - k, 0)))?;
                    if let Some(k) = best {
                        if all - 1 - k > 0 {
                            out.push(mk(all - 1 - k, 0));
                        }
                    }
                }
            }
            (ngl_pin, m_pin) => {
                let m = m_pin.unwrap_or(0).min(spec.n_layer);
                match ngl_pin {
                    Some(n) => out.push(mk(n.min(all), m)),
                    None => match first_fitting(0, all - 1, |k| fits(&mk(all - k, m)))? {
                        Some(k) => {
                            out.push(mk(all - k, m));
                            if all - k > 1 {
                                out.push(mk(all - k - 1, m));
                            }
                        }
                        None => out.push(mk(1, m)),
                    },
                }
            }
        }
    }
    // Tensor-parallel shapes (a separate helper: see its doc); a pinned split keeps only
    // its own kind of multi-GPU candidate.
    match pins.gpu_split {
        Some(GpuSplit::Parallel) => {
            out.retain(|p| p.gpus.is_empty() || p.n_gpu_layers == 0);
            out.extend(parallel_candidates(spec, hw, cfg, pins)?);
        }
        Some(GpuSplit::Layer) => {}
        None => out.extend(parallel_candidates(spec, hw, cfg, pins)?),
    }
    if pins.ngl.unwrap_or(0) == 0 {
        let mut cpu = Placement::cpu_only();
        cpu.n_cpu_moe = pins.n_cpu_moe.unwrap_or(0);
        out.push(cpu);
    }
    out.retain(|p| p.n_gpu_layers > 0 || p.gpus.is_empty() || pins.ngl == Some(0));
    Ok(out)
}

/// Whether the engine would run its tensor-parallel split for this model on these GPUs
/// with this context configuration (`engine::split_modes`).
pub fn parallel_split_possible(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    cfg: &MemoryConfig,
) -> bool {
    let vendors: Vec<GpuVendor> = hw.gpus.iter().map(|g| g.vendor).collect();
    split_modes::parallel_supported(
        cfg.engine,
        &SplitContext {
            architecture: &spec.architecture,
            gpu_vendors: &vendors,
            flash_attn: cfg.flash_attn,
            cpu_experts: false,
        },
    )
}

/// Tensor-parallel candidates over all GPUs (mainline `-sm tensor`, ik `-sm graph`),
/// when the engine supports it for this architecture: everything on the GPUs; for MoE
/// the fewest `--n-cpu-moe` layers that fit (both engines keep those experts whole in
/// RAM under a parallel split, see `engine::split_modes`); for dense models the most
/// `-ngl` layers that fit. At most two placements, so the search stays cheap.
pub fn parallel_candidates(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    cfg: &MemoryConfig,
    pins: &PlacementPins,
) -> Result<Vec<Placement>, String> {
    if hw.gpus.len() < 2 || !parallel_split_possible(spec, hw, cfg) {
        return Ok(Vec::new());
    }
    let gpus: Vec<u32> = hw.gpus.iter().map(|g| g.index).collect();
    let split = pins
        .tensor_split
        .clone()
        .unwrap_or_else(|| split_by_free(hw, &gpus));
    let all = spec.n_layer + 1;
    let mk = |ngl: u32, ncmoe: u32| Placement {
        n_gpu_layers: ngl,
        gpus: gpus.clone(),
        tensor_split: split.clone(),
        n_cpu_moe: ncmoe,
        expert_overrides: Vec::new(),
        gpu_split: GpuSplit::Parallel,
    };
    let fits =
        |p: &Placement| -> Result<bool, String> { Ok(shortfall(spec, hw, p, cfg)? == Bytes::ZERO) };
    let mut out = Vec::new();
    match (pins.ngl, pins.n_cpu_moe) {
        (Some(n), m) => out.push(mk(n.min(all), m.unwrap_or(0).min(spec.n_layer))),
        (None, Some(m)) => out.push(mk(all, m.min(spec.n_layer))),
        (None, None) => {
            let full = mk(all, 0);
            if fits(&full)? {
                out.push(full);
            } else if spec.is_moe() {
                let m = fewest_expert_layers_in_ram(spec, hw, cfg, &full)?;
                out.push(mk(all, m));
            } else {
                match first_fitting(1, all - 1, |k| fits(&mk(all - k, 0)))? {
                    Some(k) => out.push(mk(all - k, 0)),
                    None => out.push(full),
                }
            }
        }
    }
    Ok(out)
}

/// The fewest `--n-cpu-moe` layers that make a parallel placement fit. Moving the
/// experts of layer `l` to RAM frees `share x expert bytes of l` on every GPU, so the
/// count each GPU's overshoot needs is a lower bound; it is then checked with the full
/// accounting and raised until it fits (usually once), instead of a bisection.
fn fewest_expert_layers_in_ram(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    cfg: &MemoryConfig,
    full: &Placement,
) -> Result<u32, String> {
    let mem = memory::breakdown(spec, full, cfg)?;
    let mut per_layer = vec![0u64; spec.n_layer as usize];
    for t in spec
        .tensors
        .iter()
        .filter(|t| t.class == TensorClass::RoutedExperts)
    {
        if let Some(b) = t.layer.and_then(|il| per_layer.get_mut(il as usize)) {
            *b += t.bytes.0;
        }
    }
    let mut need = 0u32;
    for ((d, b), (_, share)) in mem
        .iter()
        .filter(|(d, _)| *d != DeviceId::Cpu)
        .zip(split::shares(full))
    {
        let miss = (b.total() - budget(hw, *d)).0;
        let (mut freed, mut m) = (0u64, 0u32);
        while freed < miss && (m as usize) < per_layer.len() {
            freed += (per_layer[m as usize] as f64 * share) as u64;
            m += 1;
        }
        need = need.max(m);
    }
    let with = |m: u32| Placement {
        n_cpu_moe: m,
        ..full.clone()
    };
    while need < spec.n_layer && shortfall(spec, hw, &with(need), cfg)? > Bytes::ZERO {
        need += 1;
    }
    Ok(need)
}

/// Evaluates the candidates; returns them best first (fitting ones before the rest).
pub fn search(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    cfg: &MemoryConfig,
    settings: &Settings,
    pins: &PlacementPins,
    scorer: &Scorer<'_>,
) -> Result<Vec<Candidate>, String> {
    let mut out = Vec::new();
    for p in candidates(spec, hw, cfg, pins)? {
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
