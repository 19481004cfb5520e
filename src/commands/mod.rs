//! Command entry points: thin wrappers that resolve arguments, call pure library
//! functions and render the result. One file per verb.

pub mod build;
pub mod catalog;
pub mod compare;
pub mod detect;
pub mod export;
pub mod inspect;
pub mod plan;
pub mod tune;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Detect(a) => detect::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Build(a) => build::run(a),
        Command::Export(a) => export::run(a),
        Command::Tune(a) => tune::run(a),
        Command::Catalog(a) => catalog::run(a),
    }
}
