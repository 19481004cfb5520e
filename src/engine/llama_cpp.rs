//! Mainline llama.cpp as pinned by rigplan: the tree in the `llama-cpp-python==0.3.36`
//! PyPI sdist (`vendor/llama.cpp`), commit 0c1e57098 of 2026-10-01, release tag b11312.
//!
//! Sources of every fact here (paths relative to that tree):
//! - commit: `CHANGELOG.md` of the sdist ("update llama.cpp to ggml-org/llama.cpp@0c1e57098");
//!   `llama-server --version` of the built tree prints `commit 0c1e570`; the full hash
//!   and the tag `b11312` are how downstream projects pin the same build
//!   ("b11312-0c1e57098").
//! - server options: `common/arg.cpp` (`-lm/--load-mode` replaced `--mlock`/`--no-mmap`,
//!   which no longer exist there; `-sm {none,layer,row,tensor}`; `kv_cache_types`).
//! - bench options: `tools/llama-bench/llama-bench.cpp` (`-ts` with `/`, `-ot` with `;`,
//!   `-fa on|off|auto`, `-lm`).
//! - CMake names: `ggml/CMakeLists.txt` (`GGML_CUDA_GRAPHS`, `GGML_HIP`, `GGML_BMI2`).
//! - targets: `tools/{server,llama-bench,cli,fit-params,rpc}/CMakeLists.txt`
//!   (`ggml-rpc-server`).
//!
//! Data only: nothing here runs the engine or decides a setting.

use super::options::{
    option as o, CmakeDefine, CmakeNames, EngineInfo, OptionKind as K, OptionSpec, RemovedOption,
    Targets, Tool, ValueSyntax as V,
};
use super::rules::{
    DownloadRules, DownloaderBuild, KernelTraits, KvRules, MlaCache, PlanningRules,
};
use super::EngineKind;

/// `common/arg.cpp` `kv_cache_types`.
const CACHE_TYPES: &[&str] = &[
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1",
];

/// `common/arg.cpp` `-sm`; llama-bench `-sm <none|layer|row|tensor>`.
const SPLIT_MODES: &[&str] = &["none", "layer", "row", "tensor"];

/// `common/arg.cpp` `-lm/--load-mode`.
const LOAD_MODES: &[&str] = &["auto", "none", "mmap", "mlock", "mmap+mlock", "dio"];

