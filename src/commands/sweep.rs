//! `rigplan plan ... --sweep SETTING`: `ops::sweep` across the setting's values, rendered
//! as a table (memory per device, predicted speeds) with a small bar chart of generation
//! speed, or as JSON/TOML. Decides nothing itself.

use crate::cli::{Format, PlanArgs, SweepSetting};
use crate::hardware::HardwareSnapshot;
use crate::ops::sweep::{Sweep, SweepKind, SweepPoint};
use crate::planner::PlanRequest;
use crate::units::Bytes;
use std::fmt::Write as _;
use std::io::Write as _;

pub fn run(
    args: &PlanArgs,
    setting: SweepSetting,
    hw: &HardwareSnapshot,
    req: PlanRequest,
) -> anyhow::Result<()> {
    if args.mmproj.is_some() {
        return Err(
            crate::error::user_error("--mmproj is not swept: plan it without --sweep").into(),
        );
    }
    if args.save.is_some() {
        return Err(
            crate::error::user_error("--save saves one plan; it does not go with --sweep").into(),
        );
    }
    let kind = match setting {
        SweepSetting::Ctx => SweepKind::Ctx,
        SweepSetting::Ngl => SweepKind::Ngl,
        SweepSetting::NCpuMoe => SweepKind::NCpuMoe,
        SweepSetting::Quant => SweepKind::Quant,
        SweepSetting::Parallel => SweepKind::Parallel,
    };
    let s = crate::ops::sweep::sweep(args.model.as_deref(), hw, req, kind)?;
    let text = match args.format {
        Format::Table => render(&s),
        Format::Json => serde_json::to_string_pretty(&s)? + "\n",
        Format::Toml => toml::to_string(&s)?,
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

const CHART_WIDTH: usize = 40;

/// The sweep as a table and a bar chart of predicted generation speed.
pub fn render(s: &Sweep) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} on {} with {}: --sweep {}{}",
        s.model,
        s.hardware,
        s.engine,
        s.sweep.name(),
        if s.pinned.is_empty() {
            String::new()
        } else {
            format!(
                " ({} pinned; the rest chosen per point)",
                s.pinned.join(", ")
            )
        }
    );
    let devices: Vec<String> = s
        .points
        .iter()
        .find(|p| p.fits)
        .map(|p| p.memory.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default();
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec![s.sweep.name().to_string(), "placement".into()];
    header.extend(devices.iter().map(|d| short_name(d)));
    if s.sweep == SweepKind::Parallel {
        header.extend(["tok/s per slot".to_string(), "pp tok/s".to_string()]);
        header.push("all slots tok/s".into());
    } else {
        header.extend(["tg tok/s".to_string(), "pp tok/s".to_string()]);
    }
    t.set_header(header);
    for p in &s.points {
        let mut row = vec![p.value.clone()];
        if !p.fits {
            row.push("does not fit".into());
            row.extend(devices.iter().map(|_| String::new()));
            row.extend([String::new(), String::new()]);
            if s.sweep == SweepKind::Parallel {
                row.push(String::new());
            }
            t.add_row(row);
            continue;
        }
        row.push(placement(p));
        for d in &devices {
            row.push(
                p.memory
                    .iter()
                    .find(|m| &m.name == d)
                    .map(|m| format!("{} / {}", Bytes(m.total_bytes), Bytes(m.capacity_bytes)))
                    .unwrap_or_default(),
            );
        }
        match p.aggregate_tg_tokens_per_s {
            Some(a) => {
                let slots = f64::from(p.parallel.unwrap_or(1).max(1));
                row.push(format!("{:.1}", a / slots));
                row.push(format!("{:.0}", p.pp_tokens_per_s.unwrap_or(0.0)));
                row.push(format!("{a:.1}"));
            }
            None => {
                row.push(format!("{:.1}", p.tg_tokens_per_s.unwrap_or(0.0)));
                row.push(format!("{:.0}", p.pp_tokens_per_s.unwrap_or(0.0)));
            }
        }
        t.add_row(row);
    }
    let _ = writeln!(o, "{t}");
    let (label, value): (&str, fn(&SweepPoint) -> Option<f64>) = if s.sweep == SweepKind::Parallel {
        ("all slots generating, tok/s", |p| {
            p.aggregate_tg_tokens_per_s
        })
    } else {
        ("generation, tok/s", |p| p.tg_tokens_per_s)
    };
    let _ = writeln!(o, "\n{label}");
    o.push_str(&chart(&s.points, value));
    if let (Some(ctx), Some(max)) = (s.slot_ctx, s.max_slots) {
        let best = s
            .points
            .iter()
            .filter(|p| p.fits && p.parallel == Some(max))
            .find_map(|p| p.aggregate_tg_tokens_per_s);
        let _ = writeln!(
            o,
            "\n{max} concurrent slots of {ctx} tokens fit (of those tried){}; aggregate assumes every slot generating at once, uniform expert routing (perf::batched).",
            best.map(|b| format!(", {b:.1} tok/s all together"))
                .unwrap_or_default()
        );
    }
    let failed: Vec<&SweepPoint> = s.points.iter().filter(|p| !p.fits).collect();
    if let Some(first) = failed.first() {
        let _ = writeln!(
            o,
            "\n{} of {} values do not fit; at {}: {}",
            failed.len(),
            s.points.len(),
            first.value,
            first.error.as_deref().unwrap_or("")
        );
    }
    o
}

