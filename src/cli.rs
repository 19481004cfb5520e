//! Command-line grammar (clap only).
//!
//! These types describe what the user typed and do no I/O: no file is opened and no
//! device probed here. `commands::*` resolve them into validated requests.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rigplan",
    version,
    about = "Plan, build and launch llama.cpp / ik_llama.cpp for this exact machine",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Overall deadline, in seconds, for reading one remote GGUF header (https://, hf:).
    #[arg(long, global = true, value_name = "SECS")]
    pub remote_timeout: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe this machine's CPU, memory and GPUs and print (or save) a snapshot.
    Detect(DetectArgs),
    /// Read a model's GGUF header (or catalog entry) and show what it is made of.
    Inspect(InspectArgs),
    /// Choose quant, placement and settings for a model on a machine.
    Plan(PlanArgs),
    /// Compare the best plan for one model across several machines.
    Compare(CompareArgs),
    /// Write the cmake build script for this (or another) machine.
    Build(BuildArgs),
    /// Write the launch command, script, systemd unit or llama-swap entry for a plan.
    Export(ExportArgs),
    /// Measure the plan and its neighbours with llama-bench and calibrate the model.
    Tune(TuneArgs),
    /// List the bundled models, GPUs or hardware presets.
    Catalog(CatalogArgs),
    /// Print a shell completion script (`rigplan completions bash > /etc/bash_completion.d/rigplan`).
    Completions(CompletionsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// JSON (stable keys, DESIGN.md).
    Json,
    /// TOML.
    Toml,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the snapshot to this file (TOML, or JSON if the name ends in .json).
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Also measure memory read bandwidth (about 3 seconds).
    #[arg(long)]
    pub measure: bool,
    /// Replace an existing --save file (a regular file only).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A .gguf path, a catalog id (`qwen3.5-35b-a3b:Q4_K_M`), `hf:OWNER/REPO[:QUANT]` or an https URL.
    pub model: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Where the hardware description comes from (default: detect this machine).
#[derive(Debug, Args, Clone, Default)]
pub struct HardwareArgs {
    /// A saved snapshot (TOML/JSON) or a bundled preset name (`z440-2x3060`).
    #[arg(long, value_name = "PATH|PROFILE")]
    pub hardware: Option<String>,
    /// Use this GPU from the bundled table (repeatable); replaces detected GPUs.
    #[arg(long = "gpu", value_name = "NAME")]
    pub gpus: Vec<String>,
    /// A GPU the table lacks, by its numbers (repeatable; after any --gpu):
    /// `name=…,vram_gib=…,bandwidth_gbs=…,fp16_tflops=…,vendor=nvidia|amd|intel|apple|other`,
    /// optionally `compute_capability=8.6`, `gfx_target=gfx1100`, `unified=true`,
    /// `pcie_gen=4`, `pcie_width=16`, `backends=cuda+vulkan`.
    #[arg(long = "gpu-spec", value_name = "FIELDS")]
    pub gpu_specs: Vec<String>,
    /// System RAM in GiB.
    #[arg(long, value_name = "N")]
    pub ram_gib: Option<f64>,
    /// Theoretical peak RAM bandwidth (channels x MT/s x 8 bytes) in GB/s.
    #[arg(long, value_name = "N")]
    pub ram_bandwidth_gbs: Option<f64>,
    /// Physical CPU cores.
    #[arg(long, value_name = "N")]
    pub cpu_cores: Option<u32>,
    /// Plan as if the machine had no GPU.
    #[arg(long)]
    pub no_gpu: bool,
}

/// One choice fixed by the user; the planner chooses the rest.
#[derive(Debug, Args, Clone, Default)]
pub struct PinArgs {
    /// `llama.cpp` or `ik_llama.cpp`.
    #[arg(long)]
    pub engine: Option<String>,
    /// Quant to plan (`Q4_K_M`, `IQ2_XXS`, `UD-Q4_K_XL`...), instead of choosing one.
    #[arg(long)]
    pub quant: Option<String>,
    /// Layers on the GPU(s) (`-ngl`); the output layer counts as one more.
    #[arg(long, value_name = "N")]
    pub ngl: Option<u32>,
    /// Keep the routed experts of the first N layers in system RAM (`--n-cpu-moe`).
    #[arg(long, value_name = "N")]
    pub n_cpu_moe: Option<u32>,
    /// Context size in tokens (`-c`).
    #[arg(long, value_name = "N")]
    pub ctx: Option<u64>,
    /// Tokens to generate per request (`-n`).
    #[arg(long, value_name = "N")]
    pub predict: Option<u64>,
    /// K-cache type (`f16`, `q8_0`, `q4_0`...).
    #[arg(long, value_name = "T")]
    pub ctk: Option<String>,
    /// V-cache type (`f16`, `q8_0`...; quantized V needs flash attention).
    #[arg(long, value_name = "T")]
    pub ctv: Option<String>,
    /// CPU threads (`-t`); default: physical cores the memory can feed.
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    /// Logical batch size (`-b`).
    #[arg(long, value_name = "N")]
    pub batch: Option<u32>,
    /// Physical batch size (`-ub`).
    #[arg(long, value_name = "N")]
    pub ubatch: Option<u32>,
    /// Concurrent request slots (`-np`); the context is shared among them.
    #[arg(long, value_name = "N")]
    pub parallel: Option<u32>,
    /// Multi-GPU split mode: `none`, `layer`, `row`, `tensor` (mainline), `graph` (ik).
    #[arg(long, value_name = "M")]
    pub split_mode: Option<String>,
    /// Comma-separated proportions per GPU, e.g. `1,1`.
    #[arg(long, value_name = "A,B")]
    pub tensor_split: Option<String>,
    /// Flash attention (`-fa`).
    #[arg(long, value_name = "on|off")]
    pub flash_attn: Option<String>,
    /// The ggml backend the GPUs run on (default: the fastest predicted among those
    /// this machine's GPUs can use; `cpu` leaves the GPUs out).
    #[arg(long, value_name = "cuda|rocm|vulkan|metal|sycl|cpu")]
    pub backend: Option<String>,
    /// What the server is for; sets the default context and generation budget.
    #[arg(long, value_name = "chat|coding|quick|long")]
    pub use_case: Option<String>,
    /// How to choose among quants: fastest, best quality, or a balance.
    #[arg(long, value_name = "speed|quality|balanced")]
    pub prefer: Option<String>,
    /// Interactive floor for `--prefer quality`, tok/s of generation.
    #[arg(long, value_name = "TOK_S")]
    pub min_tg: Option<f64>,
    /// Speculative decoding: `auto` lets the planner choose.
    #[arg(long, value_name = "none|auto|mtp|draft|ngram")]
    pub speculative: Option<String>,
    /// Tokens drafted per speculative step (`--draft-max`), instead of the predicted best.
    #[arg(long, value_name = "N")]
    pub draft_max: Option<u32>,
    /// A draft model for speculative decoding (a .gguf path, catalog id or hf:), same
    /// vocabulary as the main model.
    #[arg(long, value_name = "MODEL")]
    pub draft: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Model reference; the catalog's default model when omitted.
    pub model: Option<String>,
    #[command(flatten)]
    pub hardware: HardwareArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write the plan as TOML for `export --plan`.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Load a vision projector with the model and count it where the engine puts it:
    /// a projector GGUF, or `auto` for the catalog's.
    #[arg(long, value_name = "FILE|auto")]
    pub mmproj: Option<String>,
    /// Plan across values of one setting and print memory per device and predicted
    /// speeds as a table and chart (`parallel`: how many slots of `--ctx` fit, and their
    /// aggregate throughput).
    #[arg(long, value_enum, value_name = "SETTING")]
    pub sweep: Option<SweepSetting>,
    /// Replace an existing --save file (a regular file only).
    #[arg(long)]
    pub force: bool,
    /// Check the plan with the engine's own llama-fit-params (per-device memory beside
    /// rigplan's; exit 1 if the engine says it does not fit).
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// The setting `plan --sweep` varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SweepSetting {
    /// Context size, by powers of two up to the model's training context.
    Ctx,
    /// Layers on the GPU(s), from none to all.
    Ngl,
    /// Layers whose routed experts stay in RAM, from none to all.
    NCpuMoe,
    /// Each candidate quant.
    Quant,
    /// Concurrent slots (1 to 64), each with the --ctx context.
    Parallel,
}

/// Other machines that lend their devices over llama.cpp's RPC backend.
#[derive(Debug, Args, Clone, Default)]
pub struct ClusterArgs {
    /// An RPC worker: NAME=HARDWARE@HOST:PORT, HARDWARE a snapshot file or preset, HOST:PORT
    /// where its rpc-server listens (repeatable).
    #[arg(long = "worker", value_name = "NAME=HARDWARE@HOST:PORT")]
    pub workers: Vec<String>,
    /// The network to the workers: 1gbe (default), 10gbe, 25gbe, thunderbolt, or
    /// GBITS[,RTT_US] (payload Gbit/s, round-trip µs from `ping`).
    #[arg(long, value_name = "LINK")]
    pub link: Option<String>,
    /// A cluster file (TOML: link, main_address, [[worker]] name/hardware/address/port).
    #[arg(long = "cluster", value_name = "PATH")]
    pub cluster_file: Option<PathBuf>,
    /// The main host's IP address as the workers see it (their units let only it in).
    #[arg(long, value_name = "ADDR")]
    pub main_address: Option<String>,
    /// Write the workers, link and main address given as a cluster file (never overwrites).
    #[arg(long, value_name = "PATH")]
    pub save_cluster: Option<PathBuf>,
    /// Write each used worker's rpc-server launch script and systemd unit into DIR
    /// (never overwrites).
    #[arg(long, value_name = "DIR")]
    pub write_workers: Option<PathBuf>,
    /// The rpc-server binary on the workers, for the units' ExecStart (absolute).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/usr/local/bin/ggml-rpc-server"
    )]
    pub rpc_server_bin: String,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Model reference; the catalog's default model when omitted.
    pub model: Option<String>,
    /// Machines to compare: snapshot files or preset names (repeatable).
    #[arg(long = "hardware", value_name = "PATH|PROFILE")]
    pub hardware: Vec<String>,
    /// A what-if machine made of these GPUs on this machine's CPU and RAM (repeatable).
    #[arg(long = "gpu", value_name = "NAME")]
    pub gpus: Vec<String>,
    /// A GPU of the what-if machine given by its numbers (repeatable; see `plan --help`).
    #[arg(long = "gpu-spec", value_name = "FIELDS")]
    pub gpu_specs: Vec<String>,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// RPC workers added to every `--hardware` machine (a second row with them).
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub hardware: HardwareArgs,
    /// `llama.cpp` or `ik_llama.cpp`.
    #[arg(long, default_value = "llama.cpp")]
    pub engine: String,
    /// Build this source tree instead of cloning the pinned commit.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Install prefix for the built binaries.
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
    /// Also build the RPC server.
    #[arg(long)]
    pub rpc: bool,
    /// Build for this ggml backend (default: each GPU's first usable backend, the
    /// vendor's runtime where it is installed; give the one `plan` chose).
    #[arg(long, value_name = "cuda|rocm|vulkan|metal|sycl|cpu")]
    pub backend: Option<String>,
    /// Write the script here instead of printing it.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportKind {
    /// One shell command line.
    Command,
    /// An executable launch script.
    Script,
    /// A hardened systemd unit.
    Systemd,
    /// A llama-swap config entry per model.
    LlamaSwap,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Model reference(s); several for a llama-swap config.
    #[arg(value_name = "MODEL")]
    pub models: Vec<String>,
    /// A plan saved with `plan --save`.
    #[arg(long, value_name = "PATH")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub hardware: HardwareArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    /// What to write.
    #[arg(long = "as", value_enum)]
    pub kind: ExportKind,
    /// Address the server listens on; anything but loopback needs --api-key-file.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port the server listens on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Load a vision projector with the model (a projector GGUF, or `auto` for the
    /// catalog's), counted in the plan.
    #[arg(long, value_name = "FILE|auto")]
    pub mmproj: Option<String>,
    /// File holding the API key; required when --host is not loopback.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Model alias served to clients.
    #[arg(long)]
    pub alias: Option<String>,
    /// Directory holding the engine binaries (default: the `rigplan build` prefix, else PATH).
    #[arg(long, value_name = "DIR")]
    pub engine_bin: Option<PathBuf>,
    /// Write the artefact here instead of printing it.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Check each plan with the engine's own llama-fit-params first; write nothing and
    /// exit 1 if the engine says it does not fit.
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// A local .gguf file to measure (the catalog's default model when omitted).
    pub model: Option<String>,
    #[command(flatten)]
    pub hardware: HardwareArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Directory holding llama-bench.
    #[arg(long, value_name = "DIR")]
    pub engine_bin: Option<PathBuf>,
    /// Time budget, e.g. `5m`, `90s`.
    #[arg(long, default_value = "5m")]
    pub budget: String,
    /// Repetitions per configuration.
    #[arg(long, default_value_t = 2)]
    pub repetitions: u32,
    /// Prompt tokens per pp measurement (llama-bench `-p`).
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub n_prompt: u32,
    /// Generated tokens per tg measurement (llama-bench `-n`).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub n_gen: u32,
    /// A single llama-bench run longer than this is killed and recorded as failed.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub run_timeout: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogKind {
    /// Models rigplan plans without a file.
    Models,
    /// The GPU table `--gpu NAME` takes names from.
    Gpus,
    /// Hardware presets for `--hardware NAME`.
    Hardware,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// What to list.
    #[arg(value_enum, default_value_t = CatalogKind::Models)]
    pub kind: CatalogKind,
    /// Only GPUs of this vendor (`nvidia`, `amd`, `intel`, `apple`).
    #[arg(long, value_name = "VENDOR")]
    pub vendor: Option<String>,
    /// Only GPUs whose name (or an alias) contains this, case-insensitively.
    #[arg(long, value_name = "SUBSTR")]
    pub name: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Shells `rigplan completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
    /// PowerShell.
    Powershell,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}
