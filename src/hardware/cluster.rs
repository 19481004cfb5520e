//! A cluster as input: `--worker NAME=HARDWARE@HOST:PORT`, `--link`, and the cluster
//! file (TOML) holding the same, resolved into each worker's [`HardwareSnapshot`].
//!
//! Parsing and resolution only, at the edge's request: every malformed value is exit 2
//! naming it. The planner receives the result as plain data (`planner::request`).
//!
//! Link figures are data with their source. Payload rates of Ethernet are line rate ×
//! 1460/1538: a TCP segment with a 1460-byte payload in a 1500-byte MTU frame occupies
//! 1538 bytes on the wire (IEEE 802.3: preamble+SFD 8, header 14, FCS 4, inter-frame
//! gap 12; IPv4 header 20, RFC 791; TCP header 20, RFC 9293). Thunderbolt is a measured
//! iperf3 TCP rate. Round-trip times are assumptions (LAN ping times vary with the NICs
//! and switches): the link line of every plan says so, and `--link GBITS,RTT_US` takes
//! your own `ping` figure.

use super::resolve::load;
use super::HardwareSnapshot;
use crate::error::{user_error, Result};
use crate::plan::cluster::{Endpoint, Link};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// TCP payload share of an Ethernet line at 1500-byte MTU (see the module doc).
const ETHERNET_TCP_PAYLOAD: f64 = 1460.0 / 1538.0;
const ETHERNET_SOURCE: &str = "line rate x 1460/1538 (TCP payload at MTU 1500, IEEE 802.3 framing); RTT assumed, not measured: pass --link GBITS,RTT_US with your ping time";

/// The link presets: name, payload Gbit/s, RTT µs, source.
pub fn link_presets() -> Vec<Link> {
    let eth = |name: &str, line_gbits: f64, rtt_us: f64| Link {
        name: name.to_string(),
        gbits_per_s: line_gbits * ETHERNET_TCP_PAYLOAD,
        rtt_us,
        source: ETHERNET_SOURCE.to_string(),
    };
    vec![
        eth("1gbe", 1.0, 200.0),
        eth("10gbe", 10.0, 100.0),
        eth("25gbe", 25.0, 50.0),
        Link {
            name: "thunderbolt".into(),
            // iperf3 over a Thunderbolt 4 / USB4 cable between a MacBook Pro M2 and an
            // Intel NUC 12 at MTU 1500: 16.4 Gbit/s TCP.
            gbits_per_s: 16.4,
            rtt_us: 100.0,
            source: "iperf3 16.4 Gbit/s TCP over Thunderbolt 4, https://www.jiribrejcha.net/2024/05/direct-20-gbps-connection-between-mac-and-windows-machine-with-no-ethernet-adapters/; RTT assumed, not measured".into(),
        },
    ]
}

/// `1gbe|10gbe|25gbe|thunderbolt|GBITS[,RTT_US]` (RTT defaults to 200 µs).
pub fn parse_link(s: &str) -> Result<Link> {
    let t = s.trim().to_ascii_lowercase();
    if let Some(l) = link_presets().into_iter().find(|l| l.name == t) {
        return Ok(l);
    }
    let bad = || {
        user_error(format!(
            "--link '{s}': expected 1gbe, 10gbe, 25gbe, thunderbolt or GBITS[,RTT_US] (e.g. 2.5,150)"
        ))
    };
    let (g, rtt) = match t.split_once(',') {
        Some((g, r)) => (g, Some(r)),
        None => (t.as_str(), None),
    };
    let gbits: f64 = g.trim().parse().map_err(|_| bad())?;
    let rtt_us: f64 = match rtt {
        Some(r) => r.trim().parse().map_err(|_| bad())?,
        None => 200.0,
    };
    if !(gbits.is_finite() && gbits > 0.0 && gbits <= 10_000.0) {
        return Err(bad());
    }
    if !(rtt_us.is_finite() && (0.0..=1e7).contains(&rtt_us)) {
        return Err(bad());
    }
    Ok(Link {
        name: "custom".into(),
        gbits_per_s: gbits,
        rtt_us,
        source: if rtt.is_some() {
            "given (--link GBITS,RTT_US)".into()
        } else {
            "given (--link GBITS); RTT assumed 200 us, not measured".into()
        },
    })
}

