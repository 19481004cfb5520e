//! Decode (tg): seconds per generated token for a placement.
//!
//! Per device: the weight bytes it reads per token plus its KV/state reads, over its
//! effective bandwidth; devices run in sequence for a layer split, in parallel (with two
//! all-reduce hops per GPU layer) for row/graph/tensor split. Fixed costs: kernel launches per GPU
//! layer, thread barriers per CPU layer, a synchronisation plus an activation copy at
//! every device change, and host work per token. Attention over the context is its own
//! op: where its products outlast its KV reads (on a CPU, or MLA on a GPU) the excess
//! adds. Must not decide placements.

use super::attention;
use super::devices::{
    cpu_effective_bandwidth, gpu_effective_bandwidth_on, gpu_effective_flops_on, gpu_layer_seconds,
    gpu_peak_bandwidth, oversubscription_factor, pcie_bytes_per_s, ram_label,
};
use super::factors::Factors;
use super::{Breakdown, ModelFacts};
use crate::engine::EngineKind;
use crate::hardware::{GpuInfo, HardwareSnapshot};
use crate::plan::Settings;
use crate::plan::{DeviceLoad, Layout, Unit};

/// Bytes per activation element crossing a device boundary (F32 activations).
const ACTIVATION_BYTES_PER_ELEMENT: f64 = 4.0;

