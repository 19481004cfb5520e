//! Context the build script depends on: OS, kernel, container/VM, compilers, CUDA toolkit.
//!
//! Files are read through a [`HostRoot`]; compilers are asked `--version` through a
//! [`CommandRunner`] with a short timeout (never more than [`TOOL_TIMEOUT`] each).
//! Missing tools are simply absent from the list; nothing here fails.

use super::exec::CommandRunner;
use super::root::HostRoot;
use super::SystemInfo;
use std::path::PathBuf;
use std::time::Duration;

/// Per-tool limit for `--version` (gcc answers in a few ms; a wedged wrapper must not
/// stall `detect`).
pub const TOOL_TIMEOUT: Duration = Duration::from_millis(1500);

pub fn probe(
    root: &HostRoot,
    runner: &dyn CommandRunner,
    hypervisor: bool,
    notes: &mut Vec<String>,
) -> SystemInfo {
    let mut sys = SystemInfo {
        os: root.read("/etc/os-release").and_then(|t| os_name(&t)),
        kernel: root.read_trim("/proc/sys/kernel/osrelease"),
        ..SystemInfo::default()
    };
    if sys.os.is_none() {
        notes.push("system: /etc/os-release unreadable".into());
    }
    sys.container = root.exists("/.dockerenv")
        || root.exists("/run/.containerenv")
        || root.read("/proc/1/cgroup").is_some_and(|c| {
            ["docker", "kubepods", "containerd", "libpod", "lxc"]
                .iter()
                .any(|k| c.contains(k))
        });
    let dmi_vendor = root
        .read_trim("/sys/class/dmi/id/sys_vendor")
        .unwrap_or_default();
    let vm_vendor = [
        "QEMU",
        "VMware",
        "innotek",
        "Xen",
        "Microsoft Corporation",
        "Amazon EC2",
        "Google",
        "KVM",
        "Parallels",
    ]
    .iter()
    .any(|v| dmi_vendor.contains(v));
    // `hypervisor` is the CPUID hypervisor bit (leaf 1 ECX[31]), from CPUID or /proc/cpuinfo.
    sys.virtual_machine = vm_vendor || hypervisor;

    for (tool, args) in [
        ("gcc", ["--version"]),
        ("clang", ["--version"]),
        ("cmake", ["--version"]),
    ] {
        if let Some(path) = runner.which(tool) {
            if let Some(v) = runner
                .run(&path, &args, TOOL_TIMEOUT)
                .and_then(|o| tool_version(&o))
            {
                sys.compilers.push(format!("{tool} {v}"));
            }
        }
    }
    let nvcc = runner.which("nvcc").or_else(|| {
        Some(PathBuf::from("/usr/local/cuda/bin/nvcc")).filter(|p| root.is_live() && p.is_file())
    });
    if let Some(path) = nvcc {
        sys.nvcc_version = runner
            .run(&path, &["--version"], TOOL_TIMEOUT)
            .and_then(|o| nvcc_release(&o));
    }
    if root.is_live() && sys.nvcc_version.is_none() {
        notes.push(
            "system: nvcc not found (PATH, /usr/local/cuda/bin); CUDA builds need the CUDA toolkit"
                .into(),
        );
    }
    sys
}

/// `PRETTY_NAME` from os-release.
pub fn os_name(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix("PRETTY_NAME=")?;
        Some(v.trim().trim_matches('"').to_string())
    })
}

/// The last dotted version number on the first line: `gcc (Debian 14.2.0-19) 14.2.0` → `14.2.0`.
pub fn tool_version(output: &str) -> Option<String> {
    let first = output.lines().next()?;
    first
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|w| w.contains('.') && w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_digit())
                .to_string()
        })
        .next_back()
}

/// `Cuda compilation tools, release 12.4, V12.4.131` → `12.4`.
pub fn nvcc_release(output: &str) -> Option<String> {
    let line = output.lines().find(|l| l.contains("release "))?;
    let rest = line.split("release ").nth(1)?;
    Some(rest.split(',').next()?.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_real_banners() {
        assert_eq!(
            tool_version("gcc (Debian 14.2.0-19) 14.2.0\nCopyright").as_deref(),
            Some("14.2.0")
        );
        assert_eq!(
            tool_version("Ubuntu clang version 18.1.3 (1ubuntu1)\nTarget:").as_deref(),
            Some("18.1.3")
        );
        assert_eq!(
            tool_version("cmake version 3.31.6\n").as_deref(),
            Some("3.31.6")
        );
        let nvcc = "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2024 NVIDIA Corporation\nBuilt on Thu_Mar_28_02:18:24_PDT_2024\nCuda compilation tools, release 12.4, V12.4.131\nBuild cuda_12.4.r12.4/compiler.34097967_0\n";
        assert_eq!(nvcc_release(nvcc).as_deref(), Some("12.4"));
        assert_eq!(
            os_name("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n").as_deref(),
            Some("Debian GNU/Linux 13 (trixie)")
        );
    }
}