/// One worker as given: its name, its hardware (snapshot file or preset) and where its
/// `rpc-server` listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub name: String,
    pub hardware: String,
    pub address: String,
    pub port: u16,
}

impl WorkerSpec {
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            address: self.address.clone(),
            port: self.port,
        }
    }

    /// `NAME=HARDWARE@HOST:PORT` (HOST may be `[IPv6]`).
    pub fn to_arg(&self) -> String {
        format!(
            "{}={}@{}",
            self.name,
            self.hardware,
            self.endpoint().to_rpc()
        )
    }
}

/// Parses `NAME=HARDWARE@HOST:PORT`; exit 2 naming the value and what is wrong.
pub fn parse_worker(s: &str) -> Result<WorkerSpec> {
    let bad = |why: &str| {
        user_error(format!(
            "--worker '{s}': {why} (expected NAME=HARDWARE@HOST:PORT, e.g. box2=box2.toml@192.168.1.20:50052)"
        ))
    };
    let (name, rest) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
    let (hardware, endpoint) = rest
        .rsplit_once('@')
        .ok_or_else(|| bad("no '@HOST:PORT'"))?;
    let (address, port) = endpoint.rsplit_once(':').ok_or_else(|| bad("no ':PORT'"))?;
    check_name(name).map_err(|w| bad(&w))?;
    if hardware.is_empty() {
        return Err(bad("no HARDWARE"));
    }
    let address = address.trim_start_matches('[').trim_end_matches(']');
    check_address(address).map_err(|w| bad(&w))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad(&format!("port '{port}' is not 1-65535")))?;
    Ok(WorkerSpec {
        name: name.to_string(),
        hardware: hardware.to_string(),
        address: address.to_string(),
        port,
    })
}

/// Worker names become file and unit names: letters, digits, `-`, `_`, at most 32.
fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name '{name}' must be 1-32 letters, digits, '-' or '_'"
        ))
    }
}

/// An IP address or a host name (letters, digits, `.`, `-`); never a wildcard unless it
/// is written out (`0.0.0.0` is accepted only as given, and warned about by the plan).
fn check_address(a: &str) -> std::result::Result<(), String> {
    if a.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let ok = !a.is_empty()
        && a.len() <= 253
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !a.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("host '{a}' is not an IP address or host name"))
    }
}

/// A worker with its hardware resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedWorker {
    pub spec: WorkerSpec,
    pub hw: HardwareSnapshot,
}

/// Loads each worker's HARDWARE (snapshot file, relative to `base` when given, or a
/// preset); exit 2 naming the worker when it is neither, or when two share a name or an
/// endpoint.
pub fn resolve_workers(specs: &[WorkerSpec], base: Option<&Path>) -> Result<Vec<ResolvedWorker>> {
    let mut out: Vec<ResolvedWorker> = Vec::new();
    for w in specs {
        if out.iter().any(|o| o.spec.name == w.name) {
            return Err(user_error(format!(
                "--worker '{}': the name '{}' is given twice",
                w.to_arg(),
                w.name
            )));
        }
        if out.iter().any(|o| o.spec.endpoint() == w.endpoint()) {
            return Err(user_error(format!(
                "--worker '{}': endpoint {} is given twice",
                w.to_arg(),
                w.endpoint().to_rpc()
            )));
        }
        let path = match base {
            Some(b) if Path::new(&w.hardware).is_relative() && b.join(&w.hardware).is_file() => {
                b.join(&w.hardware).to_string_lossy().into_owned()
            }
            _ => w.hardware.clone(),
        };
        let hw = load(&path).map_err(|e| user_error(format!("--worker '{}': {e}", w.to_arg())))?;
        out.push(ResolvedWorker {
            spec: w.clone(),
            hw,
        });
    }
    Ok(out)
}

