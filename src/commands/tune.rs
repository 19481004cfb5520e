//! `rigplan tune`: measure the plan and its neighbours with llama-bench, record every run,
//! calibrate the speed model for this machine and print the winner.
//!
//! Resolve (budget, model file, engine, llama-bench, this machine, the plan from
//! `planner` + `perf`), run the search from `tune::search`, then write history and
//! calibration and render the report.

use crate::cli::{Format, TuneArgs};
use crate::error::{user_error, Error};
use crate::hardware::resolve::resolve as resolve_hardware;
use crate::model::reference::{self, ModelRef};
use crate::planner::request::resolve as resolve_request;
use crate::planner::PlanError;
use crate::tune::baseline::{plan_baseline, PerfSpeedModel};
use crate::tune::bench::{BenchRunner, BenchSearchPath, LlamaBench, RunOutcome, RunShape};
use crate::tune::budget::parse_budget;
use crate::tune::calibration::{self, fit, utc_date};
use crate::tune::config::BenchConfig;
use crate::tune::history::{self, data_dir, machine_hash, HISTORY_FILE};
use crate::tune::predict::SpeedModel;
use crate::tune::report::{build_report, render_table, ReportInputs};
use crate::tune::search::{
    coordinate_descent, neighbourhood, NeighbourhoodFacts, Progress, SearchOptions,
};
use crate::tune::{calibration_records, history_records, SessionInfo};
use anyhow::Context;
use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

/// Progress: a bar with ETA on a terminal, one plain line per run otherwise.
struct Reporter {
    bar: Option<indicatif::ProgressBar>,
}

