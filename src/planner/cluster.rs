//! Planning over several hosts: the main host and RPC workers (llama.cpp's RPC
//! backend), with the network's cost, against the main host alone.
//!
//! ```text
//!  request ─┬─► plan on the main host alone ─────────────────────────┐
//!           └─► cluster view ─► plan with link cost ─► keep the faster ─► Plan
//!               (workers' devices first, as the engine lists them)
//! ```
//!
//! The engine sees every RPC device as a GPU-type device (ggml-rpc.cpp
//! `ggml_backend_rpc_device_get_type`) and lists them before the local GPUs
//! (`engine::rpc::RPC_DEVICES_FIRST`); `-ngl`, `--tensor-split` and the output layer
//! follow that list, and token embeddings stay on the main host's CPU. So the cluster
//! view is one device table in the engine's order — each worker's GPUs (or, without
//! GPUs, its CPU backend with its RAM, as `rpc-server` exposes it: `get_devices`), then
//! the main host's GPUs — and the same placement search, memory arithmetic and fit
//! check run on it; [`DeviceSlot`] maps each entry back to its host
//! ([`crate::plan::DeviceId`] with the worker's [`HostId`]) and the speed scorer adds
//! the link time of every host segment (`perf::network`). Pure: the workers' hardware
//! arrives resolved in the request.

use super::request::SplitMode;
use super::{devices::Devices, memory, plan_with, PlanError, Scorer};
use crate::engine::{backends::default_backend, rpc};
use crate::hardware::{GpuInfo, GpuVendor, HardwareSnapshot};
use crate::model::ModelSpec;
use crate::perf::{factors::DEFAULT_FACTORS, network};
use crate::plan::cluster::{ClusterReport, Endpoint, Link, WorkerPlan};
use crate::plan::{Backend, DeviceId, HostId, Layout, Plan, Reason, Settings, Speed, Unit};
use crate::units::Bytes;

/// One RPC worker as the planner receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Worker {
    pub name: String,
    pub endpoint: Endpoint,
    /// The snapshot file or preset it was described by.
    pub hardware_source: String,
    pub hw: HardwareSnapshot,
}

/// The workers, the link to them, and the main host's address as they see it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterRequest {
    pub workers: Vec<Worker>,
    pub link: Link,
    pub main_address: String,
}

/// Where an entry of the cluster view's GPU list really is.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSlot {
    pub id: DeviceId,
    /// Index into `ClusterRequest::workers`, `None` for a main-host GPU.
    pub worker: Option<usize>,
    /// The engine's device name on its host (`CUDA0`, `CPU`), for `rpc-server -d`.
    pub engine_name: String,
    /// What it is, for the plan's memory rows (`NVIDIA GeForce RTX 3090`).
    pub label: String,
    pub backend: Backend,
}

/// The cluster as one device table in the engine's order, and where each entry is.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterView {
    pub hw: HardwareSnapshot,
    /// By index in `hw.gpus`.
    pub slots: Vec<DeviceSlot>,
}

impl ClusterView {
    pub fn slot(&self, flat: u32) -> Option<&DeviceSlot> {
        self.slots.get(flat as usize)
    }

    /// `text` with the view's `GPU <k>` (a flat index) spelled as the device really is:
    /// `box2 CUDA0` for a worker's, `GPU <i>` by the main host's own index.
    pub fn rename(&self, text: &str, c: &ClusterRequest) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find("GPU ") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 4..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            let slot = after[..digits]
                .parse::<u32>()
                .ok()
                .and_then(|k| self.slot(k));
            match slot {
                Some(s) => match s.worker {
                    Some(wi) => out.push_str(&format!("{} {}", c.workers[wi].name, s.engine_name)),
                    None => out.push_str(&format!("GPU {}", s.id.gpu_index().unwrap_or(0))),
                },
                None => out.push_str(&rest[at..at + 4 + digits]),
            }
            rest = &after[digits..];
        }
        out.push_str(rest);
        out
    }

    /// The host of each device that runs layers, in the engine's order.
    fn path(&self, layout: &Layout) -> Vec<HostId> {
        let mut used: Vec<(u32, HostId)> = layout
            .devices
            .iter()
            .filter(|d| d.layers > 0)
            .filter_map(|d| d.device.gpu_index())
            .filter_map(|i| self.slot(i).map(|s| (i, s.id.host())))
            .collect();
        used.sort();
        used.into_iter().map(|(_, h)| h).collect()
    }
}