const OPTIONS: &[OptionSpec] = &[
    // llama-server, common/arg.cpp
    o(K::Model, Tool::Server, "-m", &["--model"], V::Path),
    // `-hf REPO[:QUANT]` and `-hff FILE`: common_download_get_hf_plan (common/download.cpp)
    // fetches FILE (all shards of a split model, get_split_files) and, unless
    // `--no-mmproj`, the repository's projector (find_best_mmproj).
    o(
        K::HfRepo,
        Tool::Server,
        "-hf",
        &["-hfr", "--hf-repo"],
        V::Text,
    ),
    o(K::HfFile, Tool::Server, "-hff", &["--hf-file"], V::Path),
    o(
        K::NoMmproj,
        Tool::Server,
        "--no-mmproj",
        &["--no-mmproj-auto"],
        V::Flag,
    ),
    // The projector (tools/mtmd): clip_ctx (clip.cpp) puts its weights and compute buffer
    // on the first GPU (`-mmdev`, else the first `-dev`, arg.cpp), or the CPU with
    // `--no-mmproj-offload`; `--mmproj-url` is downloaded like `-hf` (arg.cpp handle_url).
    o(K::Mmproj, Tool::Server, "--mmproj", &["-mm"], V::Path),
    o(
        K::MmprojUrl,
        Tool::Server,
        "--mmproj-url",
        &["-mmu"],
        V::Text,
    ),
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
    o(
        K::LoadMode,
        Tool::Server,
        "-lm",
        &["--load-mode"],
        V::OneOf(LOAD_MODES),
    ),
    // `-fit on|off`: the engine's own fitting of layers to free memory (default on).
    o(
        K::Fit,
        Tool::Server,
        "-fit",
        &["--fit"],
        V::OneOf(&["on", "off"]),
    ),
    o(
        K::OverrideTensor,
        Tool::Server,
        "-ot",
        &["--override-tensor"],
        V::Overrides(","),
    ),
    // `-cram/--cache-ram N` (MiB; default 8192, -1 no limit, 0 disables), server and cli.
    o(
        K::CacheRam,
        Tool::Server,
        "-cram",
        &["--cache-ram"],
        V::Integer,
    ),
    // Speculative decoding, common/arg.cpp (`set_spec()` options): `--spec-type` takes
    // `common_speculative_type_from_name_map` names (common/speculative.cpp).
    o(
        K::SpecType,
        Tool::Server,
        "--spec-type",
        &[],
        V::OneOf(super::speculative::LLAMA_CPP_SPEC_TYPES),
    ),
    o(
        K::DraftModel,
        Tool::Server,
        "-md",
        &["--spec-draft-model", "--model-draft"],
        V::Path,
    ),
    o(
        K::DraftMax,
        Tool::Server,
        "--spec-draft-n-max",
        &[],
        V::Integer,
    ),
    o(
        K::DraftMin,
        Tool::Server,
        "--spec-draft-n-min",
        &[],
        V::Integer,
    ),
    o(
        K::DraftPMin,
        Tool::Server,
        "--spec-draft-p-min",
        &["--draft-p-min"],
        V::Text,
    ),
    o(
        K::DraftGpuLayers,
        Tool::Server,
        "-ngld",
        &[
            "--spec-draft-ngl",
            "--gpu-layers-draft",
            "--n-gpu-layers-draft",
        ],
        V::Integer,
    ),
    // common/arg.cpp: `-hfd` sets `speculative.draft.mparams.hf_repo`; `-md` also sets its
    // `hf_file` ("will be used if --spec-draft-hf is set"), and the download replaces the
    // path (`common_models_handler_apply`, `add_tasks`).
    o(
        K::DraftHfRepo,
        Tool::Server,
        "-hfd",
        &["--spec-draft-hf", "-hfrd", "--hf-repo-draft"],
        V::Text,
    ),
    // common/arg.cpp `parse_device_list`: "none" keeps the draft off every GPU.
    o(
        K::DraftDevice,
        Tool::Server,
        "-devd",
        &["--spec-draft-device", "--device-draft"],
        V::Text,
    ),
    o(
        K::DraftCacheTypeK,
        Tool::Server,
        "-ctkd",
        &["--spec-draft-type-k", "--cache-type-k-draft"],
        V::OneOf(CACHE_TYPES),
    ),
    o(
        K::DraftCacheTypeV,
        Tool::Server,
        "-ctvd",
        &["--spec-draft-type-v", "--cache-type-v-draft"],
        V::OneOf(CACHE_TYPES),
    ),
    o(K::Host, Tool::Server, "--host", &[], V::Text),
    o(K::Port, Tool::Server, "--port", &[], V::Integer),
    o(K::ApiKeyFile, Tool::Server, "--api-key-file", &[], V::Path),
    o(K::Alias, Tool::Server, "-a", &["--alias"], V::Text),
    // `--rpc SERVERS` (common/arg.cpp; `add_rpc_devices` registers each server's devices
    // while parsing, so the servers must be up when llama-server starts).
    o(K::Rpc, Tool::Server, "--rpc", &[], V::Text),
    // llama-bench, tools/llama-bench/llama-bench.cpp `print_usage`
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
    o(
        K::NCpuMoe,
        Tool::Bench,
        "-ncmoe",
        &["--n-cpu-moe"],
        V::Integer,
    ),
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
        V::OneOf(SPLIT_MODES),
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
        V::OneOf(&["on", "off", "auto"]),
    ),
    o(
        K::LoadMode,
        Tool::Bench,
        "-lm",
        &["--load-mode"],
        V::OneOf(LOAD_MODES),
    ),
    o(
        K::OverrideTensor,
        Tool::Bench,
        "-ot",
        &["--override-tensor"],
        V::Overrides(";"),
    ),
];

