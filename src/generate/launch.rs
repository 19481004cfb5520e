//! A launch: the program, its argv and its environment, derived from a Plan.
//!
//! This is the one place that turns a Plan into what runs; every export format renders a
//! [`Launch`]. Arguments come from [`crate::engine::launch_args`] (so only options the
//! pinned engine accepts appear); the environment comes from plan data (GPU indices,
//! mlock, CPU-resident weights). No I/O here.

use crate::engine::args::{download_refusal, launch_args_from, plan_projector_args, ModelSource};
use crate::engine::{backends, unsupported_settings, EngineKind, ServerOptions};
use crate::error::input::Quoted;
use crate::error::{user_error, Result};
use crate::plan::{Backend, Plan};
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
    /// The local model file; `None` when the engine downloads the model itself.
    pub model_path: Option<String>,
    /// When the engine downloads the model or its projector: the environment variable
    /// naming its cache directory (`LLAMA_CACHE`).
    pub download_cache_env: Option<&'static str>,
    /// A local projector file (`--mmproj`), for the unit's read-only paths.
    pub projector_path: Option<String>,
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
        let model = match (&plan.model.path, &plan.model.download) {
            (Some(p), _) => ModelSource::File(p),
            (None, Some(d)) => {
                if let Some(why) = download_refusal(engine, d) {
                    return Err(user_error(format!(
                        "plan for '{}' has no local model path and {why}; download the model and plan it from the file",
                        plan.model.reference
                    )));
                }
                ModelSource::Download(d)
            }
            (None, None) => {
                return Err(user_error(format!(
                    "plan for '{}' has no local model path (model.path) and no download location; download the model and plan it from the file",
                    plan.model.reference
                )))
            }
        };
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
        let mut args = launch_args_from(engine, &plan.settings, model, Some(server));
        if let Some(p) = &plan.projector {
            let more = plan_projector_args(engine, p).ok_or_else(|| {
                user_error(format!(
                    "{engine} cannot download the projector: fetch {} and plan with --mmproj FILE",
                    p.url.as_deref().unwrap_or("it")
                ))
            })?;
            args.extend(more);
        }
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
            // The plan's backend picks the variable (engine::backends: CUDA_VISIBLE_DEVICES,
            // HIP_VISIBLE_DEVICES, GGML_VK_VISIBLE_DEVICES, ONEAPI_DEVICE_SELECTOR; none for
            // Metal). A plan saved before plans named a backend runs the vendor's runtime.
            let backend = match plan.settings.backend {
                Backend::Cpu if vendor_is_amd => Backend::Rocm,
                Backend::Cpu => Backend::Cuda,
                b => b,
            };
            if let Some((var, list)) =
                backends::support(engine, backend).and_then(|s| s.visible_devices_env(gpus))
            {
                env.push((var, list));
            }
            if backend == Backend::Cuda {
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
            model_path: plan.model.path.clone(),
            download_cache_env: match (model, &plan.projector) {
                (ModelSource::Download(_), _) => {
                    Some(crate::engine::info(engine).download.cache_env)
                }
                (_, Some(p)) if p.path.is_none() => {
                    Some(crate::engine::info(engine).download.cache_env)
                }
                _ => None,
            },
            projector_path: plan.projector.as_ref().and_then(|p| p.path.clone()),
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
