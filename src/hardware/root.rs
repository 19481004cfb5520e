//! An injectable filesystem root for every probe.
//!
//! Probes read `/proc`, `/sys`, `/etc` and friends through a [`HostRoot`], never through
//! absolute paths, so a test can point them at a recorded tree from another machine
//! (`tests/fixtures/hardware/*`). This module only reads; it never writes, never
//! follows network paths and never fails loudly: missing files are `None`/empty.

use std::path::{Path, PathBuf};

/// The directory that plays the role of `/` for the probes.
#[derive(Clone, Debug)]
pub struct HostRoot {
    base: PathBuf,
}

impl HostRoot {
    /// The real machine.
    pub fn live() -> HostRoot {
        HostRoot {
            base: PathBuf::from("/"),
        }
    }

    /// A recorded tree (a fixture) standing in for `/`.
    pub fn at(base: impl Into<PathBuf>) -> HostRoot {
        HostRoot { base: base.into() }
    }

    /// Whether this root is the real `/` (live-only probes such as CPUID key off this).
    pub fn is_live(&self) -> bool {
        self.base == Path::new("/")
    }

    /// Maps an absolute machine path (`/proc/cpuinfo`) into this root.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.base.join(abs.trim_start_matches('/'))
    }

    /// The whole file as text, or `None` when missing or unreadable.
    pub fn read(&self, abs: &str) -> Option<String> {
        std::fs::read_to_string(self.path(abs)).ok()
    }

    /// The file's first line, trimmed; `None` when missing or empty.
    pub fn read_trim(&self, abs: &str) -> Option<String> {
        let text = self.read(abs)?;
        let line = text.lines().next().unwrap_or("").trim().to_string();
        (!line.is_empty()).then_some(line)
    }

    /// The file parsed as an unsigned integer (decimal or `0x` hex).
    pub fn read_u64(&self, abs: &str) -> Option<u64> {
        parse_u64(&self.read_trim(abs)?)
    }

    /// Raw bytes, capped at `max` bytes (firmware tables are small; never read more).
    pub fn read_bytes(&self, abs: &str, max: u64) -> Option<Vec<u8>> {
        use std::io::Read;
        let file = std::fs::File::open(self.path(abs)).ok()?;
        let mut out = Vec::new();
        file.take(max).read_to_end(&mut out).ok()?;
        Some(out)
    }

    pub fn exists(&self, abs: &str) -> bool {
        self.path(abs).exists()
    }

    /// Entry names of a directory, sorted; empty when missing.
    pub fn list(&self, abs: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(abs))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort_by_key(|a| natural_key(a));
        names
    }

    /// The real directory behind a sysfs symlink (e.g. `/sys/class/drm/card0/device`),
    /// as a path relative to this root's base, so its parent can be read through the root.
    pub fn resolve(&self, abs: &str) -> Option<String> {
        let real = std::fs::canonicalize(self.path(abs)).ok()?;
        let base = std::fs::canonicalize(&self.base).ok()?;
        let rel = real.strip_prefix(&base).ok()?;
        Some(format!("/{}", rel.to_string_lossy()))
    }
}

/// Decimal or `0x`-prefixed hex.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// Sort key putting `cpu2` before `cpu10`.
fn natural_key(name: &str) -> (String, u64, String) {
    let digits_at = name.find(|c: char| c.is_ascii_digit());
    match digits_at {
        Some(i) => {
            let (head, tail) = name.split_at(i);
            let end = tail
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(tail.len());
            let num = tail[..end].parse().unwrap_or(u64::MAX);
            (head.to_string(), num, tail[end..].to_string())
        }
        None => (name.to_string(), 0, String::new()),
    }
}

/// Parses a kernel CPU list (`0-3,8,10-11`) into CPU numbers; bad parts are skipped.
pub fn parse_cpu_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    // A hostile list cannot make us allocate more than the kernel's CPU cap.
                    if b >= a && b - a < 65536 {
                        out.extend(a..=b);
                    }
                }
            }
            None => {
                if let Ok(n) = part.trim().parse() {
                    out.push(n);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_like_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), vec![0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(parse_cpu_list(""), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("5-2,x"), Vec::<u32>::new());
    }

    #[test]
    fn numbers_parse_in_decimal_and_hex() {
        assert_eq!(parse_u64("0x10de\n"), Some(0x10de));
        assert_eq!(parse_u64(" 42 "), Some(42));
        assert_eq!(parse_u64("nope"), None);
    }

    #[test]
    fn natural_order_sorts_cpu10_after_cpu2() {
        let mut v = vec!["cpu10", "cpu2", "cpu1"];
        v.sort_by_key(|a| natural_key(a));
        assert_eq!(v, vec!["cpu1", "cpu2", "cpu10"]);
    }
}