pub(crate) fn decode_time(
    f: &Factors,
    layout: &Layout,
    hw: &HardwareSnapshot,
    settings: &Settings,
    facts: &ModelFacts,
    engine: EngineKind,
) -> Breakdown {
    let mut b = Breakdown::default();
    // An engine with fused kernels pays its own fitted per-layer overhead ratio.
    let fused = crate::engine::info(engine).kernels.fused_ops_by_default;
    let parallel_gpus = is_tensor_parallel(settings) && gpu_count(layout) > 1;
    let mut gpu_read_times = Vec::new();
    let depth = layout.depth_tokens as f64;

    for d in &layout.devices {
        let weight = d.active_weight_bytes_per_token.as_u64() as f64;
        let kv = d.kv_read_bytes_per_token.as_u64() as f64;
        match d.device.unit() {
            Unit::Gpu(i) => {
                let Some(gpu) = hw.gpus.get(i as usize) else {
                    b.assume(Some(format!("GPU {i} is not in the hardware snapshot")));
                    continue;
                };
                let (bw, assumption) = gpu_effective_bandwidth_on(gpu, settings.backend, f);
                b.assume(assumption);
                let layer_s = gpu_layer_seconds(gpu, settings.backend, f);
                let read = (weight + kv) / bw;
                gpu_read_times.push(read);
                if !parallel_gpus {
                    b.add(format!("weight reads from {} VRAM", gpu.name), weight / bw);
                    b.add("KV cache reads", kv / bw);
                }
                // Attention over the context is its own kernel, whose products overlap
                // its KV reads. At GQA ratios of 4-8 over an F16/Q8 cache it needs a few
                // FLOPs per KV byte and the reads dominate; under MLA every query head
                // (128 for DeepSeek) attends over the one shared latent row, ~240 FLOPs
                // per byte, and the products take longer than the reads. The pinned
                // CUDA backend runs the 576/512 MLA case on the tensor cores, 16-32 heads
                // to a tile (ggml-cuda/fattn.cu, `ggml_cuda_flash_attn_ext_mma_f16_
                // switch_ncols2`, case 576), so the rate is the GPU's prompt-matmul rate.
                let attn_flops = attention::decode_flops(facts, d.layers, depth);
                if attn_flops > 0.0 {
                    let rate = gpu_effective_flops_on(gpu, settings.backend, f);
                    b.add(
                        "GPU attention over the context",
                        attn_flops / rate - kv / bw,
                    );
                }
                let ratio = if fused { f.ik_gpu_overhead_ratio } else { 1.0 };
                b.add(
                    "GPU kernel launches",
                    d.layers as f64 * facts.kernel_units_per_layer(f) * layer_s * ratio,
                );
                if !settings.flash_attn {
                    b.add(
                        "attention scores without flash attention",
                        attention::decode_seconds(facts, d.layers, depth, bw, layer_s * ratio),
                    );
                }
            }
            Unit::Cpu => {
                let threads = settings.threads.max(1);
                let (bw, assumption) = cpu_effective_bandwidth(hw, threads, f);
                b.assume(assumption);
                // Oversubscribed threads do not slow the memory reads (the bus is
                // saturated either way) but every barrier waits for the slowest thread.
                let slow = oversubscription_factor(&hw.cpu, threads, f);
                let ram = ram_label(&hw.memory);
                let experts = cpu_active_expert_bytes(d, facts).min(weight);
                b.add(format!("expert reads from {ram}"), experts / bw);
                b.add(
                    format!("non-expert weight reads from {ram}"),
                    (weight - experts) / bw,
                );
                b.add("KV cache reads", kv / bw);
                // With few threads the cores, not the memory, are the limit: dequantising
                // and dot products at the ISA's int8 rate. Reads and compute overlap only
                // in part (`cpu_tg_overlap`): the excess of compute over the read time
                // adds, and the non-overlapped share of the shorter of the two.
                let rate = super::devices::cpu_peak_flops(&hw.cpu, threads)
                    * f.cpu_tg_compute_eff
                    * if fused { f.ik_cpu_tg_speedup } else { 1.0 };
                let quant = settings.quant.as_deref().unwrap_or("");
                let own_kernels = crate::engine::info(engine).kernels.own_cpu_matmul_kernels;
                let compute = 2.0
                    * d.active_params as f64
                    * super::devices::cpu_dot_cost(quant, f, own_kernels)
                    / rate;
                let read = weight / bw;
                b.add(
                    "CPU dequantisation and dot products",
                    (compute - read).max(0.0) + (1.0 - f.cpu_tg_overlap) * compute.min(read),
                );
                // Attention is its own op between the matmuls: its products over the
                // context overlap its KV reads, not the weight reads.
                b.add(
                    "CPU attention over the context",
                    attention::decode_flops(facts, d.layers, depth) / rate - kv / bw,
                );
                let ratio = if fused { f.ik_cpu_overhead_ratio } else { 1.0 };
                let units = d.layers as f64 * facts.kernel_units_per_layer(f)
                    + expert_only_layers(layout, facts) * f.moe_kernel_units;
                let per_unit = f.cpu_layer_overhead_s + f.cpu_thread_sync_s * threads as f64;
                b.add(
                    "CPU thread synchronisation",
                    units * per_unit * ratio * slow,
                );
                if !settings.flash_attn {
                    b.add(
                        "attention scores without flash attention",
                        attention::decode_seconds(
                            facts,
                            d.layers,
                            depth,
                            bw,
                            per_unit * ratio * slow,
                        ),
                    );
                }
            }
        }
    }

    if parallel_gpus {
        // Tensor-parallel split (mainline `-sm tensor`, ik `-sm graph`): GPUs read their
        // slices at the same time; two all-reduces per GPU layer (after attention and
        // after the FFN: ik PR #1080 "synchronization between the GPUs (2 times per
        // layer)"; mainline ggml-backend-meta.cpp all-reduces each layer's partial
        // outputs) cross the link. Kernel launches stay summed over the GPUs above: one
        // host thread issues both GPUs' kernels unless ik's async scheduler (`-sas`, not
        // the default, PR #1080) is asked for. Checked against published ik sweep-bench
        // figures on 2x3090 (no calibration point: none gives both splits for a model,
        // quant and build we can describe): Qwen3-30B-A3B graph "on par" with layer at
        // short context only with -sas, +18% at 40k (PR #1080) — predicted -29% at 2k,
        // -7% at 32k without -sas; Qwen3.5-27B "very significant" gains once recurrent
        // layers are split too (PR #1388; +4% before it, PR #1331) — predicted +10%.
        let slowest = gpu_read_times.iter().copied().fold(0.0, f64::max);
        b.add("weight reads (GPUs in parallel)", slowest);
        let hop = hop_seconds(f, hw, facts);
        let gpu_layers = layout.max_gpu_layers().unwrap_or(facts.n_layer);
        b.add("GPU↔GPU all-reduce hops", 2.0 * gpu_layers as f64 * hop);
    }

    b.add(
        "CPU↔GPU / GPU↔GPU hops",
        layout.boundary_crossings as f64 * hop_seconds(f, hw, facts),
    );
    // The F32 logits row comes back to the host every token (llama_decode copies the
    // output to the host buffer); over a narrow link (a GPU on PCIe x1) this is visible.
    if let Some(out) = layout
        .devices
        .iter()
        .rev()
        .filter(|d| d.weight_bytes.0 > 0)
        .find_map(|d| match d.device.unit() {
            Unit::Gpu(i) => hw.gpus.get(i as usize),
            Unit::Cpu => None,
        })
    {
        // (A GPU that holds no weights, as under `-ngl 0`, computes no token.)
        let link = slowest_link(std::slice::from_ref(out), f);
        if link > 0.0 {
            b.add("logits copy to the host", facts.n_vocab as f64 * 4.0 / link);
        }
    }
    b.add("host per-token work", f.token_host_overhead_s);
    b.finish()
}

