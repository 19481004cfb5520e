//! The `rigplan` binary: parse, run, report an error once, exit with its code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = rigplan::cli::Cli::parse();
    match rigplan::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rigplan: {}", rigplan::error::one_line(&*err));
            let code = rigplan::error::exit_code_for(&*err);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}
