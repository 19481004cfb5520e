//! What each device can deliver: effective bandwidth, peak compute, PCIe link rate.
//!
//! Turns a [`HardwareSnapshot`] entry plus the thread setting into the rates the speed
//! model divides by. Spec-sheet numbers come from the snapshot (GPU table, RAM
//! theoretical or measured bandwidth); the efficiency applied to them comes from
//! [`super::factors`]. Where the snapshot does not know a number, the fallback is
//! named in the returned `assumption` so the bottleneck text can say so. Nothing here
//! reads files or probes hardware.

use super::factors::Factors;
use crate::engine::vulkan_matrix::{has_vulkan_matrix_units, vulkan_matrix};
use crate::hardware::{CpuInfo, GpuInfo, GpuVendor, HardwareSnapshot, MemoryInfo, VulkanMatrix};
use crate::plan::Backend;

/// The backend a GPU runs on under these settings: the plan's (`settings.backend`), or
/// the vendor's default runtime when the plan names the CPU backend but places work on
/// a GPU.
pub fn gpu_backend(gpu: &GpuInfo, backend: Backend) -> Backend {
    match backend {
        Backend::Cpu => crate::engine::backends::default_backend(gpu.vendor),
        b => b,
    }
}

/// How a GPU's memory behaves for decode kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuMemoryClass {
    /// Discrete card with GDDR memory (GeForce, RTX PRO, Radeon).
    Gddr,
    /// Datacenter card with HBM (A100, H100, H200, MI300...).
    Hbm,
    /// Shares system memory with the CPU (Apple M-series, Strix Halo, GB10).
    Unified,
}

/// Name fragments of HBM datacenter GPUs. Source: vendor product pages (A100/H100/H200/
/// B200/GH200 HBM2e/HBM3/HBM3e; V100/P100 HBM2; AMD Instinct MI100-MI355 HBM2/HBM3).
const HBM_NAME_FRAGMENTS: &[&str] = &[
    "A100", "A800", "H100", "H800", "H200", "H20 ", "B100", "B200", "GH200", "GB200", "V100",
    "P100", "MI100", "MI210", "MI250", "MI300", "MI325", "MI350", "MI355",
];

pub fn gpu_memory_class(gpu: &GpuInfo) -> GpuMemoryClass {
    if gpu.unified_memory || gpu.vendor == GpuVendor::Apple {
        return GpuMemoryClass::Unified;
    }
    let name = format!("{} ", gpu.name.to_ascii_uppercase());
    if HBM_NAME_FRAGMENTS.iter().any(|f| name.contains(f)) {
        GpuMemoryClass::Hbm
    } else {
        GpuMemoryClass::Gddr
    }
}

/// Bandwidth assumed for a GPU whose table entry has none: a mid-range GDDR6 card
/// (RTX 3060 12GB: 360 GB/s, NVIDIA spec sheet). Low on purpose: an unknown card should
/// not promise speed.
const UNKNOWN_GPU_BANDWIDTH_GBS: f64 = 360.0;
/// FP16 tensor throughput assumed when the table has none (RTX 3060: ~51 TFLOPS dense
/// FP16 with FP16 accumulate, GA106 spec).
const UNKNOWN_GPU_TFLOPS: f64 = 51.0;

/// Effective decode bandwidth of one GPU on its vendor's default runtime, bytes/s, and
/// the assumption made if any.
pub fn gpu_effective_bandwidth(gpu: &GpuInfo, f: &Factors) -> (f64, Option<String>) {
    gpu_effective_bandwidth_on(gpu, Backend::Cpu, f)
}

/// Effective decode bandwidth of one GPU on `backend` (see [`gpu_backend`]), bytes/s.
/// CUDA distinguishes GDDR and HBM cards; Metal is Apple's unified memory; ROCm and
/// Vulkan (and SYCL, which no published point measures) have one efficiency each, HBM
/// Instinct cards scaled by CUDA's HBM/GDDR ratio.
pub fn gpu_effective_bandwidth_on(
    gpu: &GpuInfo,
    backend: Backend,
    f: &Factors,
) -> (f64, Option<String>) {
    let (peak, assumption) = gpu_peak_bandwidth(gpu);
    let class = gpu_memory_class(gpu);
    let hbm_ratio = if class == GpuMemoryClass::Hbm {
        f.gpu_bw_eff_hbm / f.gpu_bw_eff_gddr
    } else {
        1.0
    };
    let eff = match gpu_backend(gpu, backend) {
        Backend::Rocm => f.gpu_bw_eff_rocm * hbm_ratio,
        Backend::Vulkan if gpu.vendor == GpuVendor::Intel => f.gpu_bw_eff_vulkan_intel,
        Backend::Vulkan | Backend::Sycl => f.gpu_bw_eff_vulkan * hbm_ratio,
        Backend::Metal => f.gpu_bw_eff_unified,
        Backend::Cuda | Backend::Cpu => match class {
            GpuMemoryClass::Hbm => f.gpu_bw_eff_hbm,
            GpuMemoryClass::Unified if gpu.vendor == GpuVendor::Apple => f.gpu_bw_eff_unified,
            _ => f.gpu_bw_eff_gddr,
        },
    };
    (peak * eff, assumption)
}