pub const ENGINE: EngineInfo = EngineInfo {
    kind: EngineKind::LlamaCpp,
    git_url: "https://github.com/ggml-org/llama.cpp",
    commit: "0c1e57098bba43ac29e6e3b677cdceebdd22334f",
    release_tag: Some("b11312"),
    version: "b11312 (0c1e57098, llama-cpp-python 0.3.36)",
    pypi_sdist: "llama-cpp-python==0.3.36",
    sdist_subdir: "vendor/llama.cpp",
    server_arg_source: "common/arg.cpp",
    bench_arg_source: "tools/llama-bench/llama-bench.cpp",
    options: OPTIONS,
    // common/arg.cpp: `--mlock`/`--no-mmap` are gone (load mode); the "removed params"
    // section keeps `--draft*` only to fail with `arg_removed(...)`.
    removed_options: &[
        RemovedOption {
            flags: &["--mlock"],
            use_instead: "-lm mlock / -lm mmap+mlock",
        },
        RemovedOption {
            flags: &["--no-mmap"],
            use_instead: "-lm none / -lm mlock",
        },
        RemovedOption {
            flags: &["--draft", "--draft-n", "--draft-max"],
            use_instead: "--spec-draft-n-max",
        },
        RemovedOption {
            flags: &["--draft-min", "--draft-n-min"],
            use_instead: "--spec-draft-n-min",
        },
    ],
    cache_types: CACHE_TYPES,
    split_modes: SPLIT_MODES,
    bench_split_modes: SPLIT_MODES,
    cmake: CmakeNames {
        cuda: "GGML_CUDA",
        cuda_graphs: "GGML_CUDA_GRAPHS",
        hip: "GGML_HIP",
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
        bmi2: Some("GGML_BMI2"),
        avx512: "GGML_AVX512",
        avx512_vbmi: "GGML_AVX512_VBMI",
        avx512_vnni: "GGML_AVX512_VNNI",
        avx512_bf16: "GGML_AVX512_BF16",
        avx_vnni: Some("GGML_AVX_VNNI"),
        // ggml/src/ggml-hip/CMakeLists.txt forwards GPU_TARGETS to CMAKE_HIP_ARCHITECTURES.
        hip_targets: "GPU_TARGETS",
    },
    // CMakeLists.txt: server, bench, cli and fit-params live under tools/ (LLAMA_BUILD_TOOLS);
    // LLAMA_CURL is deprecated in this version (llama_option_depr), so it is not passed.
    component_defines: &[
        CmakeDefine {
            name: "LLAMA_BUILD_TESTS",
            value: "OFF",
            why: "tests are not installed",
        },
        CmakeDefine {
            name: "LLAMA_BUILD_EXAMPLES",
            value: "OFF",
            why: "no example program is needed",
        },
        CmakeDefine {
            name: "LLAMA_BUILD_TOOLS",
            value: "ON",
            why: "llama-server, llama-bench, llama-cli and llama-fit-params are tools/",
        },
        CmakeDefine {
            name: "LLAMA_BUILD_SERVER",
            value: "ON",
            why: "tools/CMakeLists.txt adds server and cli only with this",
        },
    ],
    needs_build_info_fix: false,
    targets: Targets {
        server: "llama-server",
        bench: "llama-bench",
        cli: "llama-cli",
        fit_params: Some("llama-fit-params"),
        rpc_server: "ggml-rpc-server",
    },
    supports_blas: true,
    // ggml/src/ggml-cuda/CMakeLists.txt itself lists `120a-real`/`121a-real` and notes
    // they "should work with basically any CMake version".
    cuda_arch_specific_suffix: true,
    // ggml/CMakeLists.txt: set(GGML_SCHED_MAX_COPIES "4" ...).
    sched_max_copies: 4,
    kv: KvRules {
        // src/llama-context.cpp: `cparams.n_ctx = GGML_PAD(cparams.n_ctx, 256)` whatever
        // the attention kernel.
        ctx_pad_flash_attn: 256,
        ctx_pad_no_flash_attn: 256,
        // src/llama-context.cpp: without `kv_unified`, `n_ctx_seq = n_ctx / n_seq_max`,
        // padded to 256, and one stream per sequence (src/llama-kv-cache.cpp `n_stream`).
        stream_per_sequence: true,
        // src/llama-kv-cache-iswa.cpp: `size_swa = GGML_PAD(min(size_base, hparams.n_swa *
        // (unified ? n_seq_max : 1) + n_ubatch), n_pad)` unless `swa_full`.
        sliding_window_cache: true,
        // src/llama-kv-cache.cpp: `v_trans` without flash attention, rows of
        // `n_embd_v_gqa_max()` so every layer's view has the same stride.
        v_at_widest_row_without_flash_attn: true,
        // src/llama-kv-cache.cpp: `has_v = !is_mla`, K rows of `kv_lora_rank + n_rot`.
        mla: MlaCache::LatentOnly,
    },
    planning: PlanningRules {
        // No `-mla` option: MLA is the cache layout above.
        mla_mode: None,
        // common/arg.cpp `--n-cpu-moe N`: one `llm_ffn_exps_block_regex(i)` override to
        // CPU for each i in 0..N, whatever the split.
        n_cpu_moe_spreads_over_gpus: false,
    },
    kernels: KernelTraits {
        fused_ops_by_default: false,
        own_cpu_matmul_kernels: false,
        // ggml/src/ggml-cpu/llamafile/sgemm.cpp `llamafile_sgemm` (tinyBLAS: F32, BF16,
        // F16, Q8_0, Q4_0; Q5_0 and IQ4_NL on x86 only) and ggml/src/ggml-cpu/repack.cpp
        // `ggml_repack_get_optimal_repack_type` (Q4_0, Q4_K, IQ4_NL, Q8_0 on AVX2 and NEON;
        // Q2_K AVX-512 only, Q5_K ARM only): the types covered on both architectures.
        cpu_gemm_types: &["F32", "F16", "BF16", "Q8_0", "Q4_0", "IQ4_NL", "Q4_K"],
    },
    download: DownloadRules {
        // common/download.cpp common_download_split_repo_tag and find_best_model: the
        // tag after ':' picks the first file matching `TAG[.-]`.
        repo_takes_quant: true,
        // common/hf-cache.cpp get_cache_directory: LLAMA_CACHE, then HF_HUB_CACHE...,
        // then ~/.cache/huggingface/hub.
        cache_env: "LLAMA_CACHE",
        // LLAMA_OPENSSL defaults ON (CMakeLists.txt), but https needs OpenSSL >= 3 found
        // at build time (vendor/cpp-httplib/CMakeLists.txt); without it -hf cannot fetch.
        note: Some("the engine needs OpenSSL 3 headers at build time for https (Debian/Ubuntu: libssl-dev); `rigplan build` checks for them"),
        // vendor/cpp-httplib/CMakeLists.txt: `elseif (LLAMA_OPENSSL)` find_package(OpenSSL)
        // and a compile check for OPENSSL_VERSION_NUMBER >= 0x30000000 (BoringSSL and
        // LibreSSL >= 0x1010107f); not found: "OpenSSL not found, HTTPS support disabled"
        // and the build goes on without https. LLAMA_CURL is deprecated and ignored.
        build: Some(DownloaderBuild {
            cmake_option: "LLAMA_OPENSSL",
            pkg_config: "openssl >= 3.0.0",
            headers: &["/usr/include/openssl/opensslv.h"],
            install: "OpenSSL >= 3.0 development files (Debian/Ubuntu: sudo apt-get install libssl-dev; Fedora: sudo dnf install openssl-devel; Arch: sudo pacman -S openssl)",
        }),
    },
};
