//! Interim adapters, to be replaced when the `hw`, `planner` and `perf` branches land.
//!
//! `tune` needs a machine snapshot, the plan's settings and a speed prediction. Until
//! `hardware::resolve::resolve`, `planner::plan` and `perf::predict` are merged, these
//! stand in — each clearly marked, each small, none pretending to be the real thing:
//! - [`interim_snapshot`]: a snapshot file, or CPU cores and RAM from `sysinfo`, with the
//!   what-if options applied; no GPU detection, no bandwidth unless given.
//! - [`interim_plan_settings`]: llama.cpp's defaults for this machine with the user's
//!   pins applied (no memory fitting, no quant choice).
//!
//! Wiring to the real pieces replaces these two calls in `commands::tune` and nothing else.

use crate::cli::{HardwareArgs, PinArgs};
use crate::error::user_error;
use crate::hardware::snapshot::{CpuInfo, MemoryInfo, SNAPSHOT_SCHEMA_VERSION};
use crate::hardware::HardwareSnapshot;
use crate::planner::Settings;
use anyhow::Context;

/// Interim stand-in for `hardware::resolve::resolve`.
pub fn interim_snapshot(args: &HardwareArgs) -> anyhow::Result<HardwareSnapshot> {
    let mut snap = match &args.hardware {
        Some(reference) => read_snapshot_file(reference)?,
        None => detect_minimal(),
    };
    if let Some(gib) = args.ram_gib {
        if !(gib.is_finite() && gib > 0.0) {
            return Err(user_error(format!(
                "--ram-gib '{gib}': must be a positive number"
            )));
        }
        snap.memory.total_bytes = (gib * (1u64 << 30) as f64) as u64;
    }
    if let Some(gbs) = args.ram_bandwidth_gbs {
        if !(gbs.is_finite() && gbs > 0.0) {
            return Err(user_error(format!(
                "--ram-bandwidth-gbs '{gbs}': must be a positive number"
            )));
        }
        snap.memory.theoretical_bandwidth_gbs = Some(gbs);
    }
    if let Some(cores) = args.cpu_cores {
        if cores == 0 {
            return Err(user_error("--cpu-cores '0': must be at least 1"));
        }
        snap.cpu.physical_cores = cores;
        snap.cpu.threads = snap.cpu.threads.max(cores);
    }
    if args.no_gpu {
        snap.gpus.clear();
    }
    if !args.gpus.is_empty() {
        return Err(user_error(
            "--gpu: tune measures this machine; what-if GPUs cannot be benchmarked",
        ));
    }
    Ok(snap)
}

fn read_snapshot_file(reference: &str) -> anyhow::Result<HardwareSnapshot> {
    let path = std::path::Path::new(reference);
    if !path.is_file() {
        return Err(user_error(format!(
            "--hardware '{reference}': no such snapshot file (presets need the hardware module)"
        )));
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading '{reference}'"))?;
    let parsed: Result<HardwareSnapshot, String> = if reference.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        toml::from_str(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| {
        user_error(format!(
            "--hardware '{reference}': {}",
            e.replace('\n', " ")
        ))
    })
}

fn detect_minimal() -> HardwareSnapshot {
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    sys.refresh_cpu_all();
    let logical = sys.cpus().len().max(1) as u32;
    let physical = sys
        .physical_core_count()
        .map_or(logical, |c| c as u32)
        .max(1);
    let brand = sys
        .cpus()
        .first()
        .map(|c| c.brand().to_string())
        .unwrap_or_default();
    HardwareSnapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        source: "interim detection (sysinfo: cores and RAM only)".into(),
        cpu: CpuInfo {
            brand,
            arch: std::env::consts::ARCH.into(),
            physical_cores: physical,
            threads: logical,
            sockets: 1,
            numa_nodes: 1,
            ..CpuInfo::default()
        },
        memory: MemoryInfo {
            total_bytes: sys.total_memory(),
            available_bytes: Some(sys.available_memory()),
            ..MemoryInfo::default()
        },
        gpus: vec![],
        system: Default::default(),
        notes: vec!["interim detection: no GPUs, no memory bandwidth".into()],
    }
}

