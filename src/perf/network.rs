//! The network's share of a multi-host plan's time: what llama.cpp's RPC backend sends
//! and waits for per graph evaluation, over the link to the workers.
//!
//! The graph path of one evaluation runs from the main host's CPU (token embeddings,
//! layers kept on the CPU) through the RPC devices (the engine lists them first,
//! `engine::rpc::RPC_DEVICES_FIRST`) to the local GPUs and back to the main host for
//! sampling. Every run of consecutive devices on one worker is a *segment*: the
//! activation enters it (`SET_TENSOR`), each of its devices receives the graph inputs
//! it uses (positions and KQ mask) and its graph (`GRAPH_COMPUTE`, no reply), and the
//! activation leaves it (`GET_TENSOR`, the round trip the main host waits for). A hop
//! between two devices of the same worker is a `COPY_TENSOR` round trip without link
//! bytes. Workers never talk to each other: every segment goes through the main host.
//! The message counts are in [`crate::engine::rpc`].
//!
//! Also the first-load time (weights sent to the workers once, unless their `-c` cache
//! holds them) and the rates a CPU-only worker's RPC device reads and computes at.
//! Pure arithmetic; the planner decides which devices are on which host.

use super::devices::{cpu_effective_bandwidth, cpu_peak_flops};
use super::factors::Factors;
use crate::engine::rpc::{ROUND_TRIPS_PER_SEGMENT, SET_TENSOR_INPUTS_PER_GRAPH};
use crate::hardware::HardwareSnapshot;
use crate::plan::cluster::Link;
use crate::plan::{HostId, Speed};

/// Bytes of one activation row (`n_embd` F32 values), as `GET_TENSOR`/`SET_TENSOR` carry
/// it between hosts.
const F32_BYTES: u64 = 4;
/// KV cells the engine pads the KQ mask's rows to (src/llama-kv-cache.cpp `get_padding`
/// is 256 in the pinned version; the mask covers the cells in use).
const MASK_CELL_PAD: u64 = 256;

/// What one graph evaluation costs on the network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkCost {
    pub seconds: f64,
    /// Bytes over the link, both directions.
    pub bytes: u64,
    /// Round trips the main host waits for.
    pub round_trips: u32,
    /// Runs of consecutive devices on one worker (host boundaries crossed = 2 × this).
    pub segments: u32,
    /// Messages sent to workers (SET_TENSOR, GRAPH_COMPUTE, GET_TENSOR, COPY_TENSOR).
    pub messages: u32,
}

/// The network cost of one graph evaluation of `tokens` tokens at context depth
/// `depth`, for the hosts of the devices that run layers, in the engine's device order
/// (`HostId::MAIN` for local devices; the main host's CPU part, before them, is implied).
///
/// When the last device is on a worker it holds the output layer, and the main host
/// reads back the logits (`n_vocab` F32 values of the last token) instead of an
/// activation.
pub fn graph_cost(
    path: &[HostId],
    link: &Link,
    n_embd: u64,
    n_vocab: u64,
    depth: u64,
    tokens: u64,
) -> NetworkCost {
    let activation = n_embd * F32_BYTES * tokens;
    let cells = (depth + tokens).div_ceil(MASK_CELL_PAD) * MASK_CELL_PAD;
    // Positions (I32 per token) and the KQ mask (F32, an upper bound: with flash attention
    // the engine casts it to F16) go to every RPC device that runs layers.
    let inputs = tokens * 4 + cells * tokens * F32_BYTES;
    let mut c = NetworkCost::default();
    let mut prev = HostId::MAIN;
    for &h in path {
        if h != HostId::MAIN {
            c.bytes += inputs;
            c.messages += SET_TENSOR_INPUTS_PER_GRAPH;
            if h == prev {
                // Two devices of one worker: COPY_TENSOR on the worker, one round trip.
                c.round_trips += 1;
                c.messages += 1;
            } else {
                c.segments += 1;
                // In through the main host (SET_TENSOR); out again below.
                c.bytes += activation;
                c.round_trips += ROUND_TRIPS_PER_SEGMENT;
                c.messages += 1;
            }
        }
        prev = h;
    }
    // Leaving a worker (GET_TENSOR): the activation, or the logits after the output layer.
    for (i, h) in path.iter().enumerate() {
        if *h != HostId::MAIN && path.get(i + 1) != Some(h) {
            c.bytes += if i + 1 == path.len() {
                n_vocab * F32_BYTES
            } else {
                activation
            };
        }
    }
    c.seconds = c.round_trips as f64 * link.rtt_s() + c.bytes as f64 / link.bytes_per_s();
    c
}

