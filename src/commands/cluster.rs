//! The cluster options (`--worker`, `--link`, `--cluster`, `--main-address`) as the
//! planner's `ClusterRequest`, and the files they write: the cluster file
//! (`--save-cluster`) and each worker's rpc-server script and unit (`--write-workers`).
//!
//! Parsing and file reading go through `hardware::cluster`; rendering through
//! `generate::rpc_worker`. Never overwrites a file; every refusal names the input.

use crate::cli::ClusterArgs;
use crate::engine::EngineKind;
use crate::error::{user_error, Result};
use crate::generate::launch::is_loopback;
use crate::generate::rpc_worker;
use crate::hardware::cluster::{
    check_main_address, parse_link, parse_worker, resolve_workers, ClusterFile,
};
use crate::plan::Plan;
use crate::planner::cluster::{ClusterRequest, Worker};
use std::path::Path;

/// The link when none is given: gigabit Ethernet, the common home network.
const DEFAULT_LINK: &str = "1gbe";

/// The cluster file the options describe (the file given with `--cluster`, with the
/// `--worker`s added and `--link`/`--main-address` replacing its own).
pub fn cluster_file(args: &ClusterArgs) -> Result<ClusterFile> {
    let mut f = match &args.cluster_file {
        Some(p) => ClusterFile::read(p)?,
        None => ClusterFile::default(),
    };
    for w in &args.workers {
        f.workers.push(parse_worker(w)?);
    }
    if let Some(l) = &args.link {
        parse_link(l)?;
        f.link = Some(l.clone());
    }
    if let Some(a) = &args.main_address {
        check_main_address(a)?;
        f.main_address = Some(a.clone());
    }
    Ok(f)
}

/// The planner's cluster request, `None` when no worker is given. Worker hardware files
/// named in a cluster file are found relative to it.
pub fn request(args: &ClusterArgs) -> Result<Option<ClusterRequest>> {
    let f = cluster_file(args)?;
    if f.workers.is_empty() {
        if args.link.is_some() || args.main_address.is_some() || args.save_cluster.is_some() {
            return Err(user_error(
                "--link, --main-address and --save-cluster need at least one --worker NAME=HARDWARE@HOST:PORT (or --cluster FILE)",
            ));
        }
        return Ok(None);
    }
    let base = args
        .cluster_file
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty());
    let resolved = resolve_workers(&f.workers, base)?;
    let link = parse_link(f.link.as_deref().unwrap_or(DEFAULT_LINK))?;
    let all_loopback = f.workers.iter().all(|w| is_loopback(&w.address));
    let main_address = match &f.main_address {
        Some(a) => a.clone(),
        None if all_loopback => "127.0.0.1".to_string(),
        None => String::new(),
    };
    Ok(Some(ClusterRequest {
        workers: resolved
            .into_iter()
            .map(|r| Worker {
                name: r.spec.name.clone(),
                endpoint: r.spec.endpoint(),
                hardware_source: r.spec.hardware.clone(),
                hw: r.hw,
            })
            .collect(),
        link,
        main_address,
    }))
}

/// Writes `text` to a new file; an existing file is never replaced.
fn write_new(path: &Path, text: &str, what: &str) -> Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            user_error(format!(
                "{what} '{}': {e} (rigplan never overwrites a file: remove it or choose another path)",
                path.display()
            ))
        })?;
    f.write_all(text.as_bytes())
        .map_err(|e| user_error(format!("{what} '{}': {e}", path.display())))
}

/// `--save-cluster` and `--write-workers`, after the plan is made.
pub fn write_files(args: &ClusterArgs, plan: &Plan, engine: EngineKind) -> Result<()> {
    if let Some(path) = &args.save_cluster {
        write_new(path, &cluster_file(args)?.to_toml(), "--save-cluster")?;
        eprintln!("saved the cluster to '{}'", path.display());
    }
    let Some(dir) = &args.write_workers else {
        return Ok(());
    };
    let Some(c) = plan.cluster.as_ref() else {
        return Err(user_error(
            "--write-workers needs at least one --worker NAME=HARDWARE@HOST:PORT",
        ));
    };
    if c.workers.is_empty() {
        eprintln!(
            "wrote no worker files: the plan keeps everything on the main host (see the 'cluster' reason)"
        );
        return Ok(());
    }
    if c.main_address.is_empty() {
        return Err(user_error(
            "--write-workers: give --main-address ADDR (the main host's IP as the workers see it): each worker's unit lets only it in",
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| user_error(format!("--write-workers '{}': {e}", dir.display())))?;
    for w in &c.workers {
        let script = rpc_worker::script(w, &c.main_address, &plan.model.name, engine)?;
        let unit = rpc_worker::systemd_unit(
            w,
            &c.main_address,
            &plan.model.name,
            engine,
            &args.rpc_server_bin,
        )?;
        let sh = dir.join(format!("{}.rpc-server.sh", w.name));
        write_new(&sh, &script, "--write-workers")?;
        set_executable(&sh)?;
        let svc = dir.join(format!("rigplan-rpc-{}.service", w.name));
        write_new(&svc, &unit, "--write-workers")?;
        eprintln!(
            "wrote '{}' and '{}' for worker '{}'",
            sh.display(),
            svc.display(),
            w.name
        );
    }
    Ok(())
}

fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| user_error(format!("--write-workers '{}': {e}", path.display())))
}

/// The cluster part of the plan table: the link, one machine against the cluster, the
/// first load, and per worker its share, build command and rpc-server command.
pub fn render_report(o: &mut String, c: &crate::plan::cluster::ClusterReport) {
    use crate::units::Bytes;
    use std::fmt::Write as _;
    let _ = writeln!(
        o,
        "\ncluster: {} link, {:.2} Gbit/s, {:.0} us RTT ({})",
        c.link.name, c.link.gbits_per_s, c.link.rtt_us, c.link.source
    );
    let _ = writeln!(
        o,
        "  main host alone: {:.1} tok/s · with the workers: {:.1} tok/s → {}",
        c.local_only_tg_tokens_per_s,
        c.with_workers_tg_tokens_per_s,
        if c.uses_workers {
            "the workers pay"
        } else {
            "one machine is faster"
        }
    );
    if !c.uses_workers {
        return;
    }
    let _ = writeln!(
        o,
        "  network: {:.2} ms per token · first load: {:.0} s to send the workers their weights (later loads: hashes only, from rpc-server -c)",
        c.network_ms_per_token, c.first_load_seconds
    );
    for w in &c.workers {
        let _ = writeln!(
            o,
            "  worker {} at {} ({}): {} · weights {} · KV {} · first load {:.0} s",
            w.name,
            w.endpoint.to_rpc(),
            w.hardware,
            w.devices.join(", "),
            Bytes(w.weights_bytes),
            Bytes(w.kv_bytes),
            w.first_load_seconds
        );
        let _ = writeln!(o, "    build:  {}", w.build_command);
        let _ = writeln!(o, "    run:    {}", w.rpc_server_command);
    }
    let _ = writeln!(
        o,
        "  ! the RPC port has no authentication: let only the main host ({}) reach it (--write-workers DIR writes units that do)",
        if c.main_address.is_empty() {
            "give --main-address"
        } else {
            c.main_address.as_str()
        }
    );
}
