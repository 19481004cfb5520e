//! Reading and writing snapshot files (TOML, or JSON when the name ends in `.json`).
//!
//! Reading refuses a newer `schema_version`, a file over [`MAX_SNAPSHOT_BYTES`] and a
//! number outside [`super::bounds`], and reports a malformed file as one line naming the
//! file (bad input, exit 2). Writing the user's file is the command's (no clobbering).
//! No probing happens here.

use super::{HardwareSnapshot, SNAPSHOT_SCHEMA_VERSION};
use crate::error::{user_error, Error, Result};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotFormat {
    Toml,
    Json,
}

impl SnapshotFormat {
    pub fn for_path(path: &Path) -> SnapshotFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => SnapshotFormat::Json,
            _ => SnapshotFormat::Toml,
        }
    }
}

pub fn to_string(s: &HardwareSnapshot, format: SnapshotFormat) -> Result<String> {
    Ok(match format {
        SnapshotFormat::Json => serde_json::to_string_pretty(s).map_err(Error::other)? + "\n",
        SnapshotFormat::Toml => toml::to_string(s).map_err(Error::other)?,
    })
}

/// Parses snapshot text; `name` names the input in errors.
pub fn from_str(text: &str, format: SnapshotFormat, name: &str) -> Result<HardwareSnapshot> {
    // Read the version first so a newer file gets "too new", not a confusing field error.
    let version = match format {
        SnapshotFormat::Json => serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| user_error(format!("malformed snapshot '{name}': {e}")))?
            .get("schema_version")
            .and_then(|v| v.as_u64()),
        SnapshotFormat::Toml => text
            .parse::<toml::Table>()
            .map_err(|e| {
                user_error(format!(
                    "malformed snapshot '{name}': {}",
                    toml_error_line(text, &e)
                ))
            })?
            .get("schema_version")
            .and_then(|v| v.as_integer())
            .and_then(|v| u64::try_from(v).ok()),
    };
    match version {
        None => return Err(user_error(format!("malformed snapshot '{name}': no schema_version"))),
        Some(v) if v > u64::from(SNAPSHOT_SCHEMA_VERSION) => {
            return Err(user_error(format!(
                "snapshot '{name}' has schema_version {v}, newer than this rigplan reads ({SNAPSHOT_SCHEMA_VERSION}); upgrade rigplan"
            )))
        }
        Some(_) => {}
    }
    let mut snap: HardwareSnapshot = match format {
        SnapshotFormat::Json => serde_json::from_str(text)
            .map_err(|e| user_error(format!("malformed snapshot '{name}': {e}")))?,
        SnapshotFormat::Toml => toml::from_str(text).map_err(|e| {
            user_error(format!(
                "malformed snapshot '{name}': {}",
                toml_error_line(text, &e)
            ))
        })?,
    };
    number_gpus(&mut snap);
    super::bounds::check(&snap, name)?;
    Ok(snap)
}

/// GPU entries given by their numbers may omit `index`: when the indices are not all
/// different, the GPUs are numbered in the file's order.
fn number_gpus(snap: &mut HardwareSnapshot) {
    let mut seen = std::collections::BTreeSet::new();
    if !snap.gpus.iter().all(|g| seen.insert(g.index)) {
        for (i, g) in snap.gpus.iter_mut().enumerate() {
            g.index = u32::try_from(i).unwrap_or(u32::MAX);
        }
    }
}

/// `message (line N)` from a TOML error, on one line.
fn toml_error_line(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            format!("{msg} (line {line})")
        }
        None => msg,
    }
}

/// Most bytes of a snapshot file: a real one is a few KiB (a 64-core, 8-GPU machine
/// about 10 KiB), and the TOML parser needs about 100 bytes of memory per byte read, so
/// anything larger is refused before it is read.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 20;

pub fn read(path: &Path) -> Result<HardwareSnapshot> {
    let name = path.display().to_string();
    let text = crate::error::input::read_user_file(path, MAX_SNAPSHOT_BYTES, "snapshot")?;
    from_str(&text, SnapshotFormat::for_path(path), &name)
}
