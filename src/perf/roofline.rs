//! A bandwidth roofline: the speed scorer without fitted factors, kept to compare the
//! fitted model against (`planner::plan_with(.., &perf::roofline::roofline)`).
//!
//! Decode is memory-bound (DESIGN.md): per token each device reads its active weight
//! bytes and its KV cells once, so tg = 1 / sum(bytes_read(dev) / bandwidth(dev)).
//! Efficiencies: GPUs reach about 75% of their datasheet bandwidth in llama.cpp decode,
//! CPUs about 60% of theoretical DRAM peak (or the measured figure when `detect
//! --measure` has one) — planning assumptions, to be calibrated by `tune`. Prefill is
//! compute-bound; with experts in system RAM it is bounded by copying them over PCIe per
//! ubatch. Pure arithmetic on a [`Layout`].

use crate::hardware::HardwareSnapshot;
use crate::plan::{DeviceId, Layout, Settings, Speed, Unit};

const GPU_BW_EFFICIENCY: f64 = 0.75;
const CPU_BW_EFFICIENCY: f64 = 0.60;
/// Fallback when a snapshot has no RAM bandwidth: dual-channel DDR4-2666 (42.7 GB/s).
const CPU_BW_FALLBACK_GBS: f64 = 42.7;
/// Fallback GPU bandwidth when the table has none (RTX 3060 12GB, 360 GB/s).
const GPU_BW_FALLBACK_GBS: f64 = 360.0;
/// Per device hop per token: a synchronisation and a small copy (~30 µs on PCIe).
const HOP_SECONDS: f64 = 30e-6;

/// Effective read bandwidth of a device, bytes/s.
pub fn effective_bandwidth(hw: &HardwareSnapshot, dev: DeviceId) -> f64 {
    match dev.unit() {
        Unit::Cpu => {
            if let Some(m) = hw.memory.measured_bandwidth_gbs {
                m * 1e9
            } else {
                hw.memory
                    .theoretical_bandwidth_gbs
                    .unwrap_or(CPU_BW_FALLBACK_GBS)
                    * 1e9
                    * CPU_BW_EFFICIENCY
            }
        }
        Unit::Gpu(i) => {
            hw.gpus
                .iter()
                .find(|g| g.index == i)
                .and_then(|g| g.bandwidth_gbs)
                .unwrap_or(GPU_BW_FALLBACK_GBS)
                * 1e9
                * GPU_BW_EFFICIENCY
        }
    }
}

fn pcie_bytes_per_s(hw: &HardwareSnapshot) -> f64 {
    // PCIe per-lane GB/s by generation (PCI-SIG: 1, 2, 3.94 (3.0), 7.88, 15.75).
    let lane = |gen: u32| match gen {
        1 => 0.25,
        2 => 0.5,
        3 => 0.985,
        4 => 1.97,
        _ => 3.94,
    };
    hw.gpus
        .iter()
        .filter_map(|g| g.pcie)
        .map(|p| lane(p.gen.unwrap_or(3)) * f64::from(p.width.unwrap_or(16)) * 1e9)
        .fold(f64::INFINITY, f64::min)
        .min(64e9)
}

/// The roofline scorer.
pub fn roofline(layout: &Layout, hw: &HardwareSnapshot, settings: &Settings) -> Speed {
    let mut t = 0.0;
    let mut worst = (0.0, DeviceId::CPU);
    for d in &layout.devices {
        let bytes = (d.active_weight_bytes_per_token.0 + d.kv_read_bytes_per_token.0) as f64;
        let dt = bytes / effective_bandwidth(hw, d.device).max(1.0);
        if dt > worst.0 {
            worst = (dt, d.device);
        }
        t += dt;
    }
    t += f64::from(layout.boundary_crossings) * HOP_SECONDS;
    let tg = if t > 0.0 { 1.0 / t } else { 0.0 };
    let share = if t > 0.0 { worst.0 / t * 100.0 } else { 0.0 };
    let name = match worst.1.unit() {
        Unit::Cpu => "system RAM".to_string(),
        Unit::Gpu(i) => format!("GPU {i} memory"),
    };
    // Prefill: GPU compute at ~30% of FP16 tensor peak (2 flops per active param per
    // token), plus expert uploads over PCIe per ubatch; CPU-only: ~0.5 TFLOPS per 16
    // cores of AVX2 FMA at realistic utilisation.
    let active: u64 = layout.devices.iter().map(|d| d.active_params).sum();
    let gpu_flops: f64 = hw.gpus.iter().filter_map(|g| g.fp16_tflops).sum::<f64>() * 1e12 * 0.3;
    let cpu_flops = f64::from(hw.cpu.physical_cores.max(1)) * 32e9;
    let flops = if layout.devices.iter().any(|d| d.device.is_gpu()) && gpu_flops > 0.0 {
        gpu_flops
    } else {
        cpu_flops
    };
    let per_tok = 2.0 * active as f64 / flops.max(1.0);
    let ub = f64::from(settings.ubatch.max(1));
    let upload = layout.host_experts_offloaded_bytes.0 as f64 / pcie_bytes_per_s(hw).max(1.0);
    let pp = ub / (per_tok * ub + upload).max(1e-9);
    Speed {
        tg_tokens_per_s: tg,
        pp_tokens_per_s: pp,
        bottleneck: format!("{name}: {share:.0}% of per-token time"),
        ceiling_tg_tokens_per_s: None,
    }
}
