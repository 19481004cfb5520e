//! Every efficiency factor of the speed model, in one place, with the data it came from.
//!
//! The physics in [`super::decode`] and [`super::prefill`] is "bytes over bandwidth" and
//! "FLOPs over throughput"; the numbers here say how much of the spec-sheet bandwidth
//! and throughput the engines actually reach, and what fixed costs they pay per layer,
//! per token and per device change. Factors marked *fitted* were fitted by
//! `perf::calibration::fit` on `profiles/calibration/points.toml` (published and seed
//! measurements; `docs/calibration.md` lists every point and its error) and then
//! copied here; the bounds they were allowed to take are physically plausible ranges,
//! listed in [`FIT_BOUNDS`]. Factors marked *cited* come from a named measurement and
//! are not fitted. This module must not compute anything: it is data.

use serde::Serialize;

/// The speed model's efficiency factors and fixed costs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Factors {
    // ---- decode (tg): bandwidth ----
    /// Fraction of spec-sheet bandwidth reached by decode matvecs on discrete GDDR GPUs.
    /// *Fitted* on the single-GPU XiongjieDai llama-bench tg512 rows (RTX 3070/3090/4090,
    /// 2×3090, 2×4090, 6×3090) and the seeds' 3060/3070/3090/5090/RTX PRO 4000 figures.
    pub gpu_bw_eff_gddr: f64,
    /// Same for HBM datacenter GPUs (A100, H100...). *Fitted* on published rows 15 and 17
    /// (A100-SXM 24.61 and H100-PCIe 25.03 tok/s on Llama-3-70B Q4_K_M): llama.cpp's
    /// matvec kernels reach well under half of HBM peak.
    pub gpu_bw_eff_hbm: f64,
    /// Same for unified-memory GPUs (Apple M-series). *Fitted* on published rows 19, 21, 22
    /// and 23 (M2 Ultra, M1 Max, M3 Max, M1).
    pub gpu_bw_eff_unified: f64,
    /// Fraction of spec-sheet bandwidth reached by decode matvecs under ROCm/HIP (AMD
    /// discrete and integrated GPUs). *Fitted* on the ROCm points: Strix Halo
    /// (lhl/strix-halo-testing), RX 6700 XT (llama.cpp PR #5835), RX 7900 XTX (PR #26284).
    pub gpu_bw_eff_rocm: f64,
    /// Same under Vulkan (any vendor; also used for SYCL, which no corpus point measures).
    /// *Fitted* on the Vulkan points: Strix Halo, RX 6800 XT (PR #2059), RX 6700 XT
    /// (PR #5835), RX 9070 XT, Arc A310, RTX 3060/4090 (geerlingguy/ai-benchmarks), RTX
    /// 2070 (PR #13324).
    pub gpu_bw_eff_vulkan: f64,
    /// Same under Vulkan on Intel Arc GPUs. *Cited*, not fitted: the corpus has one Intel
    /// tg point (Arc A310 on a Pi 500+, 22% of peak), too few to fit. llama.cpp issue
    /// #17628 (https://github.com/ggml-org/llama.cpp/issues/17628, 2025-11-30, build
    /// b7189): an Arc A770 (560 GB/s) decodes Meta-Llama-3.1-8B-Instruct Q4_K_M
    /// (4.58 GiB = 4.92 GB) at 53 t/s, 4.92 × 53 = 261 GB/s = 0.47 of peak. Earlier
    /// builds were slower (PR #10296, 2024-11: A770 Llama-3-8B Q4_K_S 28.89 t/s = 0.24).
    pub gpu_bw_eff_vulkan_intel: f64,
    /// Fraction of theoretical DRAM bandwidth (channels × MT/s × 8) that CPU-side decode
    /// matvecs reach with enough threads. *Fitted* on the seeds' hybrid and CPU-only runs
    /// (seed 001 RTX 3070 -ngl 27, seed 002 Xeon E5-2620 v4) and the Ryzen AI 9 365 and
    /// RTX 5080 hybrid rows in points.toml.
    pub cpu_bw_eff: f64,
    /// Fraction of a *measured* multi-threaded read bandwidth that decode reaches (the
    /// measurement already includes the memory system's own losses). *Assumed*, not
    /// fitted: no point in the calibration set carries a measured bandwidth. Decode
    /// cannot beat a read-bandwidth measurement, and 0.88 leaves room for the
    /// dequantisation work interleaved with the reads.
    pub cpu_bw_eff_measured: f64,
    /// Read bandwidth one core sustains, decimal GB/s: decode bandwidth grows with threads
    /// up to `memory bandwidth / this`, then saturates. *Fitted* within 5-60 GB/s (one
    /// x86 core streams roughly 10-20 GB/s in single-thread STREAM results,
    /// https://www.cs.virginia.edu/stream/; recent cores and Apple's more). On the
    /// 469-point corpus it sits at its upper bound (docs/calibration.md), with
    /// `cpu_bw_eff` at its own: the thread-scaling points ask for less saturation than the
    /// corner `min(threads × this, memory)` gives (a smooth harmonic form was tried and
    /// cross-validated worse).
    pub per_core_read_gbs: f64,
    /// Share of the other NUMA nodes' bandwidth that decode gets on a multi-node machine
    /// (llama.cpp's default placement neither pins threads nor interleaves pages, so most
    /// reads of a thread cross the interconnect, whose bandwidth is a fraction of a node's
    /// local DRAM rate). *Assumed* 0.5, not fitted: no corpus point is a multi-node
    /// machine, so this stays a stated assumption until one is added.
    pub numa_remote_eff: f64,
    /// Extra CPU synchronisation time when threads exceed the physical core count:
    /// × (1 + this × x⁴), x = fraction of SMT siblings in use (see
    /// `devices::oversubscription_factor`). every graph node ends in a barrier that waits for the
    /// slowest thread, and a thread sharing a core with its SMT sibling (or with the
    /// thread driving the GPU) is the slowest. *Fitted* on seed 001 ("16 threads instead of 8 drops throughput from 29.9
    /// to 3.7 tok/s") — the only measurement of it.
    pub smt_oversubscription_penalty: f64,

    // ---- decode (tg): fixed costs ----
    /// Seconds per GPU layer per "kernel unit" (a dense attention + FFN block is one unit;
    /// see `moe_kernel_units`): kernel launches and tiny-kernel latency that do not scale
    /// with bytes. *Fitted* (all GPU tg points).
    pub gpu_layer_overhead_s: f64,
    /// Seconds per GPU layer per kernel unit that scale with the GPU's speed: the tiny
    /// kernels (norms, rope, KV copies, activation quantisation) run at the GPU's clock
    /// and SM count, not the host's. Quoted for a GPU of 100 vector (non-matrix) FP32
    /// TFLOPS and scaled by 100 / the GPU's vector TFLOPS (`devices::gpu_vector_tflops`):
    /// a 4090 (82.6) pays under half a 3090's (35.6) — the reason a 4090 decodes 18-26%
    /// faster than a 3090 with only 8% more bandwidth (published_calibration.csv rows
    /// 2/4/6). Scaling by the table's FP16 figure instead, which counts matrix units,
    /// charged an Apple GPU (no matrix units) four times what an NVIDIA GPU of equal
    /// vector rate pays. *Fitted*.
    pub gpu_layer_compute_s: f64,
    /// Host-side per-layer cost of ROCm relative to CUDA (the HIP runtime's launch and
    /// graph-replay latency; the pinned tree builds HIP graphs by default, ggml/CMakeLists.txt
    /// `GGML_HIP_GRAPHS ON`). *Fitted*.
    pub rocm_layer_overhead_ratio: f64,
    /// Same for Vulkan (command-buffer recording and submission per graph). *Fitted*.
    pub vulkan_layer_overhead_ratio: f64,
    /// Same for Metal (command encoding per graph on the host). *Fitted*.
    pub metal_layer_overhead_ratio: f64,
    /// Extra kernel units of a routed-expert FFN over a dense one. The op sequences in
    /// the pinned mainline tree suggest ~0.6: `src/models/llama.cpp` builds ≈ 20 kernels
    /// per block (norm, 3 projections, rope ×2, KV copies, attention, output projection,
    /// residual, norm, gate/up/down, GLU, residual), `src/models/qwen35moe.cpp` adds router,
    /// top-k, softmax, 3 expert matmuls, weighted sum, shared expert + gate ≈ +12.
    /// *Fitted* within 0.3-2.0 on the MoE tg points (values in docs/calibration.md); the
    /// MoE points are mostly Qwen3.5 blocks that are also recurrent, so it trades off
    /// against `recurrent_kernel_units`: read the pair together.
    pub moe_kernel_units: f64,
    /// Extra kernel units of a recurrent (gated delta-net) mixer over softmax attention:
    /// conv, gating, recurrence, norms (`src/models/delta-net-base.cpp`) ≈ +10 kernels, ~0.5
    /// by count; *fitted* within 0.2-2.0 on the Qwen3.5 tg points (docs/calibration.md).
    pub recurrent_kernel_units: f64,
    /// Seconds per CPU layer per kernel unit: thread-pool barriers after every graph node.
    /// *Fitted* (seed 001, seed 002 and the CPU-only rows).
    pub cpu_layer_overhead_s: f64,
    /// Extra seconds per CPU layer per kernel unit per thread: every graph node ends in a
    /// barrier that every thread must reach (pinned llama.cpp ggml/src/ggml-cpu/ggml-cpu.c
    /// `ggml_barrier`: an OpenMP barrier or one shared atomic counter), so its cost grows
    /// with the thread count. This is why a 192-core server decodes
    /// a 3B model at 23.5 tok/s, not the 120 its bandwidth allows. *Fitted*.
    pub cpu_thread_sync_s: f64,
    /// Fraction of the CPU's peak int8 rate (`devices::cpu_int8_ops_per_cycle`) that
    /// decode matvecs reach: with few threads decode is compute-bound (ik_llama.cpp PR #55:
    /// 5.22 tok/s on 2 Zen4 threads, 9.24 on 4, against 7.56 bandwidth-bound on 4 for a
    /// bigger Q8_0 file). *Fitted* on the CPU tg points with 2-8 threads.
    pub cpu_tg_compute_eff: f64,
    /// ik_llama.cpp decode compute speed-up over mainline on the CPU (its own matvec
    /// kernels: PR #55 8.88 vs 5.22 tok/s on 2 threads). *Fitted*.
    pub ik_cpu_tg_speedup: f64,
    /// Share of the shorter of CPU decode's read time and compute time hidden under the
    /// longer (1: perfect overlap, time = max; 0: none, time = sum). A core streams a
    /// weight block and then dequantises and dots it; the hardware prefetcher hides part
    /// of the next block's latency, not all of it. *Fitted* on the CPU tg points: the
    /// Threadripper 5975WX rows of ik_llama.cpp PRs #54/#132 at 8 threads fall with the
    /// file size (Q4_0 11.99, Q6_K 9.75, Q8_0 8.21 tok/s), which neither a pure read
    /// bound nor a pure compute bound reproduces.
    pub cpu_tg_overlap: f64,
    /// Seconds per device change on the per-token path (CPU↔GPU, GPU↔GPU): stream
    /// synchronisation plus the scheduler's copy setup. The activation itself is added
    /// as bytes over the PCIe link. *Fitted* (seed 000 dual-3060, seed 001, 5080 hybrid)
    /// within 5-100 µs: at each split the pinned scheduler (ggml/src/ggml-backend.cpp
    /// `ggml_backend_sched_compute_splits`) waits on the previous backend's event or
    /// stream and issues one async copy of the split's inputs, a few launch latencies
    /// (each a few µs) plus a PCIe round trip (~1 µs); 100 µs is ten times that. (The
    /// former 1 ms ceiling let folds that lacked the `--n-cpu-moe` points, 49 device
    /// changes per token, push it to 176 µs: leave-one-source-out CUDA tg 15.9% → 10.5%
    /// with the tighter bound.)
    pub boundary_sync_s: f64,
    /// Seconds per token spent on the host regardless of placement: graph build,
    /// scheduling, logits copy, sampling. *Fitted*: the 1B-3B models of the corpus
    /// (geerlingguy/ai-benchmarks, 240-760 tok/s) separate it from the per-layer costs.
    pub token_host_overhead_s: f64,
    /// ik_llama.cpp per-layer GPU overhead relative to mainline (fused MoE up/gate, fused
    /// norms, fused delta-net reduce the kernel count). *Fitted* on seed 000 (ik 70.12 vs
    /// mainline 34.00 tok/s, 17.90 vs 15.40 on the same dual-3060 rig): the fit settles
    /// at 1.0 — once the early-2026 mainline's delta-net-on-CPU graph splits are in the
    /// layout (`recurrent_on_cpu` points), no separate GPU-side ik advantage is visible.
    pub ik_gpu_overhead_ratio: f64,
    /// ik_llama.cpp per-layer CPU overhead relative to mainline. *Fitted* on the Ryzen AI
    /// 9 365 CPU-only Qwen3.5-4B rows (ik 22.41 vs mainline 12.85 tok/s): the fit settles
    /// at 1.0 because lowering it would break the mainline hybrid points; the mainline
    /// CPU tg row stays an outlier (+121%, docs/calibration.md).
    pub ik_cpu_overhead_ratio: f64,

    // ---- prefill (pp) ----
    /// Fraction of the GPU table's dense FP16 tensor TFLOPS reached by prompt-processing
    /// GEMMs on NVIDIA/AMD discrete GPUs. *Fitted* on the pp512 rows (3070, 3090, 4090,
    /// 2×3090, 2×4090, A100, H100) and seed 003's pp512.
    pub gpu_tensor_eff: f64,
    /// Same under ROCm/HIP (rocBLAS/hipBLASLt and MMQ on RDNA/CDNA). *Fitted*.
    pub gpu_tensor_eff_rocm: f64,
    /// Same under Vulkan (coopmat/coopmat2 or scalar shaders). *Fitted*.
    pub gpu_compute_eff_vulkan: f64,
    /// Same for unified-memory GPUs (Apple: no tensor cores; the table carries the FP16
    /// shader rate). *Fitted* on published rows 18, 20 and the M3 Max / M1 notes.
    pub gpu_compute_eff_unified: f64,
    /// Fraction of the CPU's peak int8 dot-product rate (cores × assumed clock × int8 ops
    /// per cycle for its ISA, `devices::cpu_int8_ops_per_cycle`) reached by mainline
    /// prompt processing (quantized matmuls run as int8 dot products against Q8
    /// activations). *Fitted* on the CPU pp points (ik_llama.cpp PRs #54, #55, #121, the
    /// Ryzen AI 9 365 row).
    pub cpu_compute_eff: f64,
    /// ik_llama.cpp CPU prompt-processing speed-up over mainline. *Fitted* on the Ryzen
    /// AI 9 365 pp512 pair (ik 281.56 vs mainline 56.47 t/s on Qwen3.5-4B: ×5.0); for
    /// comparison ik_llama.cpp PR #533 ("Much faster CPU prompt processing (part 2)")
    /// reports Llama-3.1-8B pp512 on a Ryzen 7950X of 353-372 t/s against 170 t/s for
    /// mainline's fastest quant: ×2.1 on a dense non-recurrent model.
    pub ik_cpu_pp_speedup: f64,
    /// Further ik_llama.cpp CPU prompt-processing speed-up of its interleaved-row
    /// (`_R4`/`_R8`) types. *Fitted* on ik_llama.cpp PRs #121, #122, #132 (each PR's own
    /// table reports 1.3-1.6x for the `_R4` type over the plain one).
    pub ik_repacked_pp_speedup: f64,
    /// Mainline's batched CPU GEMM (tinyBLAS / repacked rows, `KernelTraits::
    /// cpu_gemm_types`) over its per-row `vec_dot` path. *Fitted* on the mainline CPU pp
    /// points: ik_llama.cpp PR #54's mainline Q4_0/Q8_0 (GEMM) against PR #55's Q5_0 and
    /// the Ryzen AI 9 365 IQ4_XS (no GEMM).
    pub cpu_gemm_pp_speedup: f64,
    /// Fraction of the PCIe link's nominal rate (gen × width, after encoding) reached by
    /// host→device weight copies. *Assumed* 0.8: pinned host→device copies typically
    /// reach 12-13 GB/s of PCIe 3.0 x16's 15.75 GB/s (CUDA samples `bandwidthTest`);
    /// no calibration point isolates it.
    pub pcie_eff: f64,
    /// Seconds per ubatch per layer per kernel unit during prompt processing (launches,
    /// small ops, synchronisation between graph splits). *Fitted* on the pp rows.
    pub pp_layer_overhead_s: f64,
    /// Tokens per expert at which a GPU's routed-expert matmul runs at half its
    /// large-batch rate during prompt processing. A MoE ubatch of `u` tokens gives each
    /// used expert only `u × k/n` of them (16 for a 256-expert top-8 model at `-ub 512`,
    /// 32 for Qwen3-30B-A3B), and the pinned kernels tile such narrow matmuls poorly
    /// (`mul_mat_id` → MMQ with `mmq_x` up to 128 columns, ggml-cuda/mmq.cuh; the Vulkan
    /// and Metal `mul_mm_id` shaders likewise): an expert's FLOPs are charged
    /// `(m + this)/m` times. *Fitted* on the MoE pp points, which the model without it
    /// over-predicted by a median +50–100% on every GPU backend while dense pp was
    /// unbiased.
    pub moe_pp_half_batch: f64,
    /// The same on the CPU (ggml-cpu's `mul_mat_id` runs one GEMM per used expert over
    /// its gathered rows, ggml/src/ggml-cpu/ggml-cpu.c `ggml_compute_forward_mul_mat_id`).
    /// *Fitted* on the CPU MoE pp points (DeepSeek-R1 on a Xeon 6980P, ik PR #278).
    pub cpu_moe_pp_half_batch: f64,
    /// Prompt-processing throughput of an integrated GPU that shares its package's power
    /// budget and LPDDR memory with the CPU (AMD Strix Halo, NVIDIA GB10), relative to a
    /// discrete GPU of the same backend and spec-sheet TFLOPS: the spec sheet quotes the
    /// boost clock, which the iGPU does not hold under a sustained matmul load inside the
    /// package's 55-120 W. *Fitted* on the Strix Halo pp points (three independent sources:
    /// lhl/strix-halo-testing, kyuz0/amd-strix-halo-toolboxes, blog.tosukui.xyz).
    pub apu_compute_ratio: f64,
    /// CPU dot-product cost per weight of the super-block quants (Q2_K, Q4_K, IQ4_XS,
    /// ik's IQ*_K/_KS) relative to the plain 4- and 8-bit blocks (Q4_0, IQ4_NL, Q8_0): their
    /// `vec_dot` unpacks sub-block scales per 16 or 32 weights (ggml-cpu/arch/*/quants.c);
    /// the high-bit-plane quants pay it too, plus `cpu_bitplane_dot_extra`. *Fitted* on the
    /// CPU points that vary the quant at a fixed thread count (ik_llama.cpp discussion
    /// #164's M2 Max table, ik PRs #54/#55/#132 on a 7950X and a 5975WX).
    pub cpu_kquant_dot_cost: f64,
    /// The same for the 8-wide codebook quants (IQ1_*, IQ2_*, ik's trellis IQ*_KT): every
    /// 8 weights are a lattice-grid lookup plus a sign mask (`iq2xxs_grid`, `ksigns_iq2xs`
    /// in ggml-common.h); IQ3's 4-wide grids pay the extra over 1 twice
    /// (`devices::cpu_dot_cost`). *Fitted* on the same points.
    pub cpu_codebook_dot_cost: f64,
    /// Prompt-matmul rate of float (F16/BF16/F32) weights on a GPU relative to quantized
    /// ones: float weights skip activation quantisation and in-tile dequantisation and go
    /// to the vendor GEMM (ggml-cuda.cu `ggml_cuda_mul_mat` takes cuBLAS/hipBLAS when
    /// `ggml_cuda_should_use_mmq` is false, as for every non-quantized type; Metal's
    /// `kernel_mul_mm_f16_f32`). *Fitted* on the F16/BF16 GPU pp points (6x3090 CUDA,
    /// M2 Max and M2 Ultra Metal, R9700 and MI50 ROCm).
    pub float_pp_speedup: f64,
    /// Prompt-matmul rate of ggml-vulkan's NV_coopmat2 path relative to KHR_coopmat (the
    /// baseline `gpu_compute_eff_vulkan` is fitted on) on the same GPU: coopmat2's flexible
    /// dimensions, in-shader dequantisation of the block loads and workgroup-scope tiles
    /// (pinned ggml-vulkan.cpp, the `coopmat2` pipelines). *Fitted* on the NVIDIA Vulkan pp
    /// points whose source states the path (llama.cpp PR #13506: RTX 3090 pp512 4279 with
    /// coopmat2 against 3157 with KHR_coopmat) and on NVIDIA GPUs of unstated path, which
    /// `engine::vulkan_matrix` takes to be coopmat2.
    pub vulkan_coopmat2_ratio: f64,
    /// Prompt-matmul rate of ggml-vulkan on shader cores (`matrix cores: none`) relative to
    /// KHR_coopmat, on a GPU whose table figure counts matrix units the path does not use
    /// (Arc A-series, which the pinned engine keeps off its XMX engines; an NVIDIA GPU run with
    /// `GGML_VK_DISABLE_COOPMAT`): its integer-dot and FP16 shaders reach only part of that
    /// figure. *Fitted* on the points that state the path (llama.cpp PR #13506's 3090 without
    /// coopmat) and the Arc A770 and A310 points.
    pub vulkan_no_matrix_ratio: f64,
    /// CPU dot-product cost per weight that a separate high-bit array adds (Q3_K's
    /// `hmask`, the `qh` of Q5_0/Q5_1/Q5_K and Q6_0/Q6_K: every weight's top bit is
    /// extracted and merged before the products), on top of `cpu_kquant_dot_cost`'s
    /// sub-scales (`devices::cpu_dot_cost`). *Fitted* on the CPU points that vary the quant
    /// at fixed threads (ik_llama.cpp discussion #164's M2 Max table: mainline Q5_0, Q5_K, Q6_K,
    /// Q3_K decode at 0.46-0.53 of its Q4_0, Q4_K and IQ4_XS at 0.67-0.73; ik PR #55 on a 7950X).
    pub cpu_bitplane_dot_extra: f64,
    /// Prompt-matmul rate of ggml-vulkan on NVIDIA GPUs relative to the other vendors' at the
    /// same path and table TFLOPS: NVIDIA's driver compiles the cooperative-matrix shaders onto
    /// its tensor cores at a higher share of their rate than AMD's (RDNA3/RDNA4 WMMA) and
    /// Intel's (Xe2 XMX) drivers do. *Fitted* on the Vulkan pp points with a stated path: on
    /// the same RTX 3090, KHR_coopmat runs 3.15k t/s (llama.cpp PRs #12135, #13506) while
    /// RDNA3/RDNA4 and Arc B-series KHR_coopmat points fall well short of their table figure.
    pub vulkan_nvidia_compute_ratio: f64,
}

