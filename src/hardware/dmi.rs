//! SMBIOS "Memory Device" (type 17) records → DIMM type, speed and channel count.
//!
//! Two inputs, one result: the raw table the kernel exports at
//! `/sys/firmware/dmi/tables/DMI`, parsed per DMTF DSP0134 (SMBIOS 3.x) §7.18, and the
//! text `dmidecode -t 17` prints. The bytes are hostile: every offset is checked
//! against the structure length and the table end. No I/O here.

/// What the populated DIMMs say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DimmLayout {
    pub dimm_type: Option<String>,
    /// Slowest configured (else rated) speed across populated DIMMs, MT/s.
    pub speed_mts: Option<u32>,
    pub channels: Option<u32>,
    /// True when channels were not named by any locator and equal the DIMM count.
    pub channels_guessed: bool,
    pub populated: u32,
}

impl DimmLayout {
    /// channels × MT/s × 8 bytes per transfer (a 64-bit channel), decimal GB/s.
    pub fn theoretical_gbs(&self) -> Option<f64> {
        let c = f64::from(self.channels?);
        let s = f64::from(self.speed_mts?);
        Some(c * s * 8.0 / 1000.0)
    }
}

#[derive(Debug, Default)]
struct Dimm {
    installed: bool,
    kind: Option<String>,
    speed: Option<u32>,
    configured_speed: Option<u32>,
    locator: String,
    bank: String,
}

/// SMBIOS memory type byte (DSP0134 table 76) → name.
fn memory_type_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x12 => "DDR",
        0x13 => "DDR2",
        0x18 => "DDR3",
        0x1A => "DDR4",
        0x1B => "LPDDR",
        0x1C => "LPDDR2",
        0x1D => "LPDDR3",
        0x1E => "LPDDR4",
        0x20 => "HBM",
        0x21 => "HBM2",
        0x22 => "DDR5",
        0x23 => "LPDDR5",
        0x24 => "HBM3",
        _ => return None,
    })
}

/// Parses the raw SMBIOS structure table. `None` when no populated DIMM is found.
pub fn parse_smbios_type17(table: &[u8]) -> Option<DimmLayout> {
    let mut dimms = Vec::new();
    let mut pos = 0usize;
    while pos + 4 <= table.len() {
        let kind = table[pos];
        let len = usize::from(table[pos + 1]);
        if len < 4 || pos + len > table.len() {
            break;
        }
        let formatted = &table[pos..pos + len];
        // The string set follows the formatted area and ends with two NULs.
        let strings_start = pos + len;
        let mut end = strings_start;
        while end + 1 < table.len() && !(table[end] == 0 && table[end + 1] == 0) {
            end += 1;
        }
        if end + 1 >= table.len() {
            break;
        }
        let strings: Vec<String> = table[strings_start..end]
            .split(|&b| b == 0)
            .map(|s| String::from_utf8_lossy(s).trim().to_string())
            .collect();
        if kind == 17 {
            dimms.push(type17(formatted, &strings));
        }
        if kind == 127 {
            break; // end-of-table marker
        }
        pos = end + 2;
    }
    layout(dimms)
}

fn type17(f: &[u8], strings: &[String]) -> Dimm {
    let byte = |off: usize| f.get(off).copied();
    let word = |off: usize| Some(u16::from_le_bytes([*f.get(off)?, *f.get(off + 1)?]));
    let string = |off: usize| -> String {
        match byte(off) {
            Some(i) if i > 0 => strings.get(usize::from(i) - 1).cloned().unwrap_or_default(),
            _ => String::new(),
        }
    };
    // Size at 0x0C: 0 = empty slot, 0xFFFF = unknown (treated as installed).
    let installed = matches!(word(0x0C), Some(s) if s != 0);
    let nonzero = |v: Option<u16>| v.filter(|&s| s != 0 && s != 0xFFFF).map(u32::from);
    Dimm {
        installed,
        kind: byte(0x12).and_then(memory_type_name).map(str::to_string),
        speed: nonzero(word(0x15)),
        configured_speed: nonzero(word(0x20)),
        locator: string(0x10),
        bank: string(0x11),
    }
}

