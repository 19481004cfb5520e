//! Errors and exit codes.
//!
//! Library code returns [`Result`] with the crate's [`Error`]; the commands (the edge)
//! may wrap it in a dynamic error with more context, and the binary prints the chain on
//! one line ([`one_line`]) and exits with [`exit_code_for`]. The exit code comes from
//! the error's kind, never from its text: bad input is exit 2, a request that cannot be
//! met is exit 1, and any other failure keeps exit 1. Nothing here prints.
//!
//! Context is attached with [`Context`] (`.context("…")`, `.with_context(|| …)`, the
//! same calls as at the edge): the message goes in front and the cause stays the error's
//! [`source`](std::error::Error::source), so the chain renders as `context: cause`. A
//! crate [`Error`] given context keeps its exit code; any other error becomes
//! [`Error::Other`], a failure (exit 1). A module's own typed error that is bad input (a
//! malformed GGUF) is converted with `?`/[`From`], which the module provides, before
//! context is added.

use std::error::Error as StdError;
use std::fmt::Display;

pub mod input;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code when the request cannot be satisfied (e.g. the model fits nowhere), and for
/// any failure that is not bad input.
pub const EXIT_UNSATISFIABLE: i32 = 1;
/// Exit code for bad input: unreadable or malformed files, unknown names, invalid options.
pub const EXIT_BAD_INPUT: i32 = 2;

/// A cause of another crate's or module's type, kept whole.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// The crate's error. [`Error::exit_code`] is decided by the variant alone.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input (exit 2): a file, name or option the user gave is wrong. The message
    /// names the input.
    #[error("{0}")]
    BadInput(String),
    /// Bad input (exit 2) reported as another module's typed error, kept whole (a
    /// malformed, hostile or unreadable GGUF file: `gguf::GgufError`). Displays as that
    /// error and has its source.
    #[error(transparent)]
    BadFile(Cause),
    /// The request is well-formed but cannot be met (exit 1); the message says what is
    /// missing and by how much.
    #[error("{0}")]
    Unsatisfiable(String),
    /// Any other failure (exit 1): a bundled table that does not parse, a child process
    /// that printed nothing usable.
    #[error("{0}")]
    Failed(String),
    /// Any other failure (exit 1) reported as another crate's error (I/O, serialisation,
    /// templates), kept whole: displays as that error and has its source.
    #[error(transparent)]
    Other(Cause),
    /// `message: cause` around another crate error; the exit code is the cause's.
    #[error("{message}")]
    Context {
        message: String,
        #[source]
        source: Box<Error>,
    },
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure (exit 1) with no cause.
    pub fn failed(message: impl Into<String>) -> Error {
        Error::Failed(message.into())
    }

    /// Any error as a crate error: a crate [`Error`] stays itself, anything else is
    /// [`Error::Other`] (exit 1).
    pub fn other(cause: impl Into<Cause>) -> Error {
        match cause.into().downcast::<Error>() {
            Ok(e) => *e,
            Err(cause) => Error::Other(cause),
        }
    }

    /// `message: cause`, with the cause's exit code (see [`Error::other`]).
    pub fn with_cause(message: impl Into<String>, cause: impl Into<Cause>) -> Error {
        Error::Context {
            message: message.into(),
            source: Box::new(Error::other(cause)),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput(_) | Error::BadFile(_) => EXIT_BAD_INPUT,
            Error::Unsatisfiable(_) | Error::Failed(_) | Error::Other(_) => EXIT_UNSATISFIABLE,
            Error::Context { source, .. } => source.exit_code(),
        }
    }
}

/// Shorthand for a bad-input error (exit 2).
pub fn user_error(msg: impl Into<String>) -> Error {
    Error::BadInput(msg.into())
}

/// Adds context to an error (or turns a `None` into a failure), keeping the cause as the
/// source. The same calls as the edge's `Context`.
pub trait Context<T> {
    fn context(self, message: impl Display) -> Result<T>;
    fn with_context<M: Display>(self, message: impl FnOnce() -> M) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: StdError + Send + Sync + 'static,
{
    fn context(self, message: impl Display) -> Result<T> {
        self.map_err(|e| Error::with_cause(message.to_string(), e))
    }

    fn with_context<M: Display>(self, message: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|e| Error::with_cause(message().to_string(), e))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, message: impl Display) -> Result<T> {
        self.ok_or_else(|| Error::failed(message.to_string()))
    }

