//! Fixtures for the planner's unit tests: bundled rigs and catalog models, and the
//! pipeline run stage by stage so a test can look at what one stage produced.

use super::devices::Devices;
use super::search::{self, Found};
use super::settings::{self, Settled};
use super::space::SearchSpace;
use super::PlanRequest;
use crate::hardware::HardwareSnapshot;
use crate::model::ModelSpec;

/// A bundled hardware preset.
pub fn rig(name: &str) -> HardwareSnapshot {
    crate::hardware::presets::get(name).unwrap().unwrap()
}

/// A machine whose only GPU is `gpu` from the GPU table, with `ram_gib` of RAM, which a
/// unified-memory GPU shares (as `--gpu NAME --ram-gib N` describes it).
pub fn rig_with_gpu(gpu: &str, ram_gib: u64) -> HardwareSnapshot {
    let mut hw = rig("desktop-3090");
    let mut g = crate::hardware::gpu_table::lookup(gpu)
        .unwrap()
        .to_gpu_info(0);
    hw.memory.total_bytes = ram_gib << 30;
    hw.memory.available_bytes = None;
    if g.unified_memory {
        g.vram_bytes = hw.memory.total_bytes;
    }
    hw.gpus = vec![g];
    hw
}

/// A catalog model at one quant.
pub fn model(id: &str, quant: &str) -> ModelSpec {
    crate::model::catalog::find(id)
        .unwrap()
        .spec(Some(quant))
        .unwrap()
}

/// What the stages before the explanation produced for one request.
pub struct Staged {
    pub devices: Devices,
    pub space: SearchSpace,
    pub found: Found,
    pub settled: Settled,
}

/// Runs space, search and settings with the speed model.
pub fn stages(spec: &ModelSpec, hw: &HardwareSnapshot, req: &PlanRequest) -> Staged {
    let scorer = crate::perf::scorer(spec, req.engine);
    let devices = Devices::local(hw);
    let space = SearchSpace::new(spec, hw, req).unwrap();
    let threads = match req.threads {
        Some(t) => (t, "pinned".to_string()),
        None => settings::threads(hw),
    };
    let found = search::search(spec, hw, &devices, req, &space, threads.0, &scorer).unwrap();
    let settled = settings::settle(
        spec,
        hw,
        &devices,
        req,
        found.best.clone(),
        threads,
        &scorer,
    )
    .unwrap();
    Staged {
        devices,
        space,
        found,
        settled,
    }
}
