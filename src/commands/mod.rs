//! Command entry points: thin wrappers that resolve arguments, call pure library
//! functions and render the result. One file per verb.
//!
//! This is the edge: commands return `anyhow::Result`, library calls return the crate's
//! typed [`Error`](crate::error::Error) and convert with `?` (a planner `PlanError`
//! with `Error::from` first). The binary prints the chain with
//! [`one_line`](crate::error::one_line) and exits with
//! [`exit_code_for`](crate::error::exit_code_for); no command chooses an exit code.

pub mod build;
pub mod catalog;
pub mod cluster;
pub mod compare;
pub mod completions;
pub mod detect;
pub mod export;
pub mod inspect;
pub mod output;
pub mod plan;
pub mod resolve;
pub mod sweep;
pub mod tune;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(secs) = cli.remote_timeout {
        if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
            return Err(crate::error::user_error(format!(
                "--remote-timeout {secs}: give seconds above 0, at most 86400"
            ))
            .into());
        }
        crate::gguf::remote::set_header_deadline(std::time::Duration::from_secs_f64(secs));
    }
    match cli.command {
        Command::Detect(a) => detect::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Build(a) => build::run(a),
        Command::Export(a) => export::run(a),
        Command::Tune(a) => tune::run(a),
        Command::Catalog(a) => catalog::run(a),
        Command::Completions(a) => completions::run(a),
    }
}

#[cfg(test)]
mod tests {
    use crate::error::{exit_code_for, one_line, user_error, Error, EXIT_BAD_INPUT};
    use anyhow::Context as _;

    /// What the binary prints and returns for an error that crossed the edge: the same
    /// line anyhow's `{:#}` gives, the exit code of the crate error inside.
    #[test]
    fn the_edge_prints_the_whole_chain_and_keeps_the_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let inner: crate::error::Result<()> =
            crate::error::Context::context(Err(io), "reading 'a'");
        let e = inner.context("model 'm'").unwrap_err();
        assert_eq!(one_line(&*e), format!("{e:#}"));
        assert_eq!(one_line(&*e), "model 'm': reading 'a': gone");
        assert_eq!(exit_code_for(&*e), 1);
        let e = Err::<(), _>(user_error("--gpu 'x'"))
            .context("hardware")
            .unwrap_err();
        assert_eq!(one_line(&*e), "hardware: --gpu 'x'");
        assert_eq!(exit_code_for(&*e), EXIT_BAD_INPUT);

        let bad: anyhow::Result<()> = Err(Error::from(crate::planner::PlanError::Invalid(
            "no quant to plan".into(),
        ))
        .into());
        let e = bad.context("plan").unwrap_err();
        assert_eq!(one_line(&*e), format!("{e:#}"));
        assert_eq!(exit_code_for(&*e), EXIT_BAD_INPUT);

        let plain = anyhow::anyhow!("no crate error\ninside");
        assert_eq!(one_line(&*plain), "no crate error inside");
        assert_eq!(exit_code_for(&*plain), 1);
    }
}
