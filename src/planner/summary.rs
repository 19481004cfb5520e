//! A placement in a few words ("all layers on GPU 0, experts of 12 layers in RAM"): how
//! the placement reason, the runners-up, the split-mode reason and the no-fit error name
//! a candidate, and how the search tells two candidates of the same shape apart. Pure
//! text from a [`Placement`].

use super::memory::weights::{layer_device, Placement};
use crate::model::ModelSpec;
use crate::plan::DeviceId;

/// The placement in words.
pub fn summary(p: &Placement, spec: &ModelSpec) -> String {
    if p.gpus.is_empty() || p.n_gpu_layers == 0 {
        return "CPU only".into();
    }
    let all = p.n_gpu_layers > spec.n_layer;
    let gpus = if p.is_parallel() {
        format!(" tensor-parallel over {} GPUs", p.gpus.len())
    } else if p.gpus.len() > 1 {
        format!(" split over {} GPUs", p.gpus.len())
    } else {
        format!(" on GPU {}", p.gpus[0])
    };
    let moves = expert_moves(p, spec);
    if all && !moves.is_empty() {
        format!("all layers{gpus}, {} by -ot", moved_experts(&moves))
    } else if all && p.n_cpu_moe > 0 {
        format!("all layers{gpus}, experts of {} layers in RAM", p.n_cpu_moe)
    } else if all {
        format!("everything{gpus}")
    } else {
        format!("{} of {} layers{gpus}", p.n_gpu_layers, spec.n_layer + 1)
    }
}

/// "experts of 5 layers in RAM (3 of GPU 0, 2 of GPU 1), experts of 1 GPU 0 layers on
/// GPU 1" for the `-ot` moves of a placement.
fn moved_experts(moves: &[(DeviceId, DeviceId, u32)]) -> String {
    let from = |home: &DeviceId| match home.gpu_index() {
        Some(g) => format!("GPU {g}"),
        None => "the CPU".to_string(),
    };
    let to_ram = |(_, dest, _): &&(DeviceId, DeviceId, u32)| *dest == DeviceId::CPU;
    let in_ram: Vec<String> = moves
        .iter()
        .filter(to_ram)
        .map(|(home, _, n)| format!("{n} of {}", from(home)))
        .collect();
    let in_ram_total: u32 = moves.iter().filter(to_ram).map(|(_, _, n)| n).sum();
    let mut parts: Vec<String> = Vec::new();
    if in_ram_total > 0 {
        parts.push(format!(
            "experts of {in_ram_total} layers in RAM ({})",
            in_ram.join(", ")
        ));
    }
    for (home, dest, n) in moves.iter().filter(|m| !to_ram(m)) {
        if let Some(g) = dest.gpu_index() {
            parts.push(format!("experts of {n} {} layers on GPU {g}", from(home)));
        }
    }
    parts.join(", ")
}

/// Blocks whose routed experts `-ot` moves off their block's device, counted per (block
/// device, expert device), in placement order.
fn expert_moves(p: &Placement, spec: &ModelSpec) -> Vec<(DeviceId, DeviceId, u32)> {
    let mut out: Vec<(DeviceId, DeviceId, u32)> = Vec::new();
    for (il, dest) in p
        .expert_overrides
        .iter()
        .filter(|(il, _)| *il >= p.n_cpu_moe)
    {
        let home = layer_device(p, spec.n_layer, *il);
        if home == *dest {
            continue;
        }
        match out.iter_mut().find(|(h, d, _)| *h == home && d == dest) {
            Some((_, _, n)) => *n += 1,
            None => out.push((home, *dest, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::memory::weights::GpuSplit;

    #[test]
    fn placements_in_words() {
        let spec = crate::planner::testing::model("qwen3.5-35b-a3b", "Q6_K");
        let all = spec.n_layer + 1;
        let two = |ncmoe: u32, ot: Vec<(u32, DeviceId)>, split: GpuSplit| Placement {
            n_gpu_layers: all,
            gpus: vec![0, 1],
            tensor_split: vec![1.0, 1.0],
            n_cpu_moe: ncmoe,
            expert_overrides: ot,
            gpu_split: split,
        };
        let cases = [
            (Placement::cpu_only(), "CPU only"),
            (
                Placement {
                    n_gpu_layers: 20,
                    gpus: vec![0],
                    ..Default::default()
                },
                "20 of 41 layers on GPU 0",
            ),
            (
                two(0, vec![], GpuSplit::Layer),
                "everything split over 2 GPUs",
            ),
            (
                two(12, vec![], GpuSplit::Parallel),
                "all layers tensor-parallel over 2 GPUs, experts of 12 layers in RAM",
            ),
            (
                two(
                    0,
                    vec![
                        (1, DeviceId::CPU),
                        (2, DeviceId::CPU),
                        (30, DeviceId::CPU),
                        (31, DeviceId::gpu(0)),
                    ],
                    GpuSplit::Layer,
                ),
                "all layers split over 2 GPUs, experts of 3 layers in RAM (2 of GPU 0, 1 of GPU 1), experts of 1 GPU 1 layers on GPU 0 by -ot",
            ),
        ];
        for (p, want) in cases {
            assert_eq!(summary(&p, &spec), want);
        }
    }
}
