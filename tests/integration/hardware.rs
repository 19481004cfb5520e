//! `rigplan detect`, `catalog gpus|hardware`, snapshots and what-if resolution, run
//! against this machine and against recorded machines (tests/fixtures/hardware/*).

// Test helpers panic on unexpected input by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{run_json, run_stdout};
use assert_cmd::Command;
use rigplan::cli::HardwareArgs;
use rigplan::commands::resolve::hardware as resolve;
use rigplan::error::{exit_code_for, one_line, EXIT_BAD_INPUT};
use rigplan::hardware::snapshot_file::{self, SnapshotFormat};
use rigplan::hardware::{presets, GpuVendor, HardwareSnapshot};
use serde_json::Value;
use std::path::{Path, PathBuf};

const GIB: u64 = 1 << 30;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hardware")
        .join(name)
}

fn rigplan() -> Command {
    let mut c = crate::support::rigplan();
    c.env_remove("RIGPLAN_SYSROOT")
        .env_remove("RIGPLAN_NVML_RECORDING");
    c
}

/// `rigplan detect --format json` on a recorded machine, with NVML answering from `nvml`.
fn detect_fixture(tree: &str, nvml: &str) -> (Value, HardwareSnapshot) {
    let text = run_stdout(
        rigplan()
            .args(["detect", "--format", "json"])
            .env("RIGPLAN_SYSROOT", fixture(tree))
            .env("RIGPLAN_NVML_RECORDING", fixture(nvml)),
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let s: HardwareSnapshot = serde_json::from_str(&text).unwrap();
    (v, s)
}

const NO_NVML: &str = "amd-7900xtx/nvml-unavailable.toml";

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "compares detect with /proc and nproc, which only Linux has"
)]
fn detect_json_on_this_machine_matches_proc_and_nproc() {
    let v: Value = run_json(rigplan().args(["detect", "--format", "json"]));

    // Every DESIGN.md key is present (null allowed where unknown).
    for k in [
        "vendor",
        "brand",
        "microarchitecture",
        "march",
        "physical_cores",
        "threads",
        "sockets",
        "numa_nodes",
        "flags",
    ] {
        assert!(v["cpu"].get(k).is_some(), "cpu.{k} missing");
    }
    for k in [
        "total_bytes",
        "available_bytes",
        "memlock_limit_bytes",
        "theoretical_bandwidth_gbs",
        "measured_bandwidth_gbs",
    ] {
        assert!(v["memory"].get(k).is_some(), "memory.{k} missing");
    }
    assert!(v["gpus"].is_array() && v["notes"].is_array());

    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("reading /proc/cpuinfo");
    let processors = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count() as u64;
    let nproc_all = std::process::Command::new("nproc")
        .arg("--all")
        .output()
        .unwrap();
    let nproc_all: u64 = String::from_utf8_lossy(&nproc_all.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(v["cpu"]["threads"].as_u64(), Some(processors));
    assert_eq!(v["cpu"]["threads"].as_u64(), Some(nproc_all));
    let physical = v["cpu"]["physical_cores"].as_u64().unwrap();
    assert!(physical >= 1 && physical <= processors);
    if let Some(vendor) = cpuinfo.lines().find_map(|l| {
        l.strip_prefix("vendor_id")
            .map(|r| r.trim_start_matches([' ', '\t', ':']).trim().to_string())
    }) {
        assert_eq!(v["cpu"]["vendor"].as_str(), Some(vendor.as_str()));
        let flags_line = cpuinfo.lines().find(|l| l.starts_with("flags")).unwrap();
        for f in v["cpu"]["flags"].as_array().unwrap() {
            assert!(
                flags_line
                    .split_whitespace()
                    .any(|g| g == f.as_str().unwrap()),
                "flag {f} not in /proc/cpuinfo"
            );
        }
        for must in ["avx2", "fma", "sse4_2"] {
            let has = flags_line.split_whitespace().any(|g| g == must);
            let listed = v["cpu"]["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == must);
            assert_eq!(has, listed, "{must}");
        }
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let mem_total_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        v["memory"]["total_bytes"].as_u64(),
        Some(mem_total_kib * 1024)
    );
}

#[test]
fn dual_nvidia_box_reads_nvml_and_pcie_links() {
    let (_, s) = detect_fixture("dual-3060-z440", "dual-3060-z440/nvml.toml");
    assert_eq!(s.cpu.brand, "Intel(R) Xeon(R) CPU E5-1620 v3 @ 3.50GHz");
    assert_eq!(
        (s.cpu.microarchitecture.as_deref(), s.cpu.march.as_deref()),
        (Some("haswell"), Some("haswell"))
    );
    assert_eq!(
        (s.cpu.physical_cores, s.cpu.threads, s.cpu.sockets),
        (4, 8, 1)
    );
    assert_eq!(s.cpu.l3_bytes, Some(10 * 1024 * 1024));
    assert!(s.cpu.has("avx2") && s.cpu.has("fma") && s.cpu.has("bmi2") && !s.cpu.has("avx512f"));
    assert_eq!(s.memory.memlock_limit_bytes, Some(8 * 1024 * 1024));
    // SMBIOS type 17: 4 channels x 2133 MT/s x 8 bytes.
    assert_eq!(s.memory.dimm_type.as_deref(), Some("DDR4"));
    assert_eq!(
        (s.memory.speed_mts, s.memory.channels),
        (Some(2133), Some(4))
    );
    assert!((s.memory.theoretical_bandwidth_gbs.unwrap() - 68.256).abs() < 1e-9);
    assert_eq!(s.gpus.len(), 2);
    for (i, g) in s.gpus.iter().enumerate() {
        assert_eq!(g.index, i as u32);
        assert_eq!(g.vendor, GpuVendor::Nvidia);
        assert_eq!(g.vram_bytes, 12 * GIB);
        assert_eq!(g.compute_capability.as_deref(), Some("8.6"));
        // 192-bit x 7501 MHz x 2 from NVML, not the table.
        assert!(
            (g.bandwidth_gbs.unwrap() - 360.05).abs() < 0.01,
            "{:?}",
            g.bandwidth_gbs
        );
        assert_eq!(g.fp16_tflops, Some(51.0)); // from the GPU table
        let l = g.pcie.unwrap();
        assert_eq!(
            (l.gen, l.width, l.max_gen, l.max_width),
            (Some(3), Some(16), Some(3), Some(16))
        );
        assert_eq!(g.power_limit_w, Some(170.0));
    }
    assert_eq!(s.gpus[1].pci_bus_id.as_deref(), Some("0000:03:00.0"));
    assert_eq!(
        s.system.nvidia_driver_version.as_deref(),
        Some("570.153.02")
    );
    assert_eq!(s.system.cuda_driver_version.as_deref(), Some("12.8"));
    let table = rigplan()
        .arg("detect")
        .env("RIGPLAN_SYSROOT", fixture("dual-3060-z440"))
        .env(
            "RIGPLAN_NVML_RECORDING",
            fixture("dual-3060-z440/nvml.toml"),
        )
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("GPU 1   NVIDIA GeForce RTX 3060 | 12.0 GiB VRAM"),
        "{table}"
    );
    assert!(
        table.contains("PCIe 3.0 x16") && !table.contains("warning"),
        "{table}"
    );
    assert!(table.contains("SSE4.2 AVX AVX2 FMA F16C BMI2"), "{table}");
}

#[test]
fn amd_box_reads_kfd_gfx_target_and_warns_about_a_narrow_link() {
    let (_, s) = detect_fixture("amd-7900xtx", NO_NVML);
    assert_eq!(s.gpus.len(), 1);
    let g = &s.gpus[0];
    assert_eq!(g.vendor, GpuVendor::Amd);
    assert_eq!(g.gfx_target.as_deref(), Some("gfx1100"));
    assert_eq!(g.name, "AMD Radeon RX 7900 XTX");
    assert_eq!(g.vram_bytes, 25753026560);
    assert_eq!(g.vram_free_bytes, Some(25753026560 - 312217600));
    assert_eq!(g.bandwidth_gbs, Some(960.0));
    let l = g.pcie.unwrap();
    assert_eq!(
        (l.gen, l.width, l.max_gen, l.max_width),
        (Some(4), Some(8), Some(4), Some(16))
    );
    assert!(
        s.notes
            .iter()
            .any(|n| n.starts_with("no NVIDIA GPUs (NVML unavailable")),
        "{:?}",
        s.notes
    );
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("/proc/cpuinfo unreadable")),
        "{:?}",
        s.notes
    );
    let out = rigplan()
        .arg("detect")
        .env("RIGPLAN_SYSROOT", fixture("amd-7900xtx"))
        .env("RIGPLAN_NVML_RECORDING", fixture(NO_NVML))
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("warning: GPU 0 (AMD Radeon RX 7900 XTX) runs at PCIe 4.0 x8 (max 4.0 x16)"),
        "{table}"
    );
}

