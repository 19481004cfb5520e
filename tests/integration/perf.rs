//! Speed-model accuracy and physics checks on the calibration points.

use rigplan::perf::calibration::{
    self, median_abs_error, objective, PP_MEDIAN_TARGET, TG_MEDIAN_TARGET,
};
use rigplan::perf::factors::DEFAULT_FACTORS;
use rigplan::perf::predict_detailed;

#[test]
fn shipped_factors_meet_the_issue_accuracy_targets() {
    let data = calibration::load().unwrap();
    let results = calibration::evaluate(&data, &DEFAULT_FACTORS).unwrap();
    let tg = median_abs_error(&results, "tg");
    let pp = median_abs_error(&results, "pp");
    let n_tg = results.iter().filter(|r| r.test == "tg").count();
    let n_pp = results.iter().filter(|r| r.test == "pp").count();
    assert!(n_tg >= 25 && n_pp >= 12, "{n_tg} tg / {n_pp} pp points");
    assert!(tg <= TG_MEDIAN_TARGET, "tg median error {:.1}%", 100.0 * tg);
    assert!(pp <= PP_MEDIAN_TARGET, "pp median error {:.1}%", 100.0 * pp);
}

#[test]
fn shipped_factors_are_the_fit_result() {
    // One sweep of the fit from the shipped values must not find a much better optimum:
    // the numbers in factors.rs are what the fit produced, not hand-tuned.
    let data = calibration::load().unwrap();
    let shipped = objective(&calibration::evaluate(&data, &DEFAULT_FACTORS).unwrap());
    let refit = calibration::fit(&data, &DEFAULT_FACTORS, 1).unwrap();
    let refit_obj = objective(&calibration::evaluate(&data, &refit).unwrap());
    assert!(refit_obj <= shipped + 1e-9);
    assert!(
        refit_obj > 0.97 * shipped,
        "refit objective {refit_obj:.3} is well below shipped {shipped:.3}: update factors.rs"
    );
}

#[test]
fn experts_in_ram_beat_the_seed_partial_ngl_on_the_3070() {
    // Seed 001's hand-tuned plan: IQ2_XXS, -ngl 27 (14 whole blocks on the CPU).
    // All blocks on the GPU with the experts of 15 blocks in RAM holds about the same
    // VRAM (15 x 208 MB experts out vs 14 whole blocks out) and must predict faster.
    let data = calibration::load().unwrap();
    let seed = data.point.iter().find(|p| p.id == "seed001-t8").unwrap();
    let mut moe = seed.clone();
    moe.ngl = 999;
    moe.n_cpu_moe = 15;
    let a = data.scenario(seed).unwrap();
    let b = data.scenario(&moe).unwrap();
    let pa = predict_detailed(&a.layout, &a.hw, &a.settings, &a.spec, a.engine);
    let pb = predict_detailed(&b.layout, &b.hw, &b.settings, &b.spec, b.engine);
    let gpu = |s: &calibration::Scenario| {
        s.layout
            .device(rigplan::planner::layout::DeviceId::Gpu(0))
            .unwrap()
            .weight_bytes
            .as_u64()
    };
    assert!(
        gpu(&b) <= gpu(&a) + (300 << 20),
        "{} vs {}",
        gpu(&b),
        gpu(&a)
    );
    eprintln!(
        "3070 IQ2_XXS: seed -ngl 27 {:.1} tok/s ({}); -ngl 999 --n-cpu-moe 15 {:.1} tok/s ({})",
        pa.tg_tokens_per_s, pa.bottleneck, pb.tg_tokens_per_s, pb.bottleneck
    );
    assert!(
        pb.tg_tokens_per_s > pa.tg_tokens_per_s,
        "n-cpu-moe {:.1} vs -ngl 27 {:.1}",
        pb.tg_tokens_per_s,
        pa.tg_tokens_per_s
    );
    assert!(pa.bottleneck.contains("% of per-token time"));
    assert!(pb.ceiling_tg_tokens_per_s > pb.tg_tokens_per_s);
}

#[test]
fn bigger_ubatch_helps_hybrid_prompt_processing() {
    let data = calibration::load().unwrap();
    let base = data
        .point
        .iter()
        .find(|p| p.id == "ext-5080-q4-exps")
        .unwrap();
    let pp_at = |ub: u32| {
        let mut p = base.clone();
        p.test = "pp".into();
        p.n = Some(ub);
        p.ubatch = Some(ub);
        let s = data.scenario(&p).unwrap();
        predict_detailed(&s.layout, &s.hw, &s.settings, &s.spec, s.engine).pp_tokens_per_s
    };
    let (small, large) = (pp_at(512), pp_at(2048));
    assert!(
        large > 1.5 * small,
        "ub 512: {small:.0}, ub 2048: {large:.0}"
    );
}
