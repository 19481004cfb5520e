//! Errors and exit codes.
//!
//! Library code returns typed errors; the binary converts them to one line on stderr
//! and an exit code. [`UserError`] marks bad input (exit 2) and [`Unsatisfiable`] marks a
//! request that cannot be met on the given hardware (exit 1). Anything else that escapes
//! is reported the same way with exit 1. Nothing here prints.

use std::fmt;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code when the request cannot be satisfied (e.g. the model fits nowhere).
pub const EXIT_UNSATISFIABLE: i32 = 1;
/// Exit code for bad input: unreadable or malformed files, unknown names, invalid options.
pub const EXIT_BAD_INPUT: i32 = 2;

/// Bad input: a file, name or option the user gave is wrong. The message names the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError(pub String);

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// The request is well-formed but cannot be met; the message says what is missing and by how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsatisfiable(pub String);

impl fmt::Display for Unsatisfiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsatisfiable {}

/// Shorthand for returning a bad-input error from a command.
pub fn user_error(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(msg.into()))
}

/// Chooses the exit code for an error chain: bad input anywhere in the chain wins.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if cause.downcast_ref::<UserError>().is_some() {
            return EXIT_BAD_INPUT;
        }
        if cause.downcast_ref::<crate::gguf::GgufError>().is_some() {
            return EXIT_BAD_INPUT;
        }
        if cause.downcast_ref::<Unsatisfiable>().is_some() {
            return EXIT_UNSATISFIABLE;
        }
    }
    EXIT_UNSATISFIABLE
}

/// Renders an error chain as one line: `outer: inner: innermost`, newlines folded.
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn user_error_anywhere_in_chain_is_exit_2() {
        let e: anyhow::Result<()> = Err(user_error("unknown GPU 'RTX 9999'"));
        let e = e.context("reading hardware").unwrap_err();
        assert_eq!(exit_code_for(&e), EXIT_BAD_INPUT);
        assert_eq!(one_line(&e), "reading hardware: unknown GPU 'RTX 9999'");
    }

    #[test]
    fn unsatisfiable_is_exit_1() {
        let e = anyhow::Error::new(Unsatisfiable("needs 3.2 GiB more".into()));
        assert_eq!(exit_code_for(&e), EXIT_UNSATISFIABLE);
    }
}
