//! `tune`: measure the plan and a small neighbourhood with llama-bench, keep every run,
//! and calibrate the speed model for this machine.
//!
//! - [`config`]: the measurable settings of one run and their llama-bench argv.
//! - [`bench`]: finding llama-bench and running one configuration ([`bench::BenchRunner`]).
//! - [`search`]: the neighbourhood around the plan and the coordinate descent over it
//!   (plus the exhaustive sweep the benchmark compares against).
//! - [`baseline`]: the planner's plan (scored by `perf::predict`) and its layout, and
//!   [`baseline::PerfSpeedModel`] predicting every neighbour with the real speed model.
//! - [`predict`]: the [`predict::SpeedModel`] seam.
//! - [`history`]: the JSON-lines run history and the machine hash.
//! - [`calibration`]: measured/predicted factors saved per machine for `plan`.
//! - [`report`]: the table and the `--format json` document.
//! - [`budget`]: `--budget 5m` parsing.
//! - [`server_bench`]: speculative decoding measured with the real llama-server
//!   (`/completion` timings and draft counts), k values and on/off compared.
//!
//! Nothing here plans: the plan's settings come in, measurements and a calibration go out.
//! Only `bench` and `server_bench` start processes and only `history`/`calibration` touch files.

pub mod baseline;
pub mod bench;
pub mod budget;
pub mod calibration;
pub mod config;
pub mod history;
pub mod predict;
pub mod report;
pub mod search;
pub mod server_bench;

use crate::tune::bench::RunResult;
use crate::tune::config::BenchConfig;
use crate::tune::history::HistoryRecord;
use crate::tune::predict::SpeedModel;
use crate::tune::search::SearchResult;

/// What every history record of one session shares.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub time_unix: u64,
    pub snapshot_hash: String,
    pub engine: String,
    pub engine_build: String,
    pub model: String,
    pub n_prompt: u32,
    pub n_gen: u32,
    pub repetitions: u32,
}

/// One history record per run, with the speed model's uncalibrated prediction.
pub fn history_records(
    result: &SearchResult,
    info: &SessionInfo,
    model: &dyn SpeedModel,
) -> Vec<HistoryRecord> {
    result
        .trials
        .iter()
        .map(|t| {
            let pred = model.predict(&t.config);
            let positive = |v: f64| (v.is_finite() && v > 0.0).then_some(v);
            let (ok, m, error, stderr_tail) = match &t.outcome.result {
                RunResult::Ok(m) => (true, Some(m), None, vec![]),
                RunResult::Failed { error, stderr_tail } => {
                    (false, None, Some(error.clone()), stderr_tail.clone())
                }
            };
            HistoryRecord {
                time_unix: info.time_unix,
                snapshot_hash: info.snapshot_hash.clone(),
                engine: info.engine.clone(),
                engine_build: info.engine_build.clone(),
                model: info.model.clone(),
                settings: t.config.clone(),
                n_prompt: info.n_prompt,
                n_gen: info.n_gen,
                repetitions: info.repetitions,
                ok,
                tg_tokens_per_s: m.map(|m| m.tg.mean.0),
                tg_stddev: m.map(|m| m.tg.stddev),
                pp_tokens_per_s: m.map(|m| m.pp.mean.0),
                pp_stddev: m.map(|m| m.pp.stddev),
                predicted_tg_tokens_per_s: positive(pred.tg_tokens_per_s),
                predicted_pp_tokens_per_s: positive(pred.pp_tokens_per_s),
                error,
                stderr_tail,
                elapsed_s: t.outcome.elapsed.as_secs_f64(),
            }
        })
        .collect()
}

/// The records a calibration is fitted on: the runs of the configurations `plan` will be
/// asked to predict — the plan's own and the winner's. Neighbours the model is known to
/// mispredict (a thread count past the memory knee) would drag one machine-wide factor
/// away from the settings that matter; their spread is reported, not averaged in.
pub fn calibration_records(
    records: &[HistoryRecord],
    plan: &BenchConfig,
    best: Option<&BenchConfig>,
) -> Vec<HistoryRecord> {
    records
        .iter()
        .filter(|r| &r.settings == plan || Some(&r.settings) == best)
        .cloned()
        .collect()
}
