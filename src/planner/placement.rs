//! Placement search: where layers and experts go, maximising predicted decode speed
//! subject to every device's free memory minus its margin.
//!
//! Candidates: everything on the GPU(s); for MoE, all layers on the GPUs with the routed
//! experts of the first N layers in system RAM (`-ngl 999 --n-cpu-moe N`, N searched);
//! partial `-ngl` (dense models, and MoE for comparison); multi-GPU layer split weighted
//! by free memory (`--tensor-split`); for MoE on several GPUs, the same split with each
//! GPU filled to its own budget by moving the routed experts of just enough of *its*
//! layers to the CPU or to a GPU with room (`-ot`, [`expert_fill_candidates`]); with two
//! or more GPUs and an engine and architecture that support it, the same shapes as a
//! tensor-parallel split (mainline `-sm tensor`, ik `-sm graph`; [`parallel_candidates`]);
//! CPU only. Each candidate becomes a [`Layout`] and is ranked by the scorer passed in.
//! Pure: no I/O.

use crate::engine::split_modes::{self, SplitContext};
use crate::hardware::{GpuVendor, HardwareSnapshot};
use crate::model::{ModelSpec, TensorClass};
use crate::plan::{DeviceId, DeviceLoad, Layout, Settings, Speed};
use crate::planner::devices::Devices;
use crate::planner::memory::{
    self, split, weights, weights::GpuSplit, weights::Placement, DeviceBytes, MemoryConfig,
};
use crate::planner::Scorer;
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
    Layout {
        devices,
        boundary_crossings: path_crossings(spec, p, &map, false),
        host_experts_offloaded_bytes: host_expert_bytes(spec, p, &map),
        depth_tokens: depth,
        n_embd: spec.n_embd,
    }
}

/// Device changes along the per-token path: input (CPU) -> blocks -> output. A block
/// whose routed experts live elsewhere (`--n-cpu-moe`, `-ot`) goes there and back: the
/// scheduler runs a matmul where its weight lives (ggml_backend_sched). Under a
/// tensor-parallel split (`gpus_as_one`) all GPUs run every GPU block together and count
/// as one stop; their all-reduces are the speed model's business (`perf::decode`).
fn path_crossings(
    spec: &ModelSpec,
    p: &Placement,
    map: &weights::DeviceMap,
    gpus_as_one: bool,
) -> u32 {
    let stop = |d: DeviceId| {
        if gpus_as_one && d.is_gpu() {
            DeviceId::gpu(0)
        } else {
            d
        }
    };
    let experts = expert_devices(spec, p, map);
    let mut path: Vec<DeviceId> = vec![DeviceId::CPU];
    for il in 0..=spec.n_layer {
        let home = stop(map.layer(il));
        path.push(home);
        if let Some(Some(e)) = experts.get(il as usize) {
            if stop(*e) != home {
                path.push(stop(*e));
                path.push(home);
            }
        }
    }
    path.dedup();
    path.len().saturating_sub(1) as u32
}

/// Routed-expert bytes kept in system RAM while their block runs on a GPU.
fn host_expert_bytes(spec: &ModelSpec, p: &Placement, map: &weights::DeviceMap) -> Bytes {
    spec.tensors
        .iter()
        .filter(|t| t.class == TensorClass::RoutedExperts)
        .filter(|t| {
            weights::tensor_device(p, map, t) == Some(DeviceId::CPU)
                && t.layer.is_some_and(|il| map.layer(il) != DeviceId::CPU)
        })
        .map(|t| t.bytes)
        .sum()
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
    let on_cpu = |il: u32| map.layer(il) == DeviceId::CPU;
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
            layers: if *d == DeviceId::CPU {
                cpu_blocks
            } else {
                gpu_blocks
            },
            active_params: params,
        });
    }
    Layout {
        devices,
        boundary_crossings: path_crossings(spec, p, &map, true),
        host_experts_offloaded_bytes: host_expert_bytes(spec, p, &map),
        depth_tokens: depth,
        n_embd: spec.n_embd,
    }
}

/// The device holding each block's routed experts (`None`: no routed experts loaded).
pub fn expert_devices(
    spec: &ModelSpec,
    p: &Placement,
    map: &weights::DeviceMap,
) -> Vec<Option<DeviceId>> {
    let mut out = vec![None; spec.n_layer as usize];
    for t in spec
        .tensors
        .iter()
        .filter(|t| t.class == TensorClass::RoutedExperts)
    {
        if let (Some(il), Some(d)) = (t.layer, weights::tensor_device(p, map, t)) {
            if let Some(slot) = out.get_mut(il as usize) {
                *slot = Some(d);
            }
        }
    }
    out
}

