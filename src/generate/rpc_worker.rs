//! A cluster worker's artefacts: the `rpc-server` command line, its launch script and a
//! hardened systemd unit, rendered from the Plan's [`WorkerPlan`].
//!
//! Every artefact says that the RPC port has no authentication. The command binds to
//! the address given for the worker (never a wildcard it was not given); the unit also
//! lets only the main host's address through (`IPAddressAllow=`, `IPAddressDeny=any`)
//! and keeps rpc-server's weight cache (`-c`) in its own cache directory. Options come
//! from `engine::rpc` (the pinned rpc-server's parser). Decides nothing: devices and
//! threads are the plan's.

use super::shell::{command_line, shell_quote};
use super::systemd::exec_word;
use super::template::render as render_template;
use crate::engine::rpc::{rpc_server_args, RpcServerOptions};
use crate::engine::{info, EngineKind};
use crate::error::{user_error, Result};
use crate::plan::cluster::WorkerPlan;
use crate::plan::Plan;
use serde::Serialize;

const SCRIPT: &str = include_str!("../../templates/rpc-server.sh.tera");
const UNIT: &str = include_str!("../../templates/rpc-server.service.tera");

/// The pinned server's program name (`ggml-rpc-server` in the pinned mainline tree).
pub fn program(engine: EngineKind) -> &'static str {
    info(engine).targets.rpc_server
}

/// The rpc-server argv for this worker: bound to its address and port, the devices and
/// threads the plan chose, the cache on.
pub fn args(w: &WorkerPlan) -> Vec<String> {
    rpc_server_args(&RpcServerOptions {
        host: w.endpoint.address.clone(),
        port: w.endpoint.port,
        threads: w.threads,
        devices: w.devices.clone(),
        cache: true,
    })
}

/// The rpc-server command line, shell-quoted.
pub fn command(w: &WorkerPlan, program: &str) -> String {
    command_line(program, &args(w))
}

/// `rigplan build` for the worker: its own hardware, with the RPC backend and server.
pub fn build_command(w: &WorkerPlan) -> String {
    format!(
        "rigplan build --hardware {} --rpc",
        shell_quote(&w.hardware)
    )
}

/// Environment the server needs: CUDA devices numbered by PCI bus, as the worker's
/// snapshot lists them (rpc-server's `-d CUDA<n>` counts in CUDA's order).
fn env(w: &WorkerPlan) -> Vec<(String, String)> {
    if w.devices.iter().any(|d| d.starts_with("CUDA")) {
        vec![("CUDA_DEVICE_ORDER".into(), "PCI_BUS_ID".into())]
    } else {
        Vec::new()
    }
}

#[derive(Serialize)]
struct ScriptCtx {
    engine: String,
    name: String,
    model_name: String,
    rigplan_version: String,
    devices: String,
    endpoint: String,
    main_address: String,
    env_lines: Vec<String>,
    build_command: String,
    program: String,
    args: String,
}

