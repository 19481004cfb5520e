//! The vocabulary for describing a pinned engine as data: option kinds, value syntax,
//! CMake option names, build targets.
//!
//! These types hold facts read from an engine's source tree; they do not decide which
//! option a plan needs (that is [`crate::engine::args`]) and they never run the engine.

/// Which program of an engine an option is given to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `llama-server`.
    Server,
    /// `llama-bench`.
    Bench,
}

/// Every kind of option rigplan may emit. An engine's table says how each is spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptionKind {
    Model,
    GpuLayers,
    NCpuMoe,
    CtxSize,
    Predict,
    CacheTypeK,
    CacheTypeV,
    Threads,
    Batch,
    Ubatch,
    Parallel,
    SplitMode,
    TensorSplit,
    FlashAttn,
    /// mainline `-lm/--load-mode MODE`, which replaced `--mlock` and `--no-mmap`.
    LoadMode,
    /// ik `--mlock` (server); no value.
    Mlock,
    /// ik `--no-mmap` (server); no value.
    NoMmap,
    /// ik llama-bench `-mmp 0|1`.
    MmapBool,
    OverrideTensor,
    Host,
    Port,
    ApiKeyFile,
    Alias,
    /// mainline `-fit on|off` (server): fit the model to free memory at load.
    Fit,
    /// ik `-rtr` (server switch, bench `0|1`): repack CPU-resident weights at load.
    RunTimeRepack,
    /// ik `-mla N`.
    MlaUse,
    /// ik `-amb N` (MiB).
    AttnMaxBatch,
    /// ik `-muge` (server switch, bench `0|1`): merge up/gate expert tensors.
    MergeUpGateExperts,
    /// `-cram/--cache-ram N` (server): the prompt cache's cap in host RAM, MiB.
    CacheRam,
    /// `-hf`/`-hfr REPO` (server): download the model from this Hugging Face repository.
    HfRepo,
    /// `-hff FILE` (server): the file of [`OptionKind::HfRepo`] to download.
    HfFile,
    /// mainline `--no-mmproj` (server): do not fetch the repository's vision projector,
    /// which `-hf` otherwise downloads and loads too.
    NoMmproj,
    /// `--mmproj FILE` (server): the vision projector.
    Mmproj,
    /// mainline `--mmproj-url URL` (server): the projector, downloaded by the engine.
    MmprojUrl,
    /// `--no-mmproj-offload` (server): the projector on the CPU instead of the first GPU.
    NoMmprojOffload,
    /// mainline `--rpc HOST:PORT,...` (server): the RPC workers' devices join the list.
    Rpc,
    /// `--spec-type NAME` (server): the kind of speculative decoding
    /// ([`crate::engine::speculative`] holds each engine's names).
    SpecType,
    /// ik `-mtp` (server switch): draft with the model's own nextn head.
    Mtp,
    /// `-md FNAME` (server): the draft model.
    DraftModel,
    /// Most tokens drafted per step (mainline `--spec-draft-n-max`, ik `--draft-max`).
    DraftMax,
    /// Fewest tokens per draft (mainline `--spec-draft-n-min`, ik `--draft-min`).
    DraftMin,
    /// Greedy drafting stops below this probability (`--draft-p-min` in both).
    DraftPMin,
    /// `-ngld N` (server): draft model layers on the GPU.
    DraftGpuLayers,
    /// mainline `-hfd REPO[:QUANT]` (server): download the draft model from this Hugging
    /// Face repository (its file named by [`OptionKind::DraftModel`]).
    DraftHfRepo,
    /// `-devd DEV,...|none` (server): the draft model's devices (`none`: the CPU only).
    DraftDevice,
    /// ik `-cd N` (server): the draft context's size.
    DraftCtxSize,
    /// `-ctkd TYPE` (server): the draft context's K cache type.
    DraftCacheTypeK,
    /// `-ctvd TYPE` (server): the draft context's V cache type.
    DraftCacheTypeV,
    /// ik `--spec-autotune` (server switch): adapt the draft length at run time.
    SpecAutotune,
    /// llama-bench prompt length `-p`.
    BenchPrompt,
    /// llama-bench generation length `-n`.
    BenchGen,
    /// llama-bench `-r`.
    BenchRepetitions,
    /// llama-bench `-o`.
    BenchOutput,
}

/// How the value of an option is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueSyntax {
    /// A switch with no value.
    Flag,
    /// A decimal integer (ik's `-ngl` accepts only this: `std::stoi`).
    Integer,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Numbers joined by this separator (`-ts 3,1` for the server, `3/1` for mainline bench).
    NumberList(&'static str),
    /// `PATTERN=BUFTYPE` entries; several are joined with this separator in one value.
    Overrides(&'static str),
    /// A file path.
    Path,
    /// Free text (alias, host address).
    Text,
}

/// One option a tool of a pinned engine accepts, as rigplan writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionSpec {
    pub kind: OptionKind,
    pub tool: Tool,
    /// The spelling rigplan emits.
    pub flag: &'static str,
    /// Other spellings the engine accepts for the same option.
    pub aliases: &'static [&'static str],
    pub value: ValueSyntax,
}

/// One row of an engine's option table (both engines' tables are built with it).
pub const fn option(
    kind: OptionKind,
    tool: Tool,
    flag: &'static str,
    aliases: &'static [&'static str],
    value: ValueSyntax,
) -> OptionSpec {
    OptionSpec {
        kind,
        tool,
        flag,
        aliases,
        value,
    }
}

