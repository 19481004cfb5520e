//! The `rigplan` binary: parse, run, report an error once, exit with its code.
//!
//! A command line clap refuses is reported as one line too (its usage text is for
//! `--help`), exit 2; a negative number given to an option, which clap takes for an
//! unknown flag, is named as such.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match rigplan::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match rigplan::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rigplan: {}", rigplan::error::one_line(&*err));
            let code = rigplan::error::exit_code_for(&*err);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

/// Help and version are printed as clap prints them; any other parse error as one line.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let args: Vec<String> = std::env::args().collect();
    let negative = args.windows(2).find(|w| {
        w[0].starts_with("--")
            && w[1].len() > 1
            && w[1].starts_with('-')
            && w[1][1..].parse::<f64>().is_ok()
    });
    let line = match negative {
        Some(w) if e.kind() == ErrorKind::UnknownArgument => {
            format!("{} '{}': must not be negative", w[0], w[1])
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid command line");
            first.trim_start_matches("error: ").to_string()
        }
    };
    eprintln!(
        "rigplan: {} (rigplan --help for usage)",
        rigplan::error::input::quoted(&line)
    );
    ExitCode::from(2)
}
