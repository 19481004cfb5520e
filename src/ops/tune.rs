//! A tune session: the plan for a local model file on this machine as the baseline, its
//! neighbourhood measured with the real llama-bench within a time budget, every run
//! appended to the history, a calibration for this machine fitted and saved, and the
//! report of it all.
//!
//! The pieces are `tune`'s (search, bench runner, history, calibration, report); this
//! puts them in order. Progress goes to the observer the caller passes (the command draws
//! a bar); the clock is read once, for the session's time stamp.

use crate::engine;
use crate::error::{user_error, Error, Result};
use crate::hardware::HardwareSnapshot;
use crate::model::reference::{self, ModelRef};
use crate::model::ModelSpec;
use crate::plan::Settings;
use crate::planner::{PlanError, PlanRequest};
use crate::tune::baseline::{plan_baseline, PerfSpeedModel};
use crate::tune::bench::{BenchRunner, LlamaBench, RunOutcome, RunResult, RunShape};
use crate::tune::calibration::{self, fit, utc_date, Calibration};
use crate::tune::config::BenchConfig;
use crate::tune::history::{self, data_dir, machine_hash, HistoryRecord, HISTORY_FILE};
use crate::tune::predict::SpeedModel;
use crate::tune::report::{build_report, ReportInputs, TuneReport};
use crate::tune::search::{
    coordinate_descent, neighbourhood, NeighbourhoodFacts, Progress, SearchOptions, Trial,
};
use crate::tune::{calibration_records, history_records, SessionInfo};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What to tune, and how.
#[derive(Clone, Debug)]
pub struct TuneRequest {
    /// The model reference as the user gave it (named in the report and in errors).
    pub model_reference: String,
    pub spec: ModelSpec,
    pub model_path: PathBuf,
    pub plan: PlanRequest,
    /// The `llama-bench` binary to run.
    pub bench_bin: PathBuf,
    pub budget: Duration,
    pub shape: RunShape,
}

/// A finished session.
#[derive(Debug)]
pub struct TuneOutcome {
    pub report: TuneReport,
    /// Set when every llama-bench run failed: the request could not be measured here.
    pub every_run_failed: Option<String>,
}

/// The model file tune benchmarks: a local `.gguf` only (exit 2 otherwise).
pub fn local_model(model_ref: &str) -> Result<(ModelSpec, PathBuf)> {
    let resolved = reference::resolve(model_ref)?;
    let ModelRef::Path(model_path) = resolved.reference.clone() else {
        return Err(user_error(format!(
            "'{model_ref}': tune benchmarks a local .gguf file, not a catalog entry or URL"
        )));
    };
    Ok((resolved.spec, model_path))
}

/// Runs one session on `hw`, reporting each run to `observe`.
pub fn run(
    req: &TuneRequest,
    snapshot: &HardwareSnapshot,
    observe: &mut dyn FnMut(&Progress),
) -> Result<TuneOutcome> {
    let (spec, engine) = (&req.spec, req.plan.engine);
    // `--draft MODEL` is read here, as `plan` reads it.
    let mut plan_req = req.plan.clone();
    crate::ops::plan::resolve_draft(&mut plan_req)?;
    // An invalid request names the model it was made for.
    let baseline = plan_baseline(spec, snapshot, &plan_req)
        .map_err(|e| match e {
            PlanError::Invalid(m) => PlanError::Invalid(format!("'{}': {m}", req.model_reference)),
            unsatisfiable => unsatisfiable,
        })
        .map_err(Error::from)?;
    let plan_settings = baseline.plan.settings.clone();
    let speed = PerfSpeedModel::new(spec, snapshot, engine, &baseline, req.shape.n_gen);
    let speed: &dyn SpeedModel = &speed;

    let base = BenchConfig::from_settings(&plan_settings);
    let space = neighbourhood(&base, &neighbourhood_facts(spec, snapshot, &plan_settings));
    let unsupported = engine::unsupported_settings(engine, &plan_settings);
    if !unsupported.is_empty() {
        return Err(user_error(unsupported.join("; ")));
    }
    let mut runner = LlamaBench::new(
        req.bench_bin.clone(),
        engine,
        plan_settings.clone(),
        req.model_path.clone(),
        req.shape,
    );
    let opts = SearchOptions {
        budget: req.budget,
        ..SearchOptions::default()
    };
    let result = coordinate_descent(&space, &mut runner as &mut dyn BenchRunner, &opts, observe);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let hash = machine_hash(snapshot);
    let info = SessionInfo {
        time_unix: now,
        snapshot_hash: hash.clone(),
        engine: engine.name().into(),
        engine_build: runner.engine_build(),
        model: req.model_path.display().to_string(),
        n_prompt: req.shape.n_prompt,
        n_gen: req.shape.n_gen,
        repetitions: req.shape.repetitions,
    };
    let records = history_records(&result, &info, speed);
    let dir = data_dir()?;
    let history_path = dir.join(HISTORY_FILE);
    history::append(&history_path, &records)?;
    let best_cfg = result.best_trial().map(|t| t.config.clone());
    let best_tg = result.best_trial().and_then(Trial::tg);
    let mut cal = calibrate(&records, &base, best_cfg.as_ref(), now, speed);
    if let (Some(c), Some(cfg), Some(tg)) = (cal.as_mut(), best_cfg.as_ref(), best_tg) {
        calibration::anchor_on_best(c, cfg.threads, tg, speed.predict(cfg).tg_tokens_per_s);
    }
    let cal_path = match &cal {
        Some(c) => Some(calibration::save(&dir, c)?),
        None => None,
    };

    let predict_tg = |c: &BenchConfig| {
        let v = speed.predict(c).tg_tokens_per_s;
        (v > 0.0).then_some(v)
    };
    let report = build_report(
        &result,
        ReportInputs {
            model_reference: &req.model_reference,
            engine_build: runner.engine_build(),
            snapshot_hash: hash,
            plan_settings: &plan_settings,
            predict_tg: &predict_tg,
            calibration: cal,
            history_path: Some(history_path.display().to_string()),
            calibration_path: cal_path.map(|p| p.display().to_string()),
        },
    );
    let mut report = report;
    report.speculative = speculative_runs(req, &plan_settings);
    let every_run_failed = result.best.is_none().then(|| {
        let first = result
            .trials
            .first()
            .map(|t: &Trial| describe(&t.outcome))
            .unwrap_or_default();
        format!(
            "every llama-bench run failed ({} runs); first: {first}",
            result.trials.len()
        )
    });
    Ok(TuneOutcome {
        report,
        every_run_failed,
    })
}