#[test]
fn container_without_drm_has_no_gpus_and_says_why() {
    let (_, s) = detect_fixture("this-machine-container", NO_NVML);
    assert!(s.gpus.is_empty());
    assert!(s.system.container);
    assert_eq!(s.cpu.microarchitecture.as_deref(), Some("zen3"));
    assert!(s.notes.iter().any(|n| n.contains("/sys/class/drm absent")));
    assert!(s.notes.iter().any(|n| n.starts_with("no NVIDIA GPUs (")));
}

#[test]
fn arm_board_cpuinfo_gives_core_name_and_neon_dotprod() {
    let (v, s) = detect_fixture("rpi5-cortex-a76", NO_NVML);
    assert_eq!(s.cpu.arch, "aarch64");
    assert_eq!(s.cpu.vendor, "ARM");
    assert_eq!(s.cpu.brand, "Raspberry Pi 5 Model B Rev 1.0");
    assert_eq!(s.cpu.microarchitecture.as_deref(), Some("cortex-a76"));
    assert_eq!(s.cpu.march.as_deref(), Some("armv8.2-a+fp16+dotprod"));
    assert_eq!((s.cpu.physical_cores, s.cpu.threads), (4, 4));
    let flags: Vec<&str> = v["cpu"]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(flags, ["asimd", "asimdhp", "asimddp", "fphp"]);
    assert_eq!(s.memory.total_bytes, 16608192 * 1024);
}

