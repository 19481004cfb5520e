//! Untrusted input at the edge of the crate: showing it in a message and reading the
//! small files a user names.
//!
//! [`Quoted`] displays a value from outside (a GGUF key, an HTTP status text, a refused
//! plan value) with control characters escaped (`\u{1b}`, `\n`) and at most
//! [`QUOTED_MAX_CHARS`] characters, saying how many bytes were cut, so no message can
//! move the terminal's cursor or run to megabytes. [`read_user_file`] reads a snapshot
//! or a saved plan: a regular file (a FIFO would block forever, a device would never
//! end) no larger than a cap checked before reading, as bad input (exit 2) otherwise.
//! [`regular_file`] is the same check for a file read elsewhere (a model, a shard).

use super::{user_error, Result};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// Most characters of one quoted value shown in a message.
pub const QUOTED_MAX_CHARS: usize = 120;

/// A value from outside, shown escaped and capped (see the module doc).
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shown, (i, c)) in self.0.char_indices().enumerate() {
            if shown == QUOTED_MAX_CHARS {
                let cut = self.0.len() - i;
                return write!(f, "…[{cut} more bytes cut]");
            }
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// [`Quoted`] as a `String`.
pub fn quoted(value: &str) -> String {
    Quoted(value).to_string()
}

/// What kind of file system object `meta` is, in words, for a refusal.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Refuses anything but a regular file (following symbolic links) before it is opened:
/// opening a FIFO blocks until a writer comes, reading a device never ends.
pub fn regular_file(path: &Path, what: &str) -> Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path)
        .map_err(|e| user_error(format!("{what} '{}': {e}", path.display())))?;
    if !meta.is_file() {
        return Err(user_error(format!(
            "{what} '{}' is {}, not a regular file",
            path.display(),
            kind_of(&meta)
        )));
    }
    Ok(meta)
}

/// Reads a small text file the user named (a snapshot, a saved plan): a regular file
/// of at most `limit` bytes (checked before reading, and again while reading in case
/// it grows), UTF-8. Every failure is bad input naming `what` and the path.
pub fn read_user_file(path: &Path, limit: u64, what: &str) -> Result<String> {
    let meta = regular_file(path, what)?;
    let too_big = |len: u64| {
        user_error(format!(
            "{what} '{}' is {len} bytes or more, more than any real one (limit {limit} bytes)",
            path.display()
        ))
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| user_error(format!("{what} '{}': {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| user_error(format!("{what} '{}': {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map_err(|e| user_error(format!("{what} '{}': not UTF-8 text ({e})", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_escape_controls_and_say_what_was_cut() {
        assert_eq!(quoted("plain key"), "plain key");
        assert_eq!(quoted("a\u{1b}[31mb\u{7}"), "a\\u{1b}[31mb\\u{7}");
        assert_eq!(quoted("x\ny"), "x\\ny");
        let long = "k".repeat(200_000);
        let shown = quoted(&long);
        assert_eq!(
            shown,
            format!(
                "{}…[{} more bytes cut]",
                "k".repeat(QUOTED_MAX_CHARS),
                200_000 - QUOTED_MAX_CHARS
            )
        );
        // Multi-byte characters are never split.
        let wide = "é".repeat(QUOTED_MAX_CHARS + 1);
        assert!(quoted(&wide).ends_with("…[2 more bytes cut]"));
    }

    #[test]
    fn user_files_are_capped_before_reading_and_must_be_regular() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2048]).unwrap();
        let e = read_user_file(&big, 1024, "snapshot").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("limit 1024 bytes"), "{e}");
        let ok = dir.path().join("ok.toml");
        std::fs::write(&ok, "a = 1\n").unwrap();
        assert_eq!(read_user_file(&ok, 1024, "snapshot").unwrap(), "a = 1\n");
        let e = read_user_file(dir.path(), 1024, "snapshot").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        #[cfg(unix)]
        {
            // A FIFO with no writer: opening it would block forever.
            let fifo = dir.path().join("f.toml");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.unwrap().success());
            let e = read_user_file(&fifo, 1024, "--plan").unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("--plan '{}' is a FIFO, not a regular file", fifo.display())
            );
        }
    }
}
