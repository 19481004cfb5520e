//! `rigplan tune`: measure the plan and its neighbours with llama-bench, record every run,
//! calibrate the speed model for this machine and print the winner.
//!
//! Resolves the arguments (budget, model file, pins, llama-bench, this machine), runs the
//! session (`ops::tune`) with a progress bar, and renders the report.

use super::resolve;
use crate::cli::{Format, TuneArgs};
use crate::error::{user_error, Error};
use crate::ops::tune;
use crate::tune::bench::{BenchSearchPath, RunShape};
use crate::tune::budget::parse_budget;
use crate::tune::report::render_table;
use crate::tune::search::Progress;
use anyhow::Context;
use std::io::IsTerminal;

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
    let model_reference = args.model.clone().ok_or_else(|| {
        user_error("tune needs a model file to benchmark: rigplan tune MODEL.gguf")
    })?;
    let (spec, model_path) = tune::local_model(&model_reference)?;
    let plan = resolve::plan_request(&args.pins)?;
    if !args.hardware.gpus.is_empty() {
        return Err(user_error(
            "--gpu: tune measures this machine; what-if GPUs cannot be benchmarked",
        )
        .into());
    }
    let bench_bin = BenchSearchPath::from_env(args.engine_bin.clone(), plan.engine).locate()?;
    let snapshot = resolve::hardware(&args.hardware)?;
    let req = tune::TuneRequest {
        model_reference,
        spec,
        model_path,
        plan,
        bench_bin,
        budget,
        shape: RunShape {
            n_prompt: args.n_prompt,
            n_gen: args.n_gen,
            repetitions: args.repetitions,
            timeout: run_timeout,
        },
    };
    let reporter = Reporter::new();
    let outcome = tune::run(&req, &snapshot, &mut |p: &Progress| reporter.update(p));
    reporter.finish();
    let outcome = outcome?;
    let report = &outcome.report;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).context("rendering JSON")?
        ),
        Format::Toml => print!("{}", toml::to_string(report).context("rendering TOML")?),
        Format::Table => print!("{}", render_table(report)),
    }
    if let Some(why) = outcome.every_run_failed {
        return Err(Error::Unsatisfiable(why).into());
    }
    Ok(())
}