/// Evaluates one placement: memory, fit and speed.
pub fn evaluate(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    p: Placement,
    cfg: &MemoryConfig,
    settings: &Settings,
    scorer: &Scorer<'_>,
) -> Result<Candidate, String> {
    let mem = memory::breakdown(spec, &p, cfg)?;
    let (shortfall, short_device) = devices.shortfall(&mem);
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
fn split_by_free(devices: &Devices, gpus: &[u32]) -> Vec<f64> {
    gpus.iter()
        .map(|i| (devices.budget(DeviceId::gpu(*i)).gib() * 10.0).round() / 10.0)
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
    devices: &Devices,
    p: &Placement,
    cfg: &MemoryConfig,
) -> Result<Bytes, String> {
    let mem = memory::breakdown(spec, p, cfg)?;
    Ok(devices.shortfall(&mem).0)
}

/// The GPU sets and split proportions worth trying: all GPUs with a split by free
/// memory, and each GPU alone. (Splits shifted towards the first GPU, which gives up
/// its experts first under `--n-cpu-moe`, were tried here before the per-GPU `-ot` fill
/// existed; over 72 rig × model × quant × engine plans they no longer changed a single
/// outcome and cost a third of the planning time, so they are gone.)
fn gpu_layouts(
    hw: &HardwareSnapshot,
    devices: &Devices,
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
            let base = split_by_free(devices, &every);
            out.push((every.clone(), base.clone()));
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
    devices: &Devices,
    cfg: &MemoryConfig,
    pins: &PlacementPins,
) -> Result<Vec<Placement>, String> {
    let all = spec.n_layer + 1;
    let mut out = Vec::new();
    let n_all_gpus = hw.gpus.len();
    // Set once the all-GPU layout is known to hold everything: single-GPU layouts then
    // cannot do better.
    let mut base_holds_all = false;
    for (gpus, split) in gpu_layouts(hw, devices, pins) {
        let mk = |ngl: u32, ncmoe: u32| Placement {
            n_gpu_layers: ngl,
            gpus: gpus.clone(),
            tensor_split: split.clone(),
            n_cpu_moe: ncmoe,
            expert_overrides: Vec::new(),
            gpu_split: GpuSplit::Layer,
        };
        let fits = |p: &Placement| -> Result<bool, String> {
            Ok(shortfall(spec, devices, p, cfg)? == Bytes::ZERO)
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
    out.extend(expert_fill_candidates(spec, hw, devices, cfg, pins)?);
    // Tensor-parallel shapes (a separate helper: see its doc); a pinned split keeps only
    // its own kind of multi-GPU candidate.
    match pins.gpu_split {
        Some(GpuSplit::Parallel) => {
            out.retain(|p| p.gpus.is_empty() || p.n_gpu_layers == 0);
            out.extend(parallel_candidates(spec, hw, devices, cfg, pins)?);
        }
        Some(GpuSplit::Layer) => {}
        None => out.extend(parallel_candidates(spec, hw, devices, cfg, pins)?),
    }
    if pins.ngl.unwrap_or(0) == 0 {
        let mut cpu = Placement::cpu_only();
        cpu.n_cpu_moe = pins.n_cpu_moe.unwrap_or(0);
        out.push(cpu);
    }
    out.retain(|p| p.n_gpu_layers > 0 || p.gpus.is_empty() || pins.ngl == Some(0));
    Ok(out)
}

/// Routed-expert bytes of each block on `gpu` whose experts still live there, as the GPU
/// buffer holds them (each tensor padded to the GPU buffer alignment, `weights::alignment`).
fn gpu_expert_bytes(
    spec: &ModelSpec,
    p: &Placement,
    map: &weights::DeviceMap,
    gpu: DeviceId,
) -> Vec<(u32, Bytes)> {
    let mut out: Vec<(u32, Bytes)> = Vec::new();
    for t in spec
        .tensors
        .iter()
        .filter(|t| t.class == TensorClass::RoutedExperts)
    {
        let Some(il) = t.layer else { continue };
        if map.layer(il) != gpu || weights::tensor_device(p, map, t) != Some(gpu) {
            continue;
        }
        let b = Bytes(memory::pad_to(t.bytes.0, weights::alignment(gpu)));
        match out.iter_mut().find(|(l, _)| *l == il) {
            Some((_, v)) => *v += b,
            None => out.push((il, b)),
        }
    }
    out
}

/// The blocks whose experts should leave a GPU that is `over` bytes over its budget,
/// from `layers` (block, expert bytes). What leaves costs CPU (or other-GPU) reads in
/// proportion to its bytes plus one round trip per block, so the pick frees at least
/// `over` with as few blocks and as little excess as it cheaply can: the largest blocks
/// first, and the last pick the smallest block that covers what is still missing. Ties
/// go to the lower block index (as `--n-cpu-moe` would). Returns fewer bytes than `over`
/// only when the GPU's experts are exhausted.
fn pick_expert_layers(layers: &[(u32, Bytes)], over: Bytes) -> Vec<u32> {
    let mut pool: Vec<(u32, Bytes)> = layers
        .iter()
        .copied()
        .filter(|(_, b)| *b > Bytes::ZERO)
        .collect();
    let mut picked = Vec::new();
    let mut missing = over;
    while missing > Bytes::ZERO && !pool.is_empty() {
        let covering = pool
            .iter()
            .enumerate()
            .filter(|(_, (_, b))| *b >= missing)
            .min_by_key(|(_, (il, b))| (*b, *il))
            .map(|(i, _)| i);
        let i = match covering {
            Some(i) => i,
            None => pool
                .iter()
                .enumerate()
                .max_by_key(|(_, (il, b))| (*b, std::cmp::Reverse(*il)))
                .map(|(i, _)| i)
                .unwrap_or(0),
        };
        let (il, b) = pool.swap_remove(i);
        picked.push(il);
        missing = missing - b;
    }
    picked.sort_unstable();
    picked
}

/// Per-GPU expert fill for MoE models on several GPUs: the layer split as the engine
/// makes it, then on every GPU over its budget the routed experts of just enough of
/// *that GPU's* blocks move out (`-ot`), so each GPU is filled to its own budget instead
/// of `--n-cpu-moe` emptying the first GPU. Two variants: everything that leaves goes to
/// the CPU; or, where another GPU has room for a block's experts, to that GPU (VRAM
/// reads, at the price of a GPU↔GPU round trip). Nothing with one GPU (`--n-cpu-moe` is
/// equivalent there) or when `-ngl`/`--n-cpu-moe` are pinned.
pub fn expert_fill_candidates(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    cfg: &MemoryConfig,
    pins: &PlacementPins,
) -> Result<Vec<Placement>, String> {
    let all = spec.n_layer + 1;
    if !spec.is_moe()
        || hw.gpus.len() < 2
        || pins.n_cpu_moe.is_some()
        || pins.ngl.is_some_and(|n| n < all)
    {
        return Ok(Vec::new());
    }
    let Some((gpus, split)) = gpu_layouts(hw, devices, pins)
        .into_iter()
        .find(|(g, _)| g.len() > 1)
    else {
        return Ok(Vec::new());
    };
    let base = Placement {
        n_gpu_layers: all,
        gpus: gpus.clone(),
        tensor_split: split,
        n_cpu_moe: 0,
        expert_overrides: Vec::new(),
        gpu_split: GpuSplit::Layer,
    };
    let map = weights::DeviceMap::new(spec, &base);
    let over_and_spare = |p: &Placement| -> Result<Vec<(DeviceId, Bytes, Bytes)>, String> {
        Ok(memory::breakdown(spec, p, cfg)?
            .into_iter()
            .filter(|(d, _)| d.is_gpu())
            .map(|(d, b)| {
                (
                    d,
                    b.total() - devices.budget(d),
                    devices.budget(d) - b.total(),
                )
            })
            .collect())
    };
    let first = over_and_spare(&base)?;
    if first.iter().all(|(_, over, _)| *over == Bytes::ZERO) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    // Experts can only be sent to a GPU the engine's `-ot` can name.
    let spills = if super::expert_overrides::gpus_nameable(hw, &base) {
        &[false, true][..]
    } else {
        &[false][..]
    };
    for &spill in spills {
        let mut p = base.clone();
        let mut spare: Vec<(DeviceId, Bytes)> = first
            .iter()
            .filter(|(_, over, _)| *over == Bytes::ZERO)
            .map(|(d, _, s)| (*d, *s))
            .collect();
        // The first round sizes every GPU's excess; later rounds correct what an estimate
        // missed (a receiving GPU that ends up over gives its own experts to the CPU).
        let mut state = first.clone();
        for _round in 0..3 {
            let mut changed = false;
            for (gpu, over, _) in &state {
                if *over == Bytes::ZERO {
                    continue;
                }
                let layers = gpu_expert_bytes(spec, &p, &map, *gpu);
                for il in pick_expert_layers(&layers, *over) {
                    let bytes = layers
                        .iter()
                        .find(|(l, _)| *l == il)
                        .map(|(_, b)| *b)
                        .unwrap_or(Bytes::ZERO);
                    let mut dest = DeviceId::CPU;
                    if spill {
                        let roomiest = spare
                            .iter_mut()
                            .filter(|(d, s)| d != gpu && *s >= bytes)
                            .max_by_key(|(_, s)| *s);
                        if let Some((d, s)) = roomiest {
                            *s = *s - bytes;
                            dest = *d;
                        }
                    }
                    p.expert_overrides.push((il, dest));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
            state = over_and_spare(&p)?;
            if state.iter().all(|(_, over, _)| *over == Bytes::ZERO) {
                break;
            }
        }
        p.expert_overrides.sort_unstable();
        let spilled = p.expert_overrides.iter().any(|(_, d)| *d != DeviceId::CPU);
        if !p.expert_overrides.is_empty() && (!spill || spilled) && !out.contains(&p) {
            out.push(p);
        }
    }
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
    devices: &Devices,
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
        .unwrap_or_else(|| split_by_free(devices, &gpus));
    let all = spec.n_layer + 1;
    let mk = |ngl: u32, ncmoe: u32| Placement {
        n_gpu_layers: ngl,
        gpus: gpus.clone(),
        tensor_split: split.clone(),
        n_cpu_moe: ncmoe,
        expert_overrides: Vec::new(),
        gpu_split: GpuSplit::Parallel,
    };
    let fits = |p: &Placement| -> Result<bool, String> {
        Ok(shortfall(spec, devices, p, cfg)? == Bytes::ZERO)
    };
    let mut out = Vec::new();
    match (pins.ngl, pins.n_cpu_moe) {
        (Some(n), m) => out.push(mk(n.min(all), m.unwrap_or(0).min(spec.n_layer))),
        (None, Some(m)) => out.push(mk(all, m.min(spec.n_layer))),
        (None, None) => {
            let full = mk(all, 0);
            if fits(&full)? {
                out.push(full);
            } else if spec.is_moe() {
                let m = fewest_expert_layers_in_ram(spec, devices, cfg, &full)?;
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
    devices: &Devices,
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
        .filter(|(d, _)| *d != DeviceId::CPU)
        .zip(split::shares(full))
    {
        let miss = (b.total() - devices.budget(*d)).0;
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
    while need < spec.n_layer && shortfall(spec, devices, &with(need), cfg)? > Bytes::ZERO {
        need += 1;
    }
    Ok(need)
}

/// Evaluates the candidates; returns them best first (fitting ones before the rest).
pub fn search(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    devices: &Devices,
    cfg: &MemoryConfig,
    settings: &Settings,
    pins: &PlacementPins,
    scorer: &Scorer<'_>,
) -> Result<Vec<Candidate>, String> {
    let mut out = Vec::new();
    for p in candidates(spec, hw, devices, cfg, pins)? {
        out.push(evaluate(spec, hw, devices, p, cfg, settings, scorer)?);
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
    prefer_plain_on_a_tie(&mut out);
    Ok(out)
}

/// Per-block `-ot` expert placements must beat the best plain placement (whole-layer
/// `--n-cpu-moe`, no overrides) by this factor to be chosen: the speed model cannot
/// tell apart placements that move the same expert bytes, and a tie should give the
/// shorter command.
pub const EXPERT_OVERRIDE_MARGIN: f64 = 1.01;

/// Moves the best fitting plain placement to the front when the best candidate uses
/// per-block overrides and is not [`EXPERT_OVERRIDE_MARGIN`] faster than it.
fn prefer_plain_on_a_tie(out: &mut [Candidate]) {
    let Some(top) = out.first() else { return };
    if !top.fits() || top.placement.expert_overrides.is_empty() {
        return;
    }
    let top_tg = top.speed.tg_tokens_per_s;
    if let Some(i) = out
        .iter()
        .position(|c| c.fits() && c.placement.expert_overrides.is_empty())
    {
        if out[i].speed.tg_tokens_per_s * EXPERT_OVERRIDE_MARGIN >= top_tg {
            out[..=i].rotate_right(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgmlType;
    use crate::planner::testing::rig;

    fn b(v: &[(u32, u64)]) -> Vec<(u32, Bytes)> {
        v.iter().map(|(l, x)| (*l, Bytes(*x))).collect()
    }

    #[test]
    fn picks_few_blocks_and_little_excess() {
        // Equal blocks of 100, 250 over: 100 + 100 leave 50 missing, then the smallest
        // block covering 50 (any 100; the lowest index) -> 300 freed by 3 blocks.
        assert_eq!(
            pick_expert_layers(&b(&[(0, 100), (1, 100), (2, 100), (3, 100)]), Bytes(250)),
            vec![0, 1, 2]
        );
        // 170 over: the largest (120) first, then the smallest covering the 50 left is
        // block 3 (80): 200 freed, not 220 with block 1.
        assert_eq!(
            pick_expert_layers(&b(&[(0, 120), (1, 100), (2, 100), (3, 80)]), Bytes(170)),
            vec![0, 3]
        );
        // 90 over: one block covers it; the smallest that does (100), not the 120.
        assert_eq!(
            pick_expert_layers(&b(&[(0, 120), (1, 100), (2, 100), (3, 80)]), Bytes(90)),
            vec![1]
        );
        assert!(pick_expert_layers(&b(&[(0, 100)]), Bytes::ZERO).is_empty());
        // Not enough experts: everything there is, and no block without experts.
        assert_eq!(
            pick_expert_layers(&b(&[(0, 10), (1, 0)]), Bytes(50)),
            vec![0]
        );
    }

    fn qwen35(quant: &str) -> ModelSpec {
        crate::planner::testing::model("qwen3.5-35b-a3b", quant)
    }

    fn cfg() -> MemoryConfig {
        MemoryConfig::mainline(8192, GgmlType::from_name("F16").unwrap(), true)
    }

    fn routed_in_ram(spec: &ModelSpec, p: &Placement) -> Bytes {
        let map = weights::DeviceMap::new(spec, p);
        spec.tensors
            .iter()
            .filter(|t| t.class == TensorClass::RoutedExperts)
            .filter(|t| weights::tensor_device(p, &map, t) == Some(DeviceId::CPU))
            .map(|t| t.bytes)
            .sum()
    }

    /// Qwen3.5-35B-A3B Q6_K on 2 x RTX 3060 12 GB: each GPU gives up experts of its own
    /// blocks only, ends within its budget, and would not fit with one block fewer; the
    /// experts it sends to RAM are fewer bytes than the first `--n-cpu-moe` that fits.
    #[test]
    fn each_gpu_is_filled_to_its_own_budget() {
        let (spec, hw, cfg) = (qwen35("Q6_K"), rig("z440-2x3060"), cfg());
        let fills = expert_fill_candidates(
            &spec,
            &hw,
            &Devices::local(&hw),
            &cfg,
            &PlacementPins::default(),
        )
        .unwrap();
        let p = fills
            .iter()
            .find(|p| p.expert_overrides.iter().all(|(_, d)| *d == DeviceId::CPU))
            .unwrap();
        assert_eq!(p.n_cpu_moe, 0);
        let map = weights::DeviceMap::new(&spec, p);
        let mem = memory::breakdown(&spec, p, &cfg).unwrap();
        for g in [DeviceId::gpu(0), DeviceId::gpu(1)] {
            let total = mem.iter().find(|(d, _)| *d == g).unwrap().1.total();
            assert!(
                total <= Devices::local(&hw).budget(g),
                "{g:?}: {total} over {}",
                Devices::local(&hw).budget(g)
            );
            let own: Vec<u32> = p
                .expert_overrides
                .iter()
                .map(|(il, _)| *il)
                .filter(|il| map.layer(*il) == g)
                .collect();
            assert!(!own.is_empty(), "{g:?} gives up experts of its own blocks");
            // One block fewer from this GPU and it no longer fits.
            let mut fewer = p.clone();
            fewer.expert_overrides.retain(|(il, _)| *il != own[0]);
            let m2 = memory::breakdown(&spec, &fewer, &cfg).unwrap();
            let t2 = m2.iter().find(|(d, _)| *d == g).unwrap().1.total();
            assert!(
                t2 > Devices::local(&hw).budget(g),
                "{g:?} fits without block {}",
                own[0]
            );
        }
        let base = Placement {
            expert_overrides: Vec::new(),
            ..p.clone()
        };
        let ncmoe = first_fitting(0, spec.n_layer, |m| {
            Ok(shortfall(
                &spec,
                &Devices::local(&hw),
                &Placement {
                    n_cpu_moe: m,
                    ..base.clone()
                },
                &cfg,
            )? == Bytes::ZERO)
        })
        .unwrap()
        .unwrap();
        let with_ncmoe = Placement {
            n_cpu_moe: ncmoe,
            ..base
        };
        assert!(
            routed_in_ram(&spec, p) < routed_in_ram(&spec, &with_ncmoe),
            "-ot {} of {} blocks in RAM vs --n-cpu-moe {ncmoe}: {}",
            routed_in_ram(&spec, p),
            p.expert_overrides.len(),
            routed_in_ram(&spec, &with_ncmoe)
        );
    }

    /// The per-token path and the host-expert bytes follow the overrides, not only
    /// `--n-cpu-moe`: every moved block is a round trip, to the CPU or to the other GPU.
    #[test]
    fn layout_counts_round_trips_of_moved_experts() {
        let (spec, cfg) = (qwen35("Q6_K"), cfg());
        let all = Placement {
            n_gpu_layers: spec.n_layer + 1,
            gpus: vec![0, 1],
            tensor_split: vec![1.0, 1.0],
            n_cpu_moe: 0,
            expert_overrides: Vec::new(),
            gpu_split: GpuSplit::Layer,
        };
        let lay = |p: &Placement| {
            let mem = memory::breakdown(&spec, p, &cfg).unwrap();
            layout_for(&spec, p, &cfg, &mem)
        };
        // CPU (input) -> GPU 0 -> GPU 1: two crossings.
        assert_eq!(lay(&all).boundary_crossings, 2);
        // Block 3 (GPU 0) to the CPU, block 30 (GPU 1) to GPU 0: two round trips more.
        let moved = Placement {
            expert_overrides: vec![(3, DeviceId::CPU), (30, DeviceId::gpu(0))],
            ..all.clone()
        };
        let l = lay(&moved);
        assert_eq!(l.boundary_crossings, 6);
        // Qwen3.5-35B-A3B Q6_K: 630 MiB of experts per block (rigplan inspect), of which
        // only block 3's are in RAM under a GPU block.
        let per_block = spec.layers[3].expert_bytes;
        assert_eq!(l.host_experts_offloaded_bytes, per_block);
        assert_eq!(
            l.device(DeviceId::CPU).unwrap().routed_expert_bytes,
            per_block
        );
    }

    /// A GPU that runs no block but holds another block's experts reserves a layer stage
    /// for their matmuls.
    #[test]
    fn a_gpu_holding_only_experts_gets_a_compute_buffer() {
        let (spec, cfg) = (qwen35("Q6_K"), cfg());
        let p = Placement {
            n_gpu_layers: spec.n_layer + 1,
            gpus: vec![0, 1],
            // Every block on GPU 0.
            tensor_split: vec![1.0, 0.0],
            n_cpu_moe: 0,
            expert_overrides: vec![(3, DeviceId::gpu(1))],
            gpu_split: GpuSplit::Layer,
        };
        let mem = memory::breakdown(&spec, &p, &cfg).unwrap();
        let g1 = &mem.iter().find(|(d, _)| *d == DeviceId::gpu(1)).unwrap().1;
        assert_eq!(
            g1.weights.0,
            memory::pad_to(spec.layers[3].expert_bytes.0, 128)
        );
        assert!(g1.compute > Bytes::ZERO);
    }

    #[test]
    fn no_fill_with_one_gpu_pins_or_room() {
        let cfg = cfg();
        let one = rig("desktop-3070-8gb");
        let spec = qwen35("Q4_K_M");
        assert!(expert_fill_candidates(
            &spec,
            &one,
            &Devices::local(&one),
            &cfg,
            &PlacementPins::default()
        )
        .unwrap()
        .is_empty());
        let two = rig("z440-2x3060");
        let pinned = PlacementPins {
            n_cpu_moe: Some(4),
            ..Default::default()
        };
        assert!(expert_fill_candidates(
            &qwen35("Q6_K"),
            &two,
            &Devices::local(&two),
            &cfg,
            &pinned
        )
        .unwrap()
        .is_empty());
        // IQ4_XS fits the two GPUs whole: nothing to move. (The published Q4_K_M, 22.0
        // GB, no longer does.)
        assert!(expert_fill_candidates(
            &qwen35("IQ4_XS"),
            &two,
            &Devices::local(&two),
            &cfg,
            &PlacementPins::default()
        )
        .unwrap()
        .is_empty());
    }
}
