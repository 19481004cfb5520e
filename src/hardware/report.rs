//! Human-readable renderings: the `detect` summary and the `catalog gpus|hardware` tables.
//!
//! Pure functions from data to text; they print nothing and decide nothing except how
//! a value is spelled (units via `crate::units`).

use super::gpu_table::GpuSpec;
use super::{GpuInfo, HardwareSnapshot, PcieLink};
use crate::units::{Bytes, GbPerSec};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

/// ISA features worth a glance, in the order a reader scans them.
const ISA_SUMMARY: &[(&str, &str)] = &[
    ("sse4_2", "SSE4.2"),
    ("avx", "AVX"),
    ("avx2", "AVX2"),
    ("fma", "FMA"),
    ("f16c", "F16C"),
    ("bmi2", "BMI2"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx512f", "AVX512F"),
    ("avx512bw", "AVX512BW"),
    ("avx512vl", "AVX512VL"),
    ("avx512_vnni", "AVX512-VNNI"),
    ("avx512_bf16", "AVX512-BF16"),
    ("avx512vbmi", "AVX512-VBMI"),
    ("amx_tile", "AMX"),
    ("asimd", "NEON"),
    ("neon", "NEON"),
    ("asimddp", "DOTPROD"),
    ("i8mm", "I8MM"),
    ("sve", "SVE"),
    ("sve2", "SVE2"),
];

pub fn isa_summary(flags: &[String]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for (flag, label) in ISA_SUMMARY {
        if flags.iter().any(|f| f == flag) && !out.contains(label) {
            out.push(label);
        }
    }
    if out.is_empty() {
        "ISA unknown".into()
    } else {
        out.join(" ")
    }
}

/// A PCIe link as `PCIe 3.0 x16`, with the maximum when it differs.
pub fn pcie_text(l: &PcieLink) -> String {
    let cur = format!(
        "PCIe {} x{}",
        l.gen.map_or("?".into(), |g| format!("{g}.0")),
        l.width.map_or("?".into(), |w| w.to_string())
    );
    if below_max(l) {
        format!(
            "{cur} (max {}.0 x{})",
            l.max_gen.or(l.gen).unwrap_or(0),
            l.max_width.or(l.width).unwrap_or(0)
        )
    } else {
        cur
    }
}

/// The link runs below its maximum generation or width.
pub fn below_max(l: &PcieLink) -> bool {
    matches!((l.gen, l.max_gen), (Some(g), Some(m)) if g < m)
        || matches!((l.width, l.max_width), (Some(w), Some(m)) if w < m)
}

/// Warnings for GPUs running below their link maximum.
pub fn pcie_warnings(gpus: &[GpuInfo]) -> Vec<String> {
    gpus.iter()
        .filter_map(|g| {
            let l = g.pcie.as_ref()?;
            below_max(l).then(|| {
                format!(
                    "warning: GPU {} ({}) runs at {} — below its maximum; check the slot (idle GPUs also drop link speed, so re-check under load)",
                    g.index,
                    g.name,
                    pcie_text(l)
                )
            })
        })
        .collect()
}

/// The compact `detect` table.
pub fn snapshot_table(s: &HardwareSnapshot) -> String {
    let mut lines = Vec::new();
    let c = &s.cpu;
    let hybrid = match (c.performance_cores, c.efficiency_cores) {
        (Some(p), Some(e)) => format!(" ({p}P+{e}E)"),
        _ => String::new(),
    };
    lines.push(format!(
        "CPU     {} | {} / -march={} | {} cores{} / {} threads{}, {} socket(s), {} NUMA node(s){}{} | {}",
        if c.brand.is_empty() { &c.vendor } else { &c.brand },
        c.microarchitecture.as_deref().unwrap_or("unknown uarch"),
        c.march.as_deref().unwrap_or("native"),
        c.physical_cores,
        hybrid,
        c.threads,
        c.base_clock_mhz
            .map_or(String::new(), |m| format!(" at {:.2} GHz base", f64::from(m) / 1000.0)),
        c.sockets,
        c.numa_nodes,
        c.l2_bytes.map_or(String::new(), |b| format!(", L2 {}", Bytes(b))),
        c.l3_bytes.map_or(String::new(), |b| format!(", L3 {}", Bytes(b))),
        isa_summary(&c.flags)
    ));
    let m = &s.memory;
    let dimms = match (&m.dimm_type, m.speed_mts, m.channels) {
        (t, Some(sp), Some(ch)) => {
            format!(" | {}-{sp} x{ch} channels", t.as_deref().unwrap_or("DRAM"))
        }
        _ => String::new(),
    };
    let bw = |v: Option<f64>| v.map_or("unknown".to_string(), |b| GbPerSec(b).to_string());
    lines.push(format!(
        "Memory  {} total, {} available{} | peak {}, measured {} | memlock {}",
        Bytes(m.total_bytes),
        m.available_bytes
            .map_or("unknown".into(), |b| Bytes(b).to_string()),
        dimms,
        bw(m.theoretical_bandwidth_gbs),
        bw(m.measured_bandwidth_gbs),
        if m.memlock_unlimited {
            "unlimited".to_string()
        } else {
            m.memlock_limit_bytes
                .map_or("unknown".into(), |b| Bytes(b).to_string())
        }
    ));
    if s.gpus.is_empty() {
        lines.push("GPU     none".into());
    }
    for g in &s.gpus {
        let arch = g
            .compute_capability
            .as_ref()
            .map(|c| format!("cc {c}"))
            .or_else(|| g.gfx_target.clone())
            .unwrap_or_else(|| "arch ?".into());
        let backends: Vec<String> = g
            .usable_backends()
            .iter()
            .map(|b| match (b, g.vulkan_matrix) {
                (crate::plan::Backend::Vulkan, Some(m)) => format!("vulkan ({})", m.as_str()),
                _ => b.as_str().to_string(),
            })
            .collect();
        lines.push(format!(
            "GPU {}   {} | {} VRAM{} | {} | {} | {} | backends {}",
            g.index,
            g.name,
            Bytes(g.vram_bytes),
            g.vram_free_bytes
                .map_or(String::new(), |f| format!(" ({} free)", Bytes(f))),
            bw(g.bandwidth_gbs),
            arch,
            match &g.pcie {
                Some(l) => pcie_text(l),
                None if g.unified_memory => "unified memory".into(),
                None => "PCIe link unknown".into(),
            },
            backends.join(", ")
        ));
    }
    let sys = &s.system;
    let mut ctx = vec![sys.os.clone().unwrap_or_else(|| "OS unknown".into())];
    if let Some(k) = &sys.kernel {
        ctx.push(format!("kernel {k}"));
    }
    if sys.container {
        ctx.push("container".into());
    }
    if sys.virtual_machine {
        ctx.push("VM".into());
    }
    ctx.extend(sys.compilers.iter().cloned());
    if let Some(v) = &sys.nvcc_version {
        ctx.push(format!("nvcc {v}"));
    }
    if let Some(v) = &sys.nvidia_driver_version {
        ctx.push(format!("driver {v}"));
    }
    lines.push(format!("System  {}", ctx.join(", ")));
    lines.extend(pcie_warnings(&s.gpus));
    for n in &s.notes {
        lines.push(format!("note: {n}"));
    }
    lines.join("\n") + "\n"
}

pub fn gpu_catalog_table(rows: &[GpuSpec]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "GPU",
        "VRAM",
        "bandwidth",
        "FP16 TFLOPS",
        "arch",
        "host link",
    ]);
    for r in rows {
        t.add_row([
            r.name.clone(),
            format!(
                "{} GiB{}",
                r.vram_gib,
                if r.unified { " (unified)" } else { "" }
            ),
            GbPerSec(r.bandwidth_gbs).to_string(),
            format!("{:.1}", r.fp16_tflops),
            r.compute_capability
                .as_ref()
                .map(|c| format!("cc {c}"))
                .or_else(|| r.gfx_target.clone())
                .unwrap_or_else(|| "-".into()),
            match (r.pcie_gen, r.pcie_width) {
                (Some(g), Some(w)) => format!("PCIe {g}.0 x{w}"),
                _ => "SoC".into(),
            },
        ]);
    }
    t.to_string() + "\n"
}

