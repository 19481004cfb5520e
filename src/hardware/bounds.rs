//! Physical bounds on every number a snapshot file holds, checked when a file is read.
//!
//! A snapshot from disk is input like any other: an `inf` bandwidth gave a 0.0 tok/s
//! ceiling beside a 13.6 tok/s prediction, and NaN or zero values were quietly replaced
//! downstream. Each numeric field must be finite and inside a range any real machine
//! fits with room to spare; otherwise the file is bad input (exit 2) naming the field,
//! its value and the bound. The bounds and the machines that set them:
//!
//! - cores/threads ≤ 8192: Linux's largest `NR_CPUS` (`CONFIG_NR_CPUS_RANGE_END`,
//!   arch/x86/Kconfig); the largest x86 servers have 8 × 60 cores × 2 threads = 960.
//! - RAM ≤ 256 TiB: 48-bit physical addresses on common x86 parts give 256 TiB; the
//!   largest shipping servers hold 32 TiB (HPE Superdome Flex 280).
//! - bandwidth ≤ 20,000 GB/s: the fastest memory of any device today is 8 TB/s (NVIDIA
//!   B200, <https://www.nvidia.com/en-us/data-center/dgx-b200/>); dual-socket 12-channel
//!   DDR5-6400 is 1,229 GB/s.
//! - GPU memory ≤ 2 TiB: the largest accelerator holds 288 GB (AMD MI355X); unified
//!   machines share at most a few hundred GB.
//! - memory speed 100..=20,000 MT/s, channels ≤ 128, PCIe generation 1..=7 and width
//!   ≤ 32 (the PCIe specification's limits), board power ≤ 5,000 W.

use super::snapshot::HardwareSnapshot;
use crate::error::{user_error, Result};

const TIB: u64 = 1 << 40;
const MIB: u64 = 1 << 20;