/// `GPU 0: NVIDIA GeForce RTX 3090` → `GPU 0`; `CPU + RAM (...)` → `RAM`.
fn short_name(d: &str) -> String {
    if d.starts_with("CPU") {
        "RAM".to_string()
    } else {
        d.split(':').next().unwrap_or(d).to_string()
    }
}

fn placement(p: &SweepPoint) -> String {
    let mut s = format!(
        "{} -ngl {} --n-cpu-moe {}",
        p.quant.as_deref().unwrap_or("?"),
        p.n_gpu_layers.unwrap_or(0),
        p.n_cpu_moe.unwrap_or(0)
    );
    if let Some(c) = p.ctx {
        let _ = write!(s, " -c {c}");
    }
    if let Some(n) = p.parallel.filter(|n| *n > 1) {
        let _ = write!(s, " -np {n}");
    }
    s
}

/// One bar per point, scaled to the largest value; a point that does not fit is a `×`.
fn chart(points: &[SweepPoint], value: fn(&SweepPoint) -> Option<f64>) -> String {
    let max = points
        .iter()
        .filter_map(value)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let width = points.iter().map(|p| p.value.len()).max().unwrap_or(1);
    let mut o = String::new();
    for p in points {
        match value(p) {
            Some(v) if p.fits => {
                let n = ((v / max) * CHART_WIDTH as f64).round() as usize;
                let _ = writeln!(o, "  {:>width$} │{} {v:.1}", p.value, "█".repeat(n.max(1)));
            }
            _ => {
                let _ = writeln!(o, "  {:>width$} │× does not fit", p.value);
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::sweep::PointMemory;

    fn point(value: &str, tg: Option<f64>) -> SweepPoint {
        SweepPoint {
            value: value.into(),
            fits: tg.is_some(),
            error: tg.is_none().then(|| "'M' does not fit".to_string()),
            quant: Some("Q4_K_M".into()),
            ctx: Some(4096),
            n_gpu_layers: Some(33),
            n_cpu_moe: Some(0),
            parallel: Some(1),
            memory: vec![PointMemory {
                name: "GPU 0: X".into(),
                total_bytes: 10 << 30,
                capacity_bytes: 24 << 30,
            }],
            tg_tokens_per_s: tg,
            pp_tokens_per_s: tg.map(|t| t * 10.0),
            aggregate_tg_tokens_per_s: None,
        }
    }

    #[test]
    fn the_chart_scales_bars_to_the_fastest_point_and_marks_what_does_not_fit() {
        let pts = [
            point("4096", Some(100.0)),
            point("8192", Some(50.0)),
            point("16384", None),
        ];
        let c = chart(&pts, |p| p.tg_tokens_per_s);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines[0].matches('█').count(), CHART_WIDTH);
        assert_eq!(lines[1].matches('█').count(), CHART_WIDTH / 2);
        assert!(lines[2].contains("× does not fit"));
        // Values right-aligned to one column.
        assert!(lines[0].starts_with("   4096 │") && lines[2].starts_with("  16384 │"));
    }

    #[test]
    fn the_table_has_a_column_per_device_and_says_what_does_not_fit() {
        let s = Sweep {
            sweep: SweepKind::Ctx,
            model: "M".into(),
            hardware: "hw".into(),
            engine: "llama.cpp".into(),
            pinned: vec!["quant Q4_K_M".into()],
            points: vec![point("4096", Some(100.0)), point("8192", None)],
            slot_ctx: None,
            max_slots: None,
        };
        let text = render(&s);
        assert!(
            text.contains("GPU 0") && text.contains("10.0 GiB / 24.0 GiB"),
            "{text}"
        );
        assert!(
            text.contains("does not fit") && text.contains("1 of 2 values do not fit"),
            "{text}"
        );
    }
}
