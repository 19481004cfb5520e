//! Several sequences decoding at once (`-np N` slots all generating): the aggregate
//! generation rate of a placement, from its single-stream prediction.
//!
//! One decode step for N sequences reads the weights once and each sequence's KV cache.
//! The plan's own prediction already reads KV at half the whole context
//! (`planner::placement`: depth `n_ctx / 2`), and the N slots share that context, so N
//! sequences at half their own slot read the same KV bytes: the step takes the predicted
//! step time (`1 / tg`, with every overhead) plus the bandwidth time of the routed experts
//! the other tokens pick in addition (expected distinct experts under uniform routing:
//! `1 - (1 - k/E)^N` of them, against `k/E` for one token). The aggregate is `N / step`,
//! capped by the prompt-processing rate, where a batch of tokens is compute-bound. An
//! estimate with its assumptions named (uniform routing, no extra per-sequence kernel
//! cost, all slots busy at once); pure.

use super::roofline::effective_bandwidth;
use crate::hardware::HardwareSnapshot;
use crate::plan::Layout;

/// The fraction of routed experts N tokens read together, each choosing `used` of
/// `count` uniformly.
pub fn distinct_expert_fraction(n: u32, used: u32, count: u32) -> f64 {
    if count == 0 {
        return 0.0;
    }
    let p = (f64::from(used) / f64::from(count)).clamp(0.0, 1.0);
    1.0 - (1.0 - p).powi(n.max(1) as i32)
}

/// Aggregate tokens/s of `n` sequences decoding together on `layout`, whose single
/// sequence decodes at `single_tg` and whose prompt processing runs at `pp`.
pub fn aggregate_tg(
    layout: &Layout,
    hw: &HardwareSnapshot,
    single_tg: f64,
    pp: f64,
    n: u32,
    expert_used: u32,
    expert_count: u32,
) -> f64 {
    if single_tg <= 0.0 || n == 0 {
        return 0.0;
    }
    let extra_experts = distinct_expert_fraction(n, expert_used, expert_count)
        - distinct_expert_fraction(1, expert_used, expert_count);
    let extra_seconds: f64 = layout
        .devices
        .iter()
        .map(|d| {
            d.routed_expert_bytes.0 as f64 * extra_experts
                / effective_bandwidth(hw, d.device).max(1.0)
        })
        .sum();
    let rate = f64::from(n) / (1.0 / single_tg + extra_seconds);
    if pp > 0.0 {
        rate.min(pp)
    } else {
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{DeviceId, DeviceLoad};
    use crate::units::Bytes;

    fn layout(routed: u64, kv: u64) -> Layout {
        Layout {
            devices: vec![DeviceLoad {
                device: DeviceId::gpu(0),
                weight_bytes: Bytes(routed + 1_000_000_000),
                active_weight_bytes_per_token: Bytes(1_000_000_000),
                routed_expert_bytes: Bytes(routed),
                kv_bytes: Bytes(kv * 1000),
                kv_read_bytes_per_token: Bytes(kv),
                compute_bytes: Bytes::ZERO,
                layers: 10,
                active_params: 1,
            }],
            boundary_crossings: 0,
            host_experts_offloaded_bytes: Bytes::ZERO,
            depth_tokens: 1000,
            n_embd: 1,
        }
    }

    #[test]
    fn more_slots_add_throughput_until_the_reads_or_compute_bind() {
        let hw = crate::hardware::presets::get("desktop-3090")
            .unwrap()
            .unwrap();
        let bw = effective_bandwidth(&hw, DeviceId::gpu(0));
        // A dense model: the step reads the same bytes for any N (the KV of the shared
        // context is already in the single-stream time), so N tokens per step.
        let dense = layout(0, 1_000_000);
        let one = aggregate_tg(&dense, &hw, 50.0, 1e6, 1, 0, 0);
        assert!((one - 50.0).abs() < 1e-9);
        let four = aggregate_tg(&dense, &hw, 50.0, 1e6, 4, 0, 0);
        assert!((four - 200.0).abs() < 1e-9);
        // Capped by the prompt rate.
        assert_eq!(aggregate_tg(&dense, &hw, 50.0, 120.0, 8, 0, 0), 120.0);
        // MoE: 8 of 128 experts; 16 tokens read far more experts, so less than linear.
        let moe = layout(16_000_000_000, 0);
        let f16 = distinct_expert_fraction(16, 8, 128);
        assert!((f16 - (1.0 - (120.0f64 / 128.0).powi(16))).abs() < 1e-12);
        let sixteen = aggregate_tg(&moe, &hw, 50.0, 1e6, 16, 8, 128);
        let extra = 16e9 * (f16 - 8.0 / 128.0) / bw;
        assert!((sixteen - 16.0 / (1.0 / 50.0 + extra)).abs() < 1e-9);
        assert!(sixteen > 50.0 && sixteen < 16.0 * 50.0 * 0.8, "{sixteen}");
    }
}