impl Reporter {
    fn new() -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(1);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} tune [{bar:30}] {pos}/{len} runs, {elapsed} spent, ETA {eta} {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b
        });
        Reporter { bar }
    }

    fn update(&self, p: &Progress) {
        let t = p.trial;
        let what = match t.outcome.measurement() {
            Some(m) => format!("tg {:.2} tok/s, pp {:.1} tok/s", m.tg.mean.0, m.pp.mean.0),
            None => format!(
                "FAILED: {}",
                crate::tune::search::failure_of(t).unwrap_or("unknown")
            ),
        };
        match &self.bar {
            Some(b) => {
                b.set_length((p.runs_done + p.runs_left_estimate) as u64);
                b.set_position(p.runs_done as u64);
                b.set_message(what);
            }
            None => eprintln!(
                "tune: run {} ({:.1}s, {:.0}s of {:.0}s budget): {} — {}",
                p.runs_done,
                t.outcome.elapsed.as_secs_f64(),
                p.spent.as_secs_f64(),
                p.budget.as_secs_f64(),
                t.config,
                what
            ),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

pub fn run(args: TuneArgs) -> anyhow::Result<()> {
    let budget = parse_budget(&args.budget)?;
    let run_timeout = parse_budget(&args.run_timeout).map_err(|_| {
        user_error(format!(
            "--run-timeout '{}': expected a duration such as 90s or 10m",
            args.run_timeout
        ))
    })?;
    if args.repetitions == 0 || args.n_gen == 0 {
        return Err(user_error("--repetitions and --n-gen must be at least 1").into());
    }
    let model_ref = args.model.clone().ok_or_else(|| {
        user_error("tune needs a model file to benchmark: rigplan tune MODEL.gguf")
    })?;
    let resolved = reference::resolve(&model_ref)?;
    let ModelRef::Path(model_path) = resolved.reference.clone() else {
        return Err(user_error(format!(
            "'{model_ref}': tune benchmarks a local .gguf file, not a catalog entry or URL"
        ))
        .into());
    };
    let spec = resolved.spec;
    let req = resolve_request(&args.pins).map_err(Error::from)?;
    let engine = req.engine;
    if !args.hardware.gpus.is_empty() {
        return Err(user_error(
            "--gpu: tune measures this machine; what-if GPUs cannot be benchmarked",
        )
        .into());
    }
    let bench_bin = BenchSearchPath::from_env(args.engine_bin.clone(), engine).locate()?;
    let snapshot = resolve_hardware(&args.hardware)?;
    // An invalid request names the model it was made for.
    let baseline = plan_baseline(&spec, &snapshot, &req)
        .map_err(|e| match e {
            PlanError::Invalid(m) => PlanError::Invalid(format!("'{model_ref}': {m}")),
            unsatisfiable => unsatisfiable,
        })
        .map_err(Error::from)?;
    let plan_settings = baseline.plan.settings.clone();
    let speed = PerfSpeedModel::new(&spec, &snapshot, engine, &baseline, args.n_gen);
    let speed: &dyn SpeedModel = &speed;

    let base = BenchConfig::from_settings(&plan_settings);
    let model_bytes = spec.total_bytes().as_u64();
    let facts = NeighbourhoodFacts {
        physical_cores: snapshot.cpu.physical_cores,
        logical_threads: snapshot.cpu.threads,
        moe_layers: spec.layers.iter().filter(|l| l.moe).count() as u32,
        gpus: plan_settings.gpu_indices.len() as u32,
        // Unknown (None) is not permission: mlock is tried only when the limit is known
        // to hold the model or the planner already chose it.
        mlock_possible: plan_settings.mlock
            || snapshot
                .memory
                .memlock_limit_bytes
                .is_some_and(|l| l >= model_bytes),
    };
    let space = neighbourhood(&base, &facts);
    let unsupported = crate::engine::unsupported_settings(engine, &plan_settings);
    if !unsupported.is_empty() {
        return Err(user_error(unsupported.join("; ")).into());
    }
    let mut runner = LlamaBench::new(
        bench_bin,
        engine,
        plan_settings.clone(),
        model_path.clone(),
        RunShape {
            n_prompt: args.n_prompt,
            n_gen: args.n_gen,
            repetitions: args.repetitions,
            timeout: run_timeout,
        },
    );
    let reporter = Reporter::new();
    let opts = SearchOptions {
        budget,
        ..SearchOptions::default()
    };
    let mut observe = |p: &Progress| reporter.update(p);
    let result = coordinate_descent(
        &space,
        &mut runner as &mut dyn BenchRunner,
        &opts,
        &mut observe,
    );
    reporter.finish();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let hash = machine_hash(&snapshot);
    let info = SessionInfo {
        time_unix: now,
        snapshot_hash: hash.clone(),
        engine: engine.name().into(),
        engine_build: runner.engine_build(),
        model: model_path.display().to_string(),
        n_prompt: args.n_prompt,
        n_gen: args.n_gen,
        repetitions: args.repetitions,
    };
    let records = history_records(&result, &info, speed);
    let dir = data_dir()?;
    let history_path = dir.join(HISTORY_FILE);
    history::append(&history_path, &records)?;

    let best_cfg = result.best_trial().map(|t| t.config.clone());
    let cal = fit(
        &calibration_records(&records, &base, best_cfg.as_ref()),
        &utc_date(now),
        speed.assumed_bandwidths(),
    )
    .map(|mut c| {
        c.tg_factor_by_threads = calibration::thread_factors(&records);
        // Spread over every run, not only the ones fitted: how far one factor is from
        // explaining the whole neighbourhood.
        c.tg_spread = records
            .iter()
            .filter_map(|r| Some(r.tg_tokens_per_s? / r.predicted_tg_tokens_per_s?))
            .map(|ratio| (ratio / c.tg_factor - 1.0).abs())
            .fold(0.0, f64::max);
        c
    });
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
            model_reference: &model_ref,
            engine_build: runner.engine_build(),
            snapshot_hash: hash,
            plan_settings: &plan_settings,
            predict_tg: &predict_tg,
            calibration: cal,
            history_path: Some(history_path.display().to_string()),
            calibration_path: cal_path.map(|p| p.display().to_string()),
        },
    );
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).context("rendering JSON")?
        ),
        Format::Toml => print!("{}", toml::to_string(&report).context("rendering TOML")?),
        Format::Table => print!("{}", render_table(&report)),
    }
    if result.best.is_none() {
        let first = result
            .trials
            .first()
            .map(|t: &crate::tune::search::Trial| describe(&t.outcome))
            .unwrap_or_default();
        return Err(Error::Unsatisfiable(format!(
            "every llama-bench run failed ({} runs); first: {first}",
            result.trials.len()
        ))
        .into());
    }
    Ok(())
}

fn describe(o: &RunOutcome) -> String {
    match &o.result {
        crate::tune::bench::RunResult::Failed { error, .. } => error.clone(),
        crate::tune::bench::RunResult::Ok(_) => "ok".into(),
    }
}
