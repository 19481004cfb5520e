//! Per-machine calibration: how far the speed model was off on this machine, as factors.
//!
//! [`fit`] turns measured runs (each with the model's uncalibrated prediction) into a
//! [`Calibration`]: the geometric mean of measured/predicted tg and pp, and the effective
//! bandwidths those factors imply for the model's assumed CPU and GPU bandwidths. It is
//! saved as `calibration-<machine hash>.toml` in the data directory; `ops::plan` (never
//! the pure planner or perf code) loads it with [`load_for`] and applies it
//! with [`Calibration::apply`], which also labels the prediction "calibrated on this
//! machine on DATE from N runs". Fitting is pure; only `save`/`load` touch files.

use crate::error::{Context, Result};
use crate::hardware::HardwareSnapshot;
use crate::plan::{Performance, Settings};
use crate::planner::request::SpeedCorrection;
use crate::tune::history::{data_dir, machine_hash, HistoryRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub snapshot_hash: String,
    /// `YYYY-MM-DD` (UTC) of the fit.
    pub date: String,
    /// Successful runs the factors come from.
    pub runs: u32,
    pub engine_build: String,
    /// The model file the runs measured.
    pub model: String,
    /// Geometric mean of measured / predicted generation speed.
    pub tg_factor: f64,
    /// Geometric mean of measured / predicted prompt-processing speed.
    pub pp_factor: f64,
    /// Largest relative deviation of one run's tg ratio from `tg_factor` (how well one
    /// factor explains every configuration measured).
    pub tg_spread: f64,
    /// The speed model's effective CPU memory bandwidth scaled by `tg_factor`, GB/s.
    #[serde(default)]
    pub effective_cpu_bandwidth_gbs: Option<f64>,
    /// The same for the GPU(s), GB/s.
    #[serde(default)]
    pub effective_gpu_bandwidth_gbs: Option<f64>,
    /// Measured/predicted tg per thread count (keys are thread counts), from every run:
    /// how this machine's cores really scale (shared or SMT cores, the memory knee) is
    /// what the physical model knows least. Used instead of `tg_factor` when the
    /// predicted settings use a thread count that was measured.
    #[serde(default)]
    pub tg_factor_by_threads: BTreeMap<String, f64>,
    /// Measured/predicted pp per thread count, the same way.
    #[serde(default)]
    pub pp_factor_by_threads: BTreeMap<String, f64>,
}

/// What the speed model assumed, so the factors can be restated as bandwidths.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AssumedBandwidths {
    pub cpu_gbs: Option<f64>,
    pub gpu_gbs: Option<f64>,
}

/// Fits a calibration from runs on one machine. None when no successful run carries a
/// prediction.
pub fn fit(
    records: &[HistoryRecord],
    date: &str,
    assumed: AssumedBandwidths,
) -> Option<Calibration> {
    let usable: Vec<&HistoryRecord> = records
        .iter()
        .filter(|r| r.ok)
        .filter(|r| positive(r.tg_tokens_per_s) && positive(r.predicted_tg_tokens_per_s))
        .collect();
    let first = usable.first()?;
    let tg_ratios: Vec<f64> = usable
        .iter()
        .filter_map(|r| Some(r.tg_tokens_per_s? / r.predicted_tg_tokens_per_s?))
        .collect();
    let pp_ratios: Vec<f64> = usable
        .iter()
        .filter(|r| positive(r.pp_tokens_per_s) && positive(r.predicted_pp_tokens_per_s))
        .filter_map(|r| Some(r.pp_tokens_per_s? / r.predicted_pp_tokens_per_s?))
        .collect();
    let tg_factor = geometric_mean(&tg_ratios)?;
    let pp_factor = geometric_mean(&pp_ratios).unwrap_or(1.0);
    let tg_spread = tg_ratios
        .iter()
        .map(|r| (r / tg_factor - 1.0).abs())
        .fold(0.0, f64::max);
    Some(Calibration {
        snapshot_hash: first.snapshot_hash.clone(),
        date: date.to_string(),
        runs: usable.len() as u32,
        engine_build: first.engine_build.clone(),
        model: first.model.clone(),
        tg_factor,
        pp_factor,
        tg_spread,
        effective_cpu_bandwidth_gbs: assumed.cpu_gbs.map(|b| b * tg_factor),
        effective_gpu_bandwidth_gbs: assumed.gpu_gbs.map(|b| b * tg_factor),
        tg_factor_by_threads: BTreeMap::new(),
        pp_factor_by_threads: BTreeMap::new(),
    })
}

