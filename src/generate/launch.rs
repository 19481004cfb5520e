//! A launch: the program, its argv and its environment, derived from a Plan.
//!
//! This is the one place that turns a Plan into what runs; every export format renders a
//! [`Launch`]. Arguments come from [`crate::engine::launch_args`] (so only options the
//! pinned engine accepts appear); the environment comes from plan data (GPU indices,
//! mlock, CPU-resident weights). No I/O here.

use crate::engine::{launch_args, unsupported_settings, EngineKind, ServerOptions};
use crate::error::input::Quoted;
use crate::error::{user_error, Result};
use crate::plan::Plan;
use std::net::IpAddr;

/// Which device nodes the server needs (systemd `DeviceAllow`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceAccess {
    None,
    /// NVIDIA GPU indices in use.
    Nvidia(Vec<u32>),
    /// AMD GPUs through /dev/kfd and /dev/dri.
    Amd,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    pub engine: EngineKind,
    /// The model's display name.
    pub model_name: String,
    pub model_path: String,
    /// `llama-server`, or its full path.
    pub program: String,
    /// argv without the program name.
    pub args: Vec<String>,
    /// Environment variables the server needs, in order.
    pub env: Vec<(String, String)>,
    pub mlock: bool,
    pub devices: DeviceAccess,
    pub server: ServerOptions,
}

/// True for addresses only this machine can reach.
pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Launch {
    /// Builds the launch of `plan` with these server options.
    ///
    /// Errors (bad input, exit 2): the plan has no model path; a setting the pinned
    /// engine does not accept; a non-loopback host without an API key file.
    pub fn from_plan(
        plan: &Plan,
        program: &str,
        server: &ServerOptions,
        vendor_is_amd: bool,
    ) -> Result<Launch> {
        let engine = crate::engine::of_plan(plan)?;
        let model_path = plan.model.path.clone().ok_or_else(|| {
            user_error(format!(
                "plan for '{}' has no local model path (model.path); download the model and plan it from the file",
                plan.model.reference
            ))
        })?;
        let bad = unsupported_settings(engine, &plan.settings);
        if let Some(first) = bad.first() {
            return Err(user_error(format!(
                "plan setting refused: {}",
                Quoted(first)
            )));
        }
        if !is_loopback(&server.host) && server.api_key_file.is_none() {
            return Err(user_error(format!(
                "--host '{}' is reachable from other machines: give --api-key-file PATH",
                Quoted(&server.host)
            )));
        }
        let args = launch_args(engine, &plan.settings, &model_path, Some(server));
        // A shell drops a NUL byte silently, so the argument would arrive altered.
        if let Some(a) = args.iter().find(|a| a.contains('\0')) {
            return Err(user_error(format!(
                "argument '{}' holds a NUL byte, which no command line can carry",
                Quoted(a)
            )));
        }
        let gpus = &plan.settings.gpu_indices;
        let mut env = Vec::new();
        let devices = if gpus.is_empty() {
            DeviceAccess::None
        } else if vendor_is_amd {
            DeviceAccess::Amd
        } else {
            DeviceAccess::Nvidia(gpus.clone())
        };
        if !gpus.is_empty() {
            let list = gpus
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let var = if vendor_is_amd {
                "HIP_VISIBLE_DEVICES"
            } else {
                "CUDA_VISIBLE_DEVICES"
            };
            env.push((var.to_string(), list));
            if !vendor_is_amd {
                // Number GPUs as nvidia-smi does, so the indices above mean the same GPUs.
                env.push(("CUDA_DEVICE_ORDER".to_string(), "PCI_BUS_ID".to_string()));
            }
        }
        if cpu_holds_weights(plan) {
            // ggml's CPU threads are an OpenMP team (GGML_OPENMP): one per physical core,
            // kept there, as the plan's thread count assumes (DESIGN.md: physical cores).
            env.push(("OMP_PLACES".to_string(), "cores".to_string()));
            env.push(("OMP_PROC_BIND".to_string(), "close".to_string()));
        }
        Ok(Launch {
            engine,
            model_name: plan.model.name.clone(),
            model_path,
            program: program.to_string(),
            args,
            env,
            mlock: plan.settings.mlock,
            devices,
            server: server.clone(),
        })
    }
}

/// True when the plan keeps weights in system RAM, i.e. CPU threads do real work.
fn cpu_holds_weights(plan: &Plan) -> bool {
    plan.memory
        .devices
        .iter()
        .any(|d| d.kind == "cpu" && d.weights_bytes > 0)
        || plan.settings.gpu_indices.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["0.0.0.0", "192.168.1.5", "::", "example.org"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
