//! Prefill (pp): seconds per ubatch of prompt tokens for a placement.
//!
//! Compute-bound: 2 FLOPs per active parameter per token plus attention over the
//! context, over each device's effective throughput, devices in sequence (the GPUs at
//! the same time under a tensor-parallel split, plus two activation all-reduces per
//! GPU layer). A MoE's routed experts each see only `u × k/n` of a ubatch's tokens, and
//! matmuls that narrow run below the large-batch rate (`narrow_expert_flops`). Weights
//! are streamed once per ubatch from the memory they live in. When GPUs are present and the
//! ubatch reaches the engine's op-offload threshold, host-resident weights are copied
//! over PCIe per ubatch and the GPU computes them — why a larger ubatch helps hybrid
//! pp. Must not decide placements.

use super::attention;
use super::devices::{
    cpu_effective_bandwidth, cpu_peak_flops, gpu_effective_bandwidth_on, gpu_effective_flops_on,
    gpu_tflops, gpu_vector_tflops,
};
use super::factors::{Factors, OP_OFFLOAD_MIN_BATCH};
use super::{Breakdown, ModelFacts};
use crate::engine::EngineKind;
use crate::hardware::{GpuInfo, HardwareSnapshot};
use crate::plan::{Backend, Settings};
use crate::plan::{DeviceLoad, Layout, Unit};

/// llama.cpp's default `-ub` (common/common.h `n_ubatch = 512`).
const DEFAULT_UBATCH: u32 = 512;

/// The ubatch the engine actually uses: `min(batch, ubatch)`, default 512.
pub fn effective_ubatch(settings: &Settings) -> u32 {
    let ub = if settings.ubatch == 0 {
        DEFAULT_UBATCH
    } else {
        settings.ubatch
    };
    if settings.batch > 0 {
        ub.min(settings.batch)
    } else {
        ub
    }
}

/// The bulk weight type of a quant name: `Q4_K_M` and `UD-Q4_K_XL` are mostly `Q4_K`,
/// `Q5_0_R4` is `Q5_0` in ik_llama.cpp's interleaved-row layout.
fn bulk_type(quant: &str) -> String {
    let q = super::devices::quant_base_name(quant);
    match q.find("_K") {
        Some(i) => q[..i + 2].to_string(),
        None => q.to_string(),
    }
}

/// Speed-up of the engine's CPU matmul kernels for this quant over mainline's per-row
/// `vec_dot` path: ik_llama.cpp's own kernels (more with its interleaved `_R4`/`_R8`
/// rows), mainline's batched GEMM for the types that have one, else 1.
fn cpu_kernel_speedup(f: &Factors, engine: EngineKind, settings: &Settings) -> f64 {
    let kernels = crate::engine::info(engine).kernels;
    let quant = settings.quant.as_deref().unwrap_or("");
    if kernels.own_cpu_matmul_kernels {
        let upper = quant.to_ascii_uppercase();
        let repacked = upper.ends_with("_R4") || upper.ends_with("_R8") || upper.ends_with("_R16");
        f.ik_cpu_pp_speedup
            * if repacked {
                f.ik_repacked_pp_speedup
            } else {
                1.0
            }
    } else if kernels.cpu_gemm_types.contains(&bulk_type(quant).as_str()) {
        f.cpu_gemm_pp_speedup
    } else {
        1.0
    }
}

/// GPU prompt-matmul rate of the plan's weight type relative to quantized weights:
/// float weights (F16, BF16, F32) run the vendor GEMM (`Factors::float_pp_speedup`).
/// BF16 weights on a CUDA/ROCm GPU without fast BF16 are multiplied in FP32 for prompt
/// batches (pinned ggml-cuda.cu `ggml_cuda_mul_mat_cublas`: compute type F32 unless
/// `fast_bf16_hardware_available`), on the vector units the table figure leaves out.
fn weight_type_rate(f: &Factors, settings: &Settings, gpu: &GpuInfo) -> f64 {
    let bulk = bulk_type(settings.quant.as_deref().unwrap_or(""));
    if !matches!(bulk.as_str(), "F16" | "BF16" | "F32") {
        return 1.0;
    }
    let cublas = matches!(
        super::devices::gpu_backend(gpu, settings.backend),
        Backend::Cuda | Backend::Rocm
    );
    if bulk == "BF16" && cublas && !super::devices::gpu_has_fast_bf16(gpu) {
        f.float_pp_speedup * gpu_vector_tflops(gpu) / gpu_tflops(gpu)
    } else {
        f.float_pp_speedup
    }
}