/// Per-thread-count tg factors from every usable record (geometric means).
pub fn thread_factors(records: &[HistoryRecord]) -> BTreeMap<String, f64> {
    factors_by_threads(records, |r| {
        (r.tg_tokens_per_s, r.predicted_tg_tokens_per_s)
    })
}

/// Anchors the factor of the best configuration's thread count on the best run itself:
/// the measured/predicted ratio of the configuration tune recommends, so a plan made
/// afterwards with that many threads predicts what tune measured for it. The other
/// thread counts keep the geometric mean of their runs; they only need to rank.
pub fn anchor_on_best(c: &mut Calibration, threads: u32, measured_tg: f64, predicted_tg: f64) {
    if measured_tg.is_finite()
        && measured_tg > 0.0
        && predicted_tg.is_finite()
        && predicted_tg > 0.0
    {
        c.tg_factor_by_threads
            .insert(threads.to_string(), measured_tg / predicted_tg);
    }
}

/// Per-thread-count pp factors from every usable record (geometric means).
pub fn pp_thread_factors(records: &[HistoryRecord]) -> BTreeMap<String, f64> {
    factors_by_threads(records, |r| {
        (r.pp_tokens_per_s, r.predicted_pp_tokens_per_s)
    })
}

fn factors_by_threads(
    records: &[HistoryRecord],
    pair: impl Fn(&HistoryRecord) -> (Option<f64>, Option<f64>),
) -> BTreeMap<String, f64> {
    let mut by: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.ok) {
        if let (Some(m), Some(p)) = pair(r) {
            if m > 0.0 && p > 0.0 && m.is_finite() && p.is_finite() {
                by.entry(r.settings.threads).or_default().push(m / p);
            }
        }
    }
    by.into_iter()
        .filter_map(|(t, v)| Some((t.to_string(), geometric_mean(&v)?)))
        .collect()
}

fn positive(v: Option<f64>) -> bool {
    v.is_some_and(|x| x.is_finite() && x > 0.0)
}

fn geometric_mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let log_sum: f64 = xs.iter().map(|x| x.ln()).sum();
    Some((log_sum / xs.len() as f64).exp())
}

impl Calibration {
    /// The line shown with a calibrated prediction.
    pub fn label(&self) -> String {
        format!(
            "calibrated on this machine on {} from {} runs",
            self.date, self.runs
        )
    }

    /// The tg factor for settings with this many threads (the nearest measured count).
    pub fn tg_factor_for(&self, threads: u32) -> f64 {
        self.correction().tg_factor(threads)
    }

    /// The prediction for `settings` corrected for this machine, labelled.
    pub fn apply(&self, perf: &Performance, settings: &Settings) -> Performance {
        let c = self.correction();
        let mut p = perf.clone();
        p.tg_tokens_per_s *= c.tg_factor(settings.threads);
        p.pp_tokens_per_s *= c.pp_factor(settings.threads);
        p.calibration = Some(self.label());
        p
    }

    /// The factors as the planner takes them: per thread count where runs measured
    /// that count, the overall factors otherwise.
    pub fn correction(&self) -> SpeedCorrection {
        let by = |m: &BTreeMap<String, f64>| -> Vec<(u32, f64)> {
            m.iter()
                .filter_map(|(t, f)| Some((t.parse().ok()?, *f)))
                .filter(|(_, f): &(u32, f64)| f.is_finite() && *f > 0.0)
                .collect()
        };
        SpeedCorrection {
            tg_by_threads: by(&self.tg_factor_by_threads),
            pp_by_threads: by(&self.pp_factor_by_threads),
            tg: self.tg_factor,
            pp: self.pp_factor,
            label: self.label(),
        }
    }
}

/// `<dir>/calibration-<hash>.toml`.
pub fn path_for(dir: &Path, snapshot_hash: &str) -> PathBuf {
    dir.join(format!("calibration-{snapshot_hash}.toml"))
}

/// Writes the calibration atomically; returns its path.
pub fn save(dir: &Path, cal: &Calibration) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating '{}'", dir.display()))?;
    let path = path_for(dir, &cal.snapshot_hash);
    let text = toml::to_string(cal).context("serialising the calibration")?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing in '{}'", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .with_context(|| format!("writing '{}'", path.display()))?;
    tmp.persist(&path)
        .with_context(|| format!("writing '{}'", path.display()))?;
    Ok(path)
}