/// A remote device as a GPU entry: vendor `Other`, so no `-ot` buffer name is made for
/// it (an RPC buffer is not `CUDA<n>`), and never sharing the main host's RAM.
fn remote_gpu(
    flat: u32,
    name: String,
    vram: u64,
    free: u64,
    bw: Option<f64>,
    tflops: Option<f64>,
) -> GpuInfo {
    GpuInfo {
        index: flat,
        name,
        vendor: GpuVendor::Other,
        vram_bytes: vram,
        vram_free_bytes: Some(free),
        bandwidth_gbs: bw,
        fp16_tflops: tflops,
        compute_capability: None,
        gfx_target: None,
        unified_memory: false,
        pcie: None,
        uuid: None,
        pci_bus_id: None,
        power_limit_w: None,
        // Each host runs its own backend behind rpc-server: a remote device does not
        // narrow the main host's backend choice (planner::backend::common).
        backends: Backend::ALL.to_vec(),
        vulkan_matrix: None,
    }
}

/// The devices one worker's `rpc-server` exposes, as GPU entries from index `next`.
fn worker_devices(w: &Worker, wi: usize, next: u32) -> Vec<(GpuInfo, DeviceSlot)> {
    let host = HostId(wi as u16 + 1);
    let mut out = Vec::new();
    let ram = Bytes(w.hw.memory.total_bytes);
    for (pos, g) in w.hw.gpus.iter().enumerate() {
        let mut free = Bytes(g.vram_free_bytes.unwrap_or(g.vram_bytes));
        if g.vendor == GpuVendor::Apple || g.unified_memory {
            free = free.min(memory::apple_working_set(ram));
        }
        let backend = default_backend(g.vendor);
        let flat = next + out.len() as u32;
        let name = format!("{} via RPC: {}", w.name, g.name);
        let mut gi = remote_gpu(
            flat,
            name,
            g.vram_bytes,
            free.0,
            g.bandwidth_gbs,
            g.fp16_tflops,
        );
        gi.unified_memory = false;
        out.push((
            gi,
            DeviceSlot {
                id: DeviceId::on(host, Unit::Gpu(g.index)),
                worker: Some(wi),
                engine_name: rpc::device_name(backend, pos),
                label: g.name.clone(),
                backend,
            },
        ));
    }
    if out.is_empty() {
        // rpc-server without accelerators serves its CPU backend: RAM less the host
        // margin, read and computed at the CPU's own effective rates.
        let (threads, _) = super::settings::threads(&w.hw);
        let (bw, tflops) = network::cpu_worker_rates(&w.hw, threads, &DEFAULT_FACTORS);
        let budget = ram - memory::host_margin(ram);
        let label = format!("CPU + RAM ({})", w.hw.cpu.brand);
        let name = format!("{} via RPC: {label}", w.name);
        let gi = remote_gpu(
            next,
            name,
            ram.0,
            (budget + memory::GPU_MARGIN).0,
            Some(bw),
            Some(tflops),
        );
        out.push((
            gi,
            DeviceSlot {
                id: DeviceId::on(host, Unit::Cpu),
                worker: Some(wi),
                engine_name: rpc::device_name(Backend::Cpu, 0),
                label,
                backend: Backend::Cpu,
            },
        ));
    }
    out
}

