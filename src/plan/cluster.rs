//! A cluster: the main host (runs llama-server, owns the model file) and RPC workers
//! (each runs llama.cpp's `rpc-server`) behind a network link — as the planner receives
//! it ([`Cluster`]) and as the Plan reports it ([`ClusterReport`]).
//!
//! Plain data. The worker's hardware arrives as a resolved `HardwareSnapshot` in the
//! planner's request (`planner::request::ClusterRequest`); here are only the names, the
//! endpoints and the link figures, each link carrying where its numbers come from.

use serde::{Deserialize, Serialize};

/// The network between the main host and its workers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// `1gbe`, `10gbe`, `25gbe`, `thunderbolt`, or `custom`.
    pub name: String,
    /// Payload rate a TCP stream reaches, Gbit/s (decimal).
    pub gbits_per_s: f64,
    /// Round-trip time between main host and a worker, microseconds.
    pub rtt_us: f64,
    /// Where the two figures come from (a URL, a calculation, or "given").
    pub source: String,
}

impl Link {
    /// Payload bytes per second.
    pub fn bytes_per_s(&self) -> f64 {
        self.gbits_per_s * 1e9 / 8.0
    }

    pub fn rtt_s(&self) -> f64 {
        self.rtt_us * 1e-6
    }
}

/// Where a worker's `rpc-server` listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The address the worker binds to and the main host dials (an IP or host name).
    pub address: String,
    pub port: u16,
}

impl Endpoint {
    /// `HOST:PORT` as `--rpc` and `rpc-server` spell it (an IPv6 address in brackets).
    pub fn to_rpc(&self) -> String {
        if self.address.contains(':') && !self.address.starts_with('[') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

/// One worker of the plan: the devices its `rpc-server` exposes and what they hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerPlan {
    /// The worker's name (`--worker NAME=...`), also each of its devices' `host`.
    pub name: String,
    pub endpoint: Endpoint,
    /// Where its hardware description came from (snapshot file or preset).
    pub hardware: String,
    /// The engine's device names `rpc-server -d` exposes (`CUDA0`, `Vulkan1`, `CPU`),
    /// in the order the main host sees them.
    pub devices: Vec<String>,
    /// `rpc-server -t`: threads of its CPU device (physical cores).
    pub threads: u32,
    /// Weight bytes the main host sends it at load (its share of the model).
    pub weights_bytes: u64,
    pub kv_bytes: u64,
    /// Seconds to send `weights_bytes` over the link when its `rpc-server -c` cache does
    /// not hold them yet (the first load).
    pub first_load_seconds: f64,
    /// `rigplan build` for this worker (its own CPU and GPU, with the RPC backend).
    pub build_command: String,
    /// The worker's `rpc-server` command line.
    pub rpc_server_command: String,
}

/// What the Plan says about the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    pub link: Link,
    /// The main host's address as the workers see it (their firewall allows only it).
    pub main_address: String,
    /// Whether the chosen plan puts anything on a worker.
    pub uses_workers: bool,
    /// The best plan on the main host alone (0 when nothing fits there).
    pub local_only_tg_tokens_per_s: f64,
    pub local_only_pp_tokens_per_s: f64,
    /// The best plan that puts layers on workers (0 when none fits or none was tried).
    pub with_workers_tg_tokens_per_s: f64,
    pub with_workers_pp_tokens_per_s: f64,
    /// Network time per generated token of the chosen plan, milliseconds.
    pub network_ms_per_token: f64,
    /// Seconds to load the weights onto the workers the first time (the largest share
    /// over the shared link; 0 for a local plan).
    pub first_load_seconds: f64,
    pub workers: Vec<WorkerPlan>,
}