/// The GPU's FP16 tensor TFLOPS from the table, or the named fallback.
pub fn gpu_tflops(gpu: &GpuInfo) -> f64 {
    match gpu.fp16_tflops {
        Some(t) if t.is_finite() && t > 0.0 => t,
        _ => UNKNOWN_GPU_TFLOPS,
    }
}

/// Host-side per-layer cost of `backend` relative to CUDA's.
pub fn layer_overhead_ratio(gpu: &GpuInfo, backend: Backend, f: &Factors) -> f64 {
    match gpu_backend(gpu, backend) {
        Backend::Rocm => f.rocm_layer_overhead_ratio,
        Backend::Vulkan | Backend::Sycl => f.vulkan_layer_overhead_ratio,
        Backend::Metal => f.metal_layer_overhead_ratio,
        Backend::Cuda | Backend::Cpu => 1.0,
    }
}

/// Fixed seconds per GPU layer per kernel unit on `backend`: the host/launch part (per
/// backend) plus the tiny-kernel part (norms, rope, copies, activation quantisation),
/// which runs on the vector units and scales with their throughput.
pub fn gpu_layer_seconds(gpu: &GpuInfo, backend: Backend, f: &Factors) -> f64 {
    f.gpu_layer_overhead_s * layer_overhead_ratio(gpu, backend, f)
        + f.gpu_layer_compute_s * 100.0 / gpu_vector_tflops(gpu)
}

/// The GPU's vector (non-matrix) FP32 throughput, TFLOPS: the GPU table's FP16 figure
/// counts the matrix units where a GPU has them, at the ratio its architecture gives
/// (dense FP16 matrix over FP32 vector, vendor whitepapers and spec pages):
/// - NVIDIA Ampere/Ada/Blackwell 4 (RTX 3090 142/35.6, 4090 330/82.6, 5090 419/104.8),
///   Turing and Volta 8 (2080 Ti 107.6/13.4, V100 125/15.7), A100/H100-class 16
///   (312/19.5, 756/51.2), P100 and GTX 16 2 (18.7/9.3 and packed FP16: no tensor cores),
///   Pascal GeForce/P40 and Maxwell 1 (FP16 at 1/64: the table quotes their FP32 peak);
/// - AMD RDNA4 4 (RX 9070 XT 194.7/48.7), RDNA3/3.5 2 (RX 7900 XTX 122.8/61.4),
///   CDNA 8 (MI100 184.6/23.1), Vega/GCN5 and RDNA1/2 2 (packed FP16: MI50 26.5/13.3,
///   RX 6800 XT 41.5/20.7), Polaris 1 (RX 580 6.2/6.2);
/// - Intel Arc (XMX) 8 (A770 137.6/17.2);
/// - Apple 1 (the table quotes Apple's FP32 figure).
pub fn gpu_vector_tflops(gpu: &GpuInfo) -> f64 {
    gpu_tflops(gpu) / matrix_to_vector_ratio(gpu)
}

fn matrix_to_vector_ratio(gpu: &GpuInfo) -> f64 {
    let name = format!(" {} ", gpu.name.to_ascii_uppercase());
    let any = |frags: &[&str]| frags.iter().any(|f| name.contains(f));
    let gfx = gpu.gfx_target.as_deref().unwrap_or("");
    match gpu.vendor {
        GpuVendor::Apple => 1.0,
        GpuVendor::Nvidia => {
            if any(&[
                "A100", "A800", "H100", "H800", "H200", "H20 ", "B100", "B200", "GH200",
            ]) {
                16.0
            } else if any(&["P100", "GTX 16"]) {
                2.0
            } else if any(&[
                "GTX", "P40", " P4 ", "P6000", "TITAN X", "M40", "M60", "K80", "QUADRO P",
                "QUADRO M",
            ]) {
                1.0
            } else if any(&[
                "V100",
                "RTX 20",
                " 2080",
                " 2070",
                " 2060",
                "TITAN RTX",
                " T4 ",
                "QUADRO RTX",
            ]) {
                8.0
            } else {
                4.0
            }
        }
        GpuVendor::Amd => {
            if gfx.starts_with("gfx12") || any(&["9070", "9060", "R9700"]) {
                4.0
            } else if gfx.starts_with("gfx908")
                || gfx.starts_with("gfx90a")
                || gfx.starts_with("gfx94")
                || gfx.starts_with("gfx95")
                || any(&[
                    "MI100", "MI210", "MI250", "MI300", "MI325", "MI350", "MI355",
                ])
            {
                8.0
            } else if any(&[" 580", " 570", " 480", " 470"]) {
                1.0
            } else {
                2.0
            }
        }
        GpuVendor::Intel => 8.0,
        _ => 4.0,
    }
}

