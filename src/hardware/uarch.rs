//! CPU identity → microarchitecture name and compiler `-march` value.
//!
//! Pure lookup tables, no I/O. x86 entries key on (vendor, display family, display
//! model[, stepping]) as Linux prints them in /proc/cpuinfo and CPUID leaf 1 encodes
//! them; ARM entries key on (implementer, part) from /proc/cpuinfo. Sources: Linux
//! `arch/x86/include/asm/intel-family.h` (Intel model numbers),
//! `arch/arm64/include/asm/cputype.h` (ARM part numbers), AMD's family/model ranges as
//! listed in the same kernel tree (`arch/x86/kernel/cpu/amd.c`), and GCC's `-march`
//! names (gcc.gnu.org/onlinedocs/gcc/x86-Options.html, AArch64-Options.html).
//! Unknown identities give `None`; this module never guesses a newer ISA.

/// What the tables say about one CPU identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uarch {
    pub name: &'static str,
    pub march: &'static str,
    /// Intel hybrid parts (P-cores + E-cores).
    pub hybrid: bool,
}

const fn u(name: &'static str, march: &'static str) -> Option<Uarch> {
    Some(Uarch {
        name,
        march,
        hybrid: false,
    })
}

const fn h(name: &'static str, march: &'static str) -> Option<Uarch> {
    Some(Uarch {
        name,
        march,
        hybrid: true,
    })
}

/// x86: `vendor` is the CPUID vendor string (`GenuineIntel`, `AuthenticAMD`, `HygonGenuine`).
pub fn x86(vendor: &str, family: u32, model: u32, stepping: u32) -> Option<Uarch> {
    match vendor {
        "GenuineIntel" if family == 6 => intel_family6(model, stepping),
        "AuthenticAMD" => amd(family, model),
        "HygonGenuine" if family == 0x18 => u("zen", "znver1"),
        _ => None,
    }
}

fn intel_family6(model: u32, stepping: u32) -> Option<Uarch> {
    match model {
        0x1A | 0x1E | 0x1F | 0x2E => u("nehalem", "nehalem"),
        0x25 | 0x2C | 0x2F => u("westmere", "westmere"),
        0x2A | 0x2D => u("sandybridge", "sandybridge"),
        0x3A | 0x3E => u("ivybridge", "ivybridge"),
        // 0x3F is Haswell-E/EP: Xeon E5-1620 v3 / E5-2600 v3.
        0x3C | 0x3F | 0x45 | 0x46 => u("haswell", "haswell"),
        // 0x4F is Broadwell-E/EP: Xeon E5-2620 v4.
        0x3D | 0x47 | 0x4F | 0x56 => u("broadwell", "broadwell"),
        // Skylake client and its Kaby/Coffee/Comet Lake refreshes share the core.
        0x4E | 0x5E | 0x8E | 0x9E | 0xA5 | 0xA6 => u("skylake", "skylake"),
        // 0x55: Skylake-SP/X (steppings 0-4), Cascade Lake (5-7), Cooper Lake (10-11).
        0x55 => match stepping {
            5..=7 => u("cascadelake", "cascadelake"),
            10 | 11 => u("cooperlake", "cooperlake"),
            _ => u("skylake-x", "skylake-avx512"),
        },
        0x66 => u("cannonlake", "cannonlake"),
        0x6A | 0x6C => u("icelake-server", "icelake-server"),
        0x7D | 0x7E | 0x9D => u("icelake-client", "icelake-client"),
        0x8C | 0x8D => u("tigerlake", "tigerlake"),
        0xA7 | 0xA8 => u("rocketlake", "rocketlake"),
        0x8F => u("sapphirerapids", "sapphirerapids"),
        0xCF => u("emeraldrapids", "emeraldrapids"),
        0xAD | 0xAE => u("graniterapids", "graniterapids"),
        0x97 | 0x9A | 0xBE => h("alderlake", "alderlake"),
        0xB7 | 0xBA | 0xBF => h("raptorlake", "raptorlake"),
        0xAA | 0xAC => h("meteorlake", "meteorlake"),
        // 0xC6 is Arrow Lake-S/HX (Core Ultra 9 285K / 285HX), 0xC5 Arrow Lake-H, 0xB5 Arrow Lake-U.
        0xC5 | 0xC6 | 0xB5 => h("arrowlake", "arrowlake"),
        0xBD => h("lunarlake", "lunarlake"),
        0xCC => h("pantherlake", "pantherlake"),
        0x5C | 0x5F => u("goldmont", "goldmont"),
        0x7A => u("goldmont-plus", "goldmont-plus"),
        0x86 | 0x96 | 0x9C => u("tremont", "tremont"),
        0xAF => u("sierraforest", "sierraforest"),
        _ => None,
    }
}