/// Parses `dmidecode -t 17` output. `None` when no populated DIMM is listed.
pub fn parse_dmidecode_type17(text: &str) -> Option<DimmLayout> {
    let mut dimms = Vec::new();
    let mut cur: Option<Dimm> = None;
    for line in text.lines() {
        if line.trim() == "Memory Device" {
            if let Some(d) = cur.take() {
                dimms.push(d);
            }
            cur = Some(Dimm::default());
            continue;
        }
        let Some(d) = cur.as_mut() else { continue };
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        let v = v.trim();
        let mts = || {
            v.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u32>().ok())
        };
        match k.trim() {
            "Size" => d.installed = !v.starts_with("No Module") && v != "Unknown",
            "Type" => d.kind = (v != "Unknown" && v != "Other").then(|| v.to_string()),
            "Speed" => d.speed = mts(),
            "Configured Memory Speed" | "Configured Clock Speed" => d.configured_speed = mts(),
            "Locator" => d.locator = v.to_string(),
            "Bank Locator" => d.bank = v.to_string(),
            _ => {}
        }
    }
    if let Some(d) = cur {
        dimms.push(d);
    }
    layout(dimms)
}

fn layout(dimms: Vec<Dimm>) -> Option<DimmLayout> {
    let populated: Vec<&Dimm> = dimms.iter().filter(|d| d.installed).collect();
    if populated.is_empty() {
        return None;
    }
    let speed = populated
        .iter()
        .filter_map(|d| d.configured_speed.or(d.speed))
        .min();
    let kind = populated.iter().find_map(|d| d.kind.clone());
    let named: Vec<String> = populated
        .iter()
        .filter_map(|d| channel_name(&d.bank).or_else(|| channel_name(&d.locator)))
        .collect();
    let n = u32::try_from(populated.len()).unwrap_or(u32::MAX);
    let (channels, guessed) = if named.len() == populated.len() {
        let mut uniq = named.clone();
        uniq.sort();
        uniq.dedup();
        (u32::try_from(uniq.len()).unwrap_or(u32::MAX), false)
    } else {
        (n, true)
    };
    Some(DimmLayout {
        dimm_type: kind,
        speed_mts: speed,
        channels: Some(channels),
        channels_guessed: guessed,
        populated: n,
    })
}