/// A speed with the network's time added: per token for generation, per ubatch for
/// prompt processing. The bottleneck names the link when the network takes the larger
/// part of a generated token's time, and adds the link's share otherwise.
pub fn with_network(
    base: Speed,
    tg: &NetworkCost,
    pp_ubatch: &NetworkCost,
    ubatch: u64,
    link: &Link,
) -> Speed {
    if tg.segments == 0 && tg.round_trips == 0 {
        return base;
    }
    let add = |rate: f64, extra_s: f64, tokens: f64| {
        if rate > 0.0 && rate.is_finite() {
            tokens / (tokens / rate + extra_s)
        } else {
            0.0
        }
    };
    let tg_rate = add(base.tg_tokens_per_s, tg.seconds, 1.0);
    let pp_rate = add(
        base.pp_tokens_per_s,
        pp_ubatch.seconds,
        ubatch.max(1) as f64,
    );
    let token_s = if tg_rate > 0.0 {
        1.0 / tg_rate
    } else {
        f64::INFINITY
    };
    let share = tg.seconds / token_s;
    let what = format!(
        "{} link ({:.2} Gbit/s, {:.0} us RTT): {} host segment(s), {} round trip(s), {:.2} ms per token",
        link.name,
        link.gbits_per_s,
        link.rtt_us,
        tg.segments,
        tg.round_trips,
        tg.seconds * 1e3
    );
    let bottleneck = if share >= 0.5 {
        format!("network: {what} ({:.0}% of per-token time)", share * 100.0)
    } else {
        format!(
            "{}; network {what} ({:.0}%)",
            base.bottleneck,
            share * 100.0
        )
    };
    Speed {
        tg_tokens_per_s: tg_rate,
        pp_tokens_per_s: pp_rate,
        bottleneck,
        ceiling_tg_tokens_per_s: base.ceiling_tg_tokens_per_s,
    }
}

/// Seconds to send `bytes` of weights over the link (the first load; a worker whose
/// `rpc-server -c` cache already holds the tensors receives only their hashes).
pub fn load_seconds(bytes: u64, link: &Link) -> f64 {
    bytes as f64 / link.bytes_per_s()
}

/// The rates a CPU-only worker's RPC device is modelled with, as a GPU entry of the
/// cluster's device table (the engine lists every RPC device as a GPU-type device,
/// ggml-rpc.cpp `ggml_backend_rpc_device_get_type`): peak bandwidth (GB/s) and FP16
/// TFLOPS chosen so that, after the GPU efficiencies of `f`, they equal the worker CPU's
/// own effective decode bandwidth and prompt throughput with `threads` threads.
pub fn cpu_worker_rates(hw: &HardwareSnapshot, threads: u32, f: &Factors) -> (f64, f64) {
    let (bw, _) = cpu_effective_bandwidth(hw, threads, f);
    let flops = cpu_peak_flops(&hw.cpu, threads) * f.cpu_compute_eff;
    (
        bw / f.gpu_bw_eff_gddr / 1e9,
        flops / f.gpu_tensor_eff / 1e12,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link {
        Link {
            name: "test".into(),
            gbits_per_s: 8.0,
            rtt_us: 100.0,
            source: "test".into(),
        }
    }

    #[test]
    fn segments_round_trips_and_bytes_follow_the_device_path() {
        let (w1, w2) = (HostId(1), HostId(2));
        // (path, segments, round trips)
        let cases = [
            (vec![HostId::MAIN, HostId::MAIN], 0, 0),
            (vec![w1, HostId::MAIN], 1, 1),
            (vec![w1, w1, HostId::MAIN], 1, 2),
            (vec![w1, w2, HostId::MAIN], 2, 2),
        ];
        for (path, seg, rt) in cases {
            let c = graph_cost(&path, &link(), 4096, 32000, 0, 1);
            assert_eq!((c.segments, c.round_trips), (seg, rt), "{path:?}");
        }
        // The worker holds the output too: the logits come back (125 KiB) instead of an
        // activation. Positions (4 B) and a 256-cell mask row (1 KiB) go in.
        let last = graph_cost(&[w1], &link(), 4096, 32000, 0, 1);
        assert_eq!(last.bytes, 4096 * 4 + 32000 * 4 + 4 + 256 * 4);
        // Before a local GPU: activation in and out (2 x 16 KiB).
        let c = graph_cost(&[w1, HostId::MAIN], &link(), 4096, 32000, 0, 1);
        assert_eq!(c.bytes, 2 * 4096 * 4 + 4 + 256 * 4);
        let want = 100e-6 + c.bytes as f64 / 1e9;
        assert!((c.seconds - want).abs() < 1e-12, "{c:?}");
    }

    #[test]
    fn the_link_is_named_when_it_takes_most_of_a_token() {
        let base = Speed {
            tg_tokens_per_s: 100.0,
            pp_tokens_per_s: 1000.0,
            bottleneck: "weights".into(),
            ceiling_tg_tokens_per_s: None,
        };
        let slow = NetworkCost {
            seconds: 0.02,
            segments: 1,
            round_trips: 1,
            ..Default::default()
        };
        let s = with_network(base.clone(), &slow, &slow, 512, &link());
        assert!((s.tg_tokens_per_s - 1.0 / 0.03).abs() < 1e-9);
        assert!(
            s.bottleneck.starts_with("network: test link"),
            "{}",
            s.bottleneck
        );
        let fast = NetworkCost {
            seconds: 0.001,
            segments: 1,
            round_trips: 1,
            ..Default::default()
        };
        let s = with_network(base, &fast, &fast, 512, &link());
        assert!(
            s.bottleneck.starts_with("weights; network"),
            "{}",
            s.bottleneck
        );
    }
}