/// The GPU computes BF16 at matrix rate, as the pinned ggml-cuda's
/// `fast_bf16_hardware_available` (common.cuh) decides: NVIDIA Ampere and later, AMD
/// RDNA3/RDNA4 and CDNA. Others (Pascal, Volta, Turing, Vega, RDNA1/2) convert.
pub fn gpu_has_fast_bf16(gpu: &GpuInfo) -> bool {
    match gpu.vendor {
        GpuVendor::Nvidia => match gpu
            .compute_capability
            .as_deref()
            .and_then(|c| c.parse::<f64>().ok())
        {
            Some(cc) => cc >= 8.0,
            None => matches!(matrix_to_vector_ratio(gpu) as u32, 4 | 16),
        },
        GpuVendor::Amd => has_vulkan_matrix_units(gpu) || matrix_to_vector_ratio(gpu) == 8.0,
        _ => true,
    }
}

/// Spec-sheet bandwidth of one GPU, bytes/s.
pub fn gpu_peak_bandwidth(gpu: &GpuInfo) -> (f64, Option<String>) {
    match gpu.bandwidth_gbs {
        Some(b) if b.is_finite() && b > 0.0 => (b * 1e9, None),
        _ => (
            UNKNOWN_GPU_BANDWIDTH_GBS * 1e9,
            Some(format!(
                "{}: bandwidth unknown, assumed {UNKNOWN_GPU_BANDWIDTH_GBS} GB/s",
                gpu.name
            )),
        ),
    }
}

/// Effective prompt-processing throughput of one GPU on its default runtime, FLOP/s.
pub fn gpu_effective_flops(gpu: &GpuInfo, f: &Factors) -> f64 {
    gpu_effective_flops_on(gpu, Backend::Cpu, f)
}

/// Effective prompt-processing throughput of one GPU on `backend`, FLOP/s.
pub fn gpu_effective_flops_on(gpu: &GpuInfo, backend: Backend, f: &Factors) -> f64 {
    let eff = match gpu_backend(gpu, backend) {
        Backend::Rocm => f.gpu_tensor_eff_rocm,
        Backend::Vulkan | Backend::Sycl => f.gpu_compute_eff_vulkan,
        Backend::Metal => f.gpu_compute_eff_unified,
        Backend::Cuda | Backend::Cpu => match gpu_memory_class(gpu) {
            GpuMemoryClass::Unified if gpu.vendor == GpuVendor::Apple => f.gpu_compute_eff_unified,
            _ => f.gpu_tensor_eff,
        },
    };
    let matrix_path = if gpu_backend(gpu, backend) == Backend::Vulkan {
        vulkan_matrix_path_ratio(gpu, f)
    } else {
        1.0
    };
    let package = if gpu.unified_memory && gpu.vendor != GpuVendor::Apple {
        f.apu_compute_ratio
    } else {
        1.0
    };
    gpu_tflops(gpu) * 1e12 * eff * matrix_path * package
}

/// Vulkan prompt-matmul rate by ggml-vulkan's path on `gpu` (`engine::vulkan_matrix`),
/// relative to KHR_coopmat, which `gpu_compute_eff_vulkan` measures: NV_coopmat2 at
/// `vulkan_coopmat2_ratio`; shader cores at `vulkan_no_matrix_ratio` where the GPU's
/// table figure counts matrix units the path leaves idle (an Arc A-series GPU, whose XMX
/// engines the pinned engine does not use, or a GPU whose coopmat was turned off); a GPU
/// without matrix units has only its shader cores, which its table figure already is.
/// NVIDIA's driver reaches a larger share of the figure (`vulkan_nvidia_compute_ratio`).
fn vulkan_matrix_path_ratio(gpu: &GpuInfo, f: &Factors) -> f64 {
    let vendor = if gpu.vendor == GpuVendor::Nvidia {
        f.vulkan_nvidia_compute_ratio
    } else {
        1.0
    };
    let path = match vulkan_matrix(gpu) {
        VulkanMatrix::NvCoopmat2 => f.vulkan_coopmat2_ratio,
        VulkanMatrix::KhrCoopmat => 1.0,
        VulkanMatrix::None
            if has_vulkan_matrix_units(gpu)
                || (gpu.vendor == GpuVendor::Intel && is_intel_alchemist(&gpu.name)) =>
        {
            f.vulkan_no_matrix_ratio
        }
        VulkanMatrix::None => 1.0,
    };
    vendor * path
}

