//! A hardware description → one [`HardwareSnapshot`]: the single entry point every
//! planning command uses, given as a [`HardwareQuery`] (the command line's HARDWARE
//! options, validated by this module; `commands` only copies them in).
//!
//! Order: `--hardware PATH|PRESET` (an existing file wins over a preset of the same
//! name) or else detect this machine; then the what-if options replace parts:
//! `--gpu` (repeatable; replaces all GPUs), `--no-gpu`, `--ram-gib`,
//! `--ram-bandwidth-gbs` (theoretical peak), `--cpu-cores`. A unified-memory GPU
//! (Apple, Strix Halo, GB10) shares system RAM: its VRAM is the RAM size. Every change
//! is recorded in the snapshot's notes and source. Bad values are exit-2 errors.

use super::detect::detect_this_machine;
use super::{gpu_spec, gpu_table, presets, snapshot_file, HardwareSnapshot};
use crate::error::{user_error, Result};
use crate::units::GIB;
use std::path::Path;

/// Which machine to describe: a snapshot file or preset (else this machine), and the
/// parts to replace. Field names follow the options they come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HardwareQuery {
    /// `--hardware PATH|PRESET`; `None` detects this machine.
    pub hardware: Option<String>,
    pub what_if: WhatIf,
}

/// The what-if options: parts of a machine replaced or added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WhatIf {
    /// `--gpu NAME` (repeatable): these GPUs from the bundled table replace all GPUs.
    pub gpus: Vec<String>,
    /// `--gpu-spec FIELDS` (repeatable): GPUs by their numbers, after the `--gpu` ones.
    pub gpu_specs: Vec<String>,
    /// `--ram-gib N`.
    pub ram_gib: Option<f64>,
    /// `--ram-bandwidth-gbs N`, theoretical peak.
    pub ram_bandwidth_gbs: Option<f64>,
    /// `--cpu-cores N`.
    pub cpu_cores: Option<u32>,
    /// `--no-gpu`.
    pub no_gpu: bool,
}

pub fn resolve(query: &HardwareQuery) -> Result<HardwareSnapshot> {
    let base = match &query.hardware {
        Some(h) => load(h)?,
        None => detect_this_machine(false),
    };
    apply_what_if(base, &query.what_if)
}

/// A snapshot file if `spec` names an existing file, else a preset, else exit 2.
pub fn load(spec: &str) -> Result<HardwareSnapshot> {
    let path = Path::new(spec);
    if path.is_file() {
        return snapshot_file::read(path);
    }
    match presets::get(spec) {
        Some(s) => s,
        None => Err(user_error(format!(
            "--hardware '{spec}' is neither a snapshot file nor a preset; presets: {}",
            presets::names().join(", ")
        ))),
    }
}