/// Spec-sheet-only time per token: every active byte at peak bandwidth, nothing else;
/// under a tensor-parallel split the GPUs read at the same time (the slowest counts).
pub(crate) fn ceiling_seconds(layout: &Layout, hw: &HardwareSnapshot, settings: &Settings) -> f64 {
    let parallel = is_tensor_parallel(settings) && gpu_count(layout) > 1;
    let times = layout.devices.iter().map(|d| {
        let bytes =
            (d.active_weight_bytes_per_token.as_u64() + d.kv_read_bytes_per_token.as_u64()) as f64;
        let peak = match d.device.unit() {
            Unit::Gpu(i) => hw
                .gpus
                .get(i as usize)
                .map(|g| gpu_peak_bandwidth(g).0)
                .unwrap_or(f64::INFINITY),
            Unit::Cpu => ram_peak(hw),
        };
        (d.device, bytes / peak)
    });
    let (mut gpus, mut total) = (0.0f64, 0.0);
    for (dev, t) in times {
        match dev.unit() {
            Unit::Gpu(_) if parallel => gpus = gpus.max(t),
            _ => total += t,
        }
    }
    total + gpus
}

fn ram_peak(hw: &HardwareSnapshot) -> f64 {
    let m = &hw.memory;
    if let Some(b) = m
        .theoretical_bandwidth_gbs
        .or(m.measured_bandwidth_gbs)
        .filter(|b| *b > 0.0)
    {
        return b * 1e9;
    }
    match (m.speed_mts, m.channels) {
        (Some(s), Some(c)) if s > 0 && c > 0 => s as f64 * 1e6 * 8.0 * c as f64,
        // Same fallback as devices::cpu_effective_bandwidth: dual-channel DDR4-3200.
        _ => 51.2e9,
    }
}

/// One device change: synchronisation plus an `n_embd` activation over the slowest link.
fn hop_seconds(f: &Factors, hw: &HardwareSnapshot, facts: &ModelFacts) -> f64 {
    let link = slowest_link(&hw.gpus, f);
    let bytes = facts.n_embd as f64 * ACTIVATION_BYTES_PER_ELEMENT;
    f.boundary_sync_s + if link > 0.0 { bytes / link } else { 0.0 }
}

/// The slowest effective PCIe link among the GPUs, bytes/s (0 when there is no GPU).
pub(crate) fn slowest_link(gpus: &[GpuInfo], f: &Factors) -> f64 {
    gpus.iter()
        .map(|g| pcie_bytes_per_s(g).0 * f.pcie_eff)
        .fold(None, |acc: Option<f64>, x| {
            Some(acc.map_or(x, |a| a.min(x)))
        })
        .unwrap_or(0.0)
}

/// Active routed-expert bytes the CPU reads per token.
fn cpu_active_expert_bytes(d: &DeviceLoad, facts: &ModelFacts) -> f64 {
    if facts.is_moe {
        d.routed_expert_bytes.as_u64() as f64 * facts.expert_fraction_used
    } else {
        0.0
    }
}

