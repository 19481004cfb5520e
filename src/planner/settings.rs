//! Settings the planner chooses besides placement: threads, batch sizes, memory locking,
//! and engine extras. Small pure functions, each returning the value and a one-line
//! reason.

use crate::hardware::HardwareSnapshot;

/// Threads = physical cores, never SMT siblings; on hybrid Intel CPUs the P-cores only
/// (DESIGN.md domain facts; a seed measured 16 SMT threads 8x slower than 8).
pub fn threads(hw: &HardwareSnapshot) -> (u32, String) {
    if let Some(p) = hw.cpu.performance_cores.filter(|p| *p > 0) {
        return (
            p,
            format!(
                "{p} performance cores; efficiency cores and SMT siblings slow memory-bound decode"
            ),
        );
    }
    let n = hw.cpu.physical_cores.max(1);
    (
        n,
        format!("{n} physical cores; SMT siblings add no memory bandwidth"),
    )
}

/// `--mlock` when everything the host holds fits in RAM and in RLIMIT_MEMLOCK
/// (`None` = unlimited or unknown, see the snapshot notes).
pub fn mlock(hw: &HardwareSnapshot, host_bytes: u64, host_budget: u64) -> (bool, String) {
    if host_bytes > host_budget {
        return (
            false,
            "host memory is tight: locking would starve the system".into(),
        );
    }
    match hw.memory.memlock_limit_bytes {
        Some(l) if l < host_bytes => (
            false,
            format!(
                "RLIMIT_MEMLOCK is {} MiB, below the {} MiB to lock (raise LimitMEMLOCK to enable)",
                l / (1 << 20),
                host_bytes / (1 << 20)
            ),
        ),
        _ => (
            true,
            "fits in RAM and the memlock limit: keeps weights from being paged out".into(),
        ),
    }
}
