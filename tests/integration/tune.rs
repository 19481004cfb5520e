//! `rigplan tune` end to end: missing engine, bad input, a fake llama-bench that crashes
//! and runs out of memory for some configurations, and a short real run of the pinned
//! engine on a tiny random-weight model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::run_json;
use crate::support_engine::llama_bin;
use crate::support_tune::{write_fake_llama_bench, TinyLlama};
use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;
use std::path::Path;

fn rigplan(data_dir: &Path) -> Command {
    let mut c = crate::support::rigplan();
    c.env("RIGPLAN_DATA_DIR", data_dir)
        .env_remove("RIGPLAN_LLAMA_BIN");
    c
}

fn model_in(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("tiny.gguf");
    TinyLlama::SMALL.write(&p, 1).unwrap();
    p
}

#[test]
fn tune_without_llama_bench_says_where_it_looked() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_in(tmp.path());
    rigplan(tmp.path())
        .env("PATH", tmp.path().join("empty"))
        .env("XDG_DATA_HOME", tmp.path().join("xdg"))
        .env("HOME", tmp.path())
        .arg("tune")
        .arg(&model)
        .assert()
        .code(1)
        .stderr(contains("'llama-bench' not found").and(contains("--engine-bin")));
}

#[test]
fn tune_bad_input_is_exit_2_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_in(tmp.path());
    rigplan(tmp.path())
        .args(["tune"])
        .arg(&model)
        .arg("--engine-bin")
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(contains("--engine-bin"));
    rigplan(tmp.path())
        .args(["tune", "--budget", "5 minutes"])
        .arg(&model)
        .assert()
        .code(2)
        .stderr(contains("--budget '5 minutes'"));
    rigplan(tmp.path())
        .args(["tune", "/no/such/model.gguf"])
        .assert()
        .code(2)
        .stderr(contains("'/no/such/model.gguf'"));
}

/// A llama-bench that is killed (SIGKILL, as by the OOM killer) with one thread, fails to
/// allocate with a q8_0 KV cache, and otherwise answers: flash attention off is faster.
const FAKE: &str = r#"
case "$*" in *--version*) echo "version: 9.9.9 (build 1, commit fake)"; exit 0;; esac
case "$*" in *"-t 1 "*) echo "llama_model_load: loading tensors" >&2; kill -9 $$;; esac
case "$*" in *"-ctk q8_0"*)
  echo "ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 123456" >&2
  echo "main: error: failed to create context with model" >&2
  exit 1;;
esac
tg=20.0; case "$*" in *"-fa off"*) tg=22.0;; esac
printf '[{"n_prompt": 32, "n_gen": 0, "avg_ts": 300.0, "stddev_ts": 1.0},\n {"n_prompt": 0, "n_gen": 16, "avg_ts": %s, "stddev_ts": 0.1}]\n' "$tg"
"#;

