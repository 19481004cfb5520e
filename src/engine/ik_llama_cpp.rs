//! ik_llama.cpp as pinned by rigplan: the tree in the `ik-llama-cpp-python==0.1.5` PyPI
//! sdist (`vendor/ik_llama.cpp`), commit 55d3c05bf7b3 of 2026-04-13 (no release tag).
//!
//! The commit was identified by hashing the sdist tree: every file of the sdist's
//! `vendor/ik_llama.cpp` (apart from symlinked `spm-headers/`, resolved in the sdist,
//! and the `kompute` submodule) has the git blob hash of the same path at
//! ikawrakow/ik_llama.cpp@55d3c05bf7b377deaa5dc84d255d9740a345a206, the submodule
//! commit that gongpx20069/ik-llama-cpp-python pins.
//!
//! Sources (relative to that tree):
//! - server options: `common/common.cpp` `gpt_params_find_arg` (integer-only `-ngl`
//!   via `std::stoi`; `--mlock`, `--no-mmap`; `-sm none|layer|attn|graph`; fused MoE is
//!   on by default and only `-no-fmoe` exists, `-fmoe` was removed; `-fa on|off|auto`;
//!   `kv_cache_type_from_str` adds `q6_0`, `q8_KV`).
//! - bench options: `examples/llama-bench/llama-bench.cpp` (`-fa 0|1`, `-mmp 0|1`,
//!   `--n-cpu-moe` without a short form, `-sm none|layer|graph`, `-ts` with `/`).
//! - CMake names: `ggml/CMakeLists.txt` (`GGML_CUDA_USE_GRAPHS`, `GGML_HIPBLAS`, no
//!   `GGML_BMI2`); targets: `examples/rpc/CMakeLists.txt` (`rpc-server`).
//!
//! Data only: nothing here runs the engine or decides a setting.

use super::options::{
    option as o, CmakeDefine, CmakeNames, EngineInfo, OptionKind as K, OptionSpec, RemovedOption,
    Targets, Tool, ValueSyntax as V,
};
use super::rules::{
    DownloadRules, DownloaderBuild, KernelTraits, KvRules, MlaCache, MlaMode, PlanningRules,
};
use super::EngineKind;

/// `common/common.cpp` `kv_cache_type_from_str`.
const CACHE_TYPES: &[&str] = &[
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1", "q6_0", "q8_KV",
];

/// `common/common.cpp` `--split-mode`.
const SPLIT_MODES: &[&str] = &["none", "layer", "attn", "graph"];

/// `examples/llama-bench/llama-bench.cpp` `-sm`.
const BENCH_SPLIT_MODES: &[&str] = &["none", "layer", "graph"];