/// Blocks that run on a GPU but whose experts the CPU computes (`--n-cpu-moe` or `-ot`
/// overrides: `Layout::host_experts_offloaded_bytes` counts both).
fn expert_only_layers(layout: &Layout, facts: &ModelFacts) -> f64 {
    if facts.expert_bytes_per_moe_layer > 0.0 {
        layout.host_experts_offloaded_bytes.as_u64() as f64 / facts.expert_bytes_per_moe_layer
    } else {
        0.0
    }
}

pub(crate) fn gpu_count(layout: &Layout) -> usize {
    layout.devices.iter().filter(|d| d.device.is_gpu()).count()
}

pub(crate) fn is_tensor_parallel(settings: &Settings) -> bool {
    matches!(settings.split_mode.as_str(), "row" | "graph" | "tensor")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::factors::DEFAULT_FACTORS;
    use crate::plan::{DeviceId, DeviceLoad, Layout};
    use crate::units::Bytes;

    /// One GPU holding the attention blocks of `model` (experts elsewhere do not
    /// matter here), `kv_per_token` bytes of cache read per generated token at `depth`.
    fn gpu_attention_share(model: &str, quant: &str, depth: u64, kv_per_token: u64) -> f64 {
        let spec = crate::model::catalog::find(model)
            .unwrap()
            .spec(Some(quant))
            .unwrap();
        let facts = super::super::ModelFacts::of(&spec);
        let hw = crate::hardware::presets::get("desktop-3090")
            .unwrap()
            .unwrap();
        let layout = Layout {
            devices: vec![DeviceLoad {
                device: DeviceId::gpu(0),
                weight_bytes: Bytes(8 << 30),
                active_weight_bytes_per_token: Bytes(4 << 30),
                routed_expert_bytes: Bytes::ZERO,
                kv_bytes: Bytes(kv_per_token),
                kv_read_bytes_per_token: Bytes(kv_per_token),
                compute_bytes: Bytes::ZERO,
                layers: facts.n_layer,
                active_params: 8_000_000_000,
            }],
            boundary_crossings: 0,
            host_experts_offloaded_bytes: Bytes::ZERO,
            depth_tokens: depth,
            n_embd: facts.n_embd,
        };
        let mut settings = crate::tune::config::tests::cpu_settings();
        settings.quant = Some(quant.into());
        settings.n_gpu_layers = 999;
        settings.ctx = depth * 2;
        settings.gpu_indices = vec![0];
        settings.backend = crate::plan::Backend::Cuda;
        let b = decode_time(
            &DEFAULT_FACTORS,
            &layout,
            &hw,
            &settings,
            &facts,
            EngineKind::LlamaCpp,
        );
        b.shares
            .iter()
            .find(|s| s.what == "GPU attention over the context")
            .map_or(0.0, |s| s.seconds)
    }

    #[test]
    fn gpu_attention_compute_shows_under_mla_at_depth_not_under_gqa() {
        // Llama-3.1-8B at 32k: 8 KV heads x 128 x 2 (K, V) x 2 bytes x 32 layers per cell
        // = 128 KiB, ~4 GiB per token; its 4 x n_embd FLOPs per cell are far below what
        // the reads take.
        let gqa_kv = 32768 * 32 * 8 * 256 * 2;
        assert_eq!(
            gpu_attention_share("llama-3.1-8b", "Q4_K_M", 32768, gqa_kv),
            0.0
        );
        // DeepSeek-R1 under MLA: one 576-wide F16 latent row per layer per cell (61 layers),
        // 128 heads x (576 + 512) x 2 FLOPs per cell per layer: the products outlast the reads.
        let mla_kv = 32768 * 61 * 576 * 2;
        let deep = gpu_attention_share("deepseek-r1", "Q4_K_M", 32768, mla_kv);
        assert!(deep > 0.0, "{deep}");
        // ... and grow with the context.
        let deeper = gpu_attention_share("deepseek-r1", "Q4_K_M", 65536, 2 * mla_kv);
        assert!(deeper > 1.9 * deep, "{deeper} vs {deep}");
    }
}