/// Applies the what-if options to `snap`.
pub fn apply_what_if(mut snap: HardwareSnapshot, args: &WhatIf) -> Result<HardwareSnapshot> {
    let mut changes: Vec<String> = Vec::new();
    if args.no_gpu && !(args.gpus.is_empty() && args.gpu_specs.is_empty()) {
        return Err(user_error(
            "--no-gpu and --gpu/--gpu-spec contradict each other; give one",
        ));
    }
    if let Some(gib) = args.ram_gib {
        if !gib.is_finite() || gib <= 0.0 || gib > 1.0e6 {
            return Err(user_error(format!(
                "--ram-gib '{gib}' must be a positive number of GiB"
            )));
        }
        snap.memory.total_bytes = (gib * GIB as f64).round() as u64;
        snap.memory.available_bytes = None;
        snap.notes.push(format!(
            "what-if: RAM set to {gib} GiB (available memory unknown)"
        ));
        changes.push(format!("--ram-gib {gib}"));
    }
    if let Some(bw) = args.ram_bandwidth_gbs {
        if !bw.is_finite() || bw <= 0.0 || bw > 1.0e5 {
            return Err(user_error(format!(
                "--ram-bandwidth-gbs '{bw}' must be a positive GB/s figure"
            )));
        }
        snap.memory.theoretical_bandwidth_gbs = Some(bw);
        snap.memory.measured_bandwidth_gbs = None;
        snap.notes.push(format!(
            "what-if: RAM theoretical bandwidth set to {bw} GB/s"
        ));
        changes.push(format!("--ram-bandwidth-gbs {bw}"));
    }
    if let Some(cores) = args.cpu_cores {
        if cores == 0 || cores > 65536 {
            return Err(user_error(format!(
                "--cpu-cores '{cores}' must be between 1 and 65536"
            )));
        }
        // Keep the machine's threads-per-core ratio (SMT) for the new core count.
        let smt = snap
            .cpu
            .threads
            .checked_div(snap.cpu.physical_cores)
            .unwrap_or(1)
            .max(1);
        snap.cpu.physical_cores = cores;
        snap.cpu.threads = cores.saturating_mul(smt);
        snap.cpu.performance_cores = None;
        snap.cpu.efficiency_cores = None;
        snap.notes.push(format!(
            "what-if: {cores} physical CPU cores ({} threads)",
            snap.cpu.threads
        ));
        changes.push(format!("--cpu-cores {cores}"));
    }
    if args.no_gpu {
        snap.gpus.clear();
        snap.notes.push("what-if: no GPU".into());
        changes.push("--no-gpu".into());
    }
    if !args.gpus.is_empty() || !args.gpu_specs.is_empty() {
        let mut gpus = Vec::new();
        for (i, name) in args.gpus.iter().enumerate() {
            let spec = gpu_table::lookup(name)?;
            gpus.push(spec.to_gpu_info(u32::try_from(i).unwrap_or(u32::MAX)));
        }
        for spec in &args.gpu_specs {
            let index = u32::try_from(gpus.len()).unwrap_or(u32::MAX);
            gpus.push(gpu_spec::parse(spec, index)?);
        }
        if let Some(unified) = gpus.iter().find(|g| g.unified_memory) {
            if args.ram_gib.is_none() {
                // No RAM size given: the unified part's largest memory configuration.
                snap.memory.total_bytes = unified.vram_bytes;
                snap.memory.available_bytes = None;
                snap.notes.push(format!(
                    "what-if: {} has unified memory; RAM set to its largest configuration ({} GiB) — pass --ram-gib for yours",
                    unified.name,
                    unified.vram_bytes / GIB
                ));
            }
            if args.ram_bandwidth_gbs.is_none() {
                snap.memory.theoretical_bandwidth_gbs = unified.bandwidth_gbs;
                snap.memory.measured_bandwidth_gbs = None;
            }
        }
        for g in gpus.iter_mut().filter(|g| g.unified_memory) {
            g.vram_bytes = snap.memory.total_bytes;
        }
        snap.notes.push(format!(
            "what-if: GPUs replaced by {}",
            gpus.iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>()
                .join(" + ")
        ));
        changes.push(
            args.gpus
                .iter()
                .map(|g| format!("--gpu '{g}'"))
                .chain(args.gpu_specs.iter().map(|g| format!("--gpu-spec '{g}'")))
                .collect::<Vec<_>>()
                .join(" "),
        );
        snap.gpus = gpus;
    }
    if !changes.is_empty() {
        snap.source = format!("{} + {}", snap.source, changes.join(" "));
    }
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EXIT_BAD_INPUT;

    fn args() -> HardwareQuery {
        HardwareQuery {
            hardware: Some("z440-2x3060".into()),
            ..HardwareQuery::default()
        }
    }

    #[test]
    fn presets_resolve_and_what_ifs_replace_parts() {
        let s = resolve(&args()).unwrap();
        assert_eq!(s.gpus.len(), 2);
        let mut a = args();
        a.what_if.gpus = vec!["3090".into()];
        a.what_if.ram_gib = Some(64.0);
        a.what_if.cpu_cores = Some(8);
        let s = resolve(&a).unwrap();
        assert_eq!(s.gpus.len(), 1);
        assert_eq!(s.gpus[0].name, "NVIDIA GeForce RTX 3090");
        assert_eq!(s.memory.total_bytes, 64 * GIB);
        assert_eq!((s.cpu.physical_cores, s.cpu.threads), (8, 16));
        assert!(s.source.contains("--gpu '3090'"), "{}", s.source);
        let mut a = args();
        a.what_if.no_gpu = true;
        a.what_if.ram_bandwidth_gbs = Some(51.2);
        let s = resolve(&a).unwrap();
        assert!(s.gpus.is_empty());
        assert_eq!(s.memory.theoretical_bandwidth_gbs, Some(51.2));
    }

    #[test]
    fn unified_gpus_share_ram() {
        let mut a = args();
        a.what_if.gpus = vec!["M4 Max".into()];
        a.what_if.ram_gib = Some(64.0);
        let s = resolve(&a).unwrap();
        assert_eq!(s.gpus[0].vram_bytes, 64 * GIB);
        assert!(s.gpus[0].unified_memory);
        assert_eq!(s.memory.theoretical_bandwidth_gbs, Some(546.0));
        let mut a = args();
        a.what_if.gpus = vec!["GB10".into()];
        let s = resolve(&a).unwrap();
        assert_eq!(s.memory.total_bytes, 128 * GIB);
        assert_eq!(s.gpus[0].vram_bytes, 128 * GIB);
    }

    #[test]
    fn bad_inputs_are_exit_2() {
        type Change = Box<dyn Fn(&mut HardwareQuery)>;
        let cases: Vec<Change> = vec![
            Box::new(|a| a.hardware = Some("no-such-preset".into())),
            Box::new(|a| a.what_if.gpus = vec!["RTX 9999".into()]),
            Box::new(|a| a.what_if.ram_gib = Some(-1.0)),
            Box::new(|a| a.what_if.ram_gib = Some(f64::NAN)),
            Box::new(|a| a.what_if.ram_bandwidth_gbs = Some(0.0)),
            Box::new(|a| a.what_if.cpu_cores = Some(0)),
            Box::new(|a| {
                a.what_if.no_gpu = true;
                a.what_if.gpus = vec!["3090".into()];
            }),
        ];
        for set in cases {
            let mut a = args();
            set(&mut a);
            let e = resolve(&a).unwrap_err();
            assert_eq!(e.exit_code(), EXIT_BAD_INPUT, "{e:#}");
        }
        let e = load("nope").unwrap_err();
        assert!(format!("{e:#}").contains("z440-2x3060"));
    }
}