/// The cluster view: workers' devices in worker order, then the main host's GPUs.
pub fn view(main: &HardwareSnapshot, c: &ClusterRequest) -> ClusterView {
    let mut hw = main.clone();
    let mut gpus = Vec::new();
    let mut slots = Vec::new();
    for (wi, w) in c.workers.iter().enumerate() {
        for (g, s) in worker_devices(w, wi, gpus.len() as u32) {
            gpus.push(g);
            slots.push(s);
        }
    }
    for g in &main.gpus {
        let mut local = g.clone();
        local.index = gpus.len() as u32;
        slots.push(DeviceSlot {
            id: DeviceId::gpu(g.index),
            worker: None,
            engine_name: String::new(),
            label: g.name.clone(),
            backend: default_backend(g.vendor),
        });
        gpus.push(local);
    }
    hw.gpus = gpus;
    hw.source = format!(
        "{} + {} over {}",
        main.source,
        c.workers
            .iter()
            .map(|w| format!("{} ({})", w.name, w.hardware_source))
            .collect::<Vec<_>>()
            .join(" + "),
        c.link.name
    );
    ClusterView { hw, slots }
}

/// The speed of a cluster placement: the scorer's, plus the link time of its host
/// segments per token and per ubatch.
pub fn cluster_speed(
    view: &ClusterView,
    link: &Link,
    spec: &ModelSpec,
    base: Speed,
    layout: &Layout,
    s: &Settings,
) -> Speed {
    let path = view.path(layout);
    let (depth, n_embd) = (layout.depth_tokens, layout.n_embd);
    let n_vocab = output_row(spec, layout);
    let tg = network::graph_cost(&path, link, n_embd, n_vocab, depth, 1);
    let ub = u64::from(s.ubatch.max(1));
    let pp = network::graph_cost(&path, link, n_embd, n_vocab, 0, ub);
    network::with_network(base, &tg, &pp, ub, link)
}

/// Values per token the last device of the path returns to the main host: the logits
/// when it holds the output layer, else an activation row. With `-ngl N` the output
/// goes with the last N layers only when every block is offloaded, so a layout whose
/// devices run all the blocks is taken to hold it (-ngl of exactly n_layer, which
/// leaves the output alone on the CPU, is not a placement the search makes).
fn output_row(spec: &ModelSpec, layout: &Layout) -> u64 {
    let offloaded: u32 = layout
        .devices
        .iter()
        .filter(|d| d.device.is_gpu())
        .map(|d| d.layers)
        .sum();
    if offloaded >= spec.n_layer {
        spec.n_vocab
    } else {
        spec.n_embd
    }
}