/// Batch size at and above which mainline and ik copy host-resident weights to the GPU
/// instead of computing on the CPU ("op offload"). Source: pinned llama.cpp
/// `ggml/src/ggml-cuda/ggml-cuda.cu`, `ggml_backend_cuda_device_offload_op`
/// (`const int min_batch_size = 32;`).
pub const OP_OFFLOAD_MIN_BATCH: u32 = 32;

/// The fitted values (see `docs/calibration.md`, regenerated by
/// `cargo run --release --example calibration_report`).
pub const DEFAULT_FACTORS: Factors = Factors {
    gpu_bw_eff_gddr: 0.8856,
    gpu_bw_eff_hbm: 0.6166,
    gpu_bw_eff_unified: 0.9,
    gpu_bw_eff_rocm: 0.7654,
    gpu_bw_eff_vulkan: 0.7654,
    gpu_bw_eff_vulkan_intel: 0.47,
    cpu_bw_eff: 0.8548,
    cpu_bw_eff_measured: 0.88,
    per_core_read_gbs: 37.65,
    numa_remote_eff: 0.5,
    smt_oversubscription_penalty: 42.19,
    gpu_layer_overhead_s: 1.7321e-05,
    gpu_layer_compute_s: 1.8129e-05,
    rocm_layer_overhead_ratio: 1.986,
    vulkan_layer_overhead_ratio: 1.225,
    metal_layer_overhead_ratio: 4.194,
    moe_kernel_units: 0.7087,
    recurrent_kernel_units: 0.6325,
    cpu_layer_overhead_s: 1.0000e-04,
    cpu_thread_sync_s: 5.1832e-06,
    cpu_tg_compute_eff: 0.1604,
    ik_cpu_tg_speedup: 1.59,
    cpu_tg_overlap: 0.6875,
    boundary_sync_s: 5.0000e-06,
    token_host_overhead_s: 2.7386e-04,
    ik_gpu_overhead_ratio: 0.4586,
    ik_cpu_overhead_ratio: 1.0,
    gpu_tensor_eff: 0.4086,
    gpu_tensor_eff_rocm: 0.3816,
    gpu_compute_eff_vulkan: 0.2429,
    gpu_compute_eff_unified: 0.6129,
    cpu_compute_eff: 0.1546,
    ik_cpu_pp_speedup: 2.449,
    ik_repacked_pp_speedup: 1.59,
    cpu_gemm_pp_speedup: 1.565,
    pcie_eff: 0.80,
    pp_layer_overhead_s: 2.6591e-04,
    moe_pp_half_batch: 90.51,
    cpu_moe_pp_half_batch: 11.31,
    apu_compute_ratio: 0.7046,
    cpu_kquant_dot_cost: 0.927,
    cpu_codebook_dot_cost: 2.023,
    float_pp_speedup: 1.332,
    vulkan_coopmat2_ratio: 1.484,
    vulkan_no_matrix_ratio: 0.2943,
    cpu_bitplane_dot_extra: 0.375,
    vulkan_nvidia_compute_ratio: 1.532,
};

