//! What `tune` reports: the runs, the best settings against the plan's, predicted vs
//! measured for each, the calibration and the ready `export` command.
//!
//! [`TuneReport`] is plain data in the `tune --format json` shape of DESIGN.md
//! (`runs[]`, `best`, `plan`, extra keys allowed); [`render_table`] is its human form.
//! Building the report is pure; printing is the command's job.

use crate::plan::Settings;
use crate::tune::bench::RunResult;
use crate::tune::calibration::Calibration;
use crate::tune::config::BenchConfig;
use crate::tune::search::{SearchResult, Trial};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    pub settings: Settings,
    pub tg_tokens_per_s: Option<f64>,
    pub tg_stddev: Option<f64>,
    pub pp_tokens_per_s: Option<f64>,
    pub pp_stddev: Option<f64>,
    pub predicted_tg_tokens_per_s: Option<f64>,
    pub ok: bool,
    pub error: Option<String>,
    pub stderr_tail: Vec<String>,
    pub elapsed_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BestReport {
    pub settings: Settings,
    pub tg_tokens_per_s: f64,
    pub pp_tokens_per_s: f64,
    pub predicted_tg_tokens_per_s: Option<f64>,
    pub calibrated_tg_tokens_per_s: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanReport {
    pub settings: Settings,
    pub predicted_tg_tokens_per_s: Option<f64>,
    pub measured_tg_tokens_per_s: Option<f64>,
    pub measured_pp_tokens_per_s: Option<f64>,
    pub calibrated_tg_tokens_per_s: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TuneReport {
    pub model: String,
    pub engine_build: String,
    pub snapshot_hash: String,
    /// Why the search stopped.
    pub stopped: String,
    pub spent_s: f64,
    pub runs: Vec<RunReport>,
    pub best: Option<BestReport>,
    pub plan: PlanReport,
    pub calibration: Option<Calibration>,
    pub export_command: Option<String>,
    pub history_path: Option<String>,
    pub calibration_path: Option<String>,
    /// Speculative decoding measured with llama-server when the plan speculates: off
    /// (`draft_max` 0) and at each draft length (`speculative[]` in `--format json`).
    #[serde(default)]
    pub speculative: Vec<SpeculativeRunReport>,
}

/// One llama-server `/completion` run of the speculative comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeculativeRunReport {
    pub draft_max: u32,
    pub ok: bool,
    pub tg_tokens_per_s: Option<f64>,
    pub draft_n: Option<u64>,
    pub draft_n_accepted: Option<u64>,
    pub error: Option<String>,
}

/// Inputs besides the search result.
pub struct ReportInputs<'a> {
    pub model_reference: &'a str,
    pub engine_build: String,
    pub snapshot_hash: String,
    pub plan_settings: &'a Settings,
    /// Uncalibrated prediction per configuration.
    pub predict_tg: &'a dyn Fn(&BenchConfig) -> Option<f64>,
    pub calibration: Option<Calibration>,
    pub history_path: Option<String>,
    pub calibration_path: Option<String>,
}

fn run_report(t: &Trial, plan: &Settings, predicted: Option<f64>) -> RunReport {
    let settings = t.config.apply_to(plan);
    let elapsed_s = t.outcome.elapsed.as_secs_f64();
    match &t.outcome.result {
        RunResult::Ok(m) => RunReport {
            settings,
            tg_tokens_per_s: Some(m.tg.mean.0),
            tg_stddev: Some(m.tg.stddev),
            pp_tokens_per_s: Some(m.pp.mean.0),
            pp_stddev: Some(m.pp.stddev),
            predicted_tg_tokens_per_s: predicted,
            ok: true,
            error: None,
            stderr_tail: vec![],
            elapsed_s,
        },
        RunResult::Failed { error, stderr_tail } => RunReport {
            settings,
            tg_tokens_per_s: None,
            tg_stddev: None,
            pp_tokens_per_s: None,
            pp_stddev: None,
            predicted_tg_tokens_per_s: predicted,
            ok: false,
            error: Some(error.clone()),
            stderr_tail: stderr_tail.clone(),
            elapsed_s,
        },
    }
}

