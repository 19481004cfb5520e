//! `rigplan plan`: the pins and the hardware as a request, `ops::plan::plan_model`, the
//! Plan rendered (table with per-device memory bars, JSON or TOML) and optionally saved.
//!
//! Decides nothing itself.

use super::resolve;
use crate::cli::{Format, PlanArgs};
use crate::plan::Plan;
use crate::units::Bytes;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let mut req = resolve::plan_request(&args.pins)?;
    req.cluster = super::cluster::request(&args.cluster)?;
    let engine = req.engine;
    let hw = resolve::hardware(&args.hardware)?;
    if let Some(setting) = args.sweep {
        return super::sweep::run(&args, setting, &hw, req);
    }
    let mmproj = args
        .mmproj
        .as_deref()
        .map(crate::ops::projector::ProjectorChoice::parse);
    let mut plan = crate::ops::plan::plan_model_with(
        args.model.as_deref(),
        &hw,
        req.clone(),
        mmproj.as_ref(),
    )?;
    if args.verify
        && !crate::model::hparams::KNOWN_ARCHITECTURES.contains(&plan.model.architecture.as_str())
    {
        plan = plan_on_engine_fit(plan, args.model.as_deref(), &hw, req)?;
    }
    let text = match args.format {
        Format::Table => render_table(&plan),
        Format::Json => serde_json::to_string_pretty(&plan)? + "\n",
        Format::Toml => toml::to_string(&plan)?,
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes());
    if let Some(path) = &args.save {
        save(path, &plan, args.force)?;
        eprintln!("saved plan to '{}'", path.display());
    }
    super::cluster::write_files(&args.cluster, &plan, engine)?;
    if args.verify {
        let check = verify(&plan, None)?;
        if args.format == Format::Table {
            let _ = out.write_all(check.as_bytes());
        } else {
            eprint!("{check}");
        }
    }
    Ok(())
}

/// `--verify` for an architecture rigplan has no memory formula for: the engine fits
/// the placement itself and the model is planned again with its `-ngl`/`-ts` pinned
/// (what the user did not pin); the plan's warnings say so.
fn plan_on_engine_fit(
    plan: Plan,
    model: Option<&str>,
    hw: &crate::hardware::HardwareSnapshot,
    mut req: crate::planner::PlanRequest,
) -> anyhow::Result<Plan> {
    let fit_params = crate::ops::verify::locate(&plan, None)?;
    let fit = crate::ops::verify::engine_fit(&plan, &fit_params)?;
    if req.ngl.is_none() {
        req.ngl = fit.n_gpu_layers;
    }
    if req.tensor_split.is_none() && fit.tensor_split.len() > 1 {
        req.tensor_split = Some(fit.tensor_split.clone());
    }
    let mut replanned = crate::ops::plan::plan_model(model, hw, req)?;
    let mut note = format!(
        "architecture '{}' has no rigplan memory formula: the placement follows the engine's own fit (llama-fit-params: -ngl {}{}) on this machine",
        plan.model.architecture,
        fit.n_gpu_layers.map_or("default".to_string(), |n| n.to_string()),
        if fit.tensor_split.len() > 1 {
            format!(" -ts {:?}", fit.tensor_split)
        } else {
            String::new()
        }
    );
    if let Some(ot) = &fit.overrides {
        note.push_str(&format!(
            "; the engine would also add -ot \"{ot}\", which rigplan cannot pin"
        ));
    }
    replanned.warnings.insert(0, note);
    Ok(replanned)
}

/// `--verify`: the engine's check of `plan` as text, or exit 1 when the engine says the
/// plan does not fit.
pub(crate) fn verify(plan: &Plan, engine_bin: Option<&Path>) -> anyhow::Result<String> {
    let fit_params = crate::ops::verify::locate(plan, engine_bin)?;
    let v = crate::ops::verify::verify(plan, &fit_params)?;
    let text = crate::ops::verify::render(&v);
    if !v.fits {
        eprint!("{text}");
        return Err(crate::error::Error::Unsatisfiable(format!(
            "--verify: the engine says the plan for '{}' does not fit this machine",
            plan.model.name
        ))
        .into());
    }
    Ok(text)
}

fn save(path: &Path, plan: &Plan, force: bool) -> anyhow::Result<()> {
    let text = toml::to_string(plan)?;
    super::output::write_user_file(path, &text, force, false, "--save")
}

const BAR: usize = 40;

