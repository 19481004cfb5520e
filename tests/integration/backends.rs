//! Backends as a dimension (issue 13): what `detect` records, `--backend` pins on plan,
//! build and export (bad values and backends a GPU cannot use are exit 2 naming them),
//! and GPUs given by their numbers (`--gpu-spec`, and the same fields in a snapshot).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{run_json, run_stdout};
use crate::support_model::{entry, write_catalog_model};
use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn rigplan() -> Command {
    let mut c = crate::support::rigplan();
    c.env_remove("RIGPLAN_SYSROOT")
        .env_remove("RIGPLAN_NVML_RECORDING")
        .env(
            "RIGPLAN_DATA_DIR",
            std::env::temp_dir().join("rigplan-no-calibration"),
        );
    c
}

fn fails_with(cmd: &mut Command, code: i32, wants: &[&str]) {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    for w in wants {
        assert!(err.contains(w), "missing '{w}' in: {err}");
    }
}

const FOO: &str = "name=Foo 9000,vram_gib=48,bandwidth_gbs=1200,fp16_tflops=150,vendor=nvidia,compute_capability=9.0";

#[test]
fn detect_records_each_gpus_backends() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hardware");
    let v: Value = run_json(
        rigplan()
            .args(["detect", "--format", "json"])
            .env("RIGPLAN_SYSROOT", fixtures.join("dual-3060-z440"))
            .env(
                "RIGPLAN_NVML_RECORDING",
                fixtures.join("dual-3060-z440/nvml.toml"),
            ),
    );
    for g in v["gpus"].as_array().unwrap() {
        assert_eq!(g["backends"], serde_json::json!(["cuda"]), "{g}");
    }
    // The recorded tree holds no driver library: the runtime is assumed, and said so.
    let notes = v["notes"].to_string();
    assert!(notes.contains("assuming cuda"), "{notes}");
    let table = rigplan()
        .args(["detect", "--format", "table"])
        .env("RIGPLAN_SYSROOT", fixtures.join("dual-3060-z440"))
        .env(
            "RIGPLAN_NVML_RECORDING",
            fixtures.join("dual-3060-z440/nvml.toml"),
        )
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("backends cuda"));
}