fn amd(family: u32, model: u32) -> Option<Uarch> {
    match family {
        0x15 => match model {
            0x00..=0x0F => u("bulldozer", "bdver1"),
            0x10..=0x1F => u("piledriver", "bdver2"),
            0x30..=0x3F => u("steamroller", "bdver3"),
            0x60..=0x7F => u("excavator", "bdver4"),
            _ => None,
        },
        0x16 => u("jaguar", "btver2"),
        // Family 17h: models below 0x30 are Zen/Zen+, 0x30 and up Zen 2 (Rome 0x31, Matisse 0x71).
        0x17 => {
            if model < 0x30 {
                u("zen", "znver1")
            } else {
                u("zen2", "znver2")
            }
        }
        // Family 19h: Zen 3 (Milan 0x01, Vermeer 0x21, Rembrandt 0x44, Cezanne 0x50),
        // Zen 4 (Genoa 0x11, Raphael 0x61, Phoenix 0x74-0x78, Bergamo/Siena 0xA0).
        0x19 => match model {
            0x00..=0x0F | 0x20..=0x2F | 0x40..=0x5F => u("zen3", "znver3"),
            0x10..=0x1F | 0x60..=0x7F | 0xA0..=0xAF => u("zen4", "znver4"),
            _ => None,
        },
        0x1A => u("zen5", "znver5"),
        _ => None,
    }
}

