//! Regenerates `docs/calibration.md`: fits the speed model's factors on
//! `profiles/calibration/points.toml` and writes every point's error.
//!
//! Usage: `cargo run --release --example calibration_report [OUT]` (default
//! `docs/calibration.md`). Prints the medians and the fitted factors; copy fitted values
//! into `src/perf/factors.rs` when they move. `--thorough` also prints the
//! leave-one-source-out medians with every fold's fit refined
//! (`calibration::cross_validate_thorough`, several minutes): the way to judge a model
//! change through the fit's path noise.

use rigplan::perf::calibration;
use rigplan::perf::factors::{DEFAULT_FACTORS, FIT_BOUNDS};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let thorough = args.iter().any(|a| a == "--thorough");
    let out = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "docs/calibration.md".to_string());
    let data = calibration::load()?;
    let prepared = calibration::prepare(&data)?;
    let start = calibration::neutral_start();
    let fitted = calibration::fit_prepared(&prepared, &start, calibration::FIT_SWEEPS, &|_| true);
    let cv = calibration::cross_validate(&prepared, &start, calibration::FIT_SWEEPS);
    let cv_threads =
        calibration::cross_validate_threads(&prepared, &start, calibration::FIT_SWEEPS);
    let polished =
        calibration::polish_prepared(&prepared, &fitted, calibration::POLISH_STEPS, &|_| true);
    let validation = calibration::Validation {
        by_source: &cv,
        by_thread: &cv_threads,
        polished: &polished,
    };
    let md = calibration::report(&data, &fitted, &DEFAULT_FACTORS, &validation)?;
    if let Some(dir) = std::path::Path::new(&out).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    std::fs::write(&out, md)?;
    let shipped = calibration::evaluate(&data, &DEFAULT_FACTORS)?;
    let fresh = calibration::evaluate(&data, &fitted)?;
    println!(
        "shipped: tg median {:.1}%, pp median {:.1}%",
        100.0 * calibration::median_abs_error(&shipped, "tg"),
        100.0 * calibration::median_abs_error(&shipped, "pp")
    );
    println!(
        "fresh fit: tg median {:.1}%, pp median {:.1}%",
        100.0 * calibration::median_abs_error(&fresh, "tg"),
        100.0 * calibration::median_abs_error(&fresh, "pp")
    );
    println!(
        "cross-validated (leave one source out): tg median {:.1}%, pp median {:.1}%",
        100.0 * calibration::median_abs_error(&cv, "tg"),
        100.0 * calibration::median_abs_error(&cv, "pp")
    );
    println!(
        "cross-validated (leave one thread out): tg median {:.1}%, pp median {:.1}%",
        100.0 * calibration::median_abs_error(&cv_threads, "tg"),
        100.0 * calibration::median_abs_error(&cv_threads, "pp")
    );
    if thorough {
        let cv =
            calibration::cross_validate_thorough(&prepared, &start, calibration::FIT_SWEEPS, 300);
        println!(
            "cross-validated, refined folds (leave one source out): tg median {:.1}%, pp median {:.1}%",
            100.0 * calibration::median_abs_error(&cv, "tg"),
            100.0 * calibration::median_abs_error(&cv, "pp")
        );
        for backend in ["cpu", "cuda", "metal", "rocm", "vulkan", "sycl"] {
            let ids: Vec<&str> = prepared
                .iter()
                .filter(|p| p.backend == backend)
                .map(|p| p.id.as_str())
                .collect();
            let stat = |test: &str| {
                calibration::error_stats(&cv, &|r| r.test == test && ids.contains(&r.id.as_str())).1
            };
            println!(
                "  {backend}: tg {:.1}%, pp {:.1}%",
                100.0 * stat("tg"),
                100.0 * stat("pp")
            );
        }
    }
    for b in FIT_BOUNDS {
        println!("{} = {:e}", b.name, fitted.get(b.name).unwrap_or(f64::NAN));
    }
    println!("wrote {out}");
    Ok(())
}
