//! The tune benchmark: coordinate descent against an exhaustive sweep, on this machine,
//! with the real pinned llama-bench and a small random-weight llama model.
//!
//! `cargo bench --bench tune_benchmark` (add `-- --rounds 2` to repeat). Checks issue 7:
//! tune's winner is within 3% of the sweep's best tg using at most a third of the sweep's
//! runs, and after calibration the predicted tg of the plan's and the winner's settings
//! is within 10% of a fresh (held-out) measurement. Prints every figure; exits 1 when a
//! check fails. Under `cargo test` (no `--bench` argument) it does nothing: it is a
//! measurement, not a test. The plan is `planner::plan_with` scored by `perf::predict`
//! on this machine as `detect` sees it; predictions are `perf::predict` per configuration.
//! Environment: `RIGPLAN_LLAMA_BIN` (else scripts/ensure-engine.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/integration/support_engine.rs"]
mod support_engine;
#[path = "../tests/integration/support_tune.rs"]
mod support_tune;

use rigplan::hardware::resolve::{resolve as resolve_hardware, HardwareQuery};
use rigplan::model::reference;
use rigplan::planner::PlanRequest;
use rigplan::tune::baseline::{plan_baseline, PerfSpeedModel};
use rigplan::tune::bench::{BenchRunner, LlamaBench, RunShape, LLAMA_BENCH};
use rigplan::tune::calibration::{fit, thread_factors, utc_date};
use rigplan::tune::config::BenchConfig;
use rigplan::tune::predict::SpeedModel;
use rigplan::tune::search::{
    coordinate_descent, exhaustive, neighbourhood, NeighbourhoodFacts, Progress, SearchOptions,
    SearchResult,
};
use rigplan::tune::{calibration_records, history_records, SessionInfo};
use rigplan::units::Bytes;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support_engine::llama_bin;
use support_tune::TinyLlama;

fn line(p: &Progress) {
    let t = p.trial;
    match t.outcome.measurement() {
        Some(m) => eprintln!(
            "  run {:>2} {:>5.1}s  tg {:>7.2} ±{:<5.2} pp {:>7.1}  {}",
            p.runs_done,
            t.outcome.elapsed.as_secs_f64(),
            m.tg.mean.0,
            m.tg.stddev,
            m.pp.mean.0,
            t.config
        ),
        None => eprintln!("  run {:>2} FAILED {}", p.runs_done, t.config),
    }
}

/// Interleaved confirmation runs per contender.
const CONFIRM: usize = 3;