    fn with_context<M: Display>(self, message: impl FnOnce() -> M) -> Result<T> {
        self.ok_or_else(|| Error::failed(message().to_string()))
    }
}

/// The exit code for an error chain (the edge's dynamic error derefs to one): the first
/// crate [`Error`] in the chain decides; a chain without one is a failure (exit 1). The
/// one place exit codes are chosen.
pub fn exit_code_for(err: &(dyn StdError + 'static)) -> i32 {
    chain(err)
        .find_map(|e| e.downcast_ref::<Error>().map(Error::exit_code))
        .unwrap_or(EXIT_UNSATISFIABLE)
}

/// The chain as `outer: cause: innermost`, as the edge's `{:#}` prints it.
pub fn chain_text(err: &(dyn StdError + 'static)) -> String {
    chain(err)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Most characters of the line the binary prints (each untrusted value in it is also
/// capped where it is quoted, with [`input::Quoted`]).
pub const MAX_LINE_CHARS: usize = 2000;

/// [`chain_text`] as the one line the binary prints: newlines folded, any other control
/// character escaped (no error can drive the terminal), at most [`MAX_LINE_CHARS`]
/// characters with the cut said.
pub fn one_line(err: &(dyn StdError + 'static)) -> String {
    let text = chain_text(err);
    let mut out = String::new();
    for (shown, (i, c)) in text.char_indices().enumerate() {
        if shown == MAX_LINE_CHARS {
            out.push_str(&format!("…[{} more bytes cut]", text.len() - i));
            break;
        }
        match c {
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| e.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_under_context_is_exit_2() {
        let e: Result<()> = Err(user_error("unknown GPU 'RTX 9999'"));
        let e = e.context("reading hardware").unwrap_err();
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
        assert_eq!(exit_code_for(&e), EXIT_BAD_INPUT);
        assert_eq!(one_line(&e), "reading hardware: unknown GPU 'RTX 9999'");
    }

    #[test]
    fn the_printed_line_escapes_controls_and_is_capped() {
        let e = user_error(format!("key '\u{1b}]0;owned\u{7}{}'", "x".repeat(300_000)));
        let line = one_line(&e);
        assert!(!line.chars().any(char::is_control), "{}", &line[..80]);
        assert!(
            line.starts_with("key '\\u{1b}]0;owned\\u{7}xxx"),
            "{}",
            &line[..80]
        );
        assert!(
            line.ends_with("more bytes cut]"),
            "{}",
            &line[line.len() - 80..]
        );
        assert!(line.chars().count() < MAX_LINE_CHARS + 40);
    }

    #[test]
    fn unsatisfiable_is_exit_1() {
        let e = Error::Unsatisfiable("needs 3.2 GiB more".into());
        assert_eq!(e.exit_code(), EXIT_UNSATISFIABLE);
        assert_eq!(exit_code_for(&e), EXIT_UNSATISFIABLE);
    }

    #[test]
    fn foreign_cause_is_a_failure_kept_as_source() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Err::<(), _>(io).context("writing 'x'").unwrap_err();
        assert!(matches!(&e, Error::Context { source, .. } if matches!(**source, Error::Other(_))));
        assert_eq!(e.exit_code(), EXIT_UNSATISFIABLE);
        assert_eq!(e.to_string(), "writing 'x'");
        assert_eq!(chain_text(&e), "writing 'x': denied");
        let e = None::<()>.with_context(|| "no table").unwrap_err();
        assert_eq!(chain_text(&e), "no table");
        assert_eq!(e.exit_code(), EXIT_UNSATISFIABLE);
    }

    #[test]
    fn bad_file_is_exit_2_and_displays_as_its_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("'m.gguf': at byte 8: bad")]
        struct Malformed;
        let e = Error::BadFile(Box::new(Malformed));
        assert_eq!(e.to_string(), "'m.gguf': at byte 8: bad");
        let e = Err::<(), _>(e).context("model 'm'").unwrap_err();
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
        assert_eq!(one_line(&e), "model 'm': 'm.gguf': at byte 8: bad");
    }
}
