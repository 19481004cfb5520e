//! `rigplan completions SHELL`: the shell's completion script, generated from the clap
//! grammar in `cli` by clap_complete, printed to stdout.
//!
//! Decides nothing and reads nothing; the script completes what `cli` declares.

use crate::cli::{Cli, CompletionsArgs, Shell};
use clap::CommandFactory;
use clap_complete::{generate, shells};

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    match args.shell {
        Shell::Bash => generate(shells::Bash, &mut cmd, "rigplan", &mut out),
        Shell::Zsh => generate(shells::Zsh, &mut cmd, "rigplan", &mut out),
        Shell::Fish => generate(shells::Fish, &mut cmd, "rigplan", &mut out),
        Shell::Powershell => generate(shells::PowerShell, &mut cmd, "rigplan", &mut out),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option of every subcommand carries help text (what `--help` and the shell
    /// completions show).
    #[test]
    fn every_argument_of_every_subcommand_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
                // A switch's true/false are clap's own, not choices the user reads.
                let values = if a.get_action().takes_values() {
                    a.get_possible_values()
                } else {
                    Vec::new()
                };
                for v in values {
                    if v.get_help().is_none() {
                        missing.push(format!("{path} {id}={}", v.get_name()));
                    }
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "rigplan", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        fn script<G: clap_complete::Generator>(g: G) -> String {
            let mut buf = Vec::new();
            generate(g, &mut Cli::command(), "rigplan", &mut buf);
            String::from_utf8(buf).unwrap()
        }
        for text in [
            script(shells::Bash),
            script(shells::Zsh),
            script(shells::Fish),
            script(shells::PowerShell),
        ] {
            assert!(
                text.contains("completions") && text.contains("n-cpu-moe"),
                "{text}"
            );
        }
    }
}