pub fn build_report(result: &SearchResult, inputs: ReportInputs<'_>) -> TuneReport {
    let plan_cfg = BenchConfig::from_settings(inputs.plan_settings);
    let calibrate = |p: Option<f64>, threads: u32| -> Option<f64> {
        Some(p? * inputs.calibration.as_ref()?.tg_factor_for(threads))
    };
    let runs: Vec<RunReport> = result
        .trials
        .iter()
        .map(|t| run_report(t, inputs.plan_settings, (inputs.predict_tg)(&t.config)))
        .collect();
    let plan_trial = result.trials.iter().find(|t| t.config == plan_cfg);
    let plan_pred = (inputs.predict_tg)(&plan_cfg);
    let plan = PlanReport {
        settings: inputs.plan_settings.clone(),
        predicted_tg_tokens_per_s: plan_pred,
        measured_tg_tokens_per_s: plan_trial.and_then(Trial::tg),
        measured_pp_tokens_per_s: plan_trial
            .and_then(|t| t.outcome.measurement())
            .map(|m| m.pp.mean.0),
        calibrated_tg_tokens_per_s: calibrate(plan_pred, plan_cfg.threads),
    };
    let best = result.best_trial().and_then(|t| {
        let m = t.outcome.measurement()?;
        let pred = (inputs.predict_tg)(&t.config);
        Some(BestReport {
            settings: t.config.apply_to(inputs.plan_settings),
            tg_tokens_per_s: m.tg.mean.0,
            pp_tokens_per_s: m.pp.mean.0,
            predicted_tg_tokens_per_s: pred,
            calibrated_tg_tokens_per_s: calibrate(pred, t.config.threads),
        })
    });
    let export_command = best
        .as_ref()
        .map(|b| export_command(inputs.model_reference, &b.settings));
    TuneReport {
        model: inputs.model_reference.to_string(),
        engine_build: inputs.engine_build,
        snapshot_hash: inputs.snapshot_hash,
        stopped: result.stopped.to_string(),
        spent_s: result.spent.as_secs_f64(),
        runs,
        best,
        plan,
        calibration: inputs.calibration,
        export_command,
        history_path: inputs.history_path,
        calibration_path: inputs.calibration_path,
        speculative: Vec::new(),
    }
}

/// Single-quotes a word for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The `rigplan export` command that pins every measured setting of the winner.
/// (`export` has no pin for the load mode; mmap/mlock follow the plan.)
pub fn export_command(model: &str, s: &Settings) -> String {
    let mut w: Vec<String> = vec![
        "rigplan".into(),
        "export".into(),
        shell_quote(model),
        "--as".into(),
        "command".into(),
        "--threads".into(),
        s.threads.to_string(),
        "--batch".into(),
        s.batch.to_string(),
        "--ubatch".into(),
        s.ubatch.to_string(),
        "--ngl".into(),
        s.n_gpu_layers.to_string(),
    ];
    if s.n_cpu_moe > 0 {
        w.push("--n-cpu-moe".into());
        w.push(s.n_cpu_moe.to_string());
    }
    w.extend([
        "--ctk".into(),
        shell_quote(&s.cache_type_k),
        "--ctv".into(),
        shell_quote(&s.cache_type_v),
        "--flash-attn".into(),
        if s.flash_attn { "on" } else { "off" }.into(),
    ]);
    if !s.gpu_indices.is_empty() || s.split_mode != "layer" {
        w.push("--split-mode".into());
        w.push(shell_quote(&s.split_mode));
    }
    w.join(" ")
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into())
}

fn summary(s: &Settings) -> String {
    BenchConfig::from_settings(s).to_string()
}

