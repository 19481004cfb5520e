//! Fuzzes the snapshot reader (`--hardware FILE`) with arbitrary text as TOML and as
//! JSON: it must return a snapshot or a one-line bad-input error, never panic; a
//! snapshot it accepts keeps the physical bounds and survives a write and re-read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rigplan::hardware::snapshot_file::{from_str, to_string, SnapshotFormat};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [SnapshotFormat::Toml, SnapshotFormat::Json] {
        match from_str(text, format, "fuzz") {
            Ok(snap) => {
                assert!(rigplan::hardware::bounds::check(&snap, "fuzz").is_ok());
                let again = to_string(&snap, format).expect("an accepted snapshot writes");
                from_str(&again, format, "again").expect("a written snapshot reads back");
            }
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "{e}");
            }
        }
    }
});