#[cfg(unix)]
#[test]
fn crashed_and_oom_runs_are_recorded_and_the_search_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_in(tmp.path());
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    write_fake_llama_bench(&bin, FAKE);
    let data = tmp.path().join("data");
    let out = rigplan(&data)
        .arg("tune")
        .arg(&model)
        .arg("--engine-bin")
        .arg(&bin)
        .args([
            "--cpu-cores",
            "2",
            "--ram-bandwidth-gbs",
            "20",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    let killed = runs
        .iter()
        .find(|r| r["settings"]["threads"] == 1)
        .expect("a one-thread run");
    assert_eq!(killed["ok"], false);
    assert!(killed["error"].as_str().unwrap().contains("SIGKILL"));
    assert_eq!(killed["tg_tokens_per_s"], Value::Null);
    let oom = runs
        .iter()
        .find(|r| r["settings"]["cache_type_k"] == "q8_0")
        .expect("a q8_0 run");
    assert_eq!(oom["ok"], false);
    assert!(oom["error"].as_str().unwrap().contains("out of memory"));
    assert!(oom["stderr_tail"][0]
        .as_str()
        .unwrap()
        .contains("failed to allocate"));
    // The search went on past both failures and found the faster setting.
    assert_eq!(v["best"]["settings"]["flash_attn"], false);
    assert_eq!(v["best"]["tg_tokens_per_s"], 22.0);
    // The fake engine runs out of memory for every q8_0 KV cache: whichever KV type the
    // planner chose, the plan's own run is measured exactly when it is not one of those.
    let plan_ctk = v["plan"]["settings"]["cache_type_k"].as_str().unwrap();
    if plan_ctk == "q8_0" {
        assert_eq!(v["plan"]["measured_tg_tokens_per_s"], Value::Null);
    } else {
        assert!(
            v["plan"]["measured_tg_tokens_per_s"].as_f64().unwrap() > 0.0,
            "{}",
            v["plan"]
        );
    }
    assert!(v["plan"]["predicted_tg_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["export_command"]
        .as_str()
        .unwrap()
        .contains("--flash-attn off"));
    // Every run is in the history, failures included; the calibration was saved.
    let history = std::fs::read_to_string(data.join("tune-history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), runs.len());
    assert!(history.contains("SIGKILL") && history.contains("9.9.9 (build 1, commit fake)"));
    let cal = v["calibration_path"].as_str().unwrap();
    assert!(Path::new(cal).is_file());
    assert!(v["calibration"]["runs"].as_u64().unwrap() >= 1);
}

#[cfg(unix)]
#[test]
fn every_run_failing_is_exit_1_after_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_in(tmp.path());
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    write_fake_llama_bench(&bin, "echo 'ggml: out of memory' >&2; exit 1");
    rigplan(&tmp.path().join("data"))
        .arg("tune")
        .arg(&model)
        .arg("--engine-bin")
        .arg(&bin)
        .assert()
        .code(1)
        .stdout(contains("failed"))
        .stderr(contains("every llama-bench run failed"));
}

/// The reduced real benchmark: the pinned engine, a few-MB model, short runs.
#[test]
fn tune_with_the_real_engine_measures_and_calibrates() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_in(tmp.path());
    let data = tmp.path().join("data");
    let v: Value = run_json(
        rigplan(&data)
            .arg("tune")
            .arg(&model)
            .arg("--engine-bin")
            .arg(llama_bin())
            .args(["--n-prompt", "16", "--n-gen", "8", "--repetitions", "1"])
            .args(["--budget", "90s", "--run-timeout", "60s"])
            .args(["--ram-bandwidth-gbs", "20", "--format", "json"]),
    );
    let runs = v["runs"].as_array().unwrap();
    assert!(runs.len() >= 2, "{runs:?}");
    assert!(runs.iter().all(|r| r["ok"] == true), "{runs:?}");
    let plan_tg = v["plan"]["measured_tg_tokens_per_s"].as_f64().unwrap();
    let best_tg = v["best"]["tg_tokens_per_s"].as_f64().unwrap();
    assert!(plan_tg > 0.0 && best_tg >= plan_tg);
    let cal = &v["calibration"];
    assert!(cal["tg_factor"].as_f64().unwrap() > 0.0);
    assert!(v["best"]["calibrated_tg_tokens_per_s"].as_f64().unwrap() > 0.0);
    let history = std::fs::read_to_string(data.join("tune-history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), runs.len());
}

/// Issue 13 item 6: after `rigplan tune`, a fresh `rigplan plan` of the same model on the
/// same machine predicts the tuned best's measured generation speed within 10%. The
/// real pinned llama-bench on the 64 MB bench model, a bounded budget.
#[test]
fn a_fresh_plan_after_tune_predicts_the_tuned_best() {
    let _alone = crate::support::cpu_exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("bench.gguf");
    TinyLlama::BENCH.write(&model, 7).unwrap();
    let data = tmp.path().join("data");
    // The same machine and a short context for both: the plan predicts generation at
    // half its context's depth, llama-bench measures it at depth 0 (`-d 0`), so a short
    // context makes both the same workload.
    let machine = ["--ram-bandwidth-gbs", "20", "--ctx", "512"];
    let tuned: Value = run_json(
        rigplan(&data)
            .arg("tune")
            .arg(&model)
            .arg("--engine-bin")
            .arg(llama_bin())
            .args(["--n-prompt", "32", "--n-gen", "16", "--repetitions", "2"])
            .args(["--budget", "120s", "--run-timeout", "60s"])
            .args(machine)
            .args(["--format", "json"]),
    );
    let best_tg = tuned["best"]["tg_tokens_per_s"].as_f64().unwrap();
    let plan: Value = run_json(
        rigplan(&data)
            .arg("plan")
            .arg(&model)
            .args(machine)
            .args(["--format", "json"]),
    );
    let predicted = plan["performance"]["tg_tokens_per_s"].as_f64().unwrap();
    let error = (predicted / best_tg - 1.0).abs();
    eprintln!(
        "tuned best {best_tg:.1} tok/s ({}), fresh plan predicts {predicted:.1} tok/s ({} threads): {:.1}% off",
        tuned["best"]["settings"],
        plan["settings"]["threads"],
        error * 100.0
    );
    assert!(
        plan["performance"]["calibration"].is_string(),
        "the plan applied the saved calibration: {}",
        plan["performance"]
    );
    assert!(error <= 0.10, "{:.1}% off", error * 100.0);
}

/// Issue 14, check 6: with a draft model, `tune` also measures speculative decoding with
/// the real llama-server (llama-bench does not run it): off and at draft lengths around
/// the plan's, with the server's draft counts.
#[test]
fn tune_measures_speculation_with_the_real_server() {
    // Models with a real tokenizer: the server tokenizes the prompt.
    let tmp = tempfile::tempdir().unwrap();
    let model = crate::support_gen::tiny_model(tmp.path());
    let draft_dir = tmp.path().join("draft");
    std::fs::create_dir_all(&draft_dir).unwrap();
    let draft = crate::support_gen::tiny_model(&draft_dir);
    let data = tmp.path().join("data");
    let v: Value = run_json(
        rigplan(&data)
            .arg("tune")
            .arg(&model)
            .arg("--draft")
            .arg(&draft)
            .args(["--speculative", "draft", "--draft-max", "2"])
            .arg("--engine-bin")
            .arg(llama_bin())
            .args(["--n-prompt", "16", "--n-gen", "8", "--repetitions", "1"])
            .args(["--budget", "20s", "--run-timeout", "60s"])
            .args(["--ram-bandwidth-gbs", "20", "--format", "json"]),
    );
    assert_eq!(v["plan"]["settings"]["speculative"]["kind"], "draft", "{v}");
    let sp = v["speculative"].as_array().unwrap();
    assert!(sp.len() >= 3, "{sp:?}");
    assert_eq!(sp[0]["draft_max"], 0);
    for r in sp {
        assert_eq!(r["ok"], true, "{r}");
        assert!(r["tg_tokens_per_s"].as_f64().unwrap() > 0.0, "{r}");
        let drafted = r["draft_n"].as_u64().unwrap();
        assert_eq!(drafted > 0, r["draft_max"].as_u64().unwrap() > 0, "{r}");
    }
}
