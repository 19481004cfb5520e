//! Memory accounting: the bytes every device holds for one placement, computed with the
//! engine's own arithmetic (weights by placement, KV cache and recurrent state, compute
//! buffers, per-GPU runtime overhead, host-side extras).
//!
//! Pure functions of (ModelSpec, Placement, MemoryConfig). Nothing here chooses a
//! placement or a setting; `placement` and `settings` do that and ask this module what
//! a choice costs. The figures for the CPU device are checked against
//! `llama-fit-params --fit-print on` by the engine-agreement test.

pub mod compute;
pub mod kv;
pub mod split;
pub mod weights;

use crate::engine::rules::KvRules;
use crate::engine::EngineKind;
use crate::gguf::GgmlType;
use crate::units::{Bytes, MIB};

/// The context-side settings that decide KV and compute sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryConfig {
    pub engine: EngineKind,
    /// Requested context (`-c`), before the engine's padding.
    pub n_ctx: u64,
    /// Logical batch (`-b`).
    pub n_batch: u64,
    /// Physical batch (`-ub`): the worst-case graph is reserved for this many tokens.
    pub n_ubatch: u64,
    /// Parallel sequences (`-np`).
    pub n_seq: u64,
    /// Most outputs (logit rows) one graph computes: `cparams.n_outputs_max`
    /// (src/llama-context.cpp), 0 for the engine's default of `n_batch`. A mainline
    /// draft or MTP context sets it to `n_parallel` (common/speculative.cpp
    /// `common_base_params_to_speculative`).
    pub n_outputs_max: u64,
    /// `--kv-unified`: one KV stream shared by all sequences.
    pub kv_unified: bool,
    pub type_k: GgmlType,
    pub type_v: GgmlType,
    pub flash_attn: bool,
    /// `--swa-full`: sliding-window layers keep the whole context.
    pub swa_full: bool,
    /// The `-mla` mode the plan passes (0 = none); an engine whose MLA cache is
    /// latent-only (`engine::rules::MlaCache`) has no such option and ignores it.
    pub mla_mode: u32,
}

impl MemoryConfig {
    /// Mainline defaults (`common/common.h`: n_batch 2048, n_ubatch 512, one sequence).
    pub fn mainline(n_ctx: u64, type_kv: GgmlType, flash_attn: bool) -> MemoryConfig {
        MemoryConfig {
            engine: EngineKind::LlamaCpp,
            n_ctx,
            n_batch: 2048,
            n_ubatch: 512,
            n_seq: 1,
            n_outputs_max: 0,
            kv_unified: false,
            type_k: type_kv,
            type_v: type_kv,
            flash_attn,
            swa_full: false,
            mla_mode: 0,
        }
    }

    /// The engine's KV-cache rules (`engine::rules::KvRules`).
    pub fn kv_rules(&self) -> &'static KvRules {
        &crate::engine::info(self.engine).kv
    }

    /// The context the engine actually allocates: `n_ctx` padded as the engine pads it
    /// (`KvRules::ctx_pad_*`; mainline 256, ik_llama.cpp 256 with flash attention and 32
    /// without).
    pub fn padded_ctx(&self) -> u64 {
        let rules = self.kv_rules();
        let pad = if self.flash_attn {
            rules.ctx_pad_flash_attn
        } else {
            rules.ctx_pad_no_flash_attn
        };
        pad_to(self.n_ctx.max(1), pad)
    }

    /// Cells per KV stream (`n_ctx_seq`) and the number of streams: with one stream per
    /// sequence (mainline without `--kv-unified`), `n_ctx / n_seq` padded to 256 again
    /// (src/llama-context.cpp).
    pub fn cells_and_streams(&self) -> (u64, u64) {
        let n_ctx = self.padded_ctx();
        let n_seq = self.n_seq.max(1);
        if self.kv_rules().stream_per_sequence && !self.kv_unified && n_seq > 1 {
            (pad_to((n_ctx / n_seq).max(1), 256), n_seq)
        } else {
            (n_ctx, 1)
        }
    }

    /// Outputs of the worst-case graph: `min(n_tokens, n_outputs_max)` (`sched_reserve`),
    /// `n_outputs_max` being `n_batch` unless the context sets it.
    pub fn graph_outputs(&self) -> u64 {
        let max = if self.n_outputs_max == 0 {
            self.n_batch
        } else {
            self.n_outputs_max
        };
        self.graph_tokens().min(max.max(1))
    }

    /// Tokens in the worst-case graph: `min(n_ctx, n_ubatch)` (`sched_reserve`).
    pub fn graph_tokens(&self) -> u64 {
        self.padded_ctx().min(self.n_ubatch.max(1))
    }
}

