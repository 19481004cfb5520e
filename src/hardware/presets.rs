//! Bundled hardware presets (`profiles/hardware/*.toml`, embedded): the seeds' rigs.
//!
//! Each preset is an ordinary snapshot file whose comments cite the seed lines it came
//! from. Lookup by exact name only; no I/O.

use super::snapshot_file::{self, SnapshotFormat};
use super::HardwareSnapshot;

/// (name, TOML text), in the order `catalog hardware` lists them.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "z440-2x3060",
        include_str!("../../profiles/hardware/z440-2x3060.toml"),
    ),
    (
        "desktop-3070-8gb",
        include_str!("../../profiles/hardware/desktop-3070-8gb.toml"),
    ),
    (
        "xeon-e5-2620v4-cpu",
        include_str!("../../profiles/hardware/xeon-e5-2620v4-cpu.toml"),
    ),
    (
        "ms02-rtxpro4000",
        include_str!("../../profiles/hardware/ms02-rtxpro4000.toml"),
    ),
    (
        "desktop-3090",
        include_str!("../../profiles/hardware/desktop-3090.toml"),
    ),
    (
        "desktop-5090",
        include_str!("../../profiles/hardware/desktop-5090.toml"),
    ),
];

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.0).collect()
}

/// The preset called `name`, or `None`.
pub fn get(name: &str) -> Option<crate::error::Result<HardwareSnapshot>> {
    let (n, text) = PRESETS.iter().find(|p| p.0 == name)?;
    Some(
        snapshot_file::from_str(text, SnapshotFormat::Toml, &format!("preset {n}")).map(|mut s| {
            // A preset describes the hardware, not its software: its GPUs get their
            // vendor's usual driver stack (runtime and Vulkan).
            for g in s.gpus.iter_mut().filter(|g| g.backends.is_empty()) {
                g.backends = g.vendor.usual_backends().to_vec();
            }
            s
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::gpu_table;

    #[test]
    fn every_preset_parses_and_agrees_with_the_gpu_table() {
        for name in names() {
            let s = get(name).unwrap().unwrap();
            assert_eq!(s.source, format!("preset {name}"));
            assert!(
                s.cpu.physical_cores > 0 && s.memory.total_bytes > 0,
                "{name}"
            );
            assert!(!s.notes.is_empty(), "{name} must say where it came from");
            for g in &s.gpus {
                let row = gpu_table::lookup(&g.name).unwrap();
                assert_eq!(
                    g.bandwidth_gbs,
                    Some(row.bandwidth_gbs),
                    "{name}: {}",
                    g.name
                );
                assert_eq!(g.fp16_tflops, Some(row.fp16_tflops), "{name}: {}", g.name);
                assert_eq!(
                    g.vram_bytes as f64,
                    row.vram_gib * crate::units::GIB as f64,
                    "{name}: {}",
                    g.name
                );
                assert_eq!(
                    g.compute_capability, row.compute_capability,
                    "{name}: {}",
                    g.name
                );
            }
        }
    }

    #[test]
    fn the_seed_rigs_have_the_shapes_the_seeds_describe() {
        let z = get("z440-2x3060").unwrap().unwrap();
        assert_eq!((z.cpu.physical_cores, z.cpu.threads), (4, 8));
        assert_eq!(z.cpu.march.as_deref(), Some("haswell"));
        assert_eq!(z.gpus.len(), 2);
        assert!(z
            .gpus
            .iter()
            .all(|g| g.pcie.unwrap().gen == Some(3) && g.pcie.unwrap().width == Some(16)));
        let x = get("xeon-e5-2620v4-cpu").unwrap().unwrap();
        assert!(x.gpus.is_empty());
        assert_eq!(x.memory.total_bytes, 128 * crate::units::GIB);
        assert_eq!(x.memory.dimm_type.as_deref(), Some("DDR3"));
        let m = get("ms02-rtxpro4000").unwrap().unwrap();
        assert_eq!(m.gpus[0].pcie.unwrap().width, Some(8));
        assert_eq!(
            (m.cpu.performance_cores, m.cpu.efficiency_cores),
            (Some(8), Some(16))
        );
        let d = get("desktop-3070-8gb").unwrap().unwrap();
        assert_eq!((d.cpu.physical_cores, d.cpu.threads), (8, 16));
        assert_eq!(d.memory.total_bytes, 16 * crate::units::GIB);
        assert!(get("no-such-rig").is_none());
    }
}
