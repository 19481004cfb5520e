//! How a pinned engine behaves where the planner and the speed model must follow it, as
//! data: how it sizes the KV cache ([`KvRules`]), how it reads the options the planner
//! writes ([`PlanningRules`]), and which kernel differences the speed model charges
//! ([`KernelTraits`]). Each engine's values, with the source function they were read
//! from, are in `llama_cpp.rs` and `ik_llama_cpp.rs`.
//!
//! Facts only: `planner::memory` counts with them, `planner::settings` writes only what
//! the engine has, `perf` applies the fitted factor of a trait the engine has. Nothing
//! here chooses a setting or predicts a speed.

/// How an engine lays out the KV cache and pads the context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvRules {
    /// The context is padded to a multiple of this with flash attention on...
    pub ctx_pad_flash_attn: u64,
    /// ...and to this with flash attention off.
    pub ctx_pad_no_flash_attn: u64,
    /// Several sequences (`-np`) get one KV stream each of `n_ctx / n_seq` cells (padded
    /// again) unless `--kv-unified`; `false`: one stream of `n_ctx` cells shared by all.
    pub stream_per_sequence: bool,
    /// Sliding-window layers keep only `n_swa (x n_seq when unified) + n_ubatch` cells
    /// (unless `--swa-full`); `false`: every attention layer keeps the whole context.
    pub sliding_window_cache: bool,
    /// Without flash attention V is stored transposed with the widest layer's row
    /// (`n_embd_v_gqa_max`); `false`: each layer's own width.
    pub v_at_widest_row_without_flash_attn: bool,
    /// How MLA models (deepseek2 family) cache attention.
    pub mla: MlaCache,
}

/// The KV cache of an MLA attention layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MlaCache {
    /// Only the latent K (`kv_lora_rank + rope_dim` per cell), no V.
    LatentOnly,
    /// By the `-mla` mode: 0 keeps full K and V; 1 the latent K plus, without flash
    /// attention, a `kv_lora_rank` V; 2 and 3 the latent K only.
    ByMlaMode,
}

/// How an engine reads what the planner writes, where engines differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanningRules {
    /// The `-mla` mode the planner asks for on an MLA model, where the engine has the
    /// option, with the `-amb` cap (MiB) on the attention compute buffer that goes with it.
    pub mla_mode: Option<MlaMode>,
    /// `--n-cpu-moe N` keeps the routed experts of blocks `0..N` in RAM (`false`), or
    /// spreads `N` over the GPUs of a layer split in proportion to their blocks, from the
    /// last block down (`true`): then the planner names the blocks with `-ot` instead.
    pub n_cpu_moe_spreads_over_gpus: bool,
}

/// An MLA mode and its attention-buffer cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MlaMode {
    /// `-mla N`.
    pub mode: u32,
    /// `-amb N`, MiB.
    pub attention_max_batch_mib: u32,
}

/// Kernel differences from mainline that change speed; `perf::factors` fits one factor
/// per trait on measurements of an engine that has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelTraits {
    /// MoE gate/up/down, norms and delta-net ops fused into fewer kernels by default:
    /// the per-layer fixed cost differs (`ik_gpu_overhead_ratio`,
    /// `ik_cpu_overhead_ratio`).
    pub fused_ops_by_default: bool,
    /// Its own CPU matrix-multiplication kernels for prompt processing
    /// (`ik_cpu_pp_speedup`).
    pub own_cpu_matmul_kernels: bool,
    /// ggml weight types with a batched CPU GEMM kernel (not one `vec_dot` per row and
    /// token) on both x86 AVX2 and ARM dotprod (`cpu_gemm_pp_speedup`).
    pub cpu_gemm_types: &'static [&'static str],
}

/// What the engine's own model downloader does with `-hf`/`-hfr` (the options themselves
/// are in the option table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloadRules {
    /// The repository option takes `REPO:QUANT` and picks the file whose name carries the
    /// quant; `false`: it needs the file named with `-hff`.
    pub repo_takes_quant: bool,
    /// Where the downloaded files go: this environment variable, else a per-user cache.
    pub cache_env: &'static str,
    /// A note for every plan that downloads with this engine (a build option it needs).
    pub note: Option<&'static str>,
    /// What the downloader needs when the engine is built: `rigplan build` turns it on
    /// and checks for the library before cmake runs.
    pub build: Option<DownloaderBuild>,
}

/// The build-time side of an engine's downloader: the CMake option compiling it in and
/// the library (with its development files) it links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloaderBuild {
    pub cmake_option: &'static str,
    /// `pkg-config --exists` argument: module and version constraint.
    pub pkg_config: &'static str,
    /// Header paths (shell globs) of the development package, for machines without
    /// pkg-config.
    pub headers: &'static [&'static str],
    /// What is missing and how to install it, for the error message.
    pub install: &'static str,
}

/// Most CPU threads a plan may ask for: mainline ggml sizes its thread pool's arrays
/// by `GGML_MAX_N_THREADS` = 512 (ggml/include/ggml.h; `ggml_threadpool_new_impl` in
/// ggml-cpu.c), and no machine either engine targets has more hardware threads.
pub const MAX_THREADS: u32 = 512;

/// Largest value of an integer option (`-n`, `-c`, `-b`, `-ub`, `-np`, `--port`): both
/// engines parse them with `std::stoi` into an `int` (mainline common/arg.cpp
/// `common_params_parse_ex`, `opt.handler_int(params, std::stoi(value))`; ik_llama.cpp
/// common/common.cpp `gpt_params_find_arg`), which throws beyond `INT_MAX`.
pub const MAX_INT_OPTION: u64 = i32::MAX as u64;