/// One device's memory as a bar: weights █, KV ▓, compute ▒, overhead ░, margin ·,
/// free space blank.
pub fn memory_bar(cap: u64, parts: [u64; 4], margin: u64) -> String {
    let cap = cap.max(1) as f64;
    let mut s = String::new();
    let mut used = 0usize;
    for (bytes, ch) in parts.iter().zip(['█', '▓', '▒', '░']) {
        let n = ((*bytes as f64 / cap) * BAR as f64).round() as usize;
        let n = n.min(BAR - used);
        s.extend(std::iter::repeat_n(ch, n));
        used += n;
    }
    let m = (((margin as f64) / cap) * BAR as f64).round() as usize;
    let free = BAR - used;
    let m = m.min(free);
    s.extend(std::iter::repeat_n(' ', free - m));
    s.extend(std::iter::repeat_n('·', m));
    format!("[{s}]")
}

/// The human view of a plan.
pub fn render_table(p: &Plan) -> String {
    let mut o = String::new();
    let s = &p.settings;
    let _ = writeln!(
        o,
        "{} ({}) on {} with {} {}",
        p.model.name,
        s.quant.as_deref().unwrap_or("?"),
        p.hardware,
        p.engine.name,
        p.engine.version
    );
    let _ = writeln!(
        o,
        "\npredicted: {:.1} tok/s generation, {:.0} tok/s prompt — {}",
        p.performance.tg_tokens_per_s, p.performance.pp_tokens_per_s, p.performance.bottleneck
    );
    if let Some(plain) = p.performance.tg_tokens_per_s_without_speculation {
        let sp = &p.settings.speculative;
        let _ = writeln!(
            o,
            "           with {} speculative decoding (draft max {}); {plain:.1} tok/s without",
            sp.kind.as_str(),
            sp.draft_max
        );
    }
    if let Some(ceiling) = p.performance.ceiling_tg_tokens_per_s {
        let _ = writeln!(
            o,
            "ceiling:   {ceiling:.1} tok/s generation on this hardware (bandwidth only)"
        );
    }
    if let Some(cal) = &p.performance.calibration {
        let _ = writeln!(o, "           {cal}");
    }
    let _ = writeln!(
        o,
        "\nmemory   █ weights  ▓ KV cache  ▒ compute  ░ overhead  · margin"
    );
    for d in &p.memory.devices {
        let name = match &d.host {
            Some(h) => format!("{h}: {}", d.name),
            None => d.name.clone(),
        };
        let _ = writeln!(
            o,
            "  {:<44} {} {} of {}",
            name,
            memory_bar(
                d.capacity_bytes,
                [
                    d.weights_bytes,
                    d.kv_bytes,
                    d.compute_bytes,
                    d.overhead_bytes
                ],
                d.margin_bytes
            ),
            Bytes(d.total_bytes),
            Bytes(d.capacity_bytes)
        );
        let _ = writeln!(
            o,
            "  {:<44} weights {} · KV {} · compute {} · overhead {} · margin {}",
            "",
            Bytes(d.weights_bytes),
            Bytes(d.kv_bytes),
            Bytes(d.compute_bytes),
            Bytes(d.overhead_bytes),
            Bytes(d.margin_bytes)
        );
        if d.pinned_bytes > 0 {
            let _ = writeln!(
                o,
                "  {:<44} of which {} pinned by the GPU runtime (cannot be swapped out)",
                "",
                Bytes(d.pinned_bytes)
            );
        }
    }
    if let Some(pr) = &p.projector {
        let _ = writeln!(
            o,
            "  vision projector on {}: weights {} + image encoding {} (included above; {})",
            pr.device,
            Bytes(pr.weights_bytes),
            Bytes(pr.compute_bytes),
            pr.compute_source
        );
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["setting", "value", "why"]);
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    if table.width().is_none() {
        table.set_width(120);
    }
    let value = |name: &str| -> String {
        match name {
            "quant" => s.quant.clone().unwrap_or_default(),
            "placement" if !s.override_tensors.is_empty() => format!(
                "-ngl {} --n-cpu-moe {} + {} -ot",
                s.n_gpu_layers,
                s.n_cpu_moe,
                s.override_tensors.len()
            ),
            "placement" => format!("-ngl {} --n-cpu-moe {}", s.n_gpu_layers, s.n_cpu_moe),
            "override_tensors" => s.override_tensors.join(" "),
            "backend" => s.backend.to_string(),
            "n_gpu_layers" => s.n_gpu_layers.to_string(),
            "n_cpu_moe" => s.n_cpu_moe.to_string(),
            "ctx" => s.ctx.to_string(),
            "predict" => s.predict.to_string(),
            "cache_type_k/v" => format!("{}/{}", s.cache_type_k, s.cache_type_v),
            "flash_attn" => if s.flash_attn { "on" } else { "off" }.into(),
            "threads" => s.threads.to_string(),
            "batch/ubatch" => format!("{}/{}", s.batch, s.ubatch),
            "parallel" => s.parallel.to_string(),
            "split_mode" => format!("{} {:?}", s.split_mode, s.tensor_split),
            "mlock/mmap" => format!("mlock {} mmap {}", s.mlock, s.mmap),
            "fit" => "off".into(),
            "rtr" => "on".into(),
            "mla/amb" => format!(
                "{}/{}",
                s.extras.mla.unwrap_or(0),
                s.extras.attention_max_batch.unwrap_or(0)
            ),
            "muge" => "on".into(),
            "cache_ram" => s
                .extras
                .cache_ram_mib
                .map(|m| format!("{m} MiB"))
                .unwrap_or_default(),
            "speculative" => {
                let sp = &s.speculative;
                match &sp.draft_model {
                    Some(m) => format!("{} k={} -md {m}", sp.kind.as_str(), sp.draft_max),
                    None if sp.draft_max > 0 => format!("{} k={}", sp.kind.as_str(), sp.draft_max),
                    None => sp.kind.as_str().to_string(),
                }
            }
            _ => String::new(),
        }
    };
    for r in &p.reasons {
        table.add_row([r.setting.clone(), value(&r.setting), r.why.clone()]);
    }
    let _ = writeln!(o, "\n{table}");
    if !p.alternatives.is_empty() {
        let _ = writeln!(o, "\nalternatives:");
        for a in &p.alternatives {
            let quality = a
                .mean_kld
                .map(|k| format!(", quality KLD {k:.3}"))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "  - {} → {:.1} tok/s{quality}",
                a.summary, a.tg_tokens_per_s
            );
        }
    }
    if !p.warnings.is_empty() {
        let _ = writeln!(o, "\nwarnings:");
        for w in &p.warnings {
            let _ = writeln!(o, "  ! {w}");
        }
    }
    if let Some(c) = &p.cluster {
        super::cluster::render_report(&mut o, c);
    }
    if p.command.is_empty() {
        let _ = writeln!(
            o,
            "\n(launch command: `rigplan export --as command` once the engine generator is wired)"
        );
    } else {
        let _ = writeln!(o, "\n{}", p.command);
        let _ = writeln!(o, "\n{}", next_steps(p));
    }
    o
}