/// Worker `name` of the plan and the main host's address; exit 2 when the plan has no
/// cluster or the worker holds nothing in it.
pub fn worker<'a>(plan: &'a Plan, name: &str) -> Result<(&'a WorkerPlan, &'a str)> {
    let c = plan.cluster.as_ref().ok_or_else(|| {
        user_error("the plan has no cluster: plan with --worker NAME=HARDWARE@HOST:PORT")
    })?;
    let w = c.workers.iter().find(|w| w.name == name).ok_or_else(|| {
        user_error(format!(
            "worker '{name}' holds nothing in this plan (workers used: {})",
            c.workers
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok((w, c.main_address.as_str()))
}

/// The launch script of worker `w`; `main` is the main host's address, `model_name`
/// what it serves.
pub fn script(w: &WorkerPlan, main: &str, model_name: &str, engine: EngineKind) -> Result<String> {
    let args = args(w)
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let ctx = ScriptCtx {
        engine: engine.name().into(),
        name: w.name.clone(),
        model_name: model_name.into(),
        rigplan_version: env!("CARGO_PKG_VERSION").into(),
        devices: w.devices.join(", "),
        endpoint: w.endpoint.to_rpc(),
        main_address: main.into(),
        env_lines: env(w)
            .iter()
            .map(|(k, v)| format!("export {k}={}", shell_quote(v)))
            .collect(),
        build_command: build_command(w),
        program: shell_quote(program(engine)),
        args,
    };
    render_template("rpc-server.sh", SCRIPT, &ctx)
}

#[derive(Serialize)]
struct UnitCtx {
    engine: String,
    name: String,
    model_name: String,
    rigplan_version: String,
    devices: String,
    endpoint: String,
    main_address: String,
    unit_name: String,
    description: String,
    user: String,
    service_lines: Vec<String>,
    exec_start: String,
    device_lines: Vec<String>,
}

/// Device access of the unit: none for a CPU worker, the vendor's device nodes else.
fn device_lines(w: &WorkerPlan) -> Result<Vec<String>> {
    let has = |p: &str| w.devices.iter().any(|d| d.starts_with(p));
    if w.devices.iter().all(|d| d == "CPU") {
        return Ok(vec!["PrivateDevices=yes".into()]);
    }
    if has("MTL") {
        return Err(user_error(format!(
            "worker '{}' runs Metal: systemd units are for Linux; start it with its launch script (or a launchd job)",
            w.name
        )));
    }
    let mut v = vec!["DevicePolicy=closed".to_string()];
    if has("CUDA") {
        // /dev/nvidiactl and /dev/nvidia<N> are the nvidia-frontend group (/proc/devices).
        v.push("DeviceAllow=char-nvidia-frontend rw".into());
        v.push("DeviceAllow=char-nvidia-uvm rw".into());
    }
    if has("ROCm") {
        v.push("DeviceAllow=/dev/kfd rw".into());
    }
    if has("ROCm") || has("Vulkan") || has("SYCL") {
        v.push("DeviceAllow=char-drm rw".into());
    }
    Ok(v)
}

/// The systemd unit of worker `name`, allowing only the plan's main address. The unit
/// needs the absolute path of the server binary.
pub fn systemd_unit(
    w: &WorkerPlan,
    main: &str,
    model_name: &str,
    engine: EngineKind,
    program_path: &str,
) -> Result<String> {
    if main.parse::<std::net::IpAddr>().is_err() {
        return Err(user_error(format!(
            "--main-address '{main}': IPAddressAllow= needs an IP address of the main host"
        )));
    }
    if !program_path.starts_with('/') {
        return Err(user_error(format!(
            "--rpc-server-bin '{program_path}' must be an absolute path for a unit"
        )));
    }
    let user = format!("rigplan-rpc-{}", w.name);
    let mut words = vec![exec_word(program_path, "rpc-server binary")?];
    for a in args(w) {
        words.push(exec_word(&a, "rpc-server argument")?);
    }
    let service_lines = env(w)
        .iter()
        .map(|(k, v)| format!("Environment={k}={v}"))
        .collect();
    let ctx = UnitCtx {
        engine: engine.name().into(),
        name: w.name.clone(),
        model_name: model_name.replace(['%', '\n', '\r', '\0'], "_"),
        rigplan_version: env!("CARGO_PKG_VERSION").into(),
        devices: w.devices.join(", "),
        endpoint: w.endpoint.to_rpc(),
        main_address: main.into(),
        unit_name: format!("{user}.service"),
        description: w.name.clone(),
        user,
        service_lines,
        exec_start: words.join(" "),
        device_lines: device_lines(w)?,
    };
    render_template("rpc-server.service", UNIT, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::cluster::Endpoint;

    fn worker_plan(devices: &[&str]) -> WorkerPlan {
        WorkerPlan {
            name: "box2".into(),
            endpoint: Endpoint {
                address: "192.168.1.20".into(),
                port: 50052,
            },
            hardware: "box 2.toml".into(),
            devices: devices.iter().map(|d| d.to_string()).collect(),
            threads: 6,
            weights_bytes: 1,
            kv_bytes: 1,
            first_load_seconds: 1.0,
            build_command: String::new(),
            rpc_server_command: String::new(),
        }
    }

    #[test]
    fn the_unit_binds_the_worker_address_and_lets_only_the_main_host_in() {
        let w = worker_plan(&["CUDA0", "CUDA1"]);
        let (e, bin) = (EngineKind::LlamaCpp, "/usr/local/bin/ggml-rpc-server");
        let u = systemd_unit(&w, "192.168.1.10", "m", e, bin).unwrap();
        let exec = "ExecStart=/usr/local/bin/ggml-rpc-server -H 192.168.1.20 -p 50052 -t 6 -d CUDA0,CUDA1 -c\n";
        assert!(u.contains(exec), "{u}");
        assert!(
            u.contains("IPAddressAllow=192.168.1.10\nIPAddressDeny=any\n"),
            "{u}"
        );
        assert!(
            u.contains("no authentication") && u.contains("DeviceAllow=char-nvidia-frontend rw")
        );
        assert!(!u.contains("0.0.0.0"));
        let s = script(&w, "192.168.1.10", "m", e).unwrap();
        let exec = "exec \"$server\" -H 192.168.1.20 -p 50052 -t 6 -d CUDA0,CUDA1 -c\n";
        assert!(s.contains(exec), "{s}");
        assert!(s.contains("no authentication"));
        assert!(s.contains("rigplan build --hardware 'box 2.toml' --rpc"));
        assert!(s.contains("export CUDA_DEVICE_ORDER=PCI_BUS_ID"));
        assert_eq!(
            command(&w, "ggml-rpc-server"),
            "ggml-rpc-server -H 192.168.1.20 -p 50052 -t 6 -d CUDA0,CUDA1 -c"
        );
    }

    #[test]
    fn bad_unit_inputs_are_refused() {
        let w = worker_plan(&["CPU"]);
        let e = EngineKind::LlamaCpp;
        let err = systemd_unit(&w, "main.lan", "m", e, "/x").unwrap_err();
        assert!(
            err.to_string().contains("--main-address 'main.lan'"),
            "{err}"
        );
        assert!(systemd_unit(&w, "10.0.0.1", "m", e, "rel/x").is_err());
        let u = systemd_unit(&w, "10.0.0.1", "m", e, "/x").unwrap();
        assert!(u.contains("PrivateDevices=yes"));
        assert!(systemd_unit(&worker_plan(&["MTL0"]), "10.0.0.1", "m", e, "/x").is_err());
    }
}
