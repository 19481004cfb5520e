//! Multi-GPU split modes end to end: the split mode of a 2-GPU plan is the faster of the
//! layer and tensor-parallel candidates, pinned split modes the engine would refuse exit
//! 2 naming the pin, and the `-sm` values a plan emits pass the built engines' parsers
//! (llama-server and llama-bench of both engines).

use crate::support::{rigplan, run_json};
use crate::support_engine::{ik_llama_bin, llama_bin};
use rigplan::engine::{bench_args, BenchOptions, EngineKind};
use rigplan::plan::Settings;
use serde_json::Value;
use std::process::Command;

fn plan(args: &[&str]) -> Value {
    let mut cmd = rigplan();
    cmd.args(["plan", "--hardware", "z440-2x3060", "--format", "json"])
        .args(args);
    run_json(&mut cmd)
}

fn reason<'a>(p: &'a Value, setting: &str) -> &'a str {
    p["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["setting"] == setting)
        .and_then(|r| r["why"].as_str())
        .unwrap_or_else(|| panic!("no reason for {setting}: {p}"))
}

fn tg(p: &Value) -> f64 {
    p["performance"]["tg_tokens_per_s"].as_f64().unwrap()
}

/// The predicted tok/s figures a reason names after "predicted", in order (decimal
/// numbers only, so "2 GPUs" and "1 layers" are not figures).
fn figures(why: &str) -> Vec<f64> {
    let after = why.split_once("predicted").map(|(_, r)| r).unwrap_or(why);
    after
        .split_whitespace()
        .filter(|w| w.contains('.'))
        .filter_map(|w| {
            w.trim_matches(|c: char| !c.is_ascii_digit() && c != '.')
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn the_split_mode_is_the_faster_of_layer_and_graph_by_prediction() {
    // Qwen3.5-35B-A3B (the default model, at IQ4_XS, the quant it plans there: the
    // published Q4_K_M, 22.0 GB, spills experts to RAM) and a dense 27B on the seeds'
    // dual 3060.
    for model in ["qwen3.5-35b-a3b:IQ4_XS", "qwen3.5-27b:Q4_K_M"] {
        let free = plan(&[model, "--engine", "ik_llama.cpp"]);
        let layer = plan(&[model, "--engine", "ik_llama.cpp", "--split-mode", "layer"]);
        let graph = plan(&[model, "--engine", "ik_llama.cpp", "--split-mode", "graph"]);
        assert_eq!(layer["settings"]["split_mode"], "layer", "{model}");
        assert_eq!(graph["settings"]["split_mode"], "graph", "{model}");
        let faster = if tg(&graph) > tg(&layer) {
            "graph"
        } else {
            "layer"
        };
        assert_eq!(free["settings"]["split_mode"], faster, "{model}");
        assert!((tg(&free) - tg(&layer).max(tg(&graph))).abs() < 0.05 * tg(&free));
        // The reason names both predictions: the chosen one first.
        let why = reason(&free, "split_mode");
        let f = figures(why);
        assert!(f.len() >= 2, "{why}");
        assert!(f[0] >= f[1], "{why}");
        assert!(why.contains("-sm graph") || why.contains("graph:"), "{why}");
        // The other split is listed among the alternatives.
        let other = if faster == "graph" {
            " split over 2 GPUs"
        } else {
            "tensor-parallel"
        };
        let alts = free["alternatives"].to_string();
        assert!(alts.contains(other), "{model}: {alts}");
        // The layout differs: graph puts KV on both GPUs in equal halves (equal 3060s).
        let kv: Vec<u64> = graph["memory"]["devices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "gpu")
            .map(|d| d["kv_bytes"].as_u64().unwrap())
            .collect();
        assert_eq!(kv.len(), 2);
        assert!(kv[0].abs_diff(kv[1]) <= kv[0] / 100, "{model}: {kv:?}");
        // The spec-sheet ceiling reads the GPUs in parallel too: it stays above the
        // prediction.
        let ceiling = graph["performance"]["ceiling_tg_tokens_per_s"]
            .as_f64()
            .unwrap();
        assert!(ceiling > tg(&graph), "{model}: {ceiling} vs {}", tg(&graph));
        let warnings = graph["warnings"].to_string();
        assert!(
            !warnings.contains("estimated as for a layer split"),
            "{warnings}"
        );
    }
}

#[test]
fn mainline_offers_tensor_split_with_flash_attention() {
    let p = plan(&[
        "qwen3.5-27b:Q4_K_M",
        "--engine",
        "llama.cpp",
        "--split-mode",
        "tensor",
    ]);
    assert_eq!(p["settings"]["split_mode"], "tensor");
    assert_eq!(p["settings"]["flash_attn"], true);
    let args: Vec<&str> = p["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(args.windows(2).any(|w| w == ["-sm", "tensor"]), "{args:?}");
}

#[test]
fn pinned_split_modes_the_engine_refuses_exit_2_naming_the_pin() {
    let cases: &[(&[&str], &str)] = &[
        // CUDA has no split buffer type any more (make_gpu_buft_list).
        (&["--engine", "llama.cpp", "--split-mode", "row"], "'row'"),
        // llm_arch_supports_sm_tensor: deepseek2 is refused.
        (
            &[
                "deepseek-r1",
                "--engine",
                "llama.cpp",
                "--split-mode",
                "tensor",
            ],
            "deepseek2",
        ),
        // Tensor parallelism requires flash attention.
        (
            &[
                "--engine",
                "llama.cpp",
                "--split-mode",
                "tensor",
                "--flash-attn",
                "off",
            ],
            "flash attention",
        ),
        // ik would silently fall back to a layer split for qwen3next.
        (
            &[
                "qwen3-next-80b-a3b",
                "--engine",
                "ik_llama.cpp",
                "--split-mode",
                "graph",
            ],
            "is_model_split_supported",
        ),
        // ik has no `tensor`.
        (
            &["--engine", "ik_llama.cpp", "--split-mode", "tensor"],
            "no such split mode",
        ),
    ];
    for (args, want) in cases {
        let out = rigplan()
            .args(["plan", "--hardware", "z440-2x3060"])
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(err.contains("split-mode"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// The argv of a plan, with `-ts` removed when the build has no GPU backend (a CPU build
/// refuses a split over more devices than it has; the split-mode value is what is checked).
fn plan_args(engine: &str, split: &str, gpu_build: bool) -> Vec<String> {
    let p = plan(&[
        "qwen3.5-27b:Q4_K_M",
        "--engine",
        engine,
        "--split-mode",
        split,
    ]);
    let mut args: Vec<String> = p["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(
        args.windows(2).any(|w| w[0] == "-sm" && w[1] == split),
        "{args:?}"
    );
    if !gpu_build {
        if let Some(i) = args.iter().position(|a| a == "-ts") {
            args.drain(i..i + 2);
        }
    }
    // A model path that does not exist: the parser must accept every option and stop at
    // loading the model.
    if let Some(i) = args.iter().position(|a| a == "-m") {
        args[i + 1] = "/nonexistent-rigplan-split.gguf".into();
    }
    args
}

/// llama-bench arguments for the same plan (the engine tables render the settings).
fn bench_plan_args(engine: &str, split: &str, gpu_build: bool) -> Vec<String> {
    let p = plan(&[
        "qwen3.5-27b:Q4_K_M",
        "--engine",
        engine,
        "--split-mode",
        split,
    ]);
    let mut s: Settings = serde_json::from_value(p["settings"].clone()).unwrap();
    assert_eq!(s.split_mode, split);
    if !gpu_build {
        s.tensor_split.clear();
    }
    let kind = EngineKind::parse(engine).unwrap();
    let opts = BenchOptions {
        n_prompt: 8,
        n_gen: 4,
        repetitions: 1,
        output: "json".into(),
    };
    let args = bench_args(kind, &s, "/nonexistent-rigplan-split.gguf", &opts);
    assert!(
        args.windows(2).any(|w| w[0] == "-sm" && w[1] == split),
        "{args:?}"
    );
    args
}

fn parser_accepts(bin: &std::path::Path, args: &[String], loaded_marker: &str) {
    parser_accepts_in(bin, "llama-server", args, loaded_marker);
}

fn parser_accepts_in(bin: &std::path::Path, exe: &str, args: &[String], loaded_marker: &str) {
    let mut cmd = Command::new(bin.join(exe));
    cmd.args(args);
    if exe == "llama-server" {
        cmd.args(["--port", "0"]);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let complaint = text.lines().find(|l| {
        l.contains("unknown argument")
            || l.contains("invalid parameter")
            || l.contains("invalid value")
    });
    assert!(complaint.is_none(), "{exe} {args:?}: {complaint:?}");
    assert!(text.contains(loaded_marker), "{exe} {args:?}: {text}");
}

#[test]
fn mainline_server_parses_a_tensor_split_plan() {
    let bin = llama_bin();
    // The mainline parser splits -ts on ',' and '/' and accepts up to
    // llama_max_devices() entries, so the split stays in even on a CPU build.
    let args = plan_args("llama.cpp", "tensor", true);
    parser_accepts(&bin, &args, "failed to load model");
    let bench = bench_plan_args("llama.cpp", "tensor", true);
    parser_accepts_in(&bin, "llama-bench", &bench, "failed to load model");
}

#[test]
fn ik_server_parses_a_graph_split_plan() {
    let bin = ik_llama_bin();
    let help = Command::new(bin.join("llama-server"))
        .arg("--help")
        .output()
        .unwrap();
    let gpu_build = String::from_utf8_lossy(&help.stdout).contains("-ngl");
    let args = plan_args("ik_llama.cpp", "graph", gpu_build);
    parser_accepts(&bin, &args, "failed to load model");
    let bench = bench_plan_args("ik_llama.cpp", "graph", gpu_build);
    parser_accepts_in(&bin, "llama-bench", &bench, "failed to load model");
}