/// Checks every numeric field of `s` (read from the file `name`).
pub fn check(s: &HardwareSnapshot, name: &str) -> Result<()> {
    let out = |field: &str, value: String, bound: &str| {
        Err(user_error(format!(
            "snapshot '{name}': {field} = {value} is not physically possible (must be {bound})"
        )))
    };
    let int = |field: &str, v: u64, lo: u64, hi: u64, unit: &str| {
        if v < lo || v > hi {
            return out(field, v.to_string(), &format!("{lo} to {hi}{unit}"));
        }
        Ok(())
    };
    let float = |field: &str, v: f64, hi: f64, unit: &str| {
        if !v.is_finite() || v <= 0.0 || v > hi {
            return out(
                field,
                v.to_string(),
                &format!("above 0 and at most {hi}{unit}"),
            );
        }
        Ok(())
    };
    let c = &s.cpu;
    int("cpu.physical_cores", c.physical_cores.into(), 1, 8192, "")?;
    int("cpu.threads", c.threads.into(), 1, 8192, "")?;
    int("cpu.sockets", c.sockets.into(), 1, 64, "")?;
    int("cpu.numa_nodes", c.numa_nodes.into(), 1, 1024, "")?;
    let cores = u64::from(c.physical_cores);
    for (field, v) in [
        ("cpu.performance_cores", c.performance_cores),
        ("cpu.efficiency_cores", c.efficiency_cores),
    ] {
        if let Some(v) = v {
            int(field, v.into(), 0, cores, " (cpu.physical_cores)")?;
        }
    }
    let m = &s.memory;
    int(
        "memory.total_bytes",
        m.total_bytes,
        MIB,
        256 * TIB,
        " bytes",
    )?;
    if let Some(v) = m.available_bytes {
        int(
            "memory.available_bytes",
            v,
            0,
            m.total_bytes,
            " bytes (memory.total_bytes)",
        )?;
    }
    if let Some(v) = m.swap_bytes {
        int("memory.swap_bytes", v, 0, 1024 * TIB, " bytes")?;
    }
    for (field, v) in [
        (
            "memory.theoretical_bandwidth_gbs",
            m.theoretical_bandwidth_gbs,
        ),
        ("memory.measured_bandwidth_gbs", m.measured_bandwidth_gbs),
    ] {
        if let Some(v) = v {
            float(field, v, 20_000.0, " GB/s")?;
        }
    }
    if let Some(v) = m.speed_mts {
        int("memory.speed_mts", v.into(), 100, 20_000, " MT/s")?;
    }
    if let Some(v) = m.channels {
        int("memory.channels", v.into(), 1, 128, "")?;
    }
    if let Some(v) = m.hugepage_bytes {
        if !v.is_power_of_two() || v > 16 << 30 {
            return out(
                "memory.hugepage_bytes",
                v.to_string(),
                "a power of two up to 16 GiB",
            );
        }
    }
    if let Some(v) = m.hugepages_total {
        int("memory.hugepages_total", v, 0, 256 * TIB / 4096, "")?;
    }
    for (i, g) in s.gpus.iter().enumerate() {
        let f = |what: &str| format!("gpus[{i}].{what}");
        // 0 is what detection records when the driver gave no size (a note says so);
        // the planner places nothing there.
        if g.vram_bytes != 0 {
            int(&f("vram_bytes"), g.vram_bytes, MIB, 2 * TIB, " bytes")?;
        }
        if let Some(v) = g.vram_free_bytes {
            int(
                &f("vram_free_bytes"),
                v,
                0,
                g.vram_bytes,
                " bytes (vram_bytes)",
            )?;
        }
        if let Some(v) = g.bandwidth_gbs {
            float(&f("bandwidth_gbs"), v, 20_000.0, " GB/s")?;
        }
        if let Some(v) = g.fp16_tflops {
            float(&f("fp16_tflops"), v, 100_000.0, " TFLOPS")?;
        }
        if let Some(v) = g.power_limit_w {
            float(&f("power_limit_w"), v, 5_000.0, " W")?;
        }
        if let Some(p) = &g.pcie {
            for (what, v, hi) in [
                ("pcie.gen", p.gen, 7),
                ("pcie.max_gen", p.max_gen, 7),
                ("pcie.width", p.width, 32),
                ("pcie.max_width", p.max_width, 32),
            ] {
                if let Some(v) = v {
                    int(&f(what), v.into(), 1, hi, "")?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_inside_the_bounds() {
        for p in crate::hardware::presets::names() {
            let snap = crate::hardware::presets::get(p).unwrap().unwrap();
            check(&snap, p).unwrap();
        }
    }

    #[test]
    fn absurd_values_name_the_field_and_the_bound() {
        let base = crate::hardware::presets::get("z440-2x3060")
            .unwrap()
            .unwrap();
        type Edit = fn(&mut HardwareSnapshot);
        let cases: [(Edit, &str); 9] = [
            (
                |s| s.memory.theoretical_bandwidth_gbs = Some(f64::INFINITY),
                "memory.theoretical_bandwidth_gbs = inf",
            ),
            (
                |s| s.memory.theoretical_bandwidth_gbs = Some(1e30),
                "memory.theoretical_bandwidth_gbs = 1000000000000000000000000000000",
            ),
            (
                |s| s.memory.measured_bandwidth_gbs = Some(f64::NAN),
                "memory.measured_bandwidth_gbs = NaN",
            ),
            (
                |s| s.memory.measured_bandwidth_gbs = Some(-3.0),
                "memory.measured_bandwidth_gbs = -3",
            ),
            (
                |s| s.memory.measured_bandwidth_gbs = Some(0.0),
                "memory.measured_bandwidth_gbs = 0",
            ),
            (
                |s| s.gpus[1].vram_bytes = 1 << 63,
                "gpus[1].vram_bytes = 9223372036854775808",
            ),
            (|s| s.gpus[0].vram_bytes = 1000, "gpus[0].vram_bytes = 1000"),
            (|s| s.cpu.physical_cores = 0, "cpu.physical_cores = 0"),
            (
                |s| s.memory.total_bytes = u64::MAX,
                "memory.total_bytes = 18446744073709551615",
            ),
        ];
        for (edit, want) in cases {
            let mut s = base.clone();
            edit(&mut s);
            let e = check(&s, "h.toml").unwrap_err();
            assert_eq!(e.exit_code(), 2);
            let e = e.to_string();
            assert!(
                e.starts_with(&format!(
                    "snapshot 'h.toml': {want} is not physically possible (must be "
                )),
                "{e}"
            );
        }
    }
}