/// Plans on the main host alone and with the workers, and keeps the faster; the Plan
/// says which and why, and carries the cluster report either way.
pub fn plan_cluster(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    req: &super::PlanRequest,
    scorer: &Scorer<'_>,
) -> Result<Plan, PlanError> {
    let Some(c) = req.cluster.as_ref() else {
        return plan_with(spec, hw, req, scorer);
    };
    rpc::supports_clusters(req.engine).map_err(|why| PlanError::Invalid(why.to_string()))?;
    let mut one = req.clone();
    one.cluster = None;
    let local = plan_with(spec, hw, &one, scorer);
    let v = view(hw, c);
    // Across hosts only whole layers per device: a tensor-parallel split would exchange
    // partial results over the network inside every layer.
    match req.split_mode {
        None => one.split_mode = Some(SplitMode::Layer),
        Some(SplitMode::Layer | SplitMode::None) => {}
        Some(m) => {
            return Err(PlanError::Invalid(format!(
                "--split-mode '{}' with --worker: rigplan plans a layer split across hosts (a tensor-parallel split exchanges partial results over the network inside every layer)",
                m.name()
            )))
        }
    }
    let with_link = |l: &Layout, h: &HardwareSnapshot, s: &Settings| {
        cluster_speed(&v, &c.link, spec, scorer(l, h, s), l, s)
    };
    let mut remote = super::plan_with_layout(spec, &v.hw, &one, &with_link);
    let mut split_why = "weighted by free memory";
    if let (None, Some(ts)) = (&req.tensor_split, fastest_first_split(spec, &v)) {
        let mut r = one.clone();
        r.tensor_split = Some(ts);
        let faster = |a: &(Plan, Layout), b: &Result<(Plan, Layout), PlanError>| {
            b.as_ref().map_or(true, |b| {
                a.0.performance.tg_tokens_per_s > b.0.performance.tg_tokens_per_s
            })
        };
        if let Ok(alt) = super::plan_with_layout(spec, &v.hw, &r, &with_link) {
            if faster(&alt, &remote) {
                remote = Ok(alt);
                split_why = "filling the fastest devices first";
            }
        }
    }
    let net_ms = remote.as_ref().map_or(0.0, |(_, l)| {
        let out = output_row(spec, l);
        let cost = network::graph_cost(&v.path(l), &c.link, l.n_embd, out, l.depth_tokens, 1);
        cost.seconds * 1e3
    });
    let remote = remote.map(|(p, _)| p);
    let uses = |p: &Plan| {
        !p.settings
            .gpu_indices
            .iter()
            .all(|i| v.slot(*i).is_none_or(|s| s.worker.is_none()))
    };
    let tg =
        |r: &Result<Plan, PlanError>| r.as_ref().map_or(0.0, |p| p.performance.tg_tokens_per_s);
    let pp =
        |r: &Result<Plan, PlanError>| r.as_ref().map_or(0.0, |p| p.performance.pp_tokens_per_s);
    let remote_uses = remote.as_ref().is_ok_and(uses);
    let mut report = ClusterReport {
        link: c.link.clone(),
        main_address: c.main_address.clone(),
        uses_workers: false,
        local_only_tg_tokens_per_s: tg(&local),
        local_only_pp_tokens_per_s: pp(&local),
        with_workers_tg_tokens_per_s: if remote_uses { tg(&remote) } else { 0.0 },
        with_workers_pp_tokens_per_s: if remote_uses { pp(&remote) } else { 0.0 },
        network_ms_per_token: 0.0,
        first_load_seconds: 0.0,
        workers: Vec::new(),
    };
    let cluster_wins = remote_uses && (local.is_err() || tg(&remote) > tg(&local));
    if !cluster_wins {
        let mut p = match (local, remote) {
            (Ok(p), _) => p,
            (Err(_), Ok(p)) => p,
            // Neither fits: the miss with the workers' devices counted is the one to show.
            (Err(_), Err(e)) => return Err(rename_error(e, &v, c)),
        };
        let why = one_machine_reason(&report, &p);
        p.reasons.push(Reason {
            setting: "cluster".into(),
            why,
        });
        p.cluster = Some(report);
        return Ok(p);
    }
    let mut p = remote?;
    report.uses_workers = true;
    let why = format!(
        "workers: {:.1} tok/s with the workers against {:.1} tok/s on the main host alone ({})",
        report.with_workers_tg_tokens_per_s,
        report.local_only_tg_tokens_per_s,
        if report.local_only_tg_tokens_per_s > 0.0 {
            "the layers they take outweigh the link's cost"
        } else {
            "the model does not fit on the main host alone"
        }
    );
    localize(&mut p, &v, c, &mut report);
    report.network_ms_per_token = net_ms;
    if req.split_mode.is_none() && req.tensor_split.is_none() {
        let shares = format!("{:?}", p.settings.tensor_split);
        for r in p.reasons.iter_mut().filter(|r| r.setting == "split_mode") {
            r.why = format!("layer split {split_why} ({shares}, workers' devices first as the engine lists them): whole layers per device across hosts; a tensor-parallel split would exchange partial results over the network inside every layer");
        }
    }
    p.reasons.push(Reason {
        setting: "cluster".into(),
        why,
    });
    p.warnings.push(PORT_WARNING.to_string());
    for w in &report.workers {
        if matches!(w.endpoint.address.as_str(), "0.0.0.0" | "::" | "[::]") {
            p.warnings.push(format!(
                "worker '{}' binds rpc-server to every interface ({}), as asked: its unit still lets only the main host in, but the script does not; bind it to the address the main host uses",
                w.name, w.endpoint.address
            ));
        }
    }
    p.cluster = Some(report);
    Ok(p)
}

fn rename_error(e: PlanError, v: &ClusterView, c: &ClusterRequest) -> PlanError {
    match e {
        PlanError::Unsatisfiable(m) => PlanError::Unsatisfiable(v.rename(&m, c)),
        PlanError::Invalid(m) => PlanError::Invalid(v.rename(&m, c)),
    }
}

