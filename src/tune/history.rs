//! The tune history: every llama-bench run appended as one JSON line.
//!
//! Lives in the user's data directory (`$XDG_DATA_HOME/rigplan/tune-history.jsonl`, or
//! `$RIGPLAN_DATA_DIR/tune-history.jsonl` when that is set, for tests). Each record names
//! the machine by [`machine_hash`], so calibrations can be rebuilt per machine. Appending
//! is the only write; reading skips lines it cannot parse (an older or damaged line must
//! not lose the rest).

use crate::error::{Context, Error, Result};
use crate::hardware::HardwareSnapshot;
use crate::tune::config::BenchConfig;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// File name of the history inside the data directory.
pub const HISTORY_FILE: &str = "tune-history.jsonl";

/// rigplan's data directory: `$RIGPLAN_DATA_DIR`, else `<XDG data dir>/rigplan`.
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RIGPLAN_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir()
        .map(|d| d.join("rigplan"))
        .ok_or_else(|| Error::failed("no user data directory (set RIGPLAN_DATA_DIR or HOME)"))
}

/// A stable name for a machine: FNV-1a 64 of the snapshot's JSON with the fields that
/// change between two detections of the same machine cleared (free RAM and VRAM, the
/// measured bandwidth, where it came from, notes).
pub fn machine_hash(snapshot: &HardwareSnapshot) -> String {
    let mut s = snapshot.clone();
    s.source.clear();
    s.notes.clear();
    s.memory.available_bytes = None;
    s.memory.measured_bandwidth_gbs = None;
    for g in &mut s.gpus {
        g.vram_free_bytes = None;
    }
    let text = serde_json::to_string(&s).unwrap_or_default();
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    // FNV-1a parameters from the reference (http://www.isthe.com/chongo/tech/comp/fnv/).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One run as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// Seconds since the Unix epoch when the run finished.
    pub time_unix: u64,
    pub snapshot_hash: String,
    /// `llama.cpp` or `ik_llama.cpp`.
    pub engine: String,
    /// The engine's `--version` text.
    pub engine_build: String,
    /// The model file measured.
    pub model: String,
    pub settings: BenchConfig,
    pub n_prompt: u32,
    pub n_gen: u32,
    pub repetitions: u32,
    pub ok: bool,
    pub tg_tokens_per_s: Option<f64>,
    pub tg_stddev: Option<f64>,
    pub pp_tokens_per_s: Option<f64>,
    pub pp_stddev: Option<f64>,
    /// The speed model's prediction for these settings, before calibration.
    pub predicted_tg_tokens_per_s: Option<f64>,
    pub predicted_pp_tokens_per_s: Option<f64>,
    pub error: Option<String>,
    #[serde(default)]
    pub stderr_tail: Vec<String>,
    pub elapsed_s: f64,
}

/// Appends records to the history file, creating it (and its directory) if needed.
pub fn append(path: &Path, records: &[HistoryRecord]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating '{}'", parent.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening '{}'", path.display()))?;
    let mut buf = String::new();
    for r in records {
        buf.push_str(&serde_json::to_string(r).context("serialising a history record")?);
        buf.push('\n');
    }
    f.write_all(buf.as_bytes())
        .with_context(|| format!("appending to '{}'", path.display()))
}

/// Reads every parsable record; returns them and the number of lines skipped.
pub fn read(path: &Path) -> Result<(Vec<HistoryRecord>, usize)> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e).with_context(|| format!("reading '{}'", path.display())),
    };
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in std::io::BufReader::new(f).lines() {
        let line = line.with_context(|| format!("reading '{}'", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<HistoryRecord>(&line) {
            Ok(r) => out.push(r),
            Err(_) => skipped += 1,
        }
    }
    Ok((out, skipped))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hardware::snapshot::{CpuInfo, MemoryInfo, SNAPSHOT_SCHEMA_VERSION};
    use crate::tune::config::tests::cpu_settings;

    pub(crate) fn snapshot() -> HardwareSnapshot {
        HardwareSnapshot {
            schema_version: SNAPSHOT_SCHEMA_VERSION,
            source: "detected on box".into(),
            cpu: CpuInfo {
                vendor: "GenuineIntel".into(),
                brand: "Xeon".into(),
                physical_cores: 2,
                threads: 2,
                sockets: 1,
                numa_nodes: 1,
                ..CpuInfo::default()
            },
            memory: MemoryInfo {
                total_bytes: 8 << 30,
                available_bytes: Some(4 << 30),
                ..MemoryInfo::default()
            },
            gpus: vec![],
            system: Default::default(),
            notes: vec![],
        }
    }

    pub(crate) fn record(ok: bool, tg: f64, predicted: f64) -> HistoryRecord {
        HistoryRecord {
            time_unix: 1_700_000_000,
            snapshot_hash: machine_hash(&snapshot()),
            engine: "llama.cpp".into(),
            engine_build: "test".into(),
            model: "/m.gguf".into(),
            settings: BenchConfig::from_settings(&cpu_settings()),
            n_prompt: 32,
            n_gen: 16,
            repetitions: 2,
            ok,
            tg_tokens_per_s: ok.then_some(tg),
            tg_stddev: ok.then_some(0.5),
            pp_tokens_per_s: ok.then_some(tg * 8.0),
            pp_stddev: ok.then_some(1.0),
            predicted_tg_tokens_per_s: Some(predicted),
            predicted_pp_tokens_per_s: Some(predicted * 10.0),
            error: (!ok).then(|| "killed".to_string()),
            stderr_tail: vec![],
            elapsed_s: 1.5,
        }
    }

    #[test]
    fn hash_ignores_volatile_fields_but_not_the_machine() {
        let a = snapshot();
        let mut b = a.clone();
        b.memory.available_bytes = Some(1);
        b.source = "other".into();
        assert_eq!(machine_hash(&a), machine_hash(&b));
        b.cpu.physical_cores = 4;
        assert_ne!(machine_hash(&a), machine_hash(&b));
        assert_eq!(machine_hash(&a).len(), 16);
    }

    #[test]
    fn append_then_read_round_trips_and_skips_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(HISTORY_FILE);
        append(&path, &[record(true, 10.0, 12.0)]).unwrap();
        append(&path, &[record(false, 0.0, 12.0)]).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{not json\n")
            .unwrap();
        let (rs, skipped) = read(&path).unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(skipped, 1);
        assert_eq!(rs[0], record(true, 10.0, 12.0));
        assert!(!rs[1].ok);
        assert_eq!(read(&dir.path().join("none")).unwrap().0.len(), 0);
    }
}