const OPTIONS: &[OptionSpec] = &[
    // llama-server, common/common.cpp gpt_params_find_arg
    o(K::Model, Tool::Server, "-m", &["--model"], V::Path),
    // `-hfr REPO -hff FILE`: gpt_params_handle_model_default (common/common.cpp) needs
    // both; llama_load_model_from_hf fetches FILE and its other shards (split.count),
    // only in a build with LLAMA_CURL (common/CMakeLists.txt).
    o(K::HfRepo, Tool::Server, "-hfr", &["--hf-repo"], V::Text),
    o(K::HfFile, Tool::Server, "-hff", &["--hf-file"], V::Path),
    // `--mmproj FILE` and `--no-mmproj-offload` (common/common.cpp); `--mmproj-url` is
    // parsed but nothing downloads it, so it is not in this table.
    o(K::Mmproj, Tool::Server, "--mmproj", &[], V::Path),
    o(
        K::NoMmprojOffload,
        Tool::Server,
        "--no-mmproj-offload",
        &[],
        V::Flag,
    ),
    o(
        K::GpuLayers,
        Tool::Server,
        "-ngl",
        &["--gpu-layers", "--n-gpu-layers"],
        V::Integer,
    ),
    o(
        K::NCpuMoe,
        Tool::Server,
        "--n-cpu-moe",
        &["-ncmoe"],
        V::Integer,
    ),
    o(K::CtxSize, Tool::Server, "-c", &["--ctx-size"], V::Integer),
    o(
        K::Predict,
        Tool::Server,
        "-n",
        &["--predict", "--n-predict"],
        V::Integer,
    ),
    o(
        K::CacheTypeK,
        Tool::Server,
        "-ctk",
        &["--cache-type-k"],
        V::OneOf(CACHE_TYPES),
    ),
    o(
        K::CacheTypeV,
        Tool::Server,
        "-ctv",
        &["--cache-type-v"],
        V::OneOf(CACHE_TYPES),
    ),
    o(K::Threads, Tool::Server, "-t", &["--threads"], V::Integer),
    o(K::Batch, Tool::Server, "-b", &["--batch-size"], V::Integer),
    o(
        K::Ubatch,
        Tool::Server,
        "-ub",
        &["--ubatch-size"],
        V::Integer,
    ),
    o(
        K::Parallel,
        Tool::Server,
        "-np",
        &["--parallel"],
        V::Integer,
    ),
    o(
        K::SplitMode,
        Tool::Server,
        "-sm",
        &["--split-mode"],
        V::OneOf(SPLIT_MODES),
    ),
    o(
        K::TensorSplit,
        Tool::Server,
        "-ts",
        &["--tensor-split"],
        V::NumberList(","),
    ),
    o(
        K::FlashAttn,
        Tool::Server,
        "-fa",
        &["--flash-attn"],
        V::OneOf(&["on", "off", "auto"]),
    ),
    o(K::Mlock, Tool::Server, "--mlock", &[], V::Flag),
    o(K::NoMmap, Tool::Server, "--no-mmap", &[], V::Flag),
    o(
        K::RunTimeRepack,
        Tool::Server,
        "-rtr",
        &["--run-time-repack"],
        V::Flag,
    ),
    o(K::MlaUse, Tool::Server, "-mla", &["--mla-use"], V::Integer),
    o(
        K::AttnMaxBatch,
        Tool::Server,
        "-amb",
        &["--attention-max-batch"],
        V::Integer,
    ),
    o(
        K::MergeUpGateExperts,
        Tool::Server,
        "-muge",
        &["--merge-up-gate-experts"],
        V::Flag,
    ),
    o(
        K::OverrideTensor,
        Tool::Server,
        "-ot",
        &["--override-tensor"],
        V::Overrides(","),
    ),
    // Speculative decoding, common/common.cpp `gpt_params_find_arg`: `--spec-type` takes
    // only the n-gram kinds (a draft model comes with `-md`, MTP with `-mtp`).
    o(
        K::SpecType,
        Tool::Server,
        "--spec-type",
        &[],
        V::OneOf(super::speculative::IK_SPEC_TYPES),
    ),
    o(
        K::Mtp,
        Tool::Server,
        "-mtp",
        &["--multi-token-prediction"],
        V::Flag,
    ),
    o(
        K::DraftModel,
        Tool::Server,
        "-md",
        &["--model-draft"],
        V::Path,
    ),
    o(
        K::DraftMax,
        Tool::Server,
        "--draft-max",
        &["--draft", "--draft-n"],
        V::Integer,
    ),
    o(
        K::DraftMin,
        Tool::Server,
        "--draft-min",
        &["--draft-n-min"],
        V::Integer,
    ),
    o(K::DraftPMin, Tool::Server, "--draft-p-min", &[], V::Text),
    o(
        K::DraftGpuLayers,
        Tool::Server,
        "-ngld",
        &["--gpu-layers-draft", "--n-gpu-layers-draft"],
        V::Integer,
    ),
    // common/common.cpp `gpt_params_find_arg`: `-devd` (`parse_device_list`, "none" = no
    // offload) and `-cd` (`speculative.n_ctx`; server-context.cpp `load_model` uses it
    // instead of n_ctx / n_parallel).
    o(
        K::DraftDevice,
        Tool::Server,
        "-devd",
        &["--device-draft"],
        V::Text,
    ),
    o(
        K::DraftCtxSize,
        Tool::Server,
        "-cd",
        &["--ctx-size-draft"],
        V::Integer,
    ),
    o(
        K::DraftCacheTypeK,
        Tool::Server,
        "-ctkd",
        &["--cache-type-k-draft"],
        V::OneOf(CACHE_TYPES),
    ),
    o(
        K::DraftCacheTypeV,
        Tool::Server,
        "-ctvd",
        &["--cache-type-v-draft"],
        V::OneOf(CACHE_TYPES),
    ),
    o(
        K::SpecAutotune,
        Tool::Server,
        "--spec-autotune",
        &[],
        V::Flag,
    ),
    o(K::Host, Tool::Server, "--host", &[], V::Text),
    o(K::Port, Tool::Server, "--port", &[], V::Integer),
    o(K::ApiKeyFile, Tool::Server, "--api-key-file", &[], V::Path),
    o(K::Alias, Tool::Server, "-a", &["--alias"], V::Text),
    // common/common.cpp `gpt_params_find_arg`: `-cram`/`--cache-ram N` (MiB, default 8192).
    o(
        K::CacheRam,
        Tool::Server,
        "-cram",
        &["--cache-ram"],
        V::Integer,
    ),
    // llama-bench, examples/llama-bench/llama-bench.cpp parse_cmd_params
    o(K::Model, Tool::Bench, "-m", &["--model"], V::Path),
    o(
        K::BenchPrompt,
        Tool::Bench,
        "-p",
        &["--n-prompt"],
        V::Integer,
    ),
    o(K::BenchGen, Tool::Bench, "-n", &["--n-gen"], V::Integer),
    o(
        K::BenchRepetitions,
        Tool::Bench,
        "-r",
        &["--repetitions"],
        V::Integer,
    ),
    o(
        K::BenchOutput,
        Tool::Bench,
        "-o",
        &["--output"],
        V::OneOf(&["csv", "json", "jsonl", "md", "sql"]),
    ),
    o(
        K::GpuLayers,
        Tool::Bench,
        "-ngl",
        &["--n-gpu-layers"],
        V::Integer,
    ),
    o(K::NCpuMoe, Tool::Bench, "--n-cpu-moe", &[], V::Integer),
    o(
        K::CacheTypeK,
        Tool::Bench,
        "-ctk",
        &["--cache-type-k"],
        V::OneOf(CACHE_TYPES),
    ),
    o(
        K::CacheTypeV,
        Tool::Bench,
        "-ctv",
        &["--cache-type-v"],
        V::OneOf(CACHE_TYPES),
    ),
    o(K::Threads, Tool::Bench, "-t", &["--threads"], V::Integer),
    o(K::Batch, Tool::Bench, "-b", &["--batch-size"], V::Integer),
    o(
        K::Ubatch,
        Tool::Bench,
        "-ub",
        &["--ubatch-size"],
        V::Integer,
    ),
    o(
        K::SplitMode,
        Tool::Bench,
        "-sm",
        &["--split-mode"],
        V::OneOf(BENCH_SPLIT_MODES),
    ),
    o(
        K::TensorSplit,
        Tool::Bench,
        "-ts",
        &["--tensor-split"],
        V::NumberList("/"),
    ),
    o(
        K::FlashAttn,
        Tool::Bench,
        "-fa",
        &["--flash-attn"],
        V::OneOf(&["0", "1"]),
    ),
    o(
        K::MmapBool,
        Tool::Bench,
        "-mmp",
        &["--mmap"],
        V::OneOf(&["0", "1"]),
    ),
    o(
        K::RunTimeRepack,
        Tool::Bench,
        "-rtr",
        &["--run-time-repack"],
        V::OneOf(&["0", "1"]),
    ),
    o(K::MlaUse, Tool::Bench, "-mla", &["--mla-attn"], V::Integer),
    o(
        K::AttnMaxBatch,
        Tool::Bench,
        "-amb",
        &["--attn-max-batch"],
        V::Integer,
    ),
    o(
        K::MergeUpGateExperts,
        Tool::Bench,
        "-muge",
        &["--merge-up-gate-exps"],
        V::OneOf(&["0", "1"]),
    ),
    o(
        K::OverrideTensor,
        Tool::Bench,
        "-ot",
        &["--override-tensor"],
        V::Overrides(","),
    ),
];

