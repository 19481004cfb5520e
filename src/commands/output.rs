//! Writing the user's files (`--out`, `--save`): never over an existing file without
//! `--force`, and even with it only over a regular file.
//!
//! A symbolic link, FIFO, device or directory where the file should go is refused
//! (exit 2) whatever `--force` says: renaming over it would replace a device node or a
//! link the user made with a regular file, and writing through it could block or land
//! elsewhere. The content goes to a temporary file in the same directory, renamed into
//! place (without `--force`, a rename that refuses an existing file, so a file created
//! meanwhile is not clobbered either). A missing directory is named.

use crate::error::input::kind_of;
use crate::error::user_error;
use anyhow::Context as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes `content` to `path` for the option `option` (`--out`, `--save`), as the
/// module doc says; `executable` sets mode 0755 instead of 0644.
pub(crate) fn write_user_file(
    path: &Path,
    content: &str,
    force: bool,
    executable: bool,
    option: &str,
) -> anyhow::Result<()> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(user_error(format!(
                "{option} '{shown}' is {}, not a regular file: refusing to replace it{}",
                kind_of(&meta),
                if force {
                    " (--force replaces only regular files)"
                } else {
                    ""
                }
            ))
            .into())
        }
        Ok(_) if !force => {
            return Err(user_error(format!(
                "{option} '{shown}' exists: pass --force to replace it"
            ))
            .into())
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(user_error(format!("{option} '{shown}': {e}")).into()),
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(user_error(format!(
            "{option} '{shown}': the directory '{}' does not exist",
            dir.display()
        ))
        .into());
    }
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| {
        user_error(format!(
            "{option} '{shown}': cannot write in '{}': {e}",
            dir.display()
        ))
    })?;
    tmp.write_all(content.as_bytes())
        .with_context(|| format!("writing '{shown}'"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of '{shown}'"))?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    let result = if force {
        tmp.persist(path).map(|_| ())
    } else {
        tmp.persist_noclobber(path).map(|_| ())
    };
    result.map_err(|e| user_error(format!("{option} '{shown}': {}", e.error)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code_for;

    fn write(path: &Path, force: bool) -> Result<(), String> {
        write_user_file(path, "new\n", force, false, "--save").map_err(|e| {
            assert_eq!(exit_code_for(&*e), 2, "{e:#}");
            format!("{e:#}")
        })
    }

    #[test]
    fn existing_files_need_force_and_only_regular_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        write(&file, false).unwrap();
        std::fs::write(&file, "mine\n").unwrap();
        let e = write(&file, false).unwrap_err();
        assert!(e.ends_with("exists: pass --force to replace it"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine\n");
        write(&file, true).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new\n");

        #[cfg(unix)]
        {
            let link = dir.path().join("link.toml");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            let fifo = dir.path().join("fifo.toml");
            assert!(std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success());
            for (p, kind) in [(&link, "a symbolic link"), (&fifo, "a FIFO")] {
                for force in [false, true] {
                    let e = write(p, force).unwrap_err();
                    assert!(e.contains(&format!("is {kind}, not a regular file")), "{e}");
                }
                assert!(!std::fs::symlink_metadata(p).unwrap().is_file());
            }
            assert_eq!(std::fs::read_to_string(&file).unwrap(), "new\n");
        }
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let e = write(&sub, true).unwrap_err();
        assert!(e.contains("is a directory"), "{e}");

        let missing = dir.path().join("no/such/p.toml");
        let e = write(&missing, false).unwrap_err();
        assert_eq!(
            e,
            format!(
                "--save '{}': the directory '{}' does not exist",
                missing.display(),
                dir.path().join("no/such").display()
            )
        );
    }
}
