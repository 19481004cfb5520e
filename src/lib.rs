//! rigplan: a hardware-aware configuration planner and build generator for local LLM
//! inference with llama.cpp and ik_llama.cpp.
//!
//! The map:
//!
//! ```text
//!  hardware (detect, snapshots, GPU table) ─► HardwareSnapshot ─┐
//!                                                               ├─► planner ─► Plan ─► generate
//!  gguf (header reader) ─► model (ModelSpec, catalog) ──────────┘     │  ▲
//!                                                                     ▼  │
//!                                                         perf (speed model, calibration)
//! ```
//!
//! - [`gguf`] reads GGUF headers, never tensor data, and survives hostile files.
//! - [`model`] turns a header or a catalog entry into a [`model::ModelSpec`].
//! - [`hardware`] probes a machine or reads a described one into a
//!   [`hardware::HardwareSnapshot`].
//! - [`planner`] is pure: (ModelSpec, HardwareSnapshot, request) → [`planner::Plan`].
//! - [`perf`] predicts tg/pp speed for a placement and holds the quant-quality rules.
//! - [`engine`] is per-engine knowledge as data (flags, cache types, CMake options).
//! - [`generate`] renders a Plan into scripts and units and decides nothing.
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