/// Reads the calibration for a machine hash, if one was saved. A damaged file is an
/// error naming it.
pub fn load(dir: &Path, snapshot_hash: &str) -> Result<Option<Calibration>> {
    let path = path_for(dir, snapshot_hash);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading '{}'", path.display())),
    };
    let cal: Calibration =
        toml::from_str(&text).with_context(|| format!("reading '{}'", path.display()))?;
    Ok(Some(cal))
}

/// For `plan`: the saved calibration of this machine, from the data directory.
pub fn load_for(snapshot: &HardwareSnapshot) -> Result<Option<Calibration>> {
    load(&data_dir()?, &machine_hash(snapshot))
}

/// For `plan`: this machine's saved calibration as the planner's speed correction, if
/// one was saved (`PlanRequest::speed_correction`).
pub fn correction_for(snapshot: &HardwareSnapshot) -> Result<Option<SpeedCorrection>> {
    Ok(load_for(snapshot)?.map(|c| c.correction()))
}

/// `YYYY-MM-DD` (UTC) for seconds since the Unix epoch (H. Hinnant's `civil_from_days`,
/// http://howardhinnant.github.io/date_algorithms.html).
pub fn utc_date(unix_secs: u64) -> String {
    let z = (unix_secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::history::tests::record;

    #[test]
    fn fit_is_the_geometric_mean_of_ratios() {
        // Measured/predicted = 0.5 and 2.0 → geometric mean 1.0; failures are ignored.
        let rs = [
            record(true, 10.0, 20.0),
            record(true, 40.0, 20.0),
            record(false, 0.0, 20.0),
        ];
        let c = fit(
            &rs,
            "2026-11-21",
            AssumedBandwidths {
                cpu_gbs: Some(10.0),
                gpu_gbs: None,
            },
        )
        .unwrap();
        assert!((c.tg_factor - 1.0).abs() < 1e-12);
        assert_eq!(c.runs, 2);
        assert!((c.tg_spread - 1.0).abs() < 1e-12);
        assert_eq!(c.effective_cpu_bandwidth_gbs, Some(10.0));
        // pp: measured 8x tg, predicted 10x → both ratios scaled by 0.8.
        assert!((c.pp_factor - 0.8).abs() < 1e-12);
        assert!(fit(&rs[2..], "d", AssumedBandwidths::default()).is_none());
    }

    #[test]
    fn apply_scales_and_labels() {
        let c = fit(
            &[record(true, 30.0, 20.0)],
            "2026-11-21",
            AssumedBandwidths::default(),
        )
        .unwrap();
        let p = Performance {
            tg_tokens_per_s: 20.0,
            pp_tokens_per_s: 100.0,
            ..Performance::default()
        };
        let mut settings = crate::tune::config::tests::cpu_settings();
        let q = c.apply(&p, &settings);
        assert!((q.tg_tokens_per_s - 30.0).abs() < 1e-9);
        // A thread count with its own measured factor uses it.
        let mut c2 = c.clone();
        c2.tg_factor_by_threads.insert("1".into(), 0.5);
        settings.threads = 1;
        assert!((c2.apply(&p, &settings).tg_tokens_per_s - 10.0).abs() < 1e-9);
        assert_eq!(
            q.calibration.as_deref(),
            Some("calibrated on this machine on 2026-11-21 from 1 runs")
        );
    }

    #[test]
    fn thread_factors_group_by_thread_count() {
        let mut a = record(true, 10.0, 20.0);
        a.settings.threads = 1;
        let mut b = record(true, 40.0, 20.0);
        b.settings.threads = 2;
        let mut c = record(true, 10.0, 20.0);
        c.settings.threads = 2;
        let f = thread_factors(&[a, b, c, record(false, 0.0, 20.0)]);
        assert_eq!(f.len(), 2);
        assert!((f["1"] - 0.5).abs() < 1e-12);
        assert!((f["2"] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let c = fit(
            &[record(true, 30.0, 20.0)],
            "2026-11-21",
            AssumedBandwidths::default(),
        )
        .unwrap();
        let path = save(dir.path(), &c).unwrap();
        assert!(path.ends_with(format!("calibration-{}.toml", c.snapshot_hash)));
        assert_eq!(load(dir.path(), &c.snapshot_hash).unwrap(), Some(c));
        assert_eq!(load(dir.path(), "nope").unwrap(), None);
        std::fs::write(path_for(dir.path(), "bad"), "tg_factor = [").unwrap();
        assert!(load(dir.path(), "bad").is_err());
    }

    #[test]
    fn dates_from_unix_seconds() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_795_219_200), "2026-11-21");
    }
}
