//! rigplan: a hardware-aware configuration planner and build generator for local LLM
//! inference with llama.cpp and ik_llama.cpp.
//!
//! The map (ARCHITECTURE.md has the invariants and the layer table that
//! `tests/integration/tidy.rs` enforces):
//!
//! ```text
//!  cli ─► commands ─► ops ─┬─ hardware (detect, snapshots, GPU table) ─► HardwareSnapshot ─┐
//!                          ├─ model (ModelSpec, catalog) ◄─ gguf (header reader) ───────────┤
//!                          │                                                                ▼
//!                          ├─ planner ─► Plan ─► engine (argv) ─► generate (text)     planner
//!                          │     ▲                                                    (pure)
//!                          │     └── perf (speed scorer)
//!                          └─ tune (llama-bench, calibration)
//!       everything speaks plan (Settings, DeviceId, Layout, Speed, Plan); units, error below all
//! ```
//!
//! Bottom up:
//! - [`units`], [`error`]: byte and rate types; the typed error and its exit code.
//! - [`gguf`] reads GGUF headers, never tensor data, and survives hostile files.
//! - [`hardware`] probes a machine or reads a described one into a
//!   [`hardware::HardwareSnapshot`].
//! - [`model`] turns a header or a catalog entry into a [`model::ModelSpec`].
//! - [`plan`] is the shared vocabulary: settings, devices, layouts, speeds, the
//!   [`plan::Plan`]. It uses nothing above `units`.
//! - [`engine`] is per-engine knowledge as data (flags, cache types, split modes, memory
//!   and kernel rules, CMake options) and renders a plan's argv.
//! - [`perf`] predicts tg/pp speed for a placement and holds the quant-quality rules.
//! - [`planner`] is pure: (ModelSpec, HardwareSnapshot, PlanRequest) → Plan, in stages.
//! - [`generate`] renders a Plan into scripts and units and decides nothing.
//! - [`tune`] measures plans with llama-bench and calibrates the speed model.
//! - [`ops`] are the library operations the verbs are made of.
//! - [`commands`] are the thin CLI verbs; [`cli`] is the clap grammar only.

pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod generate;
pub mod gguf;
pub mod hardware;
pub mod model;
pub mod ops;
pub mod perf;
pub mod plan;
pub mod planner;
pub mod tune;
pub mod units;