/// CMake option names of one engine (the names differ between engines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmakeNames {
    pub cuda: &'static str,
    /// mainline `GGML_CUDA_GRAPHS`, ik `GGML_CUDA_USE_GRAPHS`.
    pub cuda_graphs: &'static str,
    /// mainline `GGML_HIP`, ik `GGML_HIPBLAS`.
    pub hip: &'static str,
    pub vulkan: &'static str,
    pub blas: &'static str,
    pub blas_vendor: &'static str,
    pub native: &'static str,
    pub lto: &'static str,
    pub openmp: &'static str,
    pub rpc: &'static str,
    pub avx: &'static str,
    pub avx2: &'static str,
    pub fma: &'static str,
    pub f16c: &'static str,
    /// `GGML_BMI2` exists only in mainline.
    pub bmi2: Option<&'static str>,
    pub avx512: &'static str,
    pub avx512_vbmi: &'static str,
    pub avx512_vnni: &'static str,
    pub avx512_bf16: &'static str,
    /// `GGML_AVX_VNNI` exists only in mainline.
    pub avx_vnni: Option<&'static str>,
    /// Variable carrying AMD gfx targets.
    pub hip_targets: &'static str,
}

/// A fixed `-DNAME=VALUE` an engine needs for rigplan's targets, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmakeDefine {
    pub name: &'static str,
    pub value: &'static str,
    pub why: &'static str,
}

/// CMake target names and the binaries they produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    pub server: &'static str,
    pub bench: &'static str,
    pub cli: &'static str,
    /// `llama-fit-params` (mainline only).
    pub fit_params: Option<&'static str>,
    /// mainline `ggml-rpc-server`, ik `rpc-server`.
    pub rpc_server: &'static str,
}

/// Options this version removed or renamed: never emitted, named here so a test can
/// prove it and a person can see what replaced them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedOption {
    pub flags: &'static [&'static str],
    pub use_instead: &'static str,
}

/// Everything rigplan knows about one pinned engine version.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineInfo {
    pub kind: crate::engine::EngineKind,
    /// Upstream git repository.
    pub git_url: &'static str,
    /// The pinned commit (full hash).
    pub commit: &'static str,
    /// The upstream release tag of that commit, where there is one.
    pub release_tag: Option<&'static str>,
    /// Human version string shown in plans.
    pub version: &'static str,
    /// The PyPI source distribution that carries this tree, and the tree's path in it.
    pub pypi_sdist: &'static str,
    pub sdist_subdir: &'static str,
    /// The file holding the argument parser, relative to the tree.
    pub server_arg_source: &'static str,
    pub bench_arg_source: &'static str,
    pub options: &'static [OptionSpec],
    /// Server options removed in this version (still parsed only to print an error, or
    /// gone entirely).
    pub removed_options: &'static [RemovedOption],
    /// KV cache types `-ctk/-ctv` accept.
    pub cache_types: &'static [&'static str],
    /// Split modes `-sm` accepts on the server.
    pub split_modes: &'static [&'static str],
    /// Split modes llama-bench accepts.
    pub bench_split_modes: &'static [&'static str],
    pub cmake: CmakeNames,
    /// Fixed defines selecting the components rigplan builds (tools vs examples...).
    pub component_defines: &'static [CmakeDefine],
    pub targets: Targets,
    /// The sdist tree lacks `common/cmake/build-info-gen-cpp.cmake`; the build script
    /// writes `common/build-info.cpp` from `common/build-info.cpp.in` (DESIGN.md).
    pub needs_build_info_fix: bool,
    /// Whether `GGML_BLAS` (OpenBLAS) is a supported CPU backend of this engine.
    pub supports_blas: bool,
    /// Whether `CMAKE_CUDA_ARCHITECTURES` accepts the `120a`-style arch-specific suffix
    /// (needs CMake support; both trees declare cmake_minimum_required 3.14/3.18).
    pub cuda_arch_specific_suffix: bool,
    /// Copies of every graph input the scheduler keeps when pipeline parallelism is on
    /// (several GPUs, all layers offloaded, layer split, no tensor overrides): the
    /// `GGML_SCHED_MAX_COPIES` CMake default, which the build script leaves alone.
    pub sched_max_copies: u64,
    /// How it sizes the KV cache and pads the context.
    pub kv: super::rules::KvRules,
    /// How it reads the options the planner writes, where engines differ.
    pub planning: super::rules::PlanningRules,
    /// Kernel differences from mainline the speed model charges.
    pub kernels: super::rules::KernelTraits,
    /// What its model downloader (`-hf`) does.
    pub download: super::rules::DownloadRules,
}

impl EngineInfo {
    /// The option of this kind for this tool, if the engine has one.
    pub fn option(&self, kind: OptionKind, tool: Tool) -> Option<&'static OptionSpec> {
        self.options
            .iter()
            .find(|o| o.kind == kind && o.tool == tool)
    }

    /// All options for one tool.
    pub fn options_for(&self, tool: Tool) -> impl Iterator<Item = &'static OptionSpec> {
        self.options.iter().filter(move |o| o.tool == tool)
    }

    pub fn short_commit(&self) -> &'static str {
        self.commit.get(..9).unwrap_or(self.commit)
    }

    /// Whether `llama-server` of this version takes an option of this kind.
    pub fn server_accepts(&self, kind: OptionKind) -> bool {
        self.option(kind, Tool::Server).is_some()
    }

    /// What names this pinned version's source, build and install directories
    /// (`llama-cpp-0c1e57098`).
    pub fn build_key(&self) -> String {
        format!(
            "{}-{}",
            self.kind.name().replace('.', "-"),
            self.short_commit()
        )
    }

    /// Where `rigplan build` installs this version by default, relative to the XDG data
    /// directory (`rigplan/llama-cpp-0c1e57098`), so `export` and `tune` find what it built.
    pub fn install_dir_name(&self) -> String {
        format!("rigplan/{}", self.build_key())
    }
}