/// Rounds `x` up to a multiple of `pad` (ggml's `GGML_PAD`).
pub fn pad_to(x: u64, pad: u64) -> u64 {
    if pad == 0 {
        return x;
    }
    x.div_ceil(pad).saturating_mul(pad)
}

/// What one device holds, split the way `rigplan plan` shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceBytes {
    pub weights: Bytes,
    pub kv: Bytes,
    pub compute: Bytes,
    /// Runtime overhead outside the engine's own accounting (CUDA context, host extras).
    pub overhead: Bytes,
}

impl DeviceBytes {
    pub fn total(&self) -> Bytes {
        self.weights + self.kv + self.compute + self.overhead
    }
}

/// CUDA context, cuBLAS handles and the backend's memory pool per GPU, outside anything
/// llama.cpp accounts for. llama.cpp reports it as "unaccounted" in its memory
/// breakdown (total = free + self + unaccounted, common/fit.cpp), but published tables
/// fold in other processes' VRAM, so they bound it only loosely. The context alone is
/// about 300 MB with CUDA >= 11.7's lazy kernel loading and was over 1000 MB before
/// (NVIDIA's ptrblck, pytorch/pytorch#107667); we add room for cuBLAS and the pool and
/// take 500 MiB. Not yet measured on a GPU by this project.
pub const CUDA_CONTEXT_OVERHEAD: Bytes = Bytes(500 * MIB);

/// Free memory the planner keeps on every GPU beyond its own estimate. Source: the
/// engine's own default `--fit-target` margin of 1024 MiB per device
/// (`fit_params_target`, common/common.h).
pub const GPU_MARGIN: Bytes = Bytes(1024 * MIB);

/// Metal's default GPU working-set limit (`recommendedMaxWorkingSetSize`) on Apple
/// silicon, a share of RAM that macOS lets the GPU wire (raised with
/// `sysctl iogpu.wired_limit_mb`). Measured: 32 GB machines report 21845.34 MB, 2/3
/// (ggml-org/llama.cpp#2011, ollama/ollama#434, 2023); a 128 GiB M5 Max on macOS 26
/// reports 107.52 GiB, 84% (antirez/ds4#893, 2026). Below 64 GiB we take 2/3, from
/// 64 GiB on 84%; between those two machines the fraction is not measured.
pub fn apple_working_set(total_ram: Bytes) -> Bytes {
    if total_ram.0 < 64 * crate::units::GIB {
        Bytes(total_ram.0 / 3 * 2)
    } else {
        Bytes(total_ram.0 / 100 * 84)
    }
}

/// Host RAM kept for the operating system and everything else on the machine.
/// A planning choice, not an engine fact: 2 GiB or 6% of RAM, whichever is larger.
pub fn host_margin(total_ram: Bytes) -> Bytes {
    Bytes((2048 * MIB).max(total_ram.0 / 16))
}

/// llama-server's prompt cache in host RAM (`--cache-ram`, default 8192 MiB,
/// `cache_ram_mib` in common/common.h). It grows only as prompts are cached.
pub const SERVER_CACHE_RAM_DEFAULT: Bytes = Bytes(8192 * MIB);

/// The `--cache-ram` cap (MiB) for the RAM a plan leaves free: what is left, rounded
/// down to 256 MiB; below 512 MiB the cache is not worth keeping and is disabled (0). A
/// planning choice: one cached 32k-token prompt of a small-KV model is a few hundred MiB.
pub fn server_cache_ram_cap(left: Bytes) -> u64 {
    let mib = left.0 / MIB / 256 * 256;
    if mib < 512 {
        0
    } else {
        mib
    }
}

use crate::model::ModelSpec;
use crate::plan::DeviceId;
use weights::Placement;

/// Input copies the scheduler keeps: the engine's `GGML_SCHED_MAX_COPIES` when pipeline
/// parallelism is on, else 1. Mainline `llama_context::llama_context` (and ik's
/// `llama_new_context_with_model`) enable it with more than one GPU, every layer
/// offloaded, a layer split, the KV cache offloaded and no tensor overrides (which
/// `--n-cpu-moe` and `-ot` are).
pub fn pipeline_copies(spec: &ModelSpec, placement: &Placement, cfg: &MemoryConfig) -> u64 {
    let on = placement.gpus.len() > 1
        && placement.n_gpu_layers > spec.n_layer
        && placement.n_cpu_moe == 0
        && placement.expert_overrides.is_empty();
    if on {
        crate::engine::info(cfg.engine).sched_max_copies
    } else {
        1
    }
}