/// ARM core names from (implementer, part), with an `-march` that enables the ISA the
/// core implements (GCC accepts these spellings).
pub fn arm(implementer: u32, part: u32) -> Option<Uarch> {
    const V8: &str = "armv8-a+crc";
    const V82: &str = "armv8.2-a+fp16+dotprod";
    const V84_SVE: &str = "armv8.4-a+sve+i8mm+bf16";
    const V9: &str = "armv9-a+sve2+i8mm+bf16";
    const V92: &str = "armv9.2-a+sve2+i8mm+bf16";
    match (implementer, part) {
        (0x41, 0xd03) => u("cortex-a53", V8),
        (0x41, 0xd04) => u("cortex-a35", V8),
        (0x41, 0xd05) => u("cortex-a55", V82),
        (0x41, 0xd07) => u("cortex-a57", V8),
        (0x41, 0xd08) => u("cortex-a72", V8),
        (0x41, 0xd09) => u("cortex-a73", V8),
        (0x41, 0xd0a) => u("cortex-a75", V82),
        (0x41, 0xd0b) => u("cortex-a76", V82),
        (0x41, 0xd0c) => u("neoverse-n1", V82),
        (0x41, 0xd0d) => u("cortex-a77", V82),
        (0x41, 0xd40) => u("neoverse-v1", V84_SVE),
        (0x41, 0xd41) => u("cortex-a78", V82),
        (0x41, 0xd44) => u("cortex-x1", V82),
        (0x41, 0xd46) => u("cortex-a510", V9),
        (0x41, 0xd47) => u("cortex-a710", V9),
        (0x41, 0xd48) => u("cortex-x2", V9),
        (0x41, 0xd49) => u("neoverse-n2", V9),
        (0x41, 0xd4b) => u("cortex-a78c", V82),
        (0x41, 0xd4d) => u("cortex-a715", V9),
        (0x41, 0xd4e) => u("cortex-x3", V9),
        (0x41, 0xd4f) => u("neoverse-v2", V9),
        (0x41, 0xd80) => u("cortex-a520", V92),
        (0x41, 0xd81) => u("cortex-a720", V92),
        (0x41, 0xd82) => u("cortex-x4", V92),
        (0x41, 0xd84) => u("neoverse-v3", V92),
        (0x41, 0xd85) => u("cortex-x925", V92),
        (0x41, 0xd87) => u("cortex-a725", V92),
        (0x41, 0xd8e) => u("neoverse-n3", V92),
        (0xc0, 0xac3) => u("ampere1", "armv8.6-a+i8mm+bf16"),
        (0xc0, 0xac4) => u("ampere1a", "armv8.6-a+i8mm+bf16"),
        (0x46, 0x001) => u("a64fx", "armv8.2-a+sve"),
        (0x61, 0x022 | 0x023 | 0x024 | 0x025 | 0x028 | 0x029) => u("apple-m1", "armv8.5-a"),
        (0x61, 0x032 | 0x033 | 0x034 | 0x035 | 0x038 | 0x039) => u("apple-m2", "armv8.6-a"),
        (0x51, 0x001) => u("oryon-1", "armv8.7-a+i8mm+bf16"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_identities_from_the_issue_map_to_their_march() {
        let cases = [
            // (vendor, family, model, stepping, uarch, march)
            ("GenuineIntel", 6, 63, 2, "haswell", "haswell"), // Xeon E5-1620 v3
            ("GenuineIntel", 6, 79, 1, "broadwell", "broadwell"), // Xeon E5-2620 v4
            ("GenuineIntel", 6, 85, 4, "skylake-x", "skylake-avx512"),
            ("GenuineIntel", 6, 85, 7, "cascadelake", "cascadelake"),
            (
                "GenuineIntel",
                6,
                106,
                6,
                "icelake-server",
                "icelake-server",
            ),
            (
                "GenuineIntel",
                6,
                143,
                8,
                "sapphirerapids",
                "sapphirerapids",
            ),
            ("GenuineIntel", 6, 151, 2, "alderlake", "alderlake"), // i9-12900K
            ("GenuineIntel", 6, 186, 3, "raptorlake", "raptorlake"), // i7-1355U
            ("GenuineIntel", 6, 183, 1, "raptorlake", "raptorlake"), // i9-13900K
            ("GenuineIntel", 6, 198, 2, "arrowlake", "arrowlake"), // Core Ultra 9 285HX
            ("AuthenticAMD", 23, 49, 0, "zen2", "znver2"),         // EPYC Rome
            ("AuthenticAMD", 23, 113, 0, "zen2", "znver2"),        // Ryzen 3000
            ("AuthenticAMD", 25, 1, 1, "zen3", "znver3"),          // EPYC Milan
            ("AuthenticAMD", 25, 33, 0, "zen3", "znver3"),         // Ryzen 5000
            ("AuthenticAMD", 25, 97, 2, "zen4", "znver4"),         // Ryzen 7000
            ("AuthenticAMD", 26, 68, 0, "zen5", "znver5"),         // Ryzen 9000
        ];
        for (vendor, fam, model, step, name, march) in cases {
            let got = x86(vendor, fam, model, step).unwrap();
            assert_eq!(
                (got.name, got.march),
                (name, march),
                "{vendor} {fam}/{model}"
            );
        }
        assert!(x86("GenuineIntel", 6, 151, 2).unwrap().hybrid);
        assert!(!x86("GenuineIntel", 6, 63, 2).unwrap().hybrid);
        assert_eq!(x86("GenuineIntel", 6, 0xFFF, 0), None);
        assert_eq!(x86("CentaurHauls", 6, 15, 0), None);
    }

    #[test]
    fn arm_parts_map_to_core_names() {
        assert_eq!(arm(0x41, 0xd0b).unwrap().name, "cortex-a76"); // Raspberry Pi 5
        assert_eq!(arm(0x41, 0xd0c).unwrap().name, "neoverse-n1"); // Ampere Altra
        assert_eq!(arm(0x41, 0xd4f).unwrap().name, "neoverse-v2"); // Grace
        assert_eq!(arm(0x41, 0xfff), None);
    }
}