/// A layer split that fills the devices with the fastest memory first (each to 90% of
/// its budget, leaving room for its KV cache and compute buffer) and gives the rest of
/// the weights to the slower ones: the other candidate beside the engine's split by
/// free memory. `None` when a device would get nothing (the engine would still list
/// it) or there is one device.
fn fastest_first_split(spec: &ModelSpec, v: &ClusterView) -> Option<Vec<f64>> {
    if v.hw.gpus.len() < 2 {
        return None;
    }
    let table = Devices::local(&v.hw);
    let mut order: Vec<(usize, f64, f64)> =
        v.hw.gpus
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let bw = crate::perf::devices::gpu_effective_bandwidth(g, &DEFAULT_FACTORS).0;
                (
                    i,
                    bw,
                    table.budget(DeviceId::gpu(g.index)).as_u64() as f64 * 0.9,
                )
            })
            .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut left = spec.total_bytes().as_u64() as f64;
    let mut shares = vec![0.0; v.hw.gpus.len()];
    for (i, _, budget) in &order {
        let take = budget.min(left);
        shares[*i] = (take / (1u64 << 30) as f64 * 10.0).round() / 10.0;
        left -= take;
    }
    shares.iter().all(|s| *s > 0.0).then_some(shares)
}

/// The warning every multi-host plan and worker artefact carries.
pub const PORT_WARNING: &str = "the RPC port has no authentication: anyone who reaches it can run code on the worker's devices and read its memory; make it reachable only from the main host (the generated systemd unit allows only the main host's address)";

fn one_machine_reason(r: &ClusterReport, p: &Plan) -> String {
    let local = r.local_only_tg_tokens_per_s;
    if r.with_workers_tg_tokens_per_s > 0.0 {
        format!(
            "one machine wins: {:.1} tok/s on the main host alone (-ngl {}, --n-cpu-moe {}) against {:.1} tok/s with the workers over {} (the workers' devices, behind the link, are slower than what the main host does with those layers)",
            local,
            p.settings.n_gpu_layers,
            p.settings.n_cpu_moe,
            r.with_workers_tg_tokens_per_s,
            r.link.name
        )
    } else {
        format!(
            "one machine wins: {local:.1} tok/s on the main host alone; no placement that puts layers on the workers was faster or fitted"
        )
    }
}