/// What the neighbourhood of the plan may vary on this machine.
/// llama-bench does not run speculative decoding: when the plan speculates, the same
/// prompt through the real llama-server (next to llama-bench) with speculation off and
/// at draft lengths around the plan's, each run bounded by two minutes.
fn speculative_runs(
    req: &TuneRequest,
    plan: &Settings,
) -> Vec<crate::tune::report::SpeculativeRunReport> {
    use crate::tune::server_bench::{compare_draft_lengths, ServerBench};
    if plan.speculative.kind == crate::plan::SpeculativeKind::None {
        return Vec::new();
    }
    let server = req
        .bench_bin
        .with_file_name(engine::info(req.plan.engine).targets.server);
    let bench = ServerBench {
        binary: server,
        engine: req.plan.engine,
        model: req.model_path.display().to_string(),
        n_predict: req.shape.n_gen.max(32),
        timeout: Duration::from_secs(120),
    };
    let k = plan.speculative.draft_max.max(1);
    let mut ks: Vec<u32> = vec![k.saturating_sub(1).max(1), k, k + 1, 2 * k];
    ks.dedup();
    compare_draft_lengths(&bench, plan, &ks)
        .into_iter()
        .map(|(k, r)| match r {
            Ok(run) => crate::tune::report::SpeculativeRunReport {
                draft_max: k,
                ok: true,
                tg_tokens_per_s: Some(run.tg_tokens_per_s),
                draft_n: Some(run.draft_n),
                draft_n_accepted: Some(run.draft_n_accepted),
                error: None,
            },
            Err(e) => crate::tune::report::SpeculativeRunReport {
                draft_max: k,
                ok: false,
                tg_tokens_per_s: None,
                draft_n: None,
                draft_n_accepted: None,
                error: Some(e.to_string()),
            },
        })
        .collect()
}

fn neighbourhood_facts(
    spec: &ModelSpec,
    snapshot: &HardwareSnapshot,
    plan: &Settings,
) -> NeighbourhoodFacts {
    let model_bytes = spec.total_bytes().as_u64();
    NeighbourhoodFacts {
        physical_cores: snapshot.cpu.physical_cores,
        logical_threads: snapshot.cpu.threads,
        moe_layers: spec.layers.iter().filter(|l| l.moe).count() as u32,
        gpus: plan.gpu_indices.len() as u32,
        // Unknown (None) is not permission: mlock is tried only when the limit is known
        // to hold the model or the planner already chose it.
        mlock_possible: plan.mlock
            || snapshot
                .memory
                .memlock_limit_bytes
                .is_some_and(|l| l >= model_bytes),
    }
}

/// The calibration this session's runs support (`tune::calibration::fit`), with the
/// per-thread factors and the spread over every run, not only the ones fitted: how far
/// one factor is from explaining the whole neighbourhood.
fn calibrate(
    records: &[HistoryRecord],
    base: &BenchConfig,
    best: Option<&BenchConfig>,
    now: u64,
    speed: &dyn SpeedModel,
) -> Option<Calibration> {
    fit(
        &calibration_records(records, base, best),
        &utc_date(now),
        speed.assumed_bandwidths(),
    )
    .map(|mut c| {
        c.tg_factor_by_threads = calibration::thread_factors(records);
        c.pp_factor_by_threads = calibration::pp_thread_factors(records);
        c.tg_spread = records
            .iter()
            .filter_map(|r| Some(r.tg_tokens_per_s? / r.predicted_tg_tokens_per_s?))
            .map(|ratio| (ratio / c.tg_factor - 1.0).abs())
            .fold(0.0, f64::max);
        c
    })
}

fn describe(o: &RunOutcome) -> String {
    match &o.result {
        RunResult::Failed { error, .. } => error.clone(),
        RunResult::Ok(_) => "ok".into(),
    }
}