/// Arc A-series and Arc Pro A-series names (A310 … A770, Pro A40 … A60): Xe-HPG.
fn is_intel_alchemist(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w.len() >= 3 && w.starts_with('A') && w[1..].chars().all(|c| c.is_ascii_digit()))
}

/// Per-lane PCIe rates after encoding, GB/s, by generation (PCI-SIG: 2.5/5 GT/s 8b/10b,
/// 8/16/32/64 GT/s 128b/130b; gen 6 uses FLIT, ~7.56 GB/s per lane).
fn pcie_lane_gbs(gen: u32) -> f64 {
    match gen {
        0 | 1 => 0.25,
        2 => 0.5,
        3 => 0.985,
        4 => 1.969,
        5 => 3.938,
        _ => 7.56,
    }
}

/// Nominal PCIe rate of a GPU's link, bytes/s (current link if known, else the maximum,
/// else PCIe 4.0 x16 and say so).
pub fn pcie_bytes_per_s(gpu: &GpuInfo) -> (f64, Option<String>) {
    let link = gpu.pcie.unwrap_or_default();
    let gen = link.gen.or(link.max_gen);
    let width = link.width.or(link.max_width);
    match (gen, width) {
        (Some(g), Some(w)) if w > 0 => (pcie_lane_gbs(g) * w as f64 * 1e9, None),
        _ => (
            pcie_lane_gbs(4) * 16.0 * 1e9,
            Some(format!("{}: PCIe link unknown, assumed 4.0 x16", gpu.name)),
        ),
    }
}

/// Theoretical DRAM bandwidth, bytes/s, from the snapshot, or a fallback named.
fn ram_theoretical_bandwidth(mem: &MemoryInfo) -> (f64, Option<String>) {
    if let Some(b) = mem.theoretical_bandwidth_gbs.filter(|b| *b > 0.0) {
        return (b * 1e9, None);
    }
    if let (Some(mts), Some(ch)) = (mem.speed_mts, mem.channels) {
        if mts > 0 && ch > 0 {
            return (mts as f64 * 1e6 * 8.0 * ch as f64, None);
        }
    }
    // Dual-channel DDR4-3200: the commonest desktop configuration of the seeds' era.
    (
        51.2e9,
        Some("RAM bandwidth unknown, assumed dual-channel DDR4-3200 (51.2 GB/s)".into()),
    )
}

/// Effective CPU decode bandwidth for `threads` threads, bytes/s: the memory system's
/// effective rate, reached only when enough cores pull on it.
pub fn cpu_effective_bandwidth(
    hw: &HardwareSnapshot,
    threads: u32,
    f: &Factors,
) -> (f64, Option<String>) {
    let (saturated, assumption) = match hw.memory.measured_bandwidth_gbs.filter(|b| *b > 0.0) {
        Some(m) => (m * 1e9 * f.cpu_bw_eff_measured, None),
        None => {
            let (t, a) = ram_theoretical_bandwidth(&hw.memory);
            (t * f.cpu_bw_eff, a)
        }
    };
    // Several NUMA nodes: the snapshot's bandwidth is the sum over nodes; threads that
    // are not pinned read mostly remote memory, so the other nodes count at
    // `numa_remote_eff`.
    let nodes = hw.cpu.numa_nodes.max(hw.cpu.sockets).max(1) as f64;
    let saturated = saturated / nodes * (1.0 + (nodes - 1.0) * f.numa_remote_eff);
    let working = working_cores(&hw.cpu, threads) as f64;
    let per_core = f.per_core_read_gbs * 1e9;
    (saturated.min(working * per_core), assumption)
}

/// Cores doing useful work for `threads` threads: at most the physical cores.
pub fn working_cores(cpu: &CpuInfo, threads: u32) -> u32 {
    let physical = cpu.physical_cores.max(1);
    threads.clamp(1, physical)
}

/// Multiplier on CPU synchronisation time when threads exceed physical cores: 1.0 at or
/// below the core count, rising steeply as the last SMT siblings (logical CPUs) fill.
/// `x` is the fraction of SMT siblings in use; the penalty grows as x⁴, so 20 threads on
/// a 16-core/32-thread CPU (x = 0.25, ext-5080 points) cost little while 16 threads on
/// 8 cores/16 threads (x = 1, seed 001: 29.9 → 3.7 tok/s) is catastrophic.
pub fn oversubscription_factor(cpu: &CpuInfo, threads: u32, f: &Factors) -> f64 {
    let physical = cpu.physical_cores.max(1) as f64;
    let logical = (cpu.threads as f64).max(physical + 1.0);
    let t = threads.max(1) as f64;
    if t <= physical {
        1.0
    } else {
        let x = ((t - physical) / (logical - physical)).min(2.0);
        1.0 + f.smt_oversubscription_penalty * x.powi(4)
    }
}