pub const ENGINE: EngineInfo = EngineInfo {
    kind: EngineKind::IkLlamaCpp,
    git_url: "https://github.com/ikawrakow/ik_llama.cpp",
    commit: "55d3c05bf7b377deaa5dc84d255d9740a345a206",
    release_tag: None,
    version: "55d3c05bf (ik-llama-cpp-python 0.1.5)",
    pypi_sdist: "ik-llama-cpp-python==0.1.5",
    sdist_subdir: "vendor/ik_llama.cpp",
    server_arg_source: "common/common.cpp",
    bench_arg_source: "examples/llama-bench/llama-bench.cpp",
    options: OPTIONS,
    // common/common.cpp: fused MoE is on by default; `-fmoe/--fused-moe` is no longer
    // parsed by the server (llama-bench still takes `-fmoe 0|1`).
    removed_options: &[RemovedOption {
        flags: &["-fmoe", "--fused-moe"],
        use_instead: "nothing (on by default); -no-fmoe turns it off",
    }],
    cache_types: CACHE_TYPES,
    split_modes: SPLIT_MODES,
    bench_split_modes: BENCH_SPLIT_MODES,
    cmake: CmakeNames {
        cuda: "GGML_CUDA",
        cuda_graphs: "GGML_CUDA_USE_GRAPHS",
        hip: "GGML_HIPBLAS",
        vulkan: "GGML_VULKAN",
        blas: "GGML_BLAS",
        blas_vendor: "GGML_BLAS_VENDOR",
        native: "GGML_NATIVE",
        lto: "GGML_LTO",
        openmp: "GGML_OPENMP",
        rpc: "GGML_RPC",
        avx: "GGML_AVX",
        avx2: "GGML_AVX2",
        fma: "GGML_FMA",
        f16c: "GGML_F16C",
        bmi2: None,
        avx512: "GGML_AVX512",
        avx512_vbmi: "GGML_AVX512_VBMI",
        avx512_vnni: "GGML_AVX512_VNNI",
        avx512_bf16: "GGML_AVX512_BF16",
        avx_vnni: None,
        // ggml/src/CMakeLists.txt forwards AMDGPU_TARGETS to CMAKE_HIP_ARCHITECTURES.
        hip_targets: "AMDGPU_TARGETS",
    },
    // CMakeLists.txt: llama-server, llama-bench, llama-cli and rpc-server are examples/.
    component_defines: &[
        CmakeDefine {
            name: "LLAMA_BUILD_TESTS",
            value: "OFF",
            why: "tests are not installed",
        },
        CmakeDefine {
            name: "LLAMA_BUILD_EXAMPLES",
            value: "ON",
            why: "llama-server, llama-bench and llama-cli are examples/ in this tree",
        },
        CmakeDefine {
            name: "LLAMA_BUILD_SERVER",
            value: "ON",
            why: "examples/CMakeLists.txt adds the server only with this",
        },
    ],
    needs_build_info_fix: true,
    targets: Targets {
        server: "llama-server",
        bench: "llama-bench",
        cli: "llama-cli",
        fit_params: None,
        rpc_server: "rpc-server",
    },
    supports_blas: true,
    // The tree's own CUDA default list uses plain numbers only; the `a` suffix needs
    // CMake's own validation (3.28+ knows `120a`), which the pinned CMake floor does not
    // guarantee, so plain `120` is emitted for ik.
    cuda_arch_specific_suffix: false,
    // ggml/CMakeLists.txt: set(GGML_SCHED_MAX_COPIES "1" ...): pipeline parallelism
    // keeps one copy of each input, so it costs no memory here.
    sched_max_copies: 1,
    kv: KvRules {
        // src/llama.cpp `llama_kv_cache_get_padding`: "the FA kernels require padding to
        // avoid extra runtime boundary checks": 256 with flash attention, else 32.
        ctx_pad_flash_attn: 256,
        ctx_pad_no_flash_attn: 32,
        // src/llama.cpp `llama_kv_cache_init`: one cache of `n_ctx` cells for all
        // sequences.
        stream_per_sequence: false,
        // src/llama.cpp `llama_kv_cache_init`: every attention layer gets `kv_size` cells;
        // there is no sliding-window cache.
        sliding_window_cache: false,
        // src/llama.cpp `llama_kv_cache_init`: V rows of each layer's own `n_embd_v_gqa`.
        v_at_widest_row_without_flash_attn: false,
        // src/llama.cpp `llama_kv_cache_init`: MLA layout by `cparams.mla_attn`.
        mla: MlaCache::ByMlaMode,
    },
    planning: PlanningRules {
        // README and PR #241: `-mla 3` keeps only the latent cache and computes attention
        // from it; `-amb 512` bounds the attention compute buffer to 512 MiB.
        mla_mode: Some(MlaMode {
            mode: 3,
            attention_max_batch_mib: 512,
        }),
        // src/llama-load-tensors.cpp `create_tensors_helper` constructor: `--n-cpu-moe N`
        // is spread over the GPUs of a layer split in proportion to their blocks, from
        // the last block down.
        n_cpu_moe_spreads_over_gpus: true,
    },
    kernels: KernelTraits {
        // common/common.h: `fused_moe_up_gate = true` ("fused up*unary(gate) op for MoE
        // models"), and the fused norms and delta-net ops of src/llama-build-context.cpp.
        fused_ops_by_default: true,
        // ggml/src/iqk/: iqk_mul_mat and the repacked CPU GEMMs (PR #533 "Much faster CPU
        // prompt processing").
        own_cpu_matmul_kernels: true,
        // Its own kernels (ggml/src/iqk/iqk_mul_mat.cpp) cover every type; the mainline
        // list does not apply.
        cpu_gemm_types: &[],
    },
    download: DownloadRules {
        // common/common.cpp gpt_params_handle_model_default: `--hf-repo requires either
        // --hf-file or --model`; the repository value is used verbatim.
        repo_takes_quant: false,
        // common/common.cpp fs_get_cache_directory: LLAMA_CACHE, else ~/.cache/llama.cpp.
        cache_env: "LLAMA_CACHE",
        // common/CMakeLists.txt: LLAMA_USE_CURL only with -DLLAMA_CURL=ON (default OFF);
        // without it llama_load_model_from_hf prints "built without libcurl" and fails.
        note: Some(
            "ik_llama.cpp downloads with -hfr/-hff only when built with -DLLAMA_CURL=ON (and libcurl's headers), which `rigplan build` sets and checks for; an older build: rebuild, or fetch the file once with mainline llama-server (same -hf REPO -hff FILE) and pass -m",
        ),
        // common/CMakeLists.txt: `if (LLAMA_CURL)` find_package(CURL REQUIRED), so a
        // missing libcurl stops cmake; the script says what to install first.
        build: Some(DownloaderBuild {
            cmake_option: "LLAMA_CURL",
            pkg_config: "libcurl",
            headers: &["/usr/include/curl/curl.h", "/usr/include/*/curl/curl.h"],
            install: "libcurl development files (Debian/Ubuntu: sudo apt-get install libcurl4-openssl-dev; Fedora: sudo dnf install libcurl-devel; Arch: sudo pacman -S curl)",
        }),
    },
};
