//! Layout: where the bytes live, per device — the boundary between planner and perf.
//!
//! The planner's memory accounting produces a [`Layout`] for a candidate placement; the
//! performance model (`perf`) turns a Layout plus the hardware into predicted speeds.
//! Neither side needs the other's internals: this is plain data.

use super::DeviceId;
use crate::units::Bytes;
use serde::{Deserialize, Serialize};

/// What one device holds and reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceLoad {
    pub device: DeviceId,
    /// All weight bytes resident on this device.
    pub weight_bytes: Bytes,
    /// Weight bytes read per generated token: non-expert weights in full, routed experts
    /// scaled by expert_used / expert_count, shared experts in full. Token embeddings are
    /// a row lookup (negligible) and are not counted.
    pub active_weight_bytes_per_token: Bytes,
    /// Routed-expert bytes resident here (all experts, not only the used ones).
    pub routed_expert_bytes: Bytes,
    /// KV cache (and recurrent state) bytes allocated here for the planned context.
    pub kv_bytes: Bytes,
    /// KV bytes read per generated token at the planned depth (tokens already in context).
    pub kv_read_bytes_per_token: Bytes,
    /// Compute-buffer bytes reserved here.
    pub compute_bytes: Bytes,
    /// Transformer blocks whose matmuls run on this device.
    pub layers: u32,
    /// Active parameters (multiply-accumulates per token) computed on this device.
    pub active_params: u64,
}

/// A complete placement, as the speed model needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub devices: Vec<DeviceLoad>,
    /// Device changes along the per-token graph path (CPU↔GPU and GPU↔GPU hops), each a
    /// synchronisation plus an activation transfer of `n_embd` floats.
    pub boundary_crossings: u32,
    /// Routed-expert bytes kept in system RAM while the layer runs on a GPU: during
    /// prompt processing with large batches llama.cpp copies these over PCIe per ubatch.
    pub host_experts_offloaded_bytes: Bytes,
    /// Context depth the speed is predicted at (tokens already in the KV cache).
    pub depth_tokens: u64,
    /// `n_embd`, for activation transfer sizes.
    pub n_embd: u64,
}

impl Layout {
    pub fn device(&self, id: DeviceId) -> Option<&DeviceLoad> {
        self.devices.iter().find(|d| d.device == id)
    }

    /// The most blocks any one GPU runs (every GPU block under a tensor-parallel split).
    pub fn max_gpu_layers(&self) -> Option<u32> {
        self.devices
            .iter()
            .filter(|d| d.device.is_gpu())
            .map(|d| d.layers)
            .max()
    }
}