#[test]
fn hybrid_intel_tells_p_cores_from_e_cores() {
    let (_, s) = detect_fixture("raptorlake-i7-1355u", NO_NVML);
    assert_eq!(s.cpu.microarchitecture.as_deref(), Some("raptorlake"));
    assert_eq!((s.cpu.physical_cores, s.cpu.threads), (10, 12));
    assert_eq!(
        (s.cpu.performance_cores, s.cpu.efficiency_cores),
        (Some(2), Some(8))
    );
    assert!(s.cpu.has("avx_vnni") && !s.cpu.has("avx512f"));
    // 2 x 1.25 MiB (P) + 2 x 2 MiB (E clusters), as lscpu reports "6.5 MiB (4 instances)".
    assert_eq!(s.cpu.l2_bytes, Some(6 * 1024 * 1024 + 512 * 1024));
}

#[test]
fn snapshots_round_trip_through_save_toml_and_json() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["snap.toml", "snap.json"] {
        let path = dir.path().join(name);
        let printed: HardwareSnapshot = run_json(
            rigplan()
                .args(["detect", "--format", "json", "--save"])
                .arg(&path)
                .env("RIGPLAN_SYSROOT", fixture("dual-3060-z440"))
                .env(
                    "RIGPLAN_NVML_RECORDING",
                    fixture("dual-3060-z440/nvml.toml"),
                ),
        );
        let saved = snapshot_file::read(&path).unwrap();
        assert_eq!(saved, printed, "{name}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim_start().starts_with('{'), name.ends_with(".json"));
        // The saved file is a --hardware input like any other.
        let args = HardwareArgs {
            hardware: Some(path.display().to_string()),
            ..Default::default()
        };
        assert_eq!(resolve(&args).unwrap(), printed);
    }
    for name in presets::names() {
        let s = presets::get(name).unwrap().unwrap();
        for fmt in [SnapshotFormat::Toml, SnapshotFormat::Json] {
            let text = snapshot_file::to_string(&s, fmt).unwrap();
            assert_eq!(
                snapshot_file::from_str(&text, fmt, name).unwrap(),
                s,
                "{name} {fmt:?}"
            );
        }
    }
}