/// The commands that take this plan to a running server on this machine: build the
/// pinned engine, write the launch script, run it (which downloads a model the plan has
/// no file for).
fn next_steps(p: &Plan) -> String {
    let engine = if p.engine.name == "llama.cpp" {
        String::new()
    } else {
        format!(" --engine {}", p.engine.name)
    };
    let model = match (&p.model.path, &p.settings.quant) {
        (Some(path), _) => crate::generate::shell::shell_quote(path),
        (None, Some(q)) if !p.model.reference.is_empty() && !p.model.reference.contains(':') => {
            crate::generate::shell::shell_quote(&format!("{}:{q}", p.model.reference))
        }
        _ => crate::generate::shell::shell_quote(&p.model.reference),
    };
    let mmproj = p
        .projector
        .as_ref()
        .map(|pr| match &pr.path {
            Some(f) => format!(" --mmproj {}", crate::generate::shell::shell_quote(f)),
            None => " --mmproj auto".to_string(),
        })
        .unwrap_or_default();
    format!(
        "to run it on this machine:\n  rigplan build{engine} --out build.sh && bash build.sh\n  rigplan export {model}{engine}{mmproj} --as script --out launch.sh && ./launch.sh"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_steps_name_the_model_quant_and_engine_the_plan_used() {
        let hw = crate::hardware::presets::get("desktop-3090")
            .unwrap()
            .unwrap();
        let plan = crate::ops::plan::plan_model(None, &hw, crate::planner::PlanRequest::default())
            .unwrap();
        let text = next_steps(&plan);
        let q = plan.settings.quant.clone().unwrap();
        assert!(
            text.contains("rigplan build --out build.sh && bash build.sh"),
            "{text}"
        );
        assert!(
            text.contains(&format!("rigplan export qwen3.5-35b-a3b:{q} --as script")),
            "{text}"
        );
    }

    #[test]
    fn bar_is_proportional_and_fixed_width() {
        let b = memory_bar(100, [50, 25, 0, 0], 10);
        assert_eq!(b.chars().count(), BAR + 2);
        assert_eq!(b.chars().filter(|c| *c == '█').count(), 20);
        assert_eq!(b.chars().filter(|c| *c == '▓').count(), 10);
        assert_eq!(b.chars().filter(|c| *c == '·').count(), 4);
        // Over capacity never overflows the bar.
        assert_eq!(memory_bar(10, [100, 100, 0, 0], 0).chars().count(), BAR + 2);
    }
}