/// The channel a locator names: `P0 CHANNEL A` → `P0/A`, `ChannelB-DIMM0` → `B`,
/// `DIMM_A1` / `CPU1_DIMM_C2` → `A` / `CPU1/C`. `None` when it names no channel.
fn channel_name(loc: &str) -> Option<String> {
    let up = loc.to_ascii_uppercase();
    let socket = up
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|t| {
            (t.starts_with("CPU") || t.starts_with('P'))
                && t.len() <= 4
                && t[1..].chars().any(|c| c.is_ascii_digit())
        })
        .map(str::to_string);
    let with_socket = |ch: String| match &socket {
        Some(s) => format!("{s}/{ch}"),
        None => ch,
    };
    if let Some(i) = up.find("CHANNEL") {
        let rest = up[i + 7..].trim_start_matches([' ', '_', '-']);
        let ch: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .take(1)
            .collect();
        if !ch.is_empty() {
            return Some(with_socket(ch));
        }
    }
    if let Some(i) = up.find("DIMM") {
        let rest = up[i + 4..].trim_start_matches([' ', '_', '-']);
        let mut chars = rest.chars();
        if let (Some(l), Some(d)) = (chars.next(), chars.next()) {
            if l.is_ascii_alphabetic() && d.is_ascii_digit() {
                return Some(with_socket(l.to_string()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds one type-17 structure per DSP0134 layout (SMBIOS 3.2, 0x54 bytes formatted).
    fn type17(size_mb: u16, kind: u8, speed: u16, conf: u16, loc: &str, bank: &str) -> Vec<u8> {
        let mut f = vec![0u8; 0x54];
        f[0] = 17;
        f[1] = 0x54;
        f[0x0C..0x0E].copy_from_slice(&size_mb.to_le_bytes());
        f[0x10] = 1; // device locator = string 1
        f[0x11] = 2; // bank locator = string 2
        f[0x12] = kind;
        f[0x15..0x17].copy_from_slice(&speed.to_le_bytes());
        f[0x20..0x22].copy_from_slice(&conf.to_le_bytes());
        f.extend_from_slice(loc.as_bytes());
        f.push(0);
        f.extend_from_slice(bank.as_bytes());
        f.push(0);
        f.push(0);
        f
    }

    #[test]
    fn smbios_table_gives_type_speed_and_channels() {
        let mut table = Vec::new();
        for ch in ["A", "B", "C", "D"] {
            table.extend(type17(
                8192,
                0x1A,
                2133,
                2133,
                &format!("DIMM{ch}1"),
                &format!("CHANNEL {ch}"),
            ));
        }
        table.extend(type17(0, 0x02, 0, 0, "DIMMA2", "CHANNEL A")); // empty slot
        table.extend([127u8, 4, 0, 0, 0, 0]);
        let l = parse_smbios_type17(&table).unwrap();
        assert_eq!(l.dimm_type.as_deref(), Some("DDR4"));
        assert_eq!(l.speed_mts, Some(2133));
        assert_eq!(l.channels, Some(4));
        assert!(!l.channels_guessed);
        // 4 channels x 2133 MT/s x 8 bytes = 68.256 GB/s.
        assert!((l.theoretical_gbs().unwrap() - 68.256).abs() < 1e-9);
    }

    #[test]
    fn truncated_or_garbage_tables_do_not_panic() {
        let t = type17(8192, 0x1A, 2133, 2133, "DIMM_A1", "BANK 0");
        for cut in 0..t.len() {
            let _ = parse_smbios_type17(&t[..cut]);
        }
        assert_eq!(parse_smbios_type17(&[17, 200, 0, 0]), None);
        assert_eq!(parse_smbios_type17(&[]), None);
    }

    #[test]
    fn dmidecode_text_two_channels_from_locators() {
        // Layout of `dmidecode -t 17` (dmidecode 3.x) on a two-channel desktop.
        let text = "Handle 0x0040, DMI type 17, 92 bytes\nMemory Device\n\tSize: 16 GB\n\tLocator: DIMM_A1\n\tBank Locator: BANK 0\n\tType: DDR4\n\tSpeed: 3200 MT/s\n\tConfigured Memory Speed: 3200 MT/s\n\nHandle 0x0041, DMI type 17, 92 bytes\nMemory Device\n\tSize: No Module Installed\n\tLocator: DIMM_A2\n\tType: Unknown\n\nHandle 0x0042, DMI type 17, 92 bytes\nMemory Device\n\tSize: 16 GB\n\tLocator: DIMM_B1\n\tBank Locator: BANK 2\n\tType: DDR4\n\tSpeed: 3200 MT/s\n\tConfigured Memory Speed: 2933 MT/s\n";
        let l = parse_dmidecode_type17(text).unwrap();
        assert_eq!(l.populated, 2);
        assert_eq!(l.channels, Some(2));
        assert_eq!(l.speed_mts, Some(2933));
        assert_eq!(l.dimm_type.as_deref(), Some("DDR4"));
    }

    #[test]
    fn unnamed_channels_fall_back_to_dimm_count() {
        let text = "Memory Device\n\tSize: 8 GB\n\tLocator: Slot 1\n\tType: DDR3\n\tSpeed: 1600 MT/s\nMemory Device\n\tSize: 8 GB\n\tLocator: Slot 2\n\tType: DDR3\n\tSpeed: 1600 MT/s\n";
        let l = parse_dmidecode_type17(text).unwrap();
        assert_eq!(l.channels, Some(2));
        assert!(l.channels_guessed);
    }
}