pub fn hardware_catalog_table(rows: &[(&str, HardwareSnapshot)]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["preset", "CPU", "cores/threads", "RAM", "RAM peak", "GPUs"]);
    for (name, s) in rows {
        t.add_row([
            name.to_string(),
            s.cpu.brand.clone(),
            format!("{}/{}", s.cpu.physical_cores, s.cpu.threads),
            format!(
                "{} {}",
                Bytes(s.memory.total_bytes),
                s.memory.dimm_type.clone().unwrap_or_default()
            ),
            s.memory
                .theoretical_bandwidth_gbs
                .map_or("?".into(), |b| GbPerSec(b).to_string()),
            if s.gpus.is_empty() {
                "none".into()
            } else {
                s.gpus
                    .iter()
                    .map(|g| {
                        format!(
                            "{} ({})",
                            g.name,
                            g.pcie.as_ref().map_or("-".into(), pcie_text)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" + ")
            },
        ]);
    }
    t.to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_below_maximum_warn() {
        let l = PcieLink {
            gen: Some(3),
            width: Some(8),
            max_gen: Some(3),
            max_width: Some(16),
        };
        assert!(below_max(&l));
        assert_eq!(pcie_text(&l), "PCIe 3.0 x8 (max 3.0 x16)");
        let ok = PcieLink {
            gen: Some(3),
            width: Some(16),
            max_gen: Some(3),
            max_width: Some(16),
        };
        assert!(!below_max(&ok));
        assert_eq!(pcie_text(&ok), "PCIe 3.0 x16");
    }

    #[test]
    fn isa_summary_names_what_matters() {
        let f: Vec<String> = ["sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(isa_summary(&f), "SSE4.2 AVX AVX2 FMA F16C BMI2");
        assert_eq!(
            isa_summary(&["asimd".into(), "asimddp".into()]),
            "NEON DOTPROD"
        );
    }
}
