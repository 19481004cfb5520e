//! Generators: render a Plan (or a HardwareSnapshot, for builds) into the artefacts a
//! person runs: a build script, a launch command or script, a systemd unit, a llama-swap
//! config.
//!
//! Generators decide nothing about the plan: every setting comes from the Plan and every
//! option spelling from [`crate::engine`]. They quote, escape and refuse values a target
//! format cannot hold (exit 2), and they do no I/O: `commands::{build,export}` write files.

pub mod build_script;
pub mod command;
pub mod launch;
pub mod llama_swap;
pub mod rpc_worker;
pub mod script;
pub mod shell;
pub mod systemd;
pub mod template;

pub use launch::Launch;
pub use shell::{command_line, shell_quote};