/// Turns the cluster view's plan back into the main host's terms: the workers' rows
/// carry their `host`, GPU indices and the backend are the main host's own, `--rpc`
/// lists the workers that hold layers, and the report gets each worker's share.
fn localize(p: &mut Plan, v: &ClusterView, c: &ClusterRequest, report: &mut ClusterReport) {
    let names = Devices::local(&v.hw);
    for row in p.memory.devices.iter_mut() {
        let slot = (0..v.slots.len() as u32)
            .find(|i| names.name(DeviceId::gpu(*i)) == row.name)
            .and_then(|i| v.slot(i));
        if let Some(s) = slot {
            match s.worker {
                Some(wi) => {
                    row.host = Some(c.workers[wi].name.clone());
                    row.name = format!("{} (RPC {})", s.label, s.engine_name);
                }
                None => {
                    let i = s.id.gpu_index().unwrap_or(0);
                    row.name = format!("GPU {i}: {}", s.label);
                }
            }
        }
    }
    for r in p.reasons.iter_mut() {
        r.why = v.rename(&r.why, c);
    }
    for a in p.alternatives.iter_mut() {
        a.summary = v.rename(&a.summary, c);
    }
    p.performance.bottleneck = v.rename(&p.performance.bottleneck, c);
    // A CPU worker is a GPU entry of the view: its reads are from RAM, not "VRAM".
    for (g, slot) in v.hw.gpus.iter().zip(&v.slots) {
        if slot.worker.is_some() && slot.backend == Backend::Cpu {
            let vram = format!("{} VRAM", g.name);
            p.performance.bottleneck = p.performance.bottleneck.replace(&vram, &g.name);
        }
    }
    let used: Vec<&DeviceSlot> = p
        .settings
        .gpu_indices
        .iter()
        .filter_map(|i| v.slot(*i))
        .collect();
    let first_local = used.iter().find(|s| s.worker.is_none());
    p.settings.backend = first_local.map_or(Backend::Cpu, |s| s.backend);
    p.settings.gpu_indices = used
        .iter()
        .filter(|s| s.worker.is_none())
        .filter_map(|s| s.id.gpu_index())
        .collect();
    let mut workers = Vec::new();
    for (wi, w) in c.workers.iter().enumerate() {
        let mine: Vec<&&DeviceSlot> = used.iter().filter(|s| s.worker == Some(wi)).collect();
        if mine.is_empty() {
            continue;
        }
        let rows: Vec<_> = p
            .memory
            .devices
            .iter()
            .filter(|r| r.host.as_deref() == Some(w.name.as_str()))
            .collect();
        let weights: u64 = rows.iter().map(|r| r.weights_bytes).sum();
        let kv: u64 = rows.iter().map(|r| r.kv_bytes).sum();
        let (threads, _) = super::settings::threads(&w.hw);
        workers.push(WorkerPlan {
            name: w.name.clone(),
            endpoint: w.endpoint.clone(),
            hardware: w.hardware_source.clone(),
            devices: mine.iter().map(|s| s.engine_name.clone()).collect(),
            threads,
            weights_bytes: weights,
            kv_bytes: kv,
            first_load_seconds: network::load_seconds(weights, &c.link),
            // Rendered by `ops` with `generate` (the planner writes no command lines).
            build_command: String::new(),
            rpc_server_command: String::new(),
        });
    }
    p.settings.extras.rpc_servers = workers.iter().map(|w| w.endpoint.to_rpc()).collect();
    // The main host sends every worker its weights over the one link, one after another.
    report.first_load_seconds = workers.iter().map(|w| w.first_load_seconds).sum();
    report.workers = workers;
    p.hardware = v.hw.source.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::cluster::parse_link;
    use crate::planner::testing::{model, rig};
    use crate::planner::PlanRequest;

    fn cluster(main: &str, workers: &[&str], link: &str) -> (HardwareSnapshot, PlanRequest) {
        let c = ClusterRequest {
            workers: workers
                .iter()
                .enumerate()
                .map(|(i, w)| Worker {
                    name: format!("w{}", i + 1),
                    endpoint: Endpoint {
                        address: format!("10.0.0.{}", i + 2),
                        port: 50052,
                    },
                    hardware_source: w.to_string(),
                    hw: rig(w),
                })
                .collect(),
            link: parse_link(link).unwrap(),
            main_address: "10.0.0.1".into(),
        };
        let req = PlanRequest {
            cluster: Some(c),
            ..Default::default()
        };
        (rig(main), req)
    }

    #[test]
    fn the_view_lists_worker_devices_first_then_local_gpus() {
        let (hw, req) = cluster(
            "z440-2x3060",
            &["xeon-e5-2620v4-cpu", "desktop-3090"],
            "10gbe",
        );
        let v = view(&hw, req.cluster.as_ref().unwrap());
        let ids: Vec<DeviceId> = v.slots.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                DeviceId::on(HostId(1), Unit::Cpu),
                DeviceId::on(HostId(2), Unit::Gpu(0)),
                DeviceId::gpu(0),
                DeviceId::gpu(1)
            ]
        );
        let names: Vec<&str> = v.slots.iter().map(|s| s.engine_name.as_str()).collect();
        assert_eq!(&names[..2], ["CPU", "CUDA0"]);
        assert_eq!(v.hw.gpus.len(), 4);
        assert!(v
            .hw
            .gpus
            .iter()
            .enumerate()
            .all(|(i, g)| g.index == i as u32));
        // The CPU worker's budget is its RAM less the host margin.
        let d = Devices::local(&v.hw);
        let ram = Bytes(rig("xeon-e5-2620v4-cpu").memory.total_bytes);
        assert_eq!(d.budget(DeviceId::gpu(0)), ram - memory::host_margin(ram));
    }

    #[test]
    fn view_indices_are_renamed_to_the_real_devices() {
        let (hw, req) = cluster("z440-2x3060", &["desktop-3090"], "10gbe");
        let c = req.cluster.as_ref().unwrap();
        let v = view(&hw, c);
        assert_eq!(
            v.rename("everything on GPU 0, then GPU 2 and GPU 12 (GPU)", c),
            "everything on w1 CUDA0, then GPU 1 and GPU 12 (GPU)"
        );
    }

    #[test]
    fn a_70b_dense_model_goes_to_the_worker_when_the_main_host_is_small() {
        let spec = model("llama-3.3-70b", "Q4_K_M");
        let (hw, req) = cluster("desktop-3090", &["desktop-3090"], "10gbe");
        let p = crate::planner::plan(&spec, &hw, &req).unwrap();
        let r = p.cluster.as_ref().unwrap();
        assert!(r.uses_workers, "{:?}", p.reasons);
        assert!(r.with_workers_tg_tokens_per_s > r.local_only_tg_tokens_per_s);
        assert_eq!(p.settings.extras.rpc_servers, ["10.0.0.2:50052"]);
        assert_eq!(p.settings.gpu_indices, [0]);
        let remote: Vec<_> = p
            .memory
            .devices
            .iter()
            .filter(|d| d.host.is_some())
            .collect();
        assert_eq!(remote.len(), 1);
        assert!(remote[0].weights_bytes > 10 << 30 && remote[0].name.ends_with("(RPC CUDA0)"));
        assert_eq!(r.workers[0].devices, ["CUDA0"]);
        assert!(r.first_load_seconds > 10.0 && r.network_ms_per_token > 0.0);
        assert!(p.warnings.iter().any(|w| w.contains("no authentication")));
    }

    #[test]
    fn over_a_slow_link_one_machine_with_experts_in_ram_wins() {
        let spec = model("qwen3.5-35b-a3b", "Q4_K_M");
        let (hw, req) = cluster("desktop-3090", &["xeon-e5-2620v4-cpu"], "1gbe");
        let p = crate::planner::plan(&spec, &hw, &req).unwrap();
        let r = p.cluster.as_ref().unwrap();
        assert!(!r.uses_workers);
        assert!(p.settings.extras.rpc_servers.is_empty());
        let why = &p
            .reasons
            .iter()
            .find(|x| x.setting == "cluster")
            .unwrap()
            .why;
        assert!(why.starts_with("one machine wins"), "{why}");
    }

    #[test]
    fn a_fast_gpu_is_filled_before_a_slow_worker() {
        let spec = model("qwen3.5-35b-a3b", "Q4_K_M");
        let (hw, req) = cluster("desktop-3070-8gb", &["xeon-e5-2620v4-cpu"], "1gbe");
        let v = view(&hw, req.cluster.as_ref().unwrap());
        // The 3070 (index 1 after the worker's CPU) gets 90% of its budget, the worker
        // the rest of the weights.
        let ts = fastest_first_split(&spec, &v).unwrap();
        let gpu = Devices::local(&v.hw).budget(DeviceId::gpu(1)).gib() * 0.9;
        assert!((ts[1] - gpu).abs() < 0.06, "{ts:?} {gpu}");
        assert!(ts[0] > 0.0 && ts[0] < spec.total_bytes().gib());
        let p = crate::planner::plan(&spec, &hw, &req).unwrap();
        let why = &p
            .reasons
            .iter()
            .find(|r| r.setting == "split_mode")
            .unwrap()
            .why;
        assert!(why.contains("fastest devices first"), "{why}");
        assert!(p.cluster.unwrap().uses_workers);
    }

    #[test]
    fn ik_llama_cpp_gets_no_cluster_plan() {
        let spec = model("llama-3.1-8b", "Q4_K_M");
        let (hw, mut req) = cluster("desktop-3090", &["desktop-3090"], "10gbe");
        req.engine = crate::engine::EngineKind::IkLlamaCpp;
        let e = crate::planner::plan(&spec, &hw, &req).unwrap_err();
        assert!(
            matches!(e, PlanError::Invalid(ref m) if m.contains("llama.cpp only")),
            "{e:?}"
        );
    }
}