/// One factor the fit may move, with the physically plausible range it may take.
pub struct FitBound {
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
}

/// The factors the calibration fit moves, and their allowed ranges. Ranges are physical:
/// an efficiency cannot exceed 1.0, a kernel overhead is microseconds, not milliseconds.
pub const FIT_BOUNDS: &[FitBound] = &[
    FitBound {
        name: "gpu_bw_eff_gddr",
        min: 0.5,
        max: 0.95,
    },
    FitBound {
        name: "gpu_bw_eff_hbm",
        min: 0.3,
        max: 0.95,
    },
    FitBound {
        name: "gpu_bw_eff_unified",
        min: 0.4,
        max: 0.95,
    },
    FitBound {
        name: "gpu_bw_eff_rocm",
        min: 0.3,
        max: 0.95,
    },
    FitBound {
        name: "gpu_bw_eff_vulkan",
        min: 0.3,
        max: 0.95,
    },
    FitBound {
        name: "per_core_read_gbs",
        min: 5.0,
        max: 60.0,
    },
    FitBound {
        name: "gpu_layer_compute_s",
        min: 1e-6,
        max: 200e-6,
    },
    FitBound {
        name: "rocm_layer_overhead_ratio",
        min: 0.3,
        max: 5.0,
    },
    FitBound {
        name: "vulkan_layer_overhead_ratio",
        min: 0.3,
        max: 5.0,
    },
    FitBound {
        name: "metal_layer_overhead_ratio",
        min: 0.3,
        max: 5.0,
    },
    FitBound {
        name: "cpu_thread_sync_s",
        min: 0.05e-6,
        max: 50e-6,
    },
    FitBound {
        name: "cpu_tg_compute_eff",
        min: 0.02,
        max: 0.9,
    },
    FitBound {
        name: "ik_cpu_tg_speedup",
        min: 1.0,
        max: 3.0,
    },
    FitBound {
        name: "gpu_tensor_eff_rocm",
        min: 0.05,
        max: 0.9,
    },
    FitBound {
        name: "gpu_compute_eff_vulkan",
        min: 0.05,
        max: 0.9,
    },
    FitBound {
        name: "cpu_bw_eff",
        min: 0.3,
        max: 0.9,
    },
    FitBound {
        name: "smt_oversubscription_penalty",
        min: 0.0,
        max: 100.0,
    },
    FitBound {
        name: "gpu_layer_overhead_s",
        min: 1e-6,
        max: 300e-6,
    },
    FitBound {
        name: "moe_kernel_units",
        min: 0.3,
        max: 2.0,
    },
    FitBound {
        name: "recurrent_kernel_units",
        min: 0.2,
        max: 2.0,
    },
    FitBound {
        name: "cpu_layer_overhead_s",
        min: 5e-6,
        max: 2e-3,
    },
    FitBound {
        name: "cpu_tg_overlap",
        min: 0.0,
        max: 1.0,
    },
    FitBound {
        name: "boundary_sync_s",
        min: 5e-6,
        max: 1e-4,
    },
    FitBound {
        name: "ik_gpu_overhead_ratio",
        min: 0.2,
        max: 1.0,
    },
    FitBound {
        name: "ik_cpu_overhead_ratio",
        min: 0.1,
        max: 1.0,
    },
    FitBound {
        name: "gpu_tensor_eff",
        min: 0.1,
        max: 0.9,
    },
    FitBound {
        name: "gpu_compute_eff_unified",
        min: 0.2,
        max: 0.95,
    },
    FitBound {
        name: "cpu_compute_eff",
        min: 0.05,
        max: 0.9,
    },
    FitBound {
        name: "pp_layer_overhead_s",
        min: 5e-6,
        max: 1e-3,
    },
    FitBound {
        name: "ik_repacked_pp_speedup",
        min: 1.0,
        max: 3.0,
    },
    FitBound {
        name: "cpu_gemm_pp_speedup",
        min: 1.0,
        max: 6.0,
    },
    FitBound {
        name: "token_host_overhead_s",
        min: 50e-6,
        max: 1.5e-3,
    },
    FitBound {
        name: "moe_pp_half_batch",
        min: 1.0,
        max: 256.0,
    },
    FitBound {
        name: "cpu_moe_pp_half_batch",
        min: 0.5,
        max: 256.0,
    },
    FitBound {
        name: "apu_compute_ratio",
        min: 0.2,
        max: 1.5,
    },
    FitBound {
        name: "cpu_kquant_dot_cost",
        min: 0.5,
        max: 4.0,
    },
    FitBound {
        name: "cpu_codebook_dot_cost",
        min: 0.5,
        max: 6.0,
    },
    FitBound {
        name: "vulkan_nvidia_compute_ratio",
        min: 0.5,
        max: 3.0,
    },
    FitBound {
        name: "cpu_bitplane_dot_extra",
        min: 0.0,
        max: 2.0,
    },
    FitBound {
        name: "vulkan_no_matrix_ratio",
        min: 0.1,
        max: 1.0,
    },
    FitBound {
        name: "vulkan_coopmat2_ratio",
        min: 1.0,
        max: 3.0,
    },
    FitBound {
        name: "float_pp_speedup",
        min: 0.5,
        max: 3.0,
    },
    FitBound {
        name: "ik_cpu_pp_speedup",
        min: 1.0,
        max: 6.0,
    },
];