fn parse_on_off(name: &str, v: &str) -> anyhow::Result<bool> {
    match v {
        "on" | "1" | "true" => Ok(true),
        "off" | "0" | "false" => Ok(false),
        _ => Err(user_error(format!("{name} '{v}': expected on or off"))),
    }
}

/// Interim stand-in for `planner::plan(..).settings`: llama.cpp's defaults (common/common.h
/// `common_params`: n_batch 2048, n_ubatch 512, f16 KV) on all physical cores, every layer
/// on the GPU when there is one, flash attention on, mmap — then the user's pins.
pub fn interim_plan_settings(snap: &HardwareSnapshot, pins: &PinArgs) -> anyhow::Result<Settings> {
    let mut s = Settings {
        quant: pins.quant.clone(),
        n_gpu_layers: if snap.gpus.is_empty() { 0 } else { 999 },
        n_cpu_moe: 0,
        ctx: 4096,
        predict: 512,
        cache_type_k: "f16".into(),
        cache_type_v: "f16".into(),
        threads: snap.cpu.physical_cores.max(1),
        batch: 2048,
        ubatch: 512,
        parallel: 1,
        split_mode: "layer".into(),
        tensor_split: vec![],
        flash_attn: true,
        mlock: false,
        mmap: true,
        override_tensors: vec![],
        gpu_indices: snap.gpus.iter().map(|g| g.index).collect(),
    };
    if let Some(v) = pins.ngl {
        s.n_gpu_layers = v;
    }
    if let Some(v) = pins.n_cpu_moe {
        s.n_cpu_moe = v;
    }
    if let Some(v) = pins.ctx {
        s.ctx = v;
    }
    if let Some(v) = pins.predict {
        s.predict = v;
    }
    if let Some(v) = &pins.ctk {
        s.cache_type_k = v.clone();
    }
    if let Some(v) = &pins.ctv {
        s.cache_type_v = v.clone();
    }
    for (name, v) in [
        ("--threads", pins.threads),
        ("--batch", pins.batch),
        ("--ubatch", pins.ubatch),
        ("--parallel", pins.parallel),
    ] {
        if v == Some(0) {
            return Err(user_error(format!("{name} '0': must be at least 1")));
        }
    }
    if let Some(v) = pins.threads {
        s.threads = v;
    }
    if let Some(v) = pins.batch {
        s.batch = v;
    }
    if let Some(v) = pins.ubatch {
        s.ubatch = v;
        s.batch = s.batch.max(v);
    }
    if let Some(v) = pins.parallel {
        s.parallel = v;
    }
    if let Some(v) = &pins.split_mode {
        s.split_mode = v.clone();
    }
    if let Some(v) = &pins.flash_attn {
        s.flash_attn = parse_on_off("--flash-attn", v)?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_override_defaults_and_bad_pins_are_exit_2() {
        let snap = interim_snapshot(&HardwareArgs {
            cpu_cores: Some(6),
            ram_bandwidth_gbs: Some(40.0),
            ..HardwareArgs::default()
        })
        .unwrap();
        assert_eq!(snap.cpu.physical_cores, 6);
        assert_eq!(snap.memory.theoretical_bandwidth_gbs, Some(40.0));
        let s = interim_plan_settings(
            &snap,
            &PinArgs {
                ubatch: Some(4096),
                flash_attn: Some("off".into()),
                ..PinArgs::default()
            },
        )
        .unwrap();
        assert_eq!(
            (s.threads, s.ubatch, s.batch, s.flash_attn),
            (6, 4096, 4096, false)
        );
        let e = interim_plan_settings(
            &snap,
            &PinArgs {
                flash_attn: Some("maybe".into()),
                ..PinArgs::default()
            },
        )
        .unwrap_err();
        assert_eq!(crate::error::exit_code_for(&e), 2);
        let e = interim_snapshot(&HardwareArgs {
            hardware: Some("/no/such/file.toml".into()),
            ..HardwareArgs::default()
        })
        .unwrap_err();
        assert_eq!(crate::error::exit_code_for(&e), 2);
    }
}
