//! Memory probe: /proc/meminfo totals, the memlock limit, DIMM layout.
//!
//! Reads through a [`HostRoot`]; the DIMM layout comes from the SMBIOS table
//! (`/sys/firmware/dmi/tables/DMI`, see [`super::dmi`]) or, when that is unreadable
//! (it is root-only on most systems), from `dmidecode -t 17` output if the tool runs.
//! Theoretical bandwidth is channels × MT/s × 8 bytes (one 64-bit channel per DIMM
//! channel). Never fails: unknowns are `None` plus a note.

use super::dmi::{self, DimmLayout};
use super::exec::CommandRunner;
use super::root::HostRoot;
use super::MemoryInfo;
use std::time::Duration;

pub fn probe(root: &HostRoot, runner: &dyn CommandRunner, notes: &mut Vec<String>) -> MemoryInfo {
    let mut mem = MemoryInfo::default();
    match root.read("/proc/meminfo") {
        Some(text) => apply_meminfo(&text, &mut mem, notes),
        None => notes.push("memory: /proc/meminfo unreadable".into()),
    }
    match root.read("/proc/self/limits") {
        Some(text) => match memlock_from_limits(&text) {
            Some(Memlock::Bytes(b)) => mem.memlock_limit_bytes = Some(b),
            Some(Memlock::Unlimited) => {
                mem.memlock_unlimited = true;
                notes.push("memory: memlock limit is unlimited (--mlock will work)".into());
            }
            None => notes.push("memory: no 'Max locked memory' line in /proc/self/limits".into()),
        },
        None => notes.push("memory: /proc/self/limits unreadable; memlock limit unknown".into()),
    }
    let layout = dimm_layout(root, runner, notes);
    if let Some(l) = layout {
        mem.dimm_type = l.dimm_type.clone();
        mem.speed_mts = l.speed_mts;
        mem.channels = l.channels;
        if l.channels_guessed {
            notes.push(format!(
                "memory: channel count {} assumed from populated DIMMs (locators name no channels)",
                l.channels.unwrap_or(0)
            ));
        }
        mem.theoretical_bandwidth_gbs = l.theoretical_gbs();
    }
    mem
}

fn dimm_layout(
    root: &HostRoot,
    runner: &dyn CommandRunner,
    notes: &mut Vec<String>,
) -> Option<DimmLayout> {
    // SMBIOS tables are tiny (tens of KiB); 1 MiB caps a hostile file.
    if let Some(bytes) = root.read_bytes("/sys/firmware/dmi/tables/DMI", 1 << 20) {
        match dmi::parse_smbios_type17(&bytes) {
            Some(l) => return Some(l),
            None => notes.push("memory: SMBIOS table has no populated memory devices".into()),
        }
    }
    if root.is_live() {
        if let Some(tool) = runner.which("dmidecode") {
            if let Some(text) = runner.run(&tool, &["-t", "17"], Duration::from_millis(500)) {
                if let Some(l) = dmi::parse_dmidecode_type17(&text) {
                    return Some(l);
                }
            }
        }
    }
    notes.push(
        "memory: DIMM type/speed/channels unreadable (SMBIOS needs root); theoretical bandwidth unknown — pass --ram-bandwidth-gbs or use --measure".into(),
    );
    None
}

pub fn apply_meminfo(text: &str, mem: &mut MemoryInfo, notes: &mut Vec<String>) {
    let kib = |key: &str| -> Option<u64> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.split_whitespace().next()?.parse::<u64>().ok())?
        })
    };
    match kib("MemTotal") {
        Some(k) => mem.total_bytes = k.saturating_mul(1024),
        None => notes.push("memory: MemTotal missing from /proc/meminfo".into()),
    }
    mem.available_bytes = kib("MemAvailable").map(|k| k.saturating_mul(1024));
    mem.swap_bytes = kib("SwapTotal").map(|k| k.saturating_mul(1024));
    // HugePages_Total is a page count, not kB.
    mem.hugepages_total = kib("HugePages_Total");
    mem.hugepage_bytes = kib("Hugepagesize").map(|k| k.saturating_mul(1024));
}

#[derive(Debug, PartialEq, Eq)]
pub enum Memlock {
    Bytes(u64),
    Unlimited,
}

/// The soft limit from the `Max locked memory` line of /proc/PID/limits.
pub fn memlock_from_limits(text: &str) -> Option<Memlock> {
    let line = text.lines().find(|l| l.starts_with("Max locked memory"))?;
    let soft = line
        .trim_start_matches("Max locked memory")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        Some(Memlock::Unlimited)
    } else {
        soft.parse().ok().map(Memlock::Bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memlock_soft_limit_is_read_from_limits() {
        // Line layout as the kernel prints it (fs/proc/base.c proc_pid_limits).
        let text = "Limit                     Soft Limit           Hard Limit           Units     \nMax locked memory         8388608              8388608              bytes     \n";
        assert_eq!(memlock_from_limits(text), Some(Memlock::Bytes(8388608)));
        let text =
            "Max locked memory         unlimited            unlimited            bytes     \n";
        assert_eq!(memlock_from_limits(text), Some(Memlock::Unlimited));
        assert_eq!(
            memlock_from_limits("Max open files 1024 1024 files\n"),
            None
        );
    }

    #[test]
    fn meminfo_fields_become_bytes() {
        let text = "MemTotal:       32768000 kB\nMemAvailable:   30000000 kB\nSwapTotal:       2097148 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n";
        let mut m = MemoryInfo::default();
        let mut notes = vec![];
        apply_meminfo(text, &mut m, &mut notes);
        assert_eq!(m.total_bytes, 32768000 * 1024);
        assert_eq!(m.available_bytes, Some(30000000 * 1024));
        assert_eq!(m.swap_bytes, Some(2097148 * 1024));
        assert_eq!(m.hugepages_total, Some(0));
        assert_eq!(m.hugepage_bytes, Some(2 * 1024 * 1024));
        assert!(notes.is_empty());
    }
}