/// Per-device bytes for one placement and context configuration, as the engine will
/// allocate them (weights, KV, compute) plus the runtime overhead the engine does not
/// count (CUDA context per GPU). Devices are returned CPU first, then GPUs in order.
/// A tensor-parallel placement is laid out by [`split::breakdown`].
pub fn breakdown(
    spec: &ModelSpec,
    placement: &Placement,
    cfg: &MemoryConfig,
) -> Result<Vec<(DeviceId, DeviceBytes)>, String> {
    if placement.is_parallel() {
        return split::breakdown(spec, placement, cfg);
    }
    let mut devs: Vec<(DeviceId, DeviceBytes)> = vec![(DeviceId::CPU, DeviceBytes::default())];
    for g in &placement.gpus {
        devs.push((DeviceId::gpu(*g), DeviceBytes::default()));
    }
    fn slot(devs: &mut [(DeviceId, DeviceBytes)], d: DeviceId) -> Option<&mut DeviceBytes> {
        devs.iter_mut().find(|(x, _)| *x == d).map(|(_, b)| b)
    }
    let map = weights::DeviceMap::new(spec, placement);
    let ffn_width = compute::ffn_activation_width(spec);
    for (d, b) in weights::bytes_by_device(spec, placement, &map) {
        if let Some(s) = slot(&mut devs, d) {
            s.weights += b;
        }
    }
    let mut max_cells: Vec<(DeviceId, u64)> = Vec::new();
    let kv_layers = kv::per_layer(spec, cfg)?;
    let masks = compute::mask_bytes(cfg, &kv_layers);
    let copies = pipeline_copies(spec, placement, cfg);
    for l in kv_layers {
        let d = map.layer(l.layer);
        if let Some(s) = slot(&mut devs, d) {
            s.kv += l.total();
        }
        match max_cells.iter_mut().find(|(x, _)| *x == d) {
            Some((_, c)) => *c = (*c).max(l.cells),
            None => max_cells.push((d, l.cells)),
        }
    }
    let out_dev = map.output();
    // A device holding routed experts of blocks it does not run computes those experts'
    // matmuls (the scheduler runs an op where its weight lives), so it needs a layer
    // stage even if it runs no block itself.
    let holds_experts = |d: DeviceId| {
        (d == DeviceId::CPU && placement.n_cpu_moe > 0)
            || placement.expert_overrides.iter().any(|(_, x)| *x == d)
    };
    for (d, b) in devs.iter_mut() {
        let runs_layers = map.runs_blocks(*d);
        let cells = max_cells
            .iter()
            .find(|(x, _)| x == d)
            .map(|(_, c)| *c)
            .unwrap_or(0);
        let gpu = d.is_gpu();
        let layer = if runs_layers {
            let pipelined = if gpu {
                compute::pipeline_copies_stage(spec, cfg, masks, copies)
            } else {
                Bytes::ZERO
            };
            compute::layer_stage(spec, cfg, ffn_width, cells, gpu) + pipelined
        } else if holds_experts(*d) {
            compute::layer_stage(spec, cfg, ffn_width, 0, false)
        } else {
            Bytes::ZERO
        };
        let stage = if *d == out_dev {
            compute::output_stage(spec, cfg).max(layer)
        } else if *d == DeviceId::CPU {
            compute::host_input_stage(spec, cfg, masks, copies).max(layer)
        } else {
            layer
        };
        b.compute = stage;
        if gpu {
            b.overhead = CUDA_CONTEXT_OVERHEAD;
        }
    }
    Ok(devs)
}

/// Host bytes the GPU runtime page-locks for a placement that uses GPUs: the CPU's
/// compute buffer (allocated from the first GPU's host buffer type, `CUDA_Host`, in
/// `llama_context::llama_context`) and, when the model is not memory-mapped, the
/// CPU-resident weights, which both engines then load into that pinned buffer type too
/// (mainline `make_cpu_buft_list` puts the host buffer type first unless `--no-host`,
/// and `llama_model_loader::load_all_data` only swaps it for the CPU type under mmap;
/// ik_llama.cpp `llama_default_buffer_type_cpu(true)`). Pinned pages cannot be swapped
/// or evicted. Zero without GPUs.
pub fn pinned_host_bytes(
    placement: &Placement,
    mem: &[(DeviceId, DeviceBytes)],
    mmap: bool,
) -> Bytes {
    if placement.gpus.is_empty() || placement.n_gpu_layers == 0 {
        return Bytes::ZERO;
    }
    mem.iter()
        .filter(|(d, _)| *d == DeviceId::CPU)
        .map(|(_, b)| b.compute + if mmap { Bytes::ZERO } else { b.weights })
        .sum()
}
