//! CPU probe: identity, ISA flags, topology, caches.
//!
//! Reads `/proc/cpuinfo` and `/sys/devices/system/{cpu,node}` through a [`HostRoot`];
//! on a live x86 machine CPUID (raw-cpuid) supplies the identity and the hypervisor bit.
//! ISA flags come from /proc/cpuinfo when readable, because the kernel lists only what
//! it enabled (XSAVE state included); CPUID flags are the fallback. What cannot be read
//! becomes a note. This module never fails and never executes anything.

use super::root::{parse_cpu_list, parse_u64, HostRoot};
use super::uarch;
use super::CpuInfo;
use std::collections::{BTreeMap, BTreeSet};

/// ISA flags that matter to the engines' build options, in /proc/cpuinfo spelling.
/// Anything else in the flags line is dropped from the snapshot.
pub const FLAGS_THAT_MATTER: &[&str] = &[
    // x86: ggml's GGML_* CMake options and -march feature levels.
    "pni", // SSE3
    "ssse3",
    "sse4_1",
    "sse4_2",
    "popcnt",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi2",
    "avx512f",
    "avx512cd",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512vbmi",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "amx_fp16",
    // ARM (aarch64 "Features" line; armv7 spells NEON "neon").
    "neon",
    "asimd",
    "asimdhp",
    "asimddp",
    "fphp",
    "sve",
    "sve2",
    "i8mm",
    "bf16",
    "svei8mm",
    "svebf16",
];

/// One processor block of /proc/cpuinfo (`key -> value`), plus the global trailer
/// (ARM boards put `Hardware`/`Model` after the last processor).
#[derive(Debug, Default)]
pub struct Cpuinfo {
    pub processors: Vec<BTreeMap<String, String>>,
    pub global: BTreeMap<String, String>,
}

impl Cpuinfo {
    pub fn parse(text: &str) -> Cpuinfo {
        let mut out = Cpuinfo::default();
        let mut block: BTreeMap<String, String> = BTreeMap::new();
        let flush = |block: &mut BTreeMap<String, String>, out: &mut Cpuinfo| {
            if block.is_empty() {
                return;
            }
            let b = std::mem::take(block);
            if b.contains_key("processor") {
                out.processors.push(b);
            } else {
                out.global.extend(b);
            }
        };
        for line in text.lines() {
            if line.trim().is_empty() {
                flush(&mut block, &mut out);
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                let key = k.trim().to_string();
                // A second `processor` line without a blank line still starts a new block.
                if key == "processor" && block.contains_key("processor") {
                    flush(&mut block, &mut out);
                }
                block.insert(key, v.trim().to_string());
            }
        }
        flush(&mut block, &mut out);
        out
    }

    fn first(&self, key: &str) -> Option<&str> {
        self.processors
            .iter()
            .find_map(|p| p.get(key))
            .or_else(|| self.global.get(key))
            .map(String::as_str)
    }

    fn first_u32(&self, key: &str) -> Option<u32> {
        self.first(key)
            .and_then(parse_u64)
            .and_then(|v| u32::try_from(v).ok())
    }
}

/// What CPUID says on a live x86 machine.
#[derive(Clone, Debug, Default)]
pub struct CpuidIdentity {
    pub vendor: String,
    pub brand: String,
    pub family: u32,
    pub model: u32,
    pub stepping: u32,
    /// In /proc/cpuinfo spelling.
    pub flags: Vec<String>,
    pub hypervisor: bool,
}