/// The cluster file: the same as `--worker`/`--link`/`--main-address`, saved to reuse.
///
/// ```toml
/// link = "10gbe"                # or "2.5,150" (Gbit/s, RTT µs)
/// main_address = "192.168.1.10" # the main host as the workers see it
/// [[worker]]
/// name = "box2"
/// hardware = "box2.toml"        # snapshot file (relative to this file) or preset
/// address = "192.168.1.20"
/// port = 50052
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_address: Option<String>,
    #[serde(default, rename = "worker")]
    pub workers: Vec<WorkerSpec>,
}

impl ClusterFile {
    /// Reads and checks a cluster file (each worker as `--worker` would be).
    pub fn read(path: &Path) -> Result<ClusterFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| user_error(format!("--cluster '{}': {e}", path.display())))?;
        let f: ClusterFile = toml::from_str(&text).map_err(|e| {
            user_error(format!(
                "--cluster '{}': {}",
                path.display(),
                e.message().trim()
            ))
        })?;
        for w in &f.workers {
            parse_worker(&w.to_arg())
                .map_err(|e| user_error(format!("--cluster '{}': {e}", path.display())))?;
        }
        if let Some(l) = &f.link {
            parse_link(l)
                .map_err(|e| user_error(format!("--cluster '{}': {e}", path.display())))?;
        }
        if let Some(a) = &f.main_address {
            check_address(a).map_err(|w| {
                user_error(format!("--cluster '{}': main_address: {w}", path.display()))
            })?;
        }
        Ok(f)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// `--main-address`: an IP address or host name, exit 2 otherwise.
pub fn check_main_address(a: &str) -> Result<()> {
    check_address(a).map_err(|w| user_error(format!("--main-address '{a}': {w}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_specs_parse_or_name_what_is_wrong() {
        let w = parse_worker("box2=desktop-3090@192.168.1.20:50052").unwrap();
        assert_eq!(
            (
                w.name.as_str(),
                w.hardware.as_str(),
                w.address.as_str(),
                w.port
            ),
            ("box2", "desktop-3090", "192.168.1.20", 50052)
        );
        let v6 = parse_worker("b=x.toml@[fd00::2]:5").unwrap();
        assert_eq!(
            (v6.address.as_str(), v6.endpoint().to_rpc()),
            ("fd00::2", "[fd00::2]:5".to_string())
        );
        for (bad, why) in [
            ("box2=desktop-3090@192.168.1.20", "no ':PORT'"),
            ("box2=desktop-3090", "no '@HOST:PORT'"),
            ("desktop-3090@h:1", "no '='"),
            ("box 2=x@h:1", "name 'box 2'"),
            ("b=x@h:0", "port '0'"),
            ("b=x@h:99999", "port '99999'"),
            ("b=x@h;rm:1", "host 'h;rm'"),
            ("b=@h:1", "no HARDWARE"),
        ] {
            let e = parse_worker(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn links_are_presets_or_figures() {
        let l = parse_link("10gbe").unwrap();
        assert!((l.gbits_per_s - 9.49).abs() < 0.01, "{l:?}");
        assert!(l.source.contains("1460/1538"));
        let c = parse_link("2.5,150").unwrap();
        assert_eq!((c.gbits_per_s, c.rtt_us), (2.5, 150.0));
        for bad in ["fast", "0", "-1", "1,x", "nan"] {
            assert!(parse_link(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_worker_hardware_is_named() {
        let w = parse_worker("box2=no-such-rig@10.0.0.2:50052").unwrap();
        let e = resolve_workers(std::slice::from_ref(&w), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("box2=no-such-rig@10.0.0.2:50052"), "{e}");
        let twice = resolve_workers(&[w.clone(), w], None);
        assert!(twice.is_err());
    }

    #[test]
    fn cluster_files_round_trip() {
        let f = ClusterFile {
            link: Some("10gbe".into()),
            main_address: Some("192.168.1.10".into()),
            workers: vec![parse_worker("box2=desktop-3090@192.168.1.20:50052").unwrap()],
        };
        let back: ClusterFile = toml::from_str(&f.to_toml()).unwrap();
        assert_eq!(back, f);
    }
}
