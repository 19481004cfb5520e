//! llama.cpp's RPC backend as data: which engine rigplan plans clusters for, the options
//! of the pinned `rpc-server`, the device order the engine gives RPC devices, and the
//! protocol calls each graph costs.
//!
//! Facts, each with the source function of the pinned mainline tree
//! (`llama-cpp-python==0.3.36`, vendor/llama.cpp) it was read from. Nothing here decides
//! how many layers a worker gets (the planner) or renders a script (generate).

use super::EngineKind;

/// Why rigplan makes multi-host plans for mainline only.
///
/// ik_llama.cpp has an RPC backend (examples/rpc/rpc-server.cpp; `--rpc` in
/// common/common.cpp `gpt_params_find_arg`), but: built without `GGML_USE_RPC` its
/// parser takes `--rpc` and ignores it (the `#ifdef GGML_USE_RPC` block is the whole
/// branch), so the plan's remote layers would silently land on the main host; built with
/// it, `add_rpc_devices` dials every server while parsing. The pinned ik build rigplan
/// tests against has no RPC backend, so no ik cluster plan could be checked against the
/// engine.
pub const IK_NO_RPC: &str = "multi-host (--worker) plans are made for llama.cpp only: the pinned ik_llama.cpp is built without its RPC backend, and without it its parser accepts --rpc and ignores it (common/common.cpp, the --rpc branch), so the workers' layers would silently stay on the main host";

/// `Ok` when rigplan plans RPC clusters for `engine`, else the reason (exit 2).
pub fn supports_clusters(engine: EngineKind) -> Result<(), &'static str> {
    match engine {
        EngineKind::LlamaCpp => Ok(()),
        EngineKind::IkLlamaCpp => Err(IK_NO_RPC),
    }
}

/// Where RPC devices go in the engine's device list: src/llama.cpp
/// `llama_model_load_from_file_impl` (default device selection) collects RPC devices
/// apart from the local GPUs and inserts them "at the front of the list to minimize
/// network transfers", then the local GPUs. Layer split (`-ngl`, `--tensor-split`)
/// follows that list, so RPC devices get the first offloaded layers, the last local GPU
/// the last layers and the output; token embeddings stay on the main host's CPU.
pub const RPC_DEVICES_FIRST: bool = true;

/// Messages a worker receives per graph evaluation (one token of generation, or one
/// ubatch of prompt processing), from ggml/src/ggml-rpc/ggml-rpc.cpp:
/// - `RPC_CMD_SET_TENSOR` per graph input copied to the device
///   (`ggml_backend_rpc_buffer_set_tensor`): the activation entering its layers and the
///   per-graph inputs it uses (positions, KQ mask) — sent without waiting for a reply
///   (`rpc_dispatcher::send` returns once queued and written);
/// - `RPC_CMD_GRAPH_COMPUTE`, or `RPC_CMD_GRAPH_RECOMPUTE` for a graph it already holds
///   (`ggml_backend_rpc_graph_compute`, `send_async`: no reply);
/// - `RPC_CMD_GET_TENSOR` for the activation leaving its layers
///   (`ggml_backend_rpc_buffer_get_tensor`: `send` with an output, so the main host waits
///   a full round trip, after the compute);
/// - `RPC_CMD_COPY_TENSOR` between two devices of the same server
///   (`ggml_backend_rpc_buffer_cpy_tensor`, also waits for its reply); two different
///   servers never talk to each other: the copy falls back to GET then SET through the
///   main host.
pub const SET_TENSOR_INPUTS_PER_GRAPH: u32 = 3;
/// Round trips the main host waits for per worker segment of the graph path: the
/// `GET_TENSOR` of the activation leaving it (see [`SET_TENSOR_INPUTS_PER_GRAPH`]).
pub const ROUND_TRIPS_PER_SEGMENT: u32 = 1;

/// Tensors bigger than this go through `RPC_CMD_SET_TENSOR_HASH` first, and the worker
/// answers from its `-c` cache when it holds a file of that hash:
/// ggml-rpc.cpp `HASH_THRESHOLD` (10 MiB) and `rpc_use_hash_cache` (weights only).
pub const CACHE_HASH_THRESHOLD_BYTES: u64 = 10 * 1024 * 1024;

/// The pinned `rpc-server`'s options (tools/rpc/rpc-server.cpp
/// `rpc_server_params_parse`): `-H/--host`, `-p/--port`, `-t/--threads`,
/// `-d/--device` (comma-separated device names), `-c/--cache` (the local file cache in
/// `$LLAMA_CACHE`, else `$XDG_CACHE_HOME/llama.cpp`, else `~/.cache/llama.cpp`, under
/// `rpc/`: `fs_get_cache_directory`). Default host 127.0.0.1, port 50052.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcServerOptions {
    pub host: String,
    pub port: u16,
    pub threads: u32,
    /// Devices to expose; empty means the server's default (every non-CPU device, else
    /// the CPU: `get_devices`).
    pub devices: Vec<String>,
    pub cache: bool,
}

/// The `rpc-server` argv (without the program name). Only the options above.
pub fn rpc_server_args(o: &RpcServerOptions) -> Vec<String> {
    let mut v = vec![
        "-H".to_string(),
        o.host.clone(),
        "-p".to_string(),
        o.port.to_string(),
    ];
    if o.threads > 0 {
        v.extend(["-t".to_string(), o.threads.to_string()]);
    }
    if !o.devices.is_empty() {
        v.extend(["-d".to_string(), o.devices.join(",")]);
    }
    if o.cache {
        v.push("-c".to_string());
    }
    v
}

/// The engine's name for the `position`-th device of a backend on a worker, as
/// `rpc-server -d` takes it (`ggml_backend_dev_by_name`): the CPU backend is `CPU`
/// (ggml-cpu.cpp `ggml_backend_cpu_device_get_name`), CUDA devices `CUDA0`...
/// (`GGML_CUDA_NAME` + index), ROCm `ROCm0`..., Vulkan `Vulkan0`... (ggml-vulkan.cpp
/// `GGML_VK_NAME`), Metal `MTL0` (ggml-metal-device.m), SYCL `SYCL0`.
pub fn device_name(backend: crate::plan::Backend, position: usize) -> String {
    use crate::plan::Backend;
    match backend {
        Backend::Cpu => "CPU".to_string(),
        Backend::Cuda => format!("CUDA{position}"),
        Backend::Rocm => format!("ROCm{position}"),
        Backend::Vulkan => format!("Vulkan{position}"),
        Backend::Metal => format!("MTL{position}"),
        Backend::Sycl => format!("SYCL{position}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_server_args_use_only_the_pinned_options() {
        let o = RpcServerOptions {
            host: "192.168.1.20".into(),
            port: 50052,
            threads: 6,
            devices: vec!["CUDA0".into(), "CUDA1".into()],
            cache: true,
        };
        assert_eq!(
            rpc_server_args(&o),
            [
                "-H",
                "192.168.1.20",
                "-p",
                "50052",
                "-t",
                "6",
                "-d",
                "CUDA0,CUDA1",
                "-c"
            ]
        );
        assert!(supports_clusters(EngineKind::LlamaCpp).is_ok());
        assert!(supports_clusters(EngineKind::IkLlamaCpp)
            .unwrap_err()
            .contains("llama.cpp only"));
    }
}