/// The human table: plan vs best, failures, calibration, export command.
pub fn render_table(r: &TuneReport) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "",
        "settings",
        "predicted tg",
        "calibrated tg",
        "measured tg",
        "measured pp",
    ]);
    t.add_row(vec![
        "plan".into(),
        summary(&r.plan.settings),
        fmt_opt(r.plan.predicted_tg_tokens_per_s),
        fmt_opt(r.plan.calibrated_tg_tokens_per_s),
        fmt_opt(r.plan.measured_tg_tokens_per_s),
        fmt_opt(r.plan.measured_pp_tokens_per_s),
    ]);
    if let Some(b) = &r.best {
        t.add_row(vec![
            "best".into(),
            summary(&b.settings),
            fmt_opt(b.predicted_tg_tokens_per_s),
            fmt_opt(b.calibrated_tg_tokens_per_s),
            format!("{:.1}", b.tg_tokens_per_s),
            format!("{:.1}", b.pp_tokens_per_s),
        ]);
    }
    let mut out = format!("{t}\n");
    let failed: Vec<&RunReport> = r.runs.iter().filter(|x| !x.ok).collect();
    out.push_str(&format!(
        "{} runs in {:.0}s ({}), {} failed; engine {}\n",
        r.runs.len(),
        r.spent_s,
        r.stopped,
        failed.len(),
        r.engine_build
    ));
    for f in failed {
        out.push_str(&format!(
            "  failed: {}: {}\n",
            summary(&f.settings),
            f.error.as_deref().unwrap_or("unknown error")
        ));
    }
    for sp in &r.speculative {
        let what = if sp.draft_max == 0 {
            "speculation off".to_string()
        } else {
            format!("draft max {}", sp.draft_max)
        };
        match (sp.tg_tokens_per_s, &sp.error) {
            (Some(tg), _) => out.push_str(&format!(
                "  llama-server, {what}: {tg:.1} tok/s, {} of {} drafted tokens accepted\n",
                sp.draft_n_accepted.unwrap_or(0),
                sp.draft_n.unwrap_or(0)
            )),
            (None, e) => out.push_str(&format!(
                "  llama-server, {what}: failed: {}\n",
                e.as_deref().unwrap_or("unknown error")
            )),
        }
    }
    match (&r.best, r.plan.measured_tg_tokens_per_s) {
        (Some(b), Some(p)) if p > 0.0 => out.push_str(&format!(
            "best tg is {:+.1}% against the plan's settings\n",
            (b.tg_tokens_per_s / p - 1.0) * 100.0
        )),
        _ => {}
    }
    if let Some(c) = &r.calibration {
        out.push_str(&format!(
            "{}: measured/predicted tg {:.3} (one factor explains every run within {:.0}%)\n",
            c.label(),
            c.tg_factor,
            c.tg_spread * 100.0
        ));
    }
    if let Some(p) = &r.calibration_path {
        out.push_str(&format!("calibration saved to {p}\n"));
    }
    if let Some(cmd) = &r.export_command {
        out.push_str(&format!("export the winner:\n  {cmd}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::bench::{Measurement, RunOutcome, SpeedStat};
    use crate::tune::config::tests::cpu_settings;
    use crate::tune::search::StopReason;
    use crate::units::TokensPerSec;
    use std::time::Duration;

    fn trial(threads: u32, tg: Option<f64>) -> Trial {
        let mut s = cpu_settings();
        s.threads = threads;
        let result = match tg {
            Some(tg) => RunResult::Ok(Measurement {
                tg: SpeedStat {
                    mean: TokensPerSec(tg),
                    stddev: 0.2,
                },
                pp: SpeedStat {
                    mean: TokensPerSec(tg * 10.0),
                    stddev: 1.0,
                },
            }),
            None => RunResult::Failed {
                error: "killed by SIGKILL (the out-of-memory killer?)".into(),
                stderr_tail: vec!["last words".into()],
            },
        };
        Trial {
            config: BenchConfig::from_settings(&s),
            outcome: RunOutcome {
                result,
                elapsed: Duration::from_secs(1),
            },
        }
    }

    #[test]
    fn json_has_the_design_keys() {
        let result = SearchResult {
            trials: vec![trial(2, Some(20.0)), trial(1, Some(25.0)), trial(3, None)],
            best: Some(1),
            stopped: StopReason::Settled,
            spent: Duration::from_secs(3),
        };
        let plan = cpu_settings();
        let r = build_report(
            &result,
            ReportInputs {
                model_reference: "/models/my model.gguf",
                engine_build: "b1".into(),
                snapshot_hash: "h".into(),
                plan_settings: &plan,
                predict_tg: &|_| Some(40.0),
                calibration: None,
                history_path: None,
                calibration_path: None,
            },
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["runs"].as_array().unwrap().len(), 3);
        assert_eq!(v["runs"][2]["ok"], false);
        assert!(v["runs"][2]["error"].as_str().unwrap().contains("SIGKILL"));
        assert_eq!(v["runs"][0]["settings"]["threads"], 2);
        assert_eq!(v["best"]["tg_tokens_per_s"], 25.0);
        assert_eq!(v["best"]["pp_tokens_per_s"], 250.0);
        assert_eq!(v["best"]["settings"]["threads"], 1);
        assert_eq!(v["plan"]["predicted_tg_tokens_per_s"], 40.0);
        assert_eq!(v["plan"]["measured_tg_tokens_per_s"], 20.0);
        let cmd = r.export_command.clone().unwrap();
        assert!(cmd.starts_with("rigplan export '/models/my model.gguf' --as command --threads 1"));
        let table = render_table(&r);
        assert!(table.contains("1 failed"));
        assert!(table.contains("+25.0% against the plan"));
        assert!(table.contains(&cmd));
    }
}