#[test]
fn malformed_and_newer_snapshots_are_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "broken.toml",
            "schema_version = 1\n[cpu\nvendor = 'x'\n",
            "malformed snapshot",
        ),
        (
            "missing.toml",
            "schema_version = 1\nsource = 'x'\n",
            "malformed snapshot",
        ),
        (
            "broken.json",
            "{\"schema_version\": 1, \"cpu\": ",
            "malformed snapshot",
        ),
        (
            "future.toml",
            "schema_version = 99\n",
            "newer than this rigplan reads",
        ),
        ("noversion.json", "{}", "no schema_version"),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let args = HardwareArgs {
            hardware: Some(path.display().to_string()),
            ..Default::default()
        };
        let err = resolve(&args).unwrap_err();
        assert_eq!(exit_code_for(&err), EXIT_BAD_INPUT, "{name}");
        let line = one_line(&err);
        assert!(line.contains(want) && line.contains(name), "{name}: {line}");
        assert!(
            !format!("{err:#}").contains('\n'),
            "{name}: not one line: {err:#}"
        );
    }
}

#[test]
fn gpu_names_match_forgivingly_and_bad_names_are_exit_2_with_candidates() {
    let with_gpus = |names: &[&str]| HardwareArgs {
        hardware: Some("xeon-e5-2620v4-cpu".into()),
        gpus: names.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    for q in ["3090", "RTX 3090", "NVIDIA GeForce RTX 3090", "rtx3090"] {
        let s = resolve(&with_gpus(&[q])).unwrap();
        assert_eq!(s.gpus[0].name, "NVIDIA GeForce RTX 3090", "{q}");
    }
    let s = resolve(&with_gpus(&["RTX 3060 12GB", "RTX 3060 12GB"])).unwrap();
    assert_eq!(s.gpus.iter().map(|g| g.index).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(s.memory.total_bytes, 128 * GIB); // CPU and RAM kept from the preset
    let e = resolve(&with_gpus(&["H100"])).unwrap_err();
    assert_eq!(exit_code_for(&e), EXIT_BAD_INPUT);
    assert!(
        one_line(&e).contains("NVIDIA H100 PCIe") && one_line(&e).contains("NVIDIA H100 SXM"),
        "{}",
        one_line(&e)
    );
    let e = resolve(&with_gpus(&["GeForce 9999 Ultra"])).unwrap_err();
    assert_eq!(exit_code_for(&e), EXIT_BAD_INPUT);
    assert!(
        one_line(&e).starts_with("unknown GPU 'GeForce 9999 Ultra'; closest"),
        "{}",
        one_line(&e)
    );
    let e = resolve(&HardwareArgs {
        hardware: Some("z441".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(exit_code_for(&e), EXIT_BAD_INPUT);
    assert!(one_line(&e).contains("z440-2x3060"));
}

#[test]
fn catalogs_list_gpus_and_presets() {
    let out = rigplan()
        .args(["catalog", "gpus", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.len() >= 50);
    assert!(rows
        .iter()
        .all(|r| r["source"].as_str().is_some_and(|s| !s.is_empty())));
    let out = rigplan().args(["catalog", "gpus"]).output().unwrap();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("NVIDIA GeForce RTX 3060 12GB"));
    let out = rigplan()
        .args(["catalog", "hardware", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in [
        "z440-2x3060",
        "desktop-3070-8gb",
        "xeon-e5-2620v4-cpu",
        "ms02-rtxpro4000",
        "desktop-3090",
        "desktop-5090",
    ] {
        assert!(v.get(name).is_some(), "{name}");
    }
    let out = rigplan().args(["catalog", "hardware"]).output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("ms02-rtxpro4000") && table.contains("PCIe 5.0 x8"),
        "{table}"
    );
}

#[test]
fn measure_adds_a_read_bandwidth_figure() {
    let start = std::time::Instant::now();
    let v: Value = run_json(rigplan().args(["detect", "--format", "json", "--measure"]));
    let gbs = v["memory"]["measured_bandwidth_gbs"].as_f64().unwrap();
    // Any real memory system reads faster than 0.1 GB/s and slower than 10 TB/s.
    assert!(gbs > 0.1 && gbs < 10_000.0, "{gbs}");
    assert!(v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("measured")));
    // Debug build: generous bound; the release figure is in the report.
    assert!(start.elapsed().as_secs() < 20);
}
