//! `detect`: probe this machine (or a recorded tree) into a [`HardwareSnapshot`].
//!
//! Wires the probes together through [`Probes`] — the injectable root, NVML behind
//! [`GpuProbe`], a [`CommandRunner`] — so the same function runs on this machine and on
//! fixtures. Nothing here fails: a source that cannot be read leaves a note.

use super::exec::{CommandRunner, SystemRunner};
use super::gpu::nvidia::{GpuProbe, NvmlProbe, RecordedNvml};
use super::root::HostRoot;
use super::{bandwidth, cpu, gpu, memory, system};
use super::{HardwareSnapshot, SNAPSHOT_SCHEMA_VERSION};

/// Everything `detect` reads from.
pub struct Probes<'a> {
    pub root: HostRoot,
    pub nvml: &'a dyn GpuProbe,
    pub runner: &'a dyn CommandRunner,
    /// Ask CPUID (only meaningful when `root` is this machine's `/`).
    pub use_cpuid: bool,
    /// Run the memory bandwidth probe (seconds).
    pub measure: bool,
}

/// Probes under `p` into a snapshot.
pub fn detect_with(p: &Probes) -> HardwareSnapshot {
    let mut notes = Vec::new();
    let cpuid = if p.use_cpuid {
        cpu::cpuid_identity()
    } else {
        None
    };
    let cpu = cpu::probe(&p.root, cpuid.as_ref(), &mut notes);
    let mut memory = memory::probe(&p.root, p.runner, &mut notes);
    let mut gpus = gpu::probe(&p.root, p.nvml, &mut notes);
    gpu::runtimes::record(&p.root, &mut gpus.gpus, &mut notes);
    gpu::vulkan_info::record(p.runner, &mut gpus.gpus, &mut notes);
    // Unified-memory GPUs (Strix Halo, GB10) address system RAM; the kernel's "VRAM" for
    // them is a carve-out or unreported, so their usable memory is the RAM total.
    for g in gpus.gpus.iter_mut().filter(|g| g.unified_memory) {
        if g.vram_bytes < memory.total_bytes {
            notes.push(format!(
                "gpu {}: {} shares system RAM; VRAM taken as the RAM total",
                g.index, g.name
            ));
            g.vram_bytes = memory.total_bytes;
            g.vram_free_bytes = memory.available_bytes;
        }
        if memory.theoretical_bandwidth_gbs.is_none() && g.bandwidth_gbs.is_some() {
            memory.theoretical_bandwidth_gbs = g.bandwidth_gbs;
            notes.push(format!(
                "memory: peak bandwidth taken from the GPU table for {} (same memory)",
                g.name
            ));
        }
    }
    let hypervisor = cpuid.as_ref().is_some_and(|c| c.hypervisor) || cpu::hypervisor_flag(&p.root);
    let mut system = system::probe(&p.root, p.runner, hypervisor, &mut notes);
    system.nvidia_driver_version = gpus.nvidia_driver_version.clone();
    system.cuda_driver_version = gpus.cuda_driver_version.clone();

    if p.measure {
        let threads = usize::try_from(cpu.physical_cores.max(1)).unwrap_or(1);
        match bandwidth::measure(threads, cpu.l3_bytes, memory.available_bytes) {
            Some(m) => {
                memory.measured_bandwidth_gbs = Some(m.gbs);
                notes.push(format!(
                    "memory: measured {:.1} GB/s read bandwidth ({} threads summing {} MiB, best of {} passes)",
                    m.gbs,
                    m.threads,
                    m.buffer_bytes / (1024 * 1024),
                    m.passes
                ));
            }
            None => notes.push("memory: bandwidth probe could not allocate its buffer".into()),
        }
    }
    let host = p
        .root
        .read_trim("/proc/sys/kernel/hostname")
        .unwrap_or_else(|| "this machine".into());
    HardwareSnapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        source: format!("detected on {host}"),
        cpu,
        memory,
        gpus: gpus.gpus,
        system,
        notes,
    }
}

/// Detects this machine. `RIGPLAN_SYSROOT` (a recorded tree) and
/// `RIGPLAN_NVML_RECORDING` (a recorded NVML answer) replace the live sources — the
/// integration tests use them to run the binary against other machines' recordings.
pub fn detect_this_machine(measure: bool) -> HardwareSnapshot {
    let root = std::env::var_os("RIGPLAN_SYSROOT").map_or_else(HostRoot::live, HostRoot::at);
    let recorded = std::env::var_os("RIGPLAN_NVML_RECORDING")
        .map(|p| RecordedNvml::from_file(std::path::Path::new(&p)));
    let live_nvml = NvmlProbe;
    let nvml: &dyn GpuProbe = match &recorded {
        Some(r) => r,
        None => &live_nvml,
    };
    let no_cmds = super::exec::NoCommands;
    let runner: &dyn CommandRunner = if root.is_live() {
        &SystemRunner
    } else {
        &no_cmds
    };
    detect_with(&Probes {
        use_cpuid: root.is_live(),
        root,
        nvml,
        runner,
        measure,
    })
}