/// Reads CPUID on this machine (x86 only).
#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
pub fn cpuid_identity() -> Option<CpuidIdentity> {
    let id = raw_cpuid::CpuId::new();
    let vendor = id.get_vendor_info()?.as_str().to_string();
    let fi = id.get_feature_info()?;
    let brand = id
        .get_processor_brand_string()
        .map(|b| b.as_str().trim().to_string())
        .unwrap_or_default();
    let mut flags = Vec::new();
    let mut push = |on: bool, name: &str| {
        if on {
            flags.push(name.to_string());
        }
    };
    push(fi.has_sse3(), "pni");
    push(fi.has_ssse3(), "ssse3");
    push(fi.has_sse41(), "sse4_1");
    push(fi.has_sse42(), "sse4_2");
    push(fi.has_popcnt(), "popcnt");
    push(fi.has_avx(), "avx");
    push(fi.has_fma(), "fma");
    push(fi.has_f16c(), "f16c");
    push(fi.has_hypervisor(), "hypervisor");
    if let Some(ef) = id.get_extended_feature_info() {
        push(ef.has_avx2(), "avx2");
        push(ef.has_bmi2(), "bmi2");
        push(ef.has_avx512f(), "avx512f");
        push(ef.has_avx512cd(), "avx512cd");
        push(ef.has_avx512dq(), "avx512dq");
        push(ef.has_avx512bw(), "avx512bw");
        push(ef.has_avx512vl(), "avx512vl");
        push(ef.has_avx512vnni(), "avx512_vnni");
        push(ef.has_avx512vbmi(), "avx512vbmi");
        push(ef.has_avx512_bf16(), "avx512_bf16");
        push(ef.has_avx_vnni(), "avx_vnni");
        push(ef.has_amx_tile(), "amx_tile");
        push(ef.has_amx_bf16(), "amx_bf16");
        push(ef.has_amx_int8(), "amx_int8");
    }
    Some(CpuidIdentity {
        vendor,
        brand,
        family: u32::from(fi.family_id()),
        model: u32::from(fi.model_id()),
        stepping: u32::from(fi.stepping_id()),
        hypervisor: fi.has_hypervisor(),
        flags,
    })
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
pub fn cpuid_identity() -> Option<CpuidIdentity> {
    None
}

/// Probes the CPU under `root`. `cpuid` is this machine's CPUID when the root is live.
pub fn probe(root: &HostRoot, cpuid: Option<&CpuidIdentity>, notes: &mut Vec<String>) -> CpuInfo {
    let cpuinfo = match root.read("/proc/cpuinfo") {
        Some(t) => Cpuinfo::parse(&t),
        None => {
            notes.push("cpu: /proc/cpuinfo unreadable".into());
            Cpuinfo::default()
        }
    };
    let mut cpu = CpuInfo::default();
    identify(&cpuinfo, cpuid, &mut cpu, notes);
    topology(root, &cpuinfo, &mut cpu, notes);
    caches(root, &mut cpu, notes);
    cpu.base_clock_mhz = base_clock_mhz(root, &cpu);
    if cpu.base_clock_mhz.is_none() {
        notes.push(
            "cpu: base clock unknown (no cpufreq base_frequency, none in the brand string)".into(),
        );
    }
    cpu
}

/// The cores' base clock, MHz: intel_pstate's `base_frequency` (kHz), else the
/// `@ 2.10GHz` Intel puts in the brand string, else on Arm (whose cores do not boost
/// past their rated clock) cpufreq's `cpuinfo_max_freq`.
fn base_clock_mhz(root: &HostRoot, cpu: &CpuInfo) -> Option<u32> {
    const CPUFREQ: &str = "/sys/devices/system/cpu/cpu0/cpufreq";
    let khz = |file: &str| {
        root.read_u64(&format!("{CPUFREQ}/{file}"))
            .filter(|k| *k > 0)
            .and_then(|k| u32::try_from(k / 1000).ok())
    };
    khz("base_frequency")
        .or_else(|| brand_clock_mhz(&cpu.brand))
        .or_else(|| {
            (cpu.arch == "aarch64")
                .then(|| khz("cpuinfo_max_freq"))
                .flatten()
        })
}

/// `Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz` -> 2100.
fn brand_clock_mhz(brand: &str) -> Option<u32> {
    let (_, tail) = brand.rsplit_once('@')?;
    let ghz: f64 = tail.trim().strip_suffix("GHz")?.trim().parse().ok()?;
    (ghz > 0.0 && ghz < 10.0).then(|| (ghz * 1000.0).round() as u32)
}

fn identify(
    ci: &Cpuinfo,
    cpuid: Option<&CpuidIdentity>,
    cpu: &mut CpuInfo,
    notes: &mut Vec<String>,
) {
    let cpuinfo_flags: Option<Vec<String>> = ci
        .first("flags")
        .or_else(|| ci.first("Features"))
        .map(|f| f.split_whitespace().map(str::to_string).collect());
    let is_arm = ci.first("CPU implementer").is_some();

    if is_arm {
        cpu.arch = "aarch64".into();
        if ci.first_u32("CPU architecture") == Some(7) {
            cpu.arch = "armv7".into();
        }
        identify_arm(ci, cpu, notes);
    } else if let Some(id) = cpuid {
        cpu.arch = std::env::consts::ARCH.into();
        cpu.vendor = id.vendor.clone();
        cpu.brand = id.brand.clone();
        set_x86_uarch(cpu, &id.vendor, id.family, id.model, id.stepping, notes);
    } else if let Some(vendor) = ci.first("vendor_id") {
        cpu.arch = "x86_64".into();
        cpu.vendor = vendor.to_string();
        cpu.brand = ci.first("model name").unwrap_or("").to_string();
        match (
            ci.first_u32("cpu family"),
            ci.first_u32("model"),
            ci.first_u32("stepping"),
        ) {
            (Some(f), Some(m), s) => set_x86_uarch(cpu, vendor, f, m, s.unwrap_or(0), notes),
            _ => notes.push("cpu: family/model missing from /proc/cpuinfo".into()),
        }
    } else {
        notes.push("cpu: vendor unknown (no CPUID, no vendor_id in /proc/cpuinfo)".into());
    }

    let all_flags = match (cpuinfo_flags, cpuid) {
        (Some(f), _) => f,
        (None, Some(id)) => {
            notes.push("cpu: ISA flags from CPUID (/proc/cpuinfo has none)".into());
            id.flags.clone()
        }
        (None, None) => Vec::new(),
    };
    cpu.flags = FLAGS_THAT_MATTER
        .iter()
        .filter(|f| all_flags.iter().any(|g| g == *f))
        .map(|f| f.to_string())
        .collect();
}

fn set_x86_uarch(
    cpu: &mut CpuInfo,
    vendor: &str,
    family: u32,
    model: u32,
    stepping: u32,
    notes: &mut Vec<String>,
) {
    match uarch::x86(vendor, family, model, stepping) {
        Some(u) => {
            cpu.microarchitecture = Some(u.name.into());
            cpu.march = Some(u.march.into());
        }
        None => notes.push(format!(
            "cpu: no microarchitecture known for {vendor} family {family:#x} model {model:#x}; use -march=native"
        )),
    }
}

fn identify_arm(ci: &Cpuinfo, cpu: &mut CpuInfo, notes: &mut Vec<String>) {
    // Distinct (implementer, part) pairs in processor order: big.LITTLE parts list
    // several; the snapshot names all of them and takes -march from the first known.
    let mut seen: Vec<(u32, u32)> = Vec::new();
    for p in &ci.processors {
        let imp = p.get("CPU implementer").and_then(|v| parse_u64(v));
        let part = p.get("CPU part").and_then(|v| parse_u64(v));
        if let (Some(i), Some(pt)) = (imp, part) {
            let key = (i as u32, pt as u32);
            if !seen.contains(&key) {
                seen.push(key);
            }
        }
    }
    let known: Vec<uarch::Uarch> = seen.iter().filter_map(|&(i, p)| uarch::arm(i, p)).collect();
    // big.LITTLE: CPUs whose core is an in-order "little" design count as efficiency cores.
    let little = |name: &str| {
        matches!(
            name,
            "cortex-a35" | "cortex-a53" | "cortex-a55" | "cortex-a510" | "cortex-a520"
        )
    };
    if known.len() > 1 {
        let (mut big, mut small) = (0u32, 0u32);
        for p in &ci.processors {
            let imp = p.get("CPU implementer").and_then(|v| parse_u64(v));
            let part = p.get("CPU part").and_then(|v| parse_u64(v));
            if let Some(u) = imp
                .zip(part)
                .and_then(|(i, pt)| uarch::arm(i as u32, pt as u32))
            {
                if little(u.name) {
                    small += 1;
                } else {
                    big += 1;
                }
            }
        }
        if big > 0 && small > 0 {
            cpu.performance_cores = Some(big);
            cpu.efficiency_cores = Some(small);
        }
    }
    cpu.vendor = match seen.first().map(|k| k.0) {
        Some(0x41) => "ARM".into(),
        Some(0x61) => "Apple".into(),
        Some(0xc0) => "Ampere".into(),
        Some(0x46) => "Fujitsu".into(),
        Some(0x51) => "Qualcomm".into(),
        Some(0x48) => "HiSilicon".into(),
        Some(other) => format!("implementer {other:#x}"),
        None => "ARM".into(),
    };
    if known.is_empty() {
        notes.push(format!(
            "cpu: ARM parts {} not in the core table; use -mcpu=native",
            seen.iter()
                .map(|(i, p)| format!("{i:#x}/{p:#x}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else {
        let names: Vec<&str> = known.iter().map(|u| u.name).collect();
        cpu.microarchitecture = Some(names.join("+"));
        // Code runs on every core, so -march is the little core's (the least capable ISA).
        cpu.march = known
            .iter()
            .find(|u| little(u.name))
            .or(known.first())
            .map(|u| u.march.to_string());
    }
    let model = ci
        .first("model name")
        .or_else(|| ci.global.get("Model").map(String::as_str));
    cpu.brand = match model {
        Some(m) => m.to_string(),
        None => cpu.microarchitecture.clone().unwrap_or_default(),
    };
}

/// Physical cores, threads, sockets, NUMA nodes and (Intel hybrid) P/E cores.
fn topology(root: &HostRoot, ci: &Cpuinfo, cpu: &mut CpuInfo, notes: &mut Vec<String>) {
    let online = root
        .read_trim("/sys/devices/system/cpu/online")
        .map(|s| parse_cpu_list(&s))
        .filter(|v| !v.is_empty());
    let cpus: Vec<u32> = match online {
        Some(v) => v,
        None => ci
            .processors
            .iter()
            .filter_map(|p| p.get("processor").and_then(|v| v.parse().ok()))
            .collect(),
    };
    cpu.threads = u32::try_from(cpus.len()).unwrap_or(u32::MAX);

    // (package, core) per logical CPU from sysfs, else from /proc/cpuinfo.
    let mut core_of: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for &n in &cpus {
        let base = format!("/sys/devices/system/cpu/cpu{n}/topology");
        let pkg = root.read_u64(&format!("{base}/physical_package_id"));
        let core = root.read_u64(&format!("{base}/core_id"));
        if let (Some(p), Some(c)) = (pkg, core) {
            core_of.insert(n, (p, c));
        }
    }
    if core_of.len() != cpus.len() {
        core_of.clear();
        for p in &ci.processors {
            let n = p.get("processor").and_then(|v| v.parse::<u32>().ok());
            let pkg = p.get("physical id").and_then(|v| v.parse().ok());
            let core = p.get("core id").and_then(|v| v.parse().ok());
            if let (Some(n), Some(pk), Some(c)) = (n, pkg, core) {
                core_of.insert(n, (pk, c));
            }
        }
    }
    if core_of.is_empty() || core_of.len() != cpus.len() {
        notes.push("cpu: core topology unreadable; physical cores assumed = threads".into());
        cpu.physical_cores = cpu.threads;
        cpu.sockets = 1;
    } else {
        let cores: BTreeSet<(u64, u64)> = core_of.values().copied().collect();
        let pkgs: BTreeSet<u64> = core_of.values().map(|c| c.0).collect();
        cpu.physical_cores = u32::try_from(cores.len()).unwrap_or(u32::MAX);
        cpu.sockets = u32::try_from(pkgs.len()).unwrap_or(u32::MAX);
    }

    // Intel hybrid: the kernel exposes one PMU per core type with its CPU list.
    let kind_cores = |pmu: &str| -> Option<u32> {
        let list = parse_cpu_list(&root.read_trim(&format!("/sys/devices/{pmu}/cpus"))?);
        let set: BTreeSet<(u64, u64)> = list
            .iter()
            .filter_map(|n| core_of.get(n))
            .copied()
            .collect();
        (!set.is_empty()).then(|| u32::try_from(set.len()).unwrap_or(u32::MAX))
    };
    if let (Some(p), Some(e)) = (kind_cores("cpu_core"), kind_cores("cpu_atom")) {
        cpu.performance_cores = Some(p);
        cpu.efficiency_cores = Some(e);
    } else if cpu
        .microarchitecture
        .as_deref()
        .is_some_and(is_intel_hybrid_name)
    {
        notes.push(
            "cpu: hybrid CPU but /sys/devices/cpu_core and cpu_atom are missing; P/E cores unknown"
                .into(),
        );
    }

    let nodes = root
        .list("/sys/devices/system/node")
        .into_iter()
        .filter(|n| {
            n.strip_prefix("node")
                .is_some_and(|d| d.parse::<u32>().is_ok())
        })
        .count();
    cpu.numa_nodes = if nodes == 0 {
        notes.push("cpu: /sys/devices/system/node missing; assuming 1 NUMA node".into());
        1
    } else {
        u32::try_from(nodes).unwrap_or(u32::MAX)
    };
}

fn is_intel_hybrid_name(name: &str) -> bool {
    matches!(
        name,
        "alderlake" | "raptorlake" | "meteorlake" | "arrowlake" | "lunarlake" | "pantherlake"
    )
}

/// Total L2 and L3 bytes: every distinct cache instance (by its shared CPU list) counted once.
fn caches(root: &HostRoot, cpu: &mut CpuInfo, notes: &mut Vec<String>) {
    let mut seen: BTreeSet<(u64, String)> = BTreeSet::new();
    let (mut l2, mut l3) = (0u64, 0u64);
    for dir in root.list("/sys/devices/system/cpu") {
        let is_cpu_dir = dir
            .strip_prefix("cpu")
            .is_some_and(|d| d.parse::<u32>().is_ok());
        if !is_cpu_dir {
            continue;
        }
        for idx in root.list(&format!("/sys/devices/system/cpu/{dir}/cache")) {
            if !idx.starts_with("index") {
                continue;
            }
            let base = format!("/sys/devices/system/cpu/{dir}/cache/{idx}");
            let level = root.read_u64(&format!("{base}/level"));
            let size = root
                .read_trim(&format!("{base}/size"))
                .and_then(|s| parse_cache_size(&s));
            let shared = root
                .read_trim(&format!("{base}/shared_cpu_list"))
                .unwrap_or_else(|| dir.clone());
            if let (Some(level @ (2 | 3)), Some(size)) = (level, size) {
                if seen.insert((level, shared)) {
                    if level == 2 {
                        l2 += size;
                    } else {
                        l3 += size;
                    }
                }
            }
        }
    }
    cpu.l2_bytes = (l2 > 0).then_some(l2);
    cpu.l3_bytes = (l3 > 0).then_some(l3);
    if l2 == 0 && l3 == 0 {
        notes.push("cpu: cache sizes unreadable (/sys/devices/system/cpu/cpu*/cache)".into());
    }
}

/// `512K`, `32768K`, `2M` → bytes.
pub fn parse_cache_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix('K') {
        (n, 1024)
    } else if let Some(n) = s.strip_suffix('M') {
        (n, 1024 * 1024)
    } else {
        (s, 1)
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// Whether /proc/cpuinfo shows the CPUID hypervisor bit (`hypervisor` flag).
pub fn hypervisor_flag(root: &HostRoot) -> bool {
    root.read("/proc/cpuinfo").is_some_and(|t| {
        t.lines()
            .find(|l| l.starts_with("flags"))
            .is_some_and(|l| l.split_whitespace().any(|f| f == "hypervisor"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_blocks_split_on_blank_lines_and_keep_the_arm_trailer() {
        let text = "processor\t: 0\nCPU part\t: 0xd0b\n\nprocessor\t: 1\nCPU part\t: 0xd0b\n\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n";
        let ci = Cpuinfo::parse(text);
        assert_eq!(ci.processors.len(), 2);
        assert_eq!(
            ci.global.get("Model").unwrap(),
            "Raspberry Pi 5 Model B Rev 1.0"
        );
    }

    #[test]
    fn arm_big_little_counts_big_and_little_cores() {
        // A Rockchip RK3588 lists 4x Cortex-A55 (0xd05) then 4x Cortex-A76 (0xd0b).
        let mut text = String::new();
        for n in 0..8 {
            let part = if n < 4 { "0xd05" } else { "0xd0b" };
            text.push_str(&format!("processor\t: {n}\nFeatures\t: fp asimd asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: {part}\n\n"));
        }
        let ci = Cpuinfo::parse(&text);
        let mut cpu = CpuInfo::default();
        let mut notes = vec![];
        identify(&ci, None, &mut cpu, &mut notes);
        assert_eq!(
            cpu.microarchitecture.as_deref(),
            Some("cortex-a55+cortex-a76")
        );
        assert_eq!(
            (cpu.performance_cores, cpu.efficiency_cores),
            (Some(4), Some(4))
        );
    }

    #[test]
    fn base_clock_from_cpufreq_then_the_brand_string() {
        assert_eq!(
            brand_clock_mhz("Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz"),
            Some(2100)
        );
        assert_eq!(brand_clock_mhz("AMD Ryzen 9 9950X 16-Core Processor"), None);
        let dir = tempfile::tempdir().unwrap();
        let freq = dir.path().join("sys/devices/system/cpu/cpu0/cpufreq");
        std::fs::create_dir_all(&freq).unwrap();
        let root = HostRoot::at(dir.path());
        let mut cpu = CpuInfo {
            brand: "Intel(R) Core(TM) i7-1185G7 @ 3.00GHz".into(),
            arch: "x86_64".into(),
            ..Default::default()
        };
        assert_eq!(base_clock_mhz(&root, &cpu), Some(3000));
        std::fs::write(freq.join("base_frequency"), "2800000\n").unwrap();
        assert_eq!(base_clock_mhz(&root, &cpu), Some(2800));
        // Arm: the rated maximum; x86 without a base or brand clock: unknown.
        std::fs::remove_file(freq.join("base_frequency")).unwrap();
        std::fs::write(freq.join("cpuinfo_max_freq"), "2400000\n").unwrap();
        cpu.brand = "Cortex-A76".into();
        assert_eq!(base_clock_mhz(&root, &cpu), None);
        cpu.arch = "aarch64".into();
        assert_eq!(base_clock_mhz(&root, &cpu), Some(2400));
    }

    #[test]
    fn cache_sizes_parse() {
        assert_eq!(parse_cache_size("512K"), Some(512 * 1024));
        assert_eq!(parse_cache_size("32768K"), Some(32 * 1024 * 1024));
        assert_eq!(parse_cache_size("2M"), Some(2 * 1024 * 1024));
        assert_eq!(parse_cache_size("x"), None);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(
        not(target_os = "linux"),
        ignore = "compares CPUID with /proc/cpuinfo, which only Linux has"
    )]
    fn cpuid_agrees_with_proc_cpuinfo_on_this_machine() {
        let id = cpuid_identity().expect("CPUID identifies an x86_64 CPU");
        let text = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo on Linux");
        let ci = Cpuinfo::parse(&text);
        assert_eq!(ci.first("vendor_id"), Some(id.vendor.as_str()));
        assert_eq!(ci.first_u32("cpu family"), Some(id.family));
        assert_eq!(ci.first_u32("model"), Some(id.model));
        assert_eq!(ci.first_u32("stepping"), Some(id.stepping));
    }
}
