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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Toml,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
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
    #[arg(long)]
    pub quant: Option<String>,
    #[arg(long, value_name = "N")]
    pub ngl: Option<u32>,
    #[arg(long, value_name = "N")]
    pub n_cpu_moe: Option<u32>,
    #[arg(long, value_name = "N")]
    pub ctx: Option<u64>,
    #[arg(long, value_name = "N")]
    pub predict: Option<u64>,
    #[arg(long, value_name = "T")]
    pub ctk: Option<String>,
    #[arg(long, value_name = "T")]
    pub ctv: Option<String>,
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    #[arg(long, value_name = "N")]
    pub batch: Option<u32>,
    #[arg(long, value_name = "N")]
    pub ubatch: Option<u32>,
    #[arg(long, value_name = "N")]
    pub parallel: Option<u32>,
    #[arg(long, value_name = "M")]
    pub split_mode: Option<String>,
    /// Comma-separated proportions per GPU, e.g. `1,1`.
    #[arg(long, value_name = "A,B")]
    pub tensor_split: Option<String>,
    #[arg(long, value_name = "on|off")]
    pub flash_attn: Option<String>,
    #[arg(long, value_name = "chat|coding|quick|long")]
    pub use_case: Option<String>,
    #[arg(long, value_name = "speed|quality|balanced")]
    pub prefer: Option<String>,
    /// Interactive floor for `--prefer quality`, tok/s of generation.
    #[arg(long, value_name = "TOK_S")]
    pub min_tg: Option<f64>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Model reference; the catalog's default model when omitted.
    pub model: Option<String>,
    #[command(flatten)]
    pub hardware: HardwareArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write the plan as TOML for `export --plan`.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Replace an existing --save file (a regular file only).
    #[arg(long)]
    pub force: bool,
    /// Check the plan with the engine's own llama-fit-params (per-device memory beside
    /// rigplan's; exit 1 if the engine says it does not fit).
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub model: Option<String>,
    /// Machines to compare: snapshot files or preset names (repeatable).
    #[arg(long = "hardware", value_name = "PATH|PROFILE")]
    pub hardware: Vec<String>,
    /// A what-if machine made of these GPUs on this machine's CPU and RAM (repeatable).
    #[arg(long = "gpu", value_name = "NAME")]
    pub gpus: Vec<String>,
    #[command(flatten)]
    pub pins: PinArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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
    /// Write the script here instead of printing it.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportKind {
    Command,
    Script,
    Systemd,
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
    #[arg(long = "as", value_enum)]
    pub kind: ExportKind,
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// File holding the API key; required when --host is not loopback.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Model alias served to clients.
    #[arg(long)]
    pub alias: Option<String>,
    /// Directory holding the engine binaries (default: the `rigplan build` prefix, else PATH).
    #[arg(long, value_name = "DIR")]
    pub engine_bin: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub force: bool,
    /// Check each plan with the engine's own llama-fit-params first; write nothing and
    /// exit 1 if the engine says it does not fit.
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
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
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogKind {
    Models,
    Gpus,
    Hardware,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[arg(value_enum, default_value_t = CatalogKind::Models)]
    pub kind: CatalogKind,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}