/// Int8 multiply-add operations (2 per MAC) one core retires per cycle on the dot
/// products that quantized matmuls run (ggml quantizes activations to Q8 and multiplies
/// int8 x int8), by the best instruction the CPU has. Sources: Intel and Arm optimisation
/// guides and instruction tables (uops.info):
/// - AMX (`amx_int8`) is counted as AVX-512 VNNI: its tiles (1024 MAC/cycle) are used
///   only by a GGML_AMX build for some types, and no corpus point measures it.
/// - AVX-512 VNNI: VPDPBUSD zmm = 64 MACs, two ports on Intel servers, one effective on
///   Zen 4/5 (512-bit ops on 256-bit units): counted as one, 64 MAC/cycle.
/// - AVX-VNNI (256-bit VPDPBUSD): 32 MACs, two ports = 64 MAC/cycle.
/// - AVX2: VPMADDUBSW + VPMADDWD per 32 MACs, two ports = 32 MAC/cycle.
/// - SVE with i8mm (256-bit vectors on Neoverse V1; SMMLA = 64 MACs per 128 bits) and
///   NEON i8mm (SMMLA: 32 MACs per instruction, two pipes) = 64 MAC/cycle.
/// - NEON dotprod (SDOT: 16 MACs per instruction, two pipes) = 32 MAC/cycle.
/// - plain NEON / SSE: 8 MAC/cycle.
pub fn cpu_int8_ops_per_cycle(cpu: &CpuInfo) -> f64 {
    let wide_int8 = [
        "amx_int8",
        "avx512_vnni",
        "avx512vnni",
        "avx_vnni",
        "avxvnni",
        "i8mm",
    ];
    let macs: f64 = if wide_int8.iter().any(|f| cpu.has(f)) {
        64.0
    } else if cpu.has("avx2") || cpu.has("asimddp") || cpu.has("dotprod") {
        32.0
    } else {
        8.0
    };
    2.0 * macs
}

/// Peak int8 dot-product rate of the CPU for `threads` threads, ops/s, at the cores'
/// base clock. A snapshot without one assumes 3.0 GHz (the base clocks of the corpus
/// CPUs span 2.0-4.5 GHz; the fitted `cpu_compute_eff` absorbs what a sustained
/// all-core clock adds over base).
pub fn cpu_peak_flops(cpu: &CpuInfo, threads: u32) -> f64 {
    const ASSUMED_CLOCK_HZ: f64 = 3.0e9;
    let clock = cpu
        .base_clock_mhz
        .filter(|m| *m > 0)
        .map_or(ASSUMED_CLOCK_HZ, |m| f64::from(m) * 1e6);
    working_cores(cpu, threads) as f64 * cpu_int8_ops_per_cycle(cpu) * clock
}

/// How a quant's CPU dot product unpacks its weights, which sets its cost per weight
/// (`vec_dot_*` in ggml-cpu/arch/*/quants.c; the grids in ggml-common.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuDotKind {
    /// One scale per block of 32 and the weights as plain nibbles or bytes (or a 16-entry
    /// table): Q4_0, Q4_1, IQ4_NL, Q8_0, MXFP4, float types.
    Plain,
    /// Super-block sub-scales to unpack: Q2_K, Q4_K, IQ4_XS, ik's IQ*_K and IQ*_KS.
    SubBlockScales,
    /// A separate high-bit array merged into every weight (and, for the K-quants,
    /// sub-scales too): Q3_K (`hmask`), Q5_0/Q5_1/Q5_K and Q6_0/Q6_K (`qh`).
    HighBitPlane,
    /// Lattice codebooks, each lookup giving `weights_per_lookup` weights: IQ1_* and
    /// IQ2_* (uint64 grids, 8), IQ3_XXS/S/M (uint32 grids, 4); ik's trellis IQ*_KT,
    /// which generates 8 weights per seed, is counted with the 8-wide grids.
    Codebook { weights_per_lookup: u32 },
}

/// A quant name without its publisher prefix or ik_llama.cpp's interleaved-row suffix,
/// upper-cased: `UD-Q4_K_XL` -> `Q4_K_XL`, `iq2_xxs_r4` -> `IQ2_XXS`.
pub fn quant_base_name(quant: &str) -> String {
    let q = quant
        .rsplit('-')
        .next()
        .unwrap_or(quant)
        .to_ascii_uppercase();
    q.trim_end_matches("_R4")
        .trim_end_matches("_R8")
        .trim_end_matches("_R16")
        .to_string()
}