/// `/proc/loadavg`'s first three fields: the machine is shared, so every figure is
/// printed next to the load it was measured under.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn best_tg(r: &SearchResult) -> f64 {
    r.best_trial().and_then(|t| t.tg()).unwrap_or(0.0)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("tune_benchmark: measurement only; run `cargo bench --bench tune_benchmark`");
        return;
    }
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let bin = llama_bin().join(LLAMA_BENCH);
    let dir = tempfile::tempdir().unwrap();
    let model_path = dir.path().join("tune-bench-llama-q8_0.gguf");
    let shape = TinyLlama::BENCH;
    let size = shape.write(&model_path, 7).unwrap();
    let spec = reference::resolve(&model_path.display().to_string())
        .unwrap()
        .spec;
    let hw = resolve_hardware(&HardwareQuery::default()).unwrap();
    let req = PlanRequest::default();
    let baseline = plan_baseline(&spec, &hw, &req).unwrap();
    let plan = baseline.plan.settings.clone();
    eprintln!(
        "model: {} ({}), {} cores, engine {}",
        model_path.display(),
        Bytes(size),
        hw.cpu.physical_cores,
        bin.display()
    );
    let mut runner = LlamaBench::new(
        bin,
        req.engine,
        plan.clone(),
        model_path.clone(),
        RunShape {
            n_prompt: 32,
            n_gen: 16,
            repetitions: 2,
            timeout: Duration::from_secs(120),
        },
    );
    let base = BenchConfig::from_settings(&plan);
    let facts = NeighbourhoodFacts {
        physical_cores: hw.cpu.physical_cores,
        logical_threads: hw.cpu.threads,
        moe_layers: 0,
        gpus: 0,
        mlock_possible: false,
    };
    let space = neighbourhood(&base, &facts);
    let speed = PerfSpeedModel::new(&spec, &hw, req.engine, &baseline, 16);
    eprintln!(
        "plan: {base}; space: {} knobs, {} configurations; engine build {}",
        space.dimensions.len(),
        space.grid().len(),
        runner.engine_build()
    );

    let mut all_ok = true;
    for round in 1..=rounds {
        eprintln!(
            "round {round}: tune (coordinate descent, budget 5m), load {}",
            loadavg()
        );
        let tuned = coordinate_descent(&space, &mut runner, &SearchOptions::default(), &mut |p| {
            line(p)
        });
        eprintln!("round {round}: exhaustive sweep, load {}", loadavg());
        let swept = exhaustive(&space, &mut runner, &mut |p| line(p));

        let tune_best = tuned.best_trial().unwrap().config.clone();
        let tune_tg = best_tg(&tuned);
        let sweep_tg = best_tg(&swept);
        // The winner's tg as the sweep measured it (same minutes as the sweep's best).
        let tune_in_sweep = swept
            .trials
            .iter()
            .find(|t| t.config == tune_best)
            .and_then(|t| t.tg())
            .unwrap_or(0.0);
        let sweep_tgs: Vec<f64> = swept.trials.iter().filter_map(|t| t.tg()).collect();
        let sweep_min = sweep_tgs.iter().cloned().fold(f64::MAX, f64::min);

        // Calibrate on the tune session, then check against fresh held-out runs.
        let info = SessionInfo {
            time_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            snapshot_hash: "benchmark".into(),
            engine: "llama.cpp".into(),
            engine_build: runner.engine_build(),
            model: model_path.display().to_string(),
            n_prompt: 32,
            n_gen: 16,
            repetitions: 2,
        };
        let records = history_records(&tuned, &info, &speed);
        let cal_set = calibration_records(&records, &base, Some(&tune_best));
        let mut cal = fit(
            &cal_set,
            &utc_date(info.time_unix),
            speed.assumed_bandwidths(),
        )
        .expect("calibration from successful runs");
        cal.tg_factor_by_threads = thread_factors(&records);
        let all_fit = fit(&records, "", speed.assumed_bandwidths()).unwrap();

        // Head-to-head confirmation, interleaved so load changes hit every candidate alike:
        // the sweep's best is the maximum of many noisy runs (winner's curse), so its own
        // figure overstates it; comparing settings means measuring them side by side.
        let sweep_best = swept.best_trial().unwrap().config.clone();
        let mut contenders: Vec<(&str, BenchConfig)> = vec![("tune best", tune_best.clone())];
        if sweep_best != tune_best {
            contenders.push(("sweep best", sweep_best.clone()));
        }
        if base != tune_best && base != sweep_best {
            contenders.push(("plan", base.clone()));
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
        eprintln!(
            "round {round}: confirmation ({CONFIRM} interleaved runs each), load {}",
            loadavg()
        );
        for _ in 0..CONFIRM {
            for (i, (_, cfg)) in contenders.iter().enumerate() {
                if let Some(m) = runner.run(cfg).measurement() {
                    samples[i].push(m.tg.mean.0);
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let sd = |v: &[f64]| {
            let m = mean(v);
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64).sqrt()
        };
        let confirmed = |cfg: &BenchConfig| -> f64 {
            let i = contenders.iter().position(|(_, c)| c == cfg).unwrap_or(0);
            mean(&samples[i])
        };
        let tune_confirmed = confirmed(&tune_best);
        let sweep_confirmed = confirmed(&sweep_best);
        let mut held_out = Vec::new();
        for (label, cfg) in [("plan", &base), ("best", &tune_best)] {
            let measured = confirmed(cfg);
            let predicted = speed.predict(cfg).tg_tokens_per_s;
            let calibrated = cal
                .apply(&speed.predict(cfg), &cfg.apply_to(&plan))
                .tg_tokens_per_s;
            let err = (calibrated / measured - 1.0) * 100.0;
            held_out.push((label, predicted, calibrated, measured, err));
        }

        let within_3 = tune_confirmed >= 0.97 * sweep_confirmed;
        let third = tuned.trials.len() * 3 <= swept.trials.len();
        let cal_ok = held_out.iter().all(|h| h.4.abs() <= 10.0);
        println!("round {round} results (load average now {})", loadavg());
        println!(
            "  sweep: {} runs in {:.0}s, best tg {:.2} tok/s ({}), worst {:.2}",
            swept.trials.len(),
            swept.spent.as_secs_f64(),
            sweep_tg,
            sweep_best,
            sweep_min
        );
        println!(
            "  tune:  {} runs in {:.0}s ({}), best tg {:.2} tok/s ({})",
            tuned.trials.len(),
            tuned.spent.as_secs_f64(),
            tuned.stopped,
            tune_tg,
            tune_best
        );
        println!(
            "  tune winner as measured in the sweep: {:.2} tok/s ({:+.1}% vs the sweep's max)",
            tune_in_sweep,
            (tune_in_sweep / sweep_tg - 1.0) * 100.0
        );
        for (i, (label, cfg)) in contenders.iter().enumerate() {
            println!(
                "  confirmation {label}: {:.2} ± {:.2} tok/s over {} runs ({cfg})",
                mean(&samples[i]),
                sd(&samples[i]),
                samples[i].len()
            );
        }
        println!(
            "  check runs <= 1/3 of sweep: {} ({} vs {})",
            third,
            tuned.trials.len(),
            swept.trials.len()
        );
        println!(
            "  check tune best within 3% of sweep best (confirmation): {} ({:+.1}%)",
            within_3,
            (tune_confirmed / sweep_confirmed - 1.0) * 100.0
        );
        println!(
            "  calibration: tg factor {:.3} from {} runs (all {} runs: {:.3}, spread {:.0}%), effective CPU bandwidth {:.1} GB/s vs perf's {:.1}",
            cal.tg_factor,
            cal.runs,
            all_fit.runs,
            all_fit.tg_factor,
            all_fit.tg_spread * 100.0,
            cal.effective_cpu_bandwidth_gbs.unwrap_or(0.0),
            speed.assumed_bandwidths().cpu_gbs.unwrap_or(0.0)
        );
        for (label, predicted, calibrated, measured, err) in &held_out {
            println!(
                "  held-out {label}: predicted {predicted:.1}, calibrated {calibrated:.1}, measured {measured:.2} tok/s (confirmation mean), error {err:+.1}%"
            );
        }
        println!("  check calibrated prediction within 10%: {cal_ok}");
        all_ok &= within_3 && third && cal_ok;
    }
    if !all_ok {
        eprintln!("tune_benchmark: a check failed");
        // process::exit skips destructors: remove the model's temporary directory first.
        drop(dir);
        std::process::exit(1);
    }
}