#[test]
fn plan_chooses_a_backend_and_backend_pins_one() {
    let plan = |extra: &[&str]| -> Value {
        run_json(
            rigplan()
                .args(["plan", "llama-3.1-8b", "--hardware", "z440-2x3060"])
                .args(extra)
                .args(["--format", "json"]),
        )
    };
    let chosen = plan(&[]);
    assert_eq!(chosen["settings"]["backend"], "cuda");
    let why = chosen["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["setting"] == "backend")
        .unwrap()["why"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("runner-up vulkan"), "{why}");
    let vulkan = plan(&["--backend", "vulkan"]);
    assert_eq!(vulkan["settings"]["backend"], "vulkan");
    assert!(
        vulkan["reasons"]
            .to_string()
            .contains("rigplan build --backend vulkan"),
        "{}",
        vulkan["reasons"]
    );
    // An NVIDIA and an AMD GPU share only Vulkan.
    let mixed = plan(&["--gpu", "3090", "--gpu", "RX 7900 XTX"]);
    assert_eq!(mixed["settings"]["backend"], "vulkan");
    let cpu = plan(&["--backend", "cpu"]);
    assert_eq!(cpu["settings"]["backend"], "cpu");
    assert_eq!(cpu["settings"]["n_gpu_layers"], 0);
    fails_with(
        rigplan().args(["plan", "--hardware", "z440-2x3060", "--backend", "opencl"]),
        2,
        &["--backend 'opencl'", "cuda, rocm, vulkan, metal, sycl, cpu"],
    );
    fails_with(
        rigplan().args(["plan", "--hardware", "z440-2x3060", "--backend", "rocm"]),
        2,
        &["--backend 'rocm'", "available: cuda, vulkan, cpu"],
    );
    fails_with(
        rigplan().args([
            "plan",
            "--hardware",
            "xeon-e5-2620v4-cpu",
            "--backend",
            "cuda",
        ]),
        2,
        &["--backend 'cuda'", "no GPU"],
    );
}

#[test]
fn build_and_export_follow_the_backend() {
    let script = |backend: &str| {
        run_stdout(rigplan().args(["build", "--hardware", "z440-2x3060", "--backend", backend]))
    };
    let vk = script("vulkan");
    assert!(
        vk.contains("-DGGML_VULKAN=ON") && !vk.contains("-DGGML_CUDA=ON"),
        "{vk}"
    );
    let cuda = script("cuda");
    assert!(cuda.contains("-DGGML_CUDA=ON") && cuda.contains("CMAKE_CUDA_ARCHITECTURES=86"));
    fails_with(
        rigplan().args(["build", "--hardware", "z440-2x3060", "--backend", "metal"]),
        2,
        &["--backend 'metal'", "available: cuda, vulkan"],
    );

    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("llama-3.1-8b-Q4_K_M.gguf");
    write_catalog_model(&entry("llama-3.1-8b"), "Q4_K_M", &model);
    let launch = |backend: &str| {
        run_stdout(
            rigplan()
                .arg("export")
                .arg(&model)
                .args(["--hardware", "z440-2x3060", "--backend", backend])
                .args(["--as", "script", "--engine-bin", "/opt/llama/bin"]),
        )
    };
    let vk = launch("vulkan");
    assert!(vk.contains("GGML_VK_VISIBLE_DEVICES"), "{vk}");
    assert!(!vk.contains("CUDA_VISIBLE_DEVICES"), "{vk}");
    assert!(launch("cuda").contains("CUDA_VISIBLE_DEVICES"));
}

#[test]
fn a_gpu_by_its_numbers() {
    let v: Value = run_json(
        rigplan()
            .args([
                "plan",
                "llama-3.1-8b",
                "--hardware",
                "z440-2x3060",
                "--gpu-spec",
                FOO,
            ])
            .args(["--format", "json"]),
    );
    let gpu = &v["memory"]["devices"].as_array().unwrap()[1];
    assert!(gpu["name"].as_str().unwrap().contains("Foo 9000"), "{gpu}");
    assert_eq!(gpu["capacity_bytes"].as_u64().unwrap(), 48 << 30);
    fails_with(
        rigplan().args([
            "plan",
            "--hardware",
            "z440-2x3060",
            "--gpu-spec",
            &FOO.replace("bandwidth_gbs=1200", "bandwidth_gbs=0"),
        ]),
        2,
        &["bandwidth_gbs '0' must be between 1 and 50000"],
    );
    fails_with(
        rigplan().args(["plan", "--hardware", "z440-2x3060", "--gpu", "Foo 9000"]),
        2,
        &[
            "unknown GPU 'Foo 9000'",
            "closest in the GPU table",
            "--gpu-spec 'name=Foo 9000,",
        ],
    );
    // The same fields in a snapshot file's GPU entry.
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("foo.toml");
    let preset = rigplan::hardware::presets::get("z440-2x3060")
        .unwrap()
        .unwrap();
    let mut text = String::new();
    for line in toml::to_string(&preset).unwrap().lines() {
        if line.starts_with("[[gpus]]") {
            break;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(
        "[[gpus]]\nname = \"Foo 9000\"\nvendor = \"other\"\nvram_gib = 24\nbandwidth_gbs = 800.0\nfp16_tflops = 90.0\n",
    );
    std::fs::write(&snap, &text).unwrap();
    let v: Value = run_json(
        rigplan()
            .args(["plan", "llama-3.1-8b", "--hardware"])
            .arg(&snap)
            .args(["--format", "json"]),
    );
    assert_eq!(v["settings"]["backend"], "vulkan", "{}", v["settings"]);
    std::fs::write(&snap, text.replace("vram_gib = 24", "vram_gib = -1")).unwrap();
    fails_with(
        rigplan().args(["plan", "--hardware"]).arg(&snap),
        2,
        &["vram_gib '-1' must be between"],
    );
}