/// The dot-product kind of a quant name (`UD-Q4_K_XL`, `IQ2_XXS_R4`, `Q5_0`...), by its
/// bulk ggml type.
pub fn cpu_dot_kind(quant: &str) -> CpuDotKind {
    let base = quant_base_name(quant);
    let q = base.as_str();
    let ik_k_type = q.ends_with("_K") || q.ends_with("_KS") || q.ends_with("_KSS");
    if q.ends_with("_KT") || (!ik_k_type && ["IQ1", "IQ2"].iter().any(|p| q.starts_with(p))) {
        CpuDotKind::Codebook {
            weights_per_lookup: 8,
        }
    } else if !ik_k_type && q.starts_with("IQ3") {
        CpuDotKind::Codebook {
            weights_per_lookup: 4,
        }
    } else if ["Q3_K", "Q5_", "Q6_"].iter().any(|p| q.starts_with(p)) {
        CpuDotKind::HighBitPlane
    } else if q.starts_with("IQ4_XS") || q.contains("_K") {
        CpuDotKind::SubBlockScales
    } else {
        CpuDotKind::Plain
    }
}

/// Relative CPU cost per weight of a quant's dot products, plain blocks 1: sub-block
/// scales add `cpu_kquant_dot_cost` − 1, a high-bit plane adds `cpu_bitplane_dot_extra`
/// on top, and a codebook's extra cost (`cpu_codebook_dot_cost` − 1 for the 8-wide
/// grids) scales with its lookups per weight (an IQ3 grid entry holds 4 weights, so
/// twice the lookups of IQ2's 8).
///
/// An engine with its own CPU matmul kernels (ik_llama.cpp's `iqk_mul_mat`) unpacks the
/// sub-scales at no extra cost: in ik_llama.cpp discussion #164 its Q4_K, Q2_K and
/// IQ4_XS rows decode at its Q4_0 speed (22.5-23.5 against 23.4 tok/s, M2 Max, 4
/// threads) where mainline's run at 0.58-0.74 of its own Q4_0; its high-bit-plane and
/// codebook quants stay slower.
pub fn cpu_dot_cost(quant: &str, f: &Factors, own_kernels: bool) -> f64 {
    let scales = if own_kernels {
        0.0
    } else {
        f.cpu_kquant_dot_cost - 1.0
    };
    match cpu_dot_kind(quant) {
        CpuDotKind::Plain => 1.0,
        CpuDotKind::SubBlockScales => 1.0 + scales,
        CpuDotKind::HighBitPlane => 1.0 + scales + f.cpu_bitplane_dot_extra,
        CpuDotKind::Codebook { weights_per_lookup } => {
            1.0 + (f.cpu_codebook_dot_cost - 1.0) * 8.0 / f64::from(weights_per_lookup)
        }
    }
}