impl Factors {
    /// Reads a factor by name (for the fit and the report).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "gpu_bw_eff_gddr" => self.gpu_bw_eff_gddr,
            "gpu_bw_eff_hbm" => self.gpu_bw_eff_hbm,
            "gpu_bw_eff_unified" => self.gpu_bw_eff_unified,
            "cpu_bw_eff" => self.cpu_bw_eff,
            "cpu_bw_eff_measured" => self.cpu_bw_eff_measured,
            "per_core_read_gbs" => self.per_core_read_gbs,
            "smt_oversubscription_penalty" => self.smt_oversubscription_penalty,
            "gpu_layer_overhead_s" => self.gpu_layer_overhead_s,
            "moe_kernel_units" => self.moe_kernel_units,
            "recurrent_kernel_units" => self.recurrent_kernel_units,
            "cpu_layer_overhead_s" => self.cpu_layer_overhead_s,
            "boundary_sync_s" => self.boundary_sync_s,
            "token_host_overhead_s" => self.token_host_overhead_s,
            "ik_gpu_overhead_ratio" => self.ik_gpu_overhead_ratio,
            "ik_cpu_overhead_ratio" => self.ik_cpu_overhead_ratio,
            "gpu_tensor_eff" => self.gpu_tensor_eff,
            "gpu_compute_eff_unified" => self.gpu_compute_eff_unified,
            "cpu_compute_eff" => self.cpu_compute_eff,
            "ik_cpu_pp_speedup" => self.ik_cpu_pp_speedup,
            "pcie_eff" => self.pcie_eff,
            "ik_cpu_tg_speedup" => self.ik_cpu_tg_speedup,
            "cpu_tg_overlap" => self.cpu_tg_overlap,
            "cpu_tg_compute_eff" => self.cpu_tg_compute_eff,
            "cpu_gemm_pp_speedup" => self.cpu_gemm_pp_speedup,
            "ik_repacked_pp_speedup" => self.ik_repacked_pp_speedup,
            "gpu_bw_eff_rocm" => self.gpu_bw_eff_rocm,
            "gpu_bw_eff_vulkan" => self.gpu_bw_eff_vulkan,
            "gpu_bw_eff_vulkan_intel" => self.gpu_bw_eff_vulkan_intel,
            "numa_remote_eff" => self.numa_remote_eff,
            "gpu_layer_compute_s" => self.gpu_layer_compute_s,
            "rocm_layer_overhead_ratio" => self.rocm_layer_overhead_ratio,
            "vulkan_layer_overhead_ratio" => self.vulkan_layer_overhead_ratio,
            "metal_layer_overhead_ratio" => self.metal_layer_overhead_ratio,
            "cpu_thread_sync_s" => self.cpu_thread_sync_s,
            "gpu_tensor_eff_rocm" => self.gpu_tensor_eff_rocm,
            "gpu_compute_eff_vulkan" => self.gpu_compute_eff_vulkan,
            "pp_layer_overhead_s" => self.pp_layer_overhead_s,
            "moe_pp_half_batch" => self.moe_pp_half_batch,
            "cpu_moe_pp_half_batch" => self.cpu_moe_pp_half_batch,
            "apu_compute_ratio" => self.apu_compute_ratio,
            "float_pp_speedup" => self.float_pp_speedup,
            "vulkan_coopmat2_ratio" => self.vulkan_coopmat2_ratio,
            "vulkan_no_matrix_ratio" => self.vulkan_no_matrix_ratio,
            "cpu_bitplane_dot_extra" => self.cpu_bitplane_dot_extra,
            "vulkan_nvidia_compute_ratio" => self.vulkan_nvidia_compute_ratio,
            "cpu_kquant_dot_cost" => self.cpu_kquant_dot_cost,
            "cpu_codebook_dot_cost" => self.cpu_codebook_dot_cost,
            _ => return None,
        })
    }

    /// Sets a factor by name; false for an unknown name.
    pub fn set(&mut self, name: &str, value: f64) -> bool {
        let slot = match name {
            "gpu_bw_eff_gddr" => &mut self.gpu_bw_eff_gddr,
            "gpu_bw_eff_hbm" => &mut self.gpu_bw_eff_hbm,
            "gpu_bw_eff_unified" => &mut self.gpu_bw_eff_unified,
            "cpu_bw_eff" => &mut self.cpu_bw_eff,
            "cpu_bw_eff_measured" => &mut self.cpu_bw_eff_measured,
            "per_core_read_gbs" => &mut self.per_core_read_gbs,
            "smt_oversubscription_penalty" => &mut self.smt_oversubscription_penalty,
            "gpu_layer_overhead_s" => &mut self.gpu_layer_overhead_s,
            "moe_kernel_units" => &mut self.moe_kernel_units,
            "recurrent_kernel_units" => &mut self.recurrent_kernel_units,
            "cpu_layer_overhead_s" => &mut self.cpu_layer_overhead_s,
            "boundary_sync_s" => &mut self.boundary_sync_s,
            "token_host_overhead_s" => &mut self.token_host_overhead_s,
            "ik_gpu_overhead_ratio" => &mut self.ik_gpu_overhead_ratio,
            "ik_cpu_overhead_ratio" => &mut self.ik_cpu_overhead_ratio,
            "gpu_tensor_eff" => &mut self.gpu_tensor_eff,
            "gpu_compute_eff_unified" => &mut self.gpu_compute_eff_unified,
            "cpu_compute_eff" => &mut self.cpu_compute_eff,
            "ik_cpu_pp_speedup" => &mut self.ik_cpu_pp_speedup,
            "pcie_eff" => &mut self.pcie_eff,
            "ik_cpu_tg_speedup" => &mut self.ik_cpu_tg_speedup,
            "cpu_tg_overlap" => &mut self.cpu_tg_overlap,
            "cpu_tg_compute_eff" => &mut self.cpu_tg_compute_eff,
            "cpu_gemm_pp_speedup" => &mut self.cpu_gemm_pp_speedup,
            "ik_repacked_pp_speedup" => &mut self.ik_repacked_pp_speedup,
            "gpu_bw_eff_rocm" => &mut self.gpu_bw_eff_rocm,
            "gpu_bw_eff_vulkan" => &mut self.gpu_bw_eff_vulkan,
            "gpu_bw_eff_vulkan_intel" => &mut self.gpu_bw_eff_vulkan_intel,
            "numa_remote_eff" => &mut self.numa_remote_eff,
            "gpu_layer_compute_s" => &mut self.gpu_layer_compute_s,
            "rocm_layer_overhead_ratio" => &mut self.rocm_layer_overhead_ratio,
            "vulkan_layer_overhead_ratio" => &mut self.vulkan_layer_overhead_ratio,
            "metal_layer_overhead_ratio" => &mut self.metal_layer_overhead_ratio,
            "cpu_thread_sync_s" => &mut self.cpu_thread_sync_s,
            "gpu_tensor_eff_rocm" => &mut self.gpu_tensor_eff_rocm,
            "gpu_compute_eff_vulkan" => &mut self.gpu_compute_eff_vulkan,
            "pp_layer_overhead_s" => &mut self.pp_layer_overhead_s,
            "moe_pp_half_batch" => &mut self.moe_pp_half_batch,
            "cpu_moe_pp_half_batch" => &mut self.cpu_moe_pp_half_batch,
            "apu_compute_ratio" => &mut self.apu_compute_ratio,
            "float_pp_speedup" => &mut self.float_pp_speedup,
            "vulkan_coopmat2_ratio" => &mut self.vulkan_coopmat2_ratio,
            "vulkan_no_matrix_ratio" => &mut self.vulkan_no_matrix_ratio,
            "cpu_bitplane_dot_extra" => &mut self.cpu_bitplane_dot_extra,
            "vulkan_nvidia_compute_ratio" => &mut self.vulkan_nvidia_compute_ratio,
            "cpu_kquant_dot_cost" => &mut self.cpu_kquant_dot_cost,
            "cpu_codebook_dot_cost" => &mut self.cpu_codebook_dot_cost,
            _ => return false,
        };
        *slot = value;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_sit_inside_their_fit_bounds() {
        for b in FIT_BOUNDS {
            let v = DEFAULT_FACTORS.get(b.name).unwrap();
            assert!(
                v >= b.min && v <= b.max,
                "{} = {v} outside [{}, {}]",
                b.name,
                b.min,
                b.max
            );
        }
    }

    #[test]
    fn get_and_set_agree_for_every_bounded_factor() {
        let mut f = DEFAULT_FACTORS.clone();
        for b in FIT_BOUNDS {
            assert!(f.set(b.name, b.min));
            assert_eq!(f.get(b.name), Some(b.min));
        }
        assert!(!f.set("no_such_factor", 1.0));
    }
}