/// Extra FLOPs-equivalent of one device's routed experts in a ubatch of `u` tokens:
/// each used expert multiplies only the `m = u × k/n` tokens routed to it (uniform
/// routing), and a matmul that narrow runs at `m / (m + half)` of the large-batch rate
/// (`Factors::moe_pp_half_batch`). The routed share of the device's active parameters
/// is its routed share of the active bytes.
fn narrow_expert_flops(d: &DeviceLoad, facts: &ModelFacts, u: f64, half: f64) -> f64 {
    let active_bytes = d.active_weight_bytes_per_token.as_u64() as f64;
    if !facts.is_moe || active_bytes <= 0.0 || facts.expert_fraction_used >= 1.0 {
        return 0.0;
    }
    let routed_active = d.routed_expert_bytes.as_u64() as f64 * facts.expert_fraction_used;
    let routed_params = d.active_params as f64 * (routed_active / active_bytes).min(1.0);
    let m = (u * facts.expert_fraction_used).max(1.0);
    2.0 * routed_params * u * half / m
}

pub(crate) fn prefill_time(
    f: &Factors,
    layout: &Layout,
    hw: &HardwareSnapshot,
    settings: &Settings,
    facts: &ModelFacts,
    engine: EngineKind,
) -> Breakdown {
    let mut b = Breakdown::default();
    let u = effective_ubatch(settings) as f64;
    let depth = layout.depth_tokens as f64;
    let first_gpu = layout.devices.iter().find_map(|d| match d.device.unit() {
        Unit::Gpu(i) => hw.gpus.get(i as usize),
        Unit::Cpu => None,
    });
    let offload = first_gpu.is_some() && effective_ubatch(settings) >= OP_OFFLOAD_MIN_BATCH;
    let parallel =
        super::decode::is_tensor_parallel(settings) && super::decode::gpu_count(layout) > 1;
    // Tensor-parallel split: the GPUs compute their slices at the same time, so the
    // slowest GPU counts (collected here, added after the loop).
    let mut gpu_times: Vec<f64> = Vec::new();

    for d in &layout.devices {
        // Attention over the context: QK^T and PV for the attention blocks this device
        // runs, at the mean position within the ubatch (`depth` is where the ubatch
        // starts: a long prompt's later ubatches attend over its earlier ones).
        let attn_flops = attention::prefill_flops(facts, d.layers, depth, u);
        let flops = 2.0 * d.active_params as f64 * u + attn_flops;
        let gpu_flops = flops + narrow_expert_flops(d, facts, u, f.moe_pp_half_batch);
        match d.device.unit() {
            Unit::Gpu(i) => {
                let Some(gpu) = hw.gpus.get(i as usize) else {
                    continue;
                };
                let (bw, assumption) = gpu_effective_bandwidth_on(gpu, settings.backend, f);
                b.assume(assumption);
                let matmuls = gpu_flops
                    / (gpu_effective_flops_on(gpu, settings.backend, f)
                        * weight_type_rate(f, settings, gpu));
                let streaming = d.weight_bytes.as_u64() as f64 / bw;
                let overhead =
                    d.layers as f64 * facts.kernel_units_per_layer(f) * f.pp_layer_overhead_s;
                let scores = if settings.flash_attn {
                    0.0
                } else {
                    attention::prefill_score_bytes(facts, d.layers, depth, u) / bw
                };
                if parallel {
                    gpu_times.push(matmuls + streaming + overhead + scores);
                    continue;
                }
                b.add(format!("matmuls on {}", gpu.name), matmuls);
                b.add("weight streaming from VRAM", streaming);
                b.add("per-layer kernel overhead", overhead);
                b.add("attention scores without flash attention", scores);
            }
            Unit::Cpu => {
                let host_weights =
                    (d.weight_bytes.as_u64() as f64 - facts.token_embedding_bytes).max(0.0);
                match (offload, first_gpu) {
                    (true, Some(gpu)) => {
                        // The engine copies these weights to the GPU per ubatch and
                        // computes there.
                        let link = super::decode::slowest_link(std::slice::from_ref(gpu), f);
                        if link > 0.0 {
                            b.add("weight copies over PCIe", host_weights / link);
                        }
                        b.add(
                            format!("matmuls on {}", gpu.name),
                            gpu_flops
                                / (gpu_effective_flops_on(gpu, settings.backend, f)
                                    * weight_type_rate(f, settings, gpu)),
                        );
                    }
                    _ => {
                        let threads = settings.threads.max(1);
                        let speedup = cpu_kernel_speedup(f, engine, settings);
                        let cpu_flops =
                            cpu_peak_flops(&hw.cpu, threads) * f.cpu_compute_eff * speedup;
                        let quant = settings.quant.as_deref().unwrap_or("");
                        // The quant's unpacking cost scales the weight products, not
                        // the attention over the context.
                        let cpu_work = (flops - attn_flops
                            + narrow_expert_flops(d, facts, u, f.cpu_moe_pp_half_batch))
                            * super::devices::cpu_dot_cost(
                                quant,
                                f,
                                crate::engine::info(engine).kernels.own_cpu_matmul_kernels,
                            )
                            + attn_flops;
                        b.add("matmuls on the CPU", cpu_work / cpu_flops);
                        let (bw, assumption) = cpu_effective_bandwidth(hw, threads, f);
                        b.assume(assumption);
                        b.add("weight streaming from system RAM", host_weights / bw);
                        if !settings.flash_attn {
                            b.add(
                                "attention scores without flash attention",
                                attention::prefill_score_bytes(facts, d.layers, depth, u) / bw,
                            );
                        }
                    }
                }
            }
        }
    }
    if parallel {
        // Published check (ik sweep-bench, 2x3090): Qwen3-30B-A3B graph pp +29% over layer
        // at short context, +64% at 40k (PR #1080) — predicted +25% at 2k, +10% at 32k;
        // Qwen3.5-27B +10% with recurrent layers unsplit (PR #1331), more once split
        // (PR #1388) — predicted +52%.
        b.add(
            "matmuls on the GPUs in parallel",
            gpu_times.iter().copied().fold(0.0, f64::max),
        );
        // Two all-reduces per GPU layer, each moving the ubatch's F32 activations
        // (`u x n_embd x 4` bytes) over the slowest link, plus a synchronisation.
        let gpu_layers = layout.max_gpu_layers().unwrap_or(0) as f64;
        let link = super::decode::slowest_link(&hw.gpus, f);
        let bytes = u * facts.n_embd as f64 * 4.0;
        let per = f.boundary_sync_s + if link > 0.0 { bytes / link } else { 0.0 };
        b.add("GPU↔GPU all-reduces", 2.0 * gpu_layers * per);
    }
    // Each device change is a synchronisation per ubatch (activations are small
    // relative to the ubatch's compute).
    b.add(
        "device hops",
        layout.boundary_crossings as f64 * f.boundary_sync_s,
    );
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::bulk_type;

    #[test]
    fn quant_names_map_to_their_bulk_ggml_type() {
        assert_eq!(bulk_type("Q4_K_M"), "Q4_K");
        assert_eq!(bulk_type("UD-Q4_K_XL"), "Q4_K");
        assert_eq!(bulk_type("Q5_0_R4"), "Q5_0");
        assert_eq!(bulk_type("IQ4_XS"), "IQ4_XS");
        assert_eq!(bulk_type("q8_0"), "Q8_0");
    }
}