/// The memory's name for bottleneck text: `DDR4`, `LPDDR5X`, or `system RAM`.
pub fn ram_label(mem: &MemoryInfo) -> String {
    mem.dimm_type
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "system RAM".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_tflops_take_the_matrix_units_out_of_the_table_figure() {
        let v = |name: &str| {
            let g = crate::hardware::gpu_table::lookup(name)
                .unwrap()
                .to_gpu_info(0);
            (gpu_tflops(&g), gpu_vector_tflops(&g))
        };
        // Ampere GeForce: 142.3 FP16-accumulate tensor TFLOPS, 35.6 FP32.
        let (t, vec) = v("RTX 3090");
        assert!(
            (vec - t / 4.0).abs() < 1e-9 && (vec - 35.6).abs() < 0.1,
            "{vec}"
        );
        // RDNA3: WMMA rate twice the dual-issue FP32 rate.
        let (t, vec) = v("RX 7900 XTX");
        assert!((vec - t / 2.0).abs() < 1e-9, "{vec}");
        // Vega 20 (no matrix cores): packed FP16 is twice FP32.
        let (t, vec) = v("AMD Instinct MI50");
        assert!((vec - t / 2.0).abs() < 1e-9, "{vec}");
        // Apple quotes FP32 already, and so does the table for GPUs without fast FP16.
        for name in ["Apple M2 Max", "Tesla P40", "GTX 1080 Ti", "Tesla M40"] {
            let (t, vec) = v(name);
            assert_eq!(t, vec, "{name}");
        }
        // P100 and Turing without tensor cores: packed FP16 is twice FP32.
        for name in ["Tesla P100", "GTX 1660 Super"] {
            let (t, vec) = v(name);
            assert!((vec - t / 2.0).abs() < 1e-9, "{name}: {vec}");
        }
    }

    #[test]
    fn fast_bf16_follows_the_pinned_engine_rule() {
        let has = |name: &str| {
            gpu_has_fast_bf16(
                &crate::hardware::gpu_table::lookup(name)
                    .unwrap()
                    .to_gpu_info(0),
            )
        };
        for name in [
            "RTX 3090",
            "RTX 4090",
            "H100 PCIe",
            "RX 7900 XTX",
            "RX 9070 XT",
        ] {
            assert!(has(name), "{name}");
        }
        for name in [
            "Tesla P40",
            "Tesla P100",
            "Tesla V100 PCIe 16GB",
            "RTX 2080 Ti",
            "MI50",
            "RX 6800 XT",
        ] {
            assert!(!has(name), "{name}");
        }
    }

    #[test]
    fn quant_names_map_to_their_cpu_dot_kind() {
        use CpuDotKind::*;
        let grid8 = Codebook {
            weights_per_lookup: 8,
        };
        let grid4 = Codebook {
            weights_per_lookup: 4,
        };
        for (q, k) in [
            ("Q4_0", Plain),
            ("IQ4_NL_R4", Plain),
            ("Q8_0", Plain),
            ("F16", Plain),
            ("MXFP4_MOE", Plain),
            ("Q4_K_M", SubBlockScales),
            ("UD-Q4_K_XL", SubBlockScales),
            ("Q2_K_S", SubBlockScales),
            ("IQ4_XS", SubBlockScales),
            ("IQ2_K", SubBlockScales),
            ("IQ3_KS", SubBlockScales),
            ("IQ3_K", SubBlockScales),
            ("Q5_0", HighBitPlane),
            ("Q6_K_R4", HighBitPlane),
            ("Q3_K_S", HighBitPlane),
            ("Q5_K_M", HighBitPlane),
            ("IQ2_XXS", grid8),
            ("IQ2_M", grid8),
            ("IQ1_M", grid8),
            ("IQ4_KT", grid8),
            ("IQ3_S_R4", grid4),
            ("IQ3_XXS", grid4),
        ] {
            assert_eq!(cpu_dot_kind(q), k, "{q}");
        }
    }
    use crate::hardware::PcieLink;

    fn gpu(name: &str, bw: Option<f64>) -> GpuInfo {
        GpuInfo {
            index: 0,
            name: name.into(),
            vendor: GpuVendor::Nvidia,
            vram_bytes: 12 << 30,
            vram_free_bytes: None,
            bandwidth_gbs: bw,
            fp16_tflops: None,
            compute_capability: None,
            gfx_target: None,
            unified_memory: false,
            pcie: Some(PcieLink {
                gen: Some(3),
                width: Some(16),
                max_gen: None,
                max_width: None,
            }),
            uuid: None,
            pci_bus_id: None,
            power_limit_w: None,
            backends: Vec::new(),
            vulkan_matrix: None,
        }
    }

    #[test]
    fn memory_class_follows_the_name() {
        assert_eq!(
            gpu_memory_class(&gpu("NVIDIA A100-SXM4-80GB", None)),
            GpuMemoryClass::Hbm
        );
        assert_eq!(
            gpu_memory_class(&gpu("RTX 3060 12GB", None)),
            GpuMemoryClass::Gddr
        );
    }

    #[test]
    fn pcie3_x16_is_about_15_75_gbs() {
        let (b, a) = pcie_bytes_per_s(&gpu("RTX 3060 12GB", Some(360.0)));
        assert!((b / 1e9 - 15.76).abs() < 0.01);
        assert!(a.is_none());
    }

    #[test]
    fn unknown_bandwidth_is_named_not_hidden() {
        let (_, a) = gpu_peak_bandwidth(&gpu("Mystery", None));
        assert!(a.unwrap().contains("assumed"));
    }

    #[test]
    fn more_threads_than_cores_costs_time() {
        let cpu = CpuInfo {
            physical_cores: 8,
            threads: 16,
            ..Default::default()
        };
        let f = super::super::factors::DEFAULT_FACTORS;
        assert_eq!(oversubscription_factor(&cpu, 8, &f), 1.0);
        assert!(oversubscription_factor(&cpu, 16, &f) > 2.0);
        assert_eq!(working_cores(&cpu, 16), 8);
    }

    #[test]
    fn int8_rate_follows_the_best_dot_product_instruction() {
        let cpu = |flags: &[&str]| CpuInfo {
            physical_cores: 8,
            threads: 8,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        };
        let avx2 = cpu_int8_ops_per_cycle(&cpu(&["avx2", "fma"]));
        let vnni = cpu_int8_ops_per_cycle(&cpu(&["avx2", "avx512f", "avx512_vnni"]));
        let dot = cpu_int8_ops_per_cycle(&cpu(&["neon", "asimddp"]));
        let i8mm = cpu_int8_ops_per_cycle(&cpu(&["neon", "asimddp", "i8mm"]));
        assert_eq!((avx2, vnni), (64.0, 128.0));
        assert_eq!((dot, i8mm), (64.0, 128.0));
        assert_eq!(cpu_int8_ops_per_cycle(&cpu(&[])), 16.0);
    }

    #[test]
    fn arc_a_series_on_vulkan_has_no_matrix_cores_and_intel_its_own_bandwidth() {
        let f = super::super::factors::DEFAULT_FACTORS;
        let mut arc = gpu("Intel Arc A310 4GB", Some(124.0));
        arc.vendor = GpuVendor::Intel;
        arc.fp16_tflops = Some(24.6);
        let mut b50 = arc.clone();
        b50.name = "Intel Arc Pro B50 16GB".into();
        // Vulkan: shader cores only on Alchemist, KHR_coopmat (XMX) on Battlemage.
        let vk = |g: &GpuInfo| gpu_effective_flops_on(g, Backend::Vulkan, &f);
        assert!((vk(&arc) / f.vulkan_no_matrix_ratio / vk(&b50) - 1.0).abs() < 1e-9);
        // SYCL is not the Vulkan backend: no cut.
        assert_eq!(
            gpu_effective_flops_on(&arc, Backend::Sycl, &f),
            gpu_effective_flops_on(&b50, Backend::Sycl, &f)
        );
        let (bw, _) = gpu_effective_bandwidth_on(&arc, Backend::Vulkan, &f);
        assert!((bw - 124e9 * f.gpu_bw_eff_vulkan_intel).abs() < 1.0);
        assert!(is_intel_alchemist("Intel Arc Pro A60") && !is_intel_alchemist("Arc B580"));
    }

    #[test]
    fn vulkan_prompt_rate_follows_the_matrix_path() {
        let f = super::super::factors::DEFAULT_FACTORS;
        let mut g = gpu("NVIDIA GeForce RTX 3090", Some(936.0));
        g.fp16_tflops = Some(142.0);
        let vk = |g: &GpuInfo| gpu_effective_flops_on(g, Backend::Vulkan, &f);
        let rate = |path| {
            let mut g = g.clone();
            g.vulkan_matrix = Some(path);
            vk(&g)
        };
        let khr = rate(VulkanMatrix::KhrCoopmat);
        assert!((rate(VulkanMatrix::NvCoopmat2) / khr - f.vulkan_coopmat2_ratio).abs() < 1e-9);
        assert!((rate(VulkanMatrix::None) / khr - f.vulkan_no_matrix_ratio).abs() < 1e-9);
        // Unrecorded: an RTX GPU takes coopmat2; CUDA does not care.
        assert_eq!(vk(&g), rate(VulkanMatrix::NvCoopmat2));
        assert_eq!(
            gpu_effective_flops_on(&g, Backend::Cuda, &f),
            gpu_effective_flops_on(
                &{
                    let mut h = g.clone();
                    h.vulkan_matrix = Some(VulkanMatrix::None);
                    h
                },
                Backend::Cuda,
                &f
            )
        );
        // A GPU without matrix units: shader cores are all it has, no cut.
        let mut p40 = gpu("NVIDIA Tesla P40", Some(347.0));
        p40.fp16_tflops = Some(11.76);
        let mut forced = p40.clone();
        forced.vulkan_matrix = Some(VulkanMatrix::None);
        assert_eq!(vk(&p40), vk(&forced));
        let want = 11.76e12 * f.gpu_compute_eff_vulkan * f.vulkan_nvidia_compute_ratio;
        assert!((vk(&p40) - want).abs() < 1.0);
    }

    #[test]
    fn a_second_numa_node_adds_only_part_of_its_bandwidth() {
        let f = super::super::factors::DEFAULT_FACTORS;
        let mut hw = HardwareSnapshot {
            schema_version: crate::hardware::snapshot::SNAPSHOT_SCHEMA_VERSION,
            source: "test".into(),
            gpus: vec![],
            system: Default::default(),
            notes: vec![],
            cpu: CpuInfo {
                physical_cores: 64,
                threads: 64,
                sockets: 1,
                numa_nodes: 1,
                ..Default::default()
            },
            memory: MemoryInfo {
                theoretical_bandwidth_gbs: Some(200.0),
                ..Default::default()
            },
        };
        let one = cpu_effective_bandwidth(&hw, 64, &f).0;
        hw.cpu.numa_nodes = 2;
        hw.cpu.sockets = 2;
        let two = cpu_effective_bandwidth(&hw, 64, &f).0;
        assert!(two < one && two > 0.5 * one, "{two} vs {one}");
    }
}
