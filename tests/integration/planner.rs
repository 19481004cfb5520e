//! Planner integration tests: the engine-agreement check against the real llama.cpp
//! (`llama-fit-params --fit-print on`) and the seeds' rigs.

use crate::support_model::entry;
use crate::support_planner as sp;
use rigplan::gguf::GgmlType;
use rigplan::model::ModelSpec;
use rigplan::plan::DeviceId;
use rigplan::planner::memory::{self, weights::Placement, MemoryConfig};
use std::path::Path;
use std::process::Command;

/// `Host MODEL CONTEXT COMPUTE` in MiB (floored), from `common_fit_print`.
fn fit_print(bin: &Path, model: &Path, ctx: u64, kv: &str) -> (u64, u64, u64) {
    let out = Command::new(bin.join("llama-fit-params"))
        .args(["--fit-print", "on", "-nr", "-fa", "on", "-m"])
        .arg(model)
        .args(["-c", &ctx.to_string(), "-ctk", kv, "-ctv", kv])
        .output()
        .expect("running llama-fit-params");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Host "))
        .unwrap_or_else(|| {
            panic!(
                "no Host line from llama-fit-params for {}: {}",
                model.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    (v[0], v[1], v[2])
}

fn within(ours_bytes: u64, engine_mib: u64, tol: f64) -> bool {
    let ours = ours_bytes as f64 / (1024.0 * 1024.0);
    // The engine floors to whole MiB; allow that on top of the tolerance.
    let e = engine_mib as f64;
    (ours - e).abs() <= e * tol + 1.0
}

/// Issue 4, check 1: weights and KV within 1%, compute within 10%, for eleven
/// architectures (issue 16 added phi3, minimax-m2, granitehybrid, nemotron_h and llama4) x three contexts x two cache types, CPU device, flash attention on.
/// `-nr` (no weight repacking) keeps every weight in the host buffer the engine reports
/// as `Host` (repacked weights go to the CPU_REPACK buffer, which `common_fit_print`
/// leaves out).
#[test]
fn memory_model_agrees_with_llama_fit_params() {
    let bin = crate::support_engine::llama_bin();
    let dir = tempfile::tempdir().unwrap();
    // (model, quant): the catalog's Q4_K_M default, gpt-oss at its native MXFP4, and
    // DeepSeek-V2-Lite at Q8_0 as its published GGUFs are commonly run.
    let models = [
        (entry("llama-3.1-8b"), "Q4_K_M"),
        (entry("qwen3-30b-a3b"), "Q4_K_M"),
        (entry("qwen3.5-35b-a3b"), "Q4_K_M"),
        (entry("gemma-4-26b-a4b"), "Q4_K_M"),
        (sp::deepseek_v2_lite(), "Q8_0"),
        (entry("gpt-oss-20b"), "MXFP4"),
        // issue 16: the architectures the catalog added
        (entry("phi-4"), "Q4_K_M"),
        (entry("minimax-m2"), "IQ2_XXS"),
        (entry("granite-4.0-h-tiny"), "Q4_K_M"),
        (entry("nemotron-nano-9b-v2"), "Q4_K_M"),
        (entry("llama-4-scout"), "IQ2_XXS"),
    ];
    let mut failures = vec![];
    let mut rows = 0;
    for (entry, quant) in &models {
        let m = sp::write_and_read(entry, quant, dir.path());
        let path = &m.path;
        for ctx in [4096u64, 32768, 131072] {
            for kv in ["f16", "q8_0"] {
                let (e_model, e_ctx, e_compute) = fit_print(&bin, path, ctx, kv);
                let cfg = MemoryConfig::mainline(ctx, GgmlType::from_name(kv).unwrap(), true);
                let devs = memory::breakdown(&m.spec, &Placement::cpu_only(), &cfg).unwrap();
                let cpu = &devs.iter().find(|(d, _)| *d == DeviceId::CPU).unwrap().1;
                let line = format!(
                    "{} ctx={ctx} kv={kv}: weights {:.0}/{e_model} kv {:.0}/{e_ctx} compute {:.0}/{e_compute} MiB (ours/engine)",
                    m.spec.architecture,
                    cpu.weights.mib(),
                    cpu.kv.mib(),
                    cpu.compute.mib()
                );
                eprintln!("{line}");
                rows += 1;
                if !within(cpu.weights.0, e_model, 0.01)
                    || !within(cpu.kv.0, e_ctx, 0.01)
                    || !within(cpu.compute.0, e_compute, 0.10)
                {
                    failures.push(line);
                }
            }
        }
    }
    assert_eq!(rows, 6 * models.len());
    assert!(
        failures.is_empty(),
        "disagreements:\n{}",
        failures.join("\n")
    );
}

/// Issue 4, check 2: every seed rig x {Qwen3.5-35B-A3B, Qwen3.5-27B, Gemma-4-26B-A4B}
/// gets a plan that fits with its margin; on the 8 GB 3070 the 35B-A3B plan keeps all
/// layers on the GPU with experts in RAM; on the dual 3060 both GPUs are used.
#[test]
fn seed_rigs_get_fitting_plans() {
    use rigplan::planner::{plan, PlanRequest};
    let ids = ["qwen3.5-35b-a3b", "qwen3.5-27b", "gemma-4-26b-a4b"];
    let q4: Vec<_> = ids
        .iter()
        .map(|id| sp::catalog_spec(id, "Q4_K_M"))
        .collect();
    // The seed's 8 GB / 16 GB machine ran IQ2_XXS: Q4 does not fit in 24 GB in all.
    let iq2: Vec<_> = ids
        .iter()
        .map(|id| sp::catalog_spec(id, "IQ2_XXS"))
        .collect();
    for (rig, hw) in sp::seed_rigs() {
        let models: &[ModelSpec] = if rig == "desktop-3070-8gb" { &iq2 } else { &q4 };
        for m in models {
            let p = plan(m, &hw, &PlanRequest::default())
                .unwrap_or_else(|e| panic!("{rig} x {}: {e}", m.name));
            for d in &p.memory.devices {
                assert!(
                    d.total_bytes + d.margin_bytes <= d.capacity_bytes,
                    "{rig} x {}: {} uses {} + margin {} of {}",
                    m.name,
                    d.name,
                    d.total_bytes,
                    d.margin_bytes,
                    d.capacity_bytes
                );
            }
            eprintln!(
                "{rig} x {}: ngl {} n_cpu_moe {} kv {} ub {} gpus {:?} ts {:?} -> {:.1} tg / {:.0} pp tok/s",
                m.name, p.settings.n_gpu_layers, p.settings.n_cpu_moe, p.settings.cache_type_k,
                p.settings.ubatch, p.settings.gpu_indices, p.settings.tensor_split,
                p.performance.tg_tokens_per_s, p.performance.pp_tokens_per_s
            );
            if rig == "desktop-3070-8gb" && m.architecture == "qwen35moe" {
                assert_eq!(p.settings.n_gpu_layers, 999, "all layers on the GPU");
                assert!(p.settings.n_cpu_moe > 0, "experts offloaded to RAM");
            }
            if rig == "z440-2x3060" {
                assert_eq!(p.settings.gpu_indices, vec![0, 1], "{}: both GPUs", m.name);
            }
            if rig == "xeon-e5-2620v4-cpu" {
                assert!(p.settings.gpu_indices.is_empty());
            }
        }
    }
}

/// A pin that cannot be met is exit 1 with the shortfall.
#[test]
fn impossible_pins_are_unsatisfiable_with_the_shortfall() {
    use rigplan::planner::{plan, PlanError, PlanRequest};
    let (_, hw) = sp::seed_rigs()
        .into_iter()
        .find(|(n, _)| *n == "desktop-3070-8gb")
        .unwrap();
    let req = PlanRequest {
        ngl: Some(999),
        n_cpu_moe: Some(0),
        ..Default::default()
    };
    let m = sp::catalog_spec("qwen3.5-35b-a3b", "IQ2_XXS");
    let e = plan(&m, &hw, &req).unwrap_err();
    match e {
        PlanError::Unsatisfiable(m) => assert!(m.contains("more on GPU 0"), "{m}"),
        other => panic!("expected Unsatisfiable, got {other:?}"),
    }
}

fn rigplan_json(args: &[&str]) -> serde_json::Value {
    crate::support::run_json(crate::support::rigplan().args(args))
}

/// Issue 4, check 2 end to end: `rigplan plan MODEL --hardware PRESET --format json` for
/// the seeds' rigs (the `hw` presets) and the catalog models, quant chosen by the
/// planner. Every device fits with its margin; the 8 GB RTX 3070 keeps all layers of
/// Qwen3.5-35B-A3B on the GPU with experts in RAM; the dual 3060 uses both GPUs.
#[test]
fn seed_rigs_end_to_end_with_presets_and_catalog() {
    let rigs = [
        "z440-2x3060",
        "desktop-3070-8gb",
        "xeon-e5-2620v4-cpu",
        "ms02-rtxpro4000",
        "desktop-3090",
        "desktop-5090",
    ];
    let models = ["qwen3.5-35b-a3b", "qwen3.5-27b", "gemma-4-26b-a4b"];
    for rig in rigs {
        for model in models {
            let v = rigplan_json(&["plan", model, "--hardware", rig, "--format", "json"]);
            let s = &v["settings"];
            for key in [
                "quant",
                "n_gpu_layers",
                "n_cpu_moe",
                "ctx",
                "predict",
                "cache_type_k",
                "cache_type_v",
                "threads",
                "batch",
                "ubatch",
                "parallel",
                "split_mode",
                "tensor_split",
                "flash_attn",
                "mlock",
                "mmap",
            ] {
                assert!(!s[key].is_null(), "{rig} x {model}: settings.{key} missing");
            }
            for key in [
                "args",
                "command",
                "reasons",
                "warnings",
                "engine",
                "performance",
            ] {
                assert!(!v[key].is_null(), "{rig} x {model}: {key} missing");
            }
            for d in v["memory"]["devices"].as_array().unwrap() {
                let total = d["total_bytes"].as_u64().unwrap();
                let margin = d["margin_bytes"].as_u64().unwrap();
                let cap = d["capacity_bytes"].as_u64().unwrap();
                assert!(total + margin <= cap, "{rig} x {model}: {d}");
                let parts: u64 = [
                    "weights_bytes",
                    "kv_bytes",
                    "compute_bytes",
                    "overhead_bytes",
                ]
                .iter()
                .map(|k| d[k].as_u64().unwrap())
                .sum();
                assert_eq!(parts, total);
            }
            eprintln!(
                "{rig} x {model}: {} ngl {} ncmoe {} kv {} gpus {} -> {:.1} tg",
                s["quant"],
                s["n_gpu_layers"],
                s["n_cpu_moe"],
                s["cache_type_k"],
                s["gpu_indices"],
                v["performance"]["tg_tokens_per_s"].as_f64().unwrap()
            );
            if rig == "desktop-3070-8gb" && model == "qwen3.5-35b-a3b" {
                assert_eq!(s["n_gpu_layers"], 999);
                assert!(s["n_cpu_moe"].as_u64().unwrap() > 0);
            }
            if rig == "z440-2x3060" {
                assert_eq!(s["gpu_indices"], serde_json::json!([0, 1]), "{model}");
            }
        }
    }
}

/// A request that cannot be met exits 1 and says by how much; a bad pin exits 2.
#[test]
fn plan_exit_codes() {
    let out = assert_cmd::Command::cargo_bin("rigplan")
        .unwrap()
        .args([
            "plan",
            "qwen3.5-27b:Q8_0",
            "--hardware",
            "desktop-3070-8gb",
            "--ngl",
            "999",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("more on GPU 0"), "{err}");
    assert_eq!(err.lines().count(), 1);
    let out = assert_cmd::Command::cargo_bin("rigplan")
        .unwrap()
        .args(["plan", "--hardware", "desktop-3090", "--ctk", "q3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `plan --save` writes TOML that reads back into the same Plan (for `export --plan`).
#[test]
fn saved_plan_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.toml");
    let out = assert_cmd::Command::cargo_bin("rigplan")
        .unwrap()
        .args([
            "plan",
            "gemma-4-26b-a4b",
            "--hardware",
            "desktop-3090",
            "--format",
            "json",
            "--save",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: rigplan::plan::Plan = serde_json::from_slice(&out.stdout).unwrap();
    let saved: rigplan::plan::Plan =
        toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(printed.settings, saved.settings);
    assert_eq!(printed.memory, saved.memory);
    assert_eq!(printed.args, saved.args);
    assert!(!saved.args.is_empty() && saved.command.starts_with("llama-server "));
}

/// No GPU in the description: a CPU plan, threads at most the physical cores (fewer when
/// the speed model predicts the memory saturates first: `settings::fewer_threads`).
#[test]
fn no_gpu_gives_a_cpu_plan() {
    let v = rigplan_json(&[
        "plan",
        "--hardware",
        "desktop-3090",
        "--no-gpu",
        "--format",
        "json",
    ]);
    assert_eq!(v["settings"]["gpu_indices"], serde_json::json!([]));
    let devs = v["memory"]["devices"].as_array().unwrap();
    assert_eq!(devs.len(), 1);
    assert_eq!(devs[0]["kind"], "cpu");
    let threads = v["settings"]["threads"].as_u64().unwrap();
    assert!((2..=8).contains(&threads), "{threads} threads on 8 cores");
}

/// GPU-side memory against published CUDA breakdowns (shared/calibration/
/// published_calibration.csv rows 3 and 10: XiongjieDai/GPU-Benchmarks-on-LLM-Inference,
/// Meta-Llama-3-8B Q4_K_M, n_ctx 8192, f16 KV, no flash attention, n_ubatch 512, llama.cpp
/// builds 2824/2833 of May 2024). Llama-3.1-8B has Llama-3-8B's shapes plus a 256-byte
/// rope_freqs tensor. Weights and KV are layout arithmetic and must match to the MiB; the
/// compute reservation is the 2024 engine's, so it gets a wider band (our pinned 2026
/// estimate is 636 MiB against 560 on one GPU); what the two rows share with any build is
/// checked tightly: the pinned host (CUDA_Host) compute buffer and the growth of the GPU
/// buffers under pipeline parallelism.
#[test]
fn gpu_memory_matches_published_cuda_breakdowns() {
    let mib = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap() as f64 / 1048576.0;
    let near = |ours: f64, theirs: f64, tol: f64| (ours - theirs).abs() <= tol * theirs;
    let common = [
        "llama-3.1-8b:Q4_K_M",
        "--ram-gib",
        "64",
        "--ctx",
        "8192",
        "--flash-attn",
        "off",
        "--ubatch",
        "512",
        // The published breakdowns are of one model: no catalog drafter next to it.
        "--speculative",
        "none",
        "--format",
        "json",
    ];

    // Row 3: one RTX 3070. CUDA0 model 4403.49, KV 1024.00, compute 560.00; CPU 281.81.
    let mut args = vec!["plan", "--gpu", "RTX 3070"];
    args.extend(common);
    let p = rigplan_json(&args);
    let devs = p["memory"]["devices"].as_array().unwrap();
    let (cpu, gpu) = (&devs[0], &devs[1]);
    assert_eq!(p["settings"]["n_gpu_layers"], 999);
    assert!(near(mib(gpu, "weights_bytes"), 4403.49, 0.001), "{gpu}");
    assert!(near(mib(gpu, "kv_bytes"), 1024.0, 0.001), "{gpu}");
    assert!(near(mib(gpu, "compute_bytes"), 560.0, 0.15), "{gpu}");
    assert!(near(mib(cpu, "weights_bytes"), 281.81, 0.001), "{cpu}");
    // CUDA_Host compute 24.01 MiB: embeddings 8 MiB + the F32 mask 16 MiB (pinned).
    assert!(near(mib(cpu, "compute_bytes"), 24.01, 0.005), "{cpu}");
    let one_gpu_compute = mib(gpu, "compute_bytes");

    // Row 10: two RTX 3090s, layer split. CUDA0 2113.28 + KV 544 + compute 640.01;
    // CUDA1 2290.21 + KV 480 + compute 640.02.
    let mut args = vec!["plan", "--gpu", "RTX 3090", "--gpu", "RTX 3090"];
    args.extend(common);
    args.extend(["--split-mode", "layer", "--tensor-split", "1,1"]);
    let p = rigplan_json(&args);
    let devs = p["memory"]["devices"].as_array().unwrap();
    for (d, w, kv) in [(&devs[1], 2113.28, 544.0), (&devs[2], 2290.21, 480.0)] {
        assert!(near(mib(d, "weights_bytes"), w, 0.001), "{d}");
        assert!(near(mib(d, "kv_bytes"), kv, 0.001), "{d}");
        assert!(near(mib(d, "compute_bytes"), 640.0, 0.15), "{d}");
        // Pipeline parallelism (4 input copies) adds 640 - 560 = 80 MiB per GPU in the
        // published pair; ours adds 3 x (16 MiB mask + 8 MiB hidden state) = 72.
        let extra = mib(d, "compute_bytes") - one_gpu_compute;
        assert!(
            (extra - 80.0).abs() <= 10.0,
            "pipeline copies add {extra} MiB"
        );
    }
    // CUDA_Host compute 72.02 MiB: embeddings 8 MiB + 4 copies of the 16 MiB mask.
    assert!(
        near(mib(&devs[0], "compute_bytes"), 72.02, 0.005),
        "{}",
        devs[0]
    );
}

/// Threads follow predicted speed: with a scorer whose decode peaks at 4 threads (as the
/// seeds saw on starved memory systems), the planner picks 4 on a 16-core CPU-only
/// machine and says why; with the real speed model, which saturates but never declines,
/// the default (all physical cores, which still speed up prompt processing) stands.
#[test]
fn threads_follow_predicted_speed() {
    use rigplan::plan::Speed;
    let spec = sp::catalog_spec("llama-3.1-8b", "Q4_K_M");
    let (_, mut hw) = sp::seed_rigs()
        .into_iter()
        .find(|(n, _)| *n == "xeon-e5-2620v4-cpu")
        .unwrap();
    hw.cpu.physical_cores = 16;
    hw.cpu.threads = 32;
    let req = rigplan::planner::PlanRequest::default();
    let peaked = |_: &rigplan::plan::Layout,
                  _: &rigplan::hardware::HardwareSnapshot,
                  s: &rigplan::plan::Settings| Speed {
        tg_tokens_per_s: if s.threads == 4 { 12.0 } else { 6.0 },
        pp_tokens_per_s: f64::from(s.threads),
        bottleneck: "test".into(),
        ceiling_tg_tokens_per_s: None,
    };
    let mut plan = rigplan::planner::plan_with(&spec, &hw, &req, &peaked).unwrap();
    rigplan::ops::plan::attach_launch_command(&mut plan, req.engine);
    assert_eq!(plan.settings.threads, 4);
    assert_eq!(plan.performance.tg_tokens_per_s, 12.0);
    let why = &plan
        .reasons
        .iter()
        .find(|r| r.setting == "threads")
        .unwrap()
        .why;
    assert!(why.starts_with("4 threads: predicted 12.0 tok/s"), "{why}");
    assert!(plan.args.windows(2).any(|w| w[0] == "-t" && w[1] == "4"));

    let plan = rigplan::planner::plan(&spec, &hw, &req).unwrap();
    assert_eq!(plan.settings.threads, 16);
}

/// DESIGN.md: a unified-memory GPU shares `--ram-gib` with the CPU. Qwen3.5-35B-A3B
/// Q4_K_M at 32k context needs about 21.1 GiB on a Strix Halo GPU. With 22 GiB of RAM
/// the GPU alone would get 21 GiB (RAM minus the 1 GiB GPU margin) and the CPU 20 GiB,
/// so moving experts into "RAM" would fit each device separately; together they must fit
/// in 22 - 2 = 20 GiB, which they cannot, so the plan is refused with the shortfall. With
/// 24 GiB it fits, and the CPU and GPU totals together stay within RAM minus the margin.
#[test]
fn unified_memory_gpu_shares_ram_with_the_cpu() {
    let base = [
        "plan",
        "qwen3.5-35b-a3b:Q4_K_M",
        "--gpu",
        "Strix Halo",
        "--ctx",
        "32768",
        "--ram-gib",
    ];
    let out = crate::support::rigplan()
        .args(base)
        .arg("22")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not fit"), "{err}");
    assert!(err.contains("shares system RAM"), "{err}");

    let mut args: Vec<&str> = base.to_vec();
    args.extend(["24", "--format", "json"]);
    let v = rigplan_json(&args);
    let devs = v["memory"]["devices"].as_array().unwrap();
    let together: u64 = devs
        .iter()
        .map(|d| d["total_bytes"].as_u64().unwrap())
        .sum();
    let ram = 24u64 << 30;
    let host_margin = 2u64 << 30; // max(2 GiB, RAM / 16)
    assert!(
        together <= ram - host_margin,
        "CPU + GPU hold {together} bytes, more than {}",
        ram - host_margin
    );
    let why = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["setting"] == "shared memory")
        .expect("a shared-memory reason");
    assert!(why["why"].as_str().unwrap().contains("shares system RAM"));
}

/// Metal's default working-set limit caps an Apple GPU below its RAM: 2/3 of a 32 GiB
/// machine is 21.3 GiB, so Qwen3.5-35B-A3B Q4_K_M (about 20.6 GiB of GPU memory at 8k)
/// cannot go all on the GPU with the 1 GiB margin; some experts stay with the CPU.
#[test]
fn apple_gpu_is_held_to_the_metal_working_set() {
    let v = rigplan_json(&[
        "plan",
        "qwen3.5-35b-a3b:Q4_K_M",
        "--gpu",
        "Apple M3 Max",
        "--ram-gib",
        "32",
        "--format",
        "json",
    ]);
    let gpu = v["memory"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "gpu")
        .unwrap()
        .clone();
    let limit = (32u64 << 30) / 3 * 2 - (1 << 30);
    assert!(gpu["total_bytes"].as_u64().unwrap() <= limit, "{gpu}");
    assert!(
        v["settings"]["n_cpu_moe"].as_u64().unwrap() > 0,
        "{}",
        v["settings"]
    );
    let warned = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("iogpu.wired_limit_mb"));
    assert!(warned, "{}", v["warnings"]);
}

/// The host side includes llama-server's prompt cache (`--cache-ram`, default 8192 MiB).
/// On the 16 GB RTX 3070 rig the plan leaves less RAM than that, so it caps the cache at
/// what is left (rounded down to 256 MiB) instead of only warning; on the 128 GB Xeon
/// the default fits and nothing is emitted.
#[test]
fn prompt_cache_is_capped_to_the_ram_the_plan_leaves() {
    let v = rigplan_json(&["plan", "--hardware", "desktop-3070-8gb", "--format", "json"]);
    let args: Vec<&str> = v["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = args
        .iter()
        .position(|a| *a == "-cram")
        .expect("-cram emitted");
    let cap_mib: u64 = args[at + 1].parse().unwrap();
    let cpu = &v["memory"]["devices"][0];
    let ram = cpu["capacity_bytes"].as_u64().unwrap();
    let left = ram - cpu["margin_bytes"].as_u64().unwrap() - cpu["total_bytes"].as_u64().unwrap();
    assert!(cap_mib > 0 && cap_mib % 256 == 0, "{cap_mib}");
    assert!(
        cap_mib << 20 <= left && left - (cap_mib << 20) < 256 << 20,
        "{cap_mib} MiB vs {left} bytes left"
    );
    assert!(cap_mib < 8192);

    let v = rigplan_json(&[
        "plan",
        "--hardware",
        "xeon-e5-2620v4-cpu",
        "--format",
        "json",
    ]);
    assert!(
        !v["args"].as_array().unwrap().iter().any(|a| a == "-cram"),
        "{}",
        v["command"]
    );
}

/// Issue 5: "plan shows the top alternatives with their predicted speed and quality".
/// Every alternative quant carries its mean KLD (perf::quality), and more bits per
/// weight never means a worse KLD among them.
#[test]
fn alternatives_carry_speed_and_quality() {
    let v = rigplan_json(&["plan", "--hardware", "z440-2x3060", "--format", "json"]);
    let alts = v["alternatives"].as_array().unwrap();
    assert!(alts.len() >= 3, "{alts:?}");
    let mut by_quant: Vec<(String, f64)> = Vec::new();
    for a in alts {
        assert!(a["tg_tokens_per_s"].as_f64().unwrap() > 0.0, "{a}");
        let kld = a["mean_kld"]
            .as_f64()
            .unwrap_or_else(|| panic!("no quality: {a}"));
        by_quant.push((a["quant"].as_str().unwrap().to_string(), kld));
    }
    let kld = |q: &str| by_quant.iter().find(|(x, _)| x == q).map(|(_, k)| *k);
    // The quant alternatives are the neighbours in bits per weight of the chosen quant
    // (IQ4_XS since the published Q4_K_M is counted at its 22.0 GB): more bits, lower KLD.
    let (q4, q3) = (kld("Q4_K_M").unwrap(), kld("Q3_K_M").unwrap());
    assert!(q4 < q3, "Q4_K_M {q4} vs Q3_K_M {q3}");
}

/// `plan --sweep` through the binary: JSON with one point per value, and the table with
/// its chart; bad combinations are exit 2.
#[test]
fn plan_sweeps_print_json_and_a_chart() {
    let j = rigplan_json(&[
        "plan",
        "qwen3-30b-a3b",
        "--hardware",
        "z440-2x3060",
        "--sweep",
        "n-cpu-moe",
        "--format",
        "json",
    ]);
    assert_eq!(j["sweep"], "n-cpu-moe");
    let points = j["points"].as_array().unwrap();
    assert_eq!(points.first().unwrap()["value"], "0");
    assert_eq!(points.last().unwrap()["value"], "48");
    for p in points.iter().filter(|p| p["fits"] == true) {
        assert_eq!(p["n_cpu_moe"].to_string(), p["value"].as_str().unwrap());
        assert!(p["memory"].as_array().unwrap().len() == 3, "{p}");
        assert!(p["tg_tokens_per_s"].as_f64().unwrap() > 0.0);
    }
    let o = crate::support::rigplan()
        .args([
            "plan",
            "llama-3.1-8b",
            "--hardware",
            "desktop-3090",
            "--ctx",
            "4096",
        ])
        .args(["--sweep", "parallel"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("all slots generating, tok/s")
            && text.contains("concurrent slots of 4096 tokens fit"),
        "{text}"
    );
    for bad in [
        &[
            "plan",
            "llama-3.1-8b",
            "--sweep",
            "n-cpu-moe",
            "--hardware",
            "desktop-3090",
        ][..],
        &[
            "plan",
            "--sweep",
            "ctx",
            "--save",
            "/tmp/x.plan.toml",
            "--hardware",
            "desktop-3090",
        ][..],
        &["plan", "--sweep", "depth"][..],
    ] {
        let o = crate::support::rigplan().args(bad).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
}
