//! The speed of speculative decoding: tokens per second when a drafter proposes k
//! tokens and the main model verifies them in one k+1-token step.
//!
//! tg = E / (verify(k) + k · draft), with E = (1 − α^(k+1)) / (1 − α) the expected tokens
//! a step yields for a per-token acceptance α. The verify step costs one decode step
//! (the weights are read once) plus, per extra token, its compute and, on a GPU, the
//! small-batch kernel cost fitted below; for MoE the k+1 tokens route to more distinct
//! experts, so expert reads grow. Acceptance comes from published measurements
//! ([`ACCEPTANCE`]), each with its source. Pure arithmetic: no placement is chosen here.

use crate::plan::SpeculativeKind;

/// A published draft acceptance rate: accepted / drafted tokens, as llama.cpp prints it
/// ("draft acceptance rate"), at a draft length of `draft_max`.
#[derive(Clone, Copy, Debug)]
pub struct AcceptanceRate {
    pub kind: SpeculativeKind,
    /// Architecture family of the main model (`qwen35` covers qwen35 and qwen35moe);
    /// `*` for any.
    pub family: &'static str,
    /// `coding`, `chat`, or `*`.
    pub use_case: &'static str,
    pub accepted_per_drafted: f64,
    pub draft_max: u32,
    pub source: &'static str,
}

/// Acceptance rates by kind, model family and use case, most specific first.
pub const ACCEPTANCE: &[AcceptanceRate] = &[
    // Seed 003 (Running LLMs at home, RTX PRO 4000, llama.cpp PR #22673,
    // Qwen3.6-27B-MTP-Q4_K_M, draft max 3): "acceptance was about 70% for tg 128 and 59%
    // for tg 512"; the longer run is the one kept. Issue #27106 reports ~0.7 for Qwen 3.6
    // 27B with `--spec-type draft-mtp --spec-draft-n-max 2`.
    AcceptanceRate {
        kind: SpeculativeKind::Mtp,
        family: "qwen35",
        use_case: "*",
        accepted_per_drafted: 0.59,
        draft_max: 3,
        source: "seed 003 (llama.cpp PR #22673, Qwen3.6-27B MTP, tg 512); \
                 https://github.com/ggml-org/llama.cpp/issues/27106",
    },
    // Llama 3.1 8B with Llama 3.2 1B as draft, n_draft 5: accept = 72.055%.
    AcceptanceRate {
        kind: SpeculativeKind::Draft,
        family: "llama",
        use_case: "*",
        accepted_per_drafted: 0.72,
        draft_max: 5,
        source: "https://github.com/ggml-org/llama.cpp/issues/5877 (llama-speculative, \
                 Llama 3.1 8B + 3.2 1B)",
    },
    // Qwen3-235B-A22B with Qwen3-0.6B: "draft acceptance rate = 0.56556".
    AcceptanceRate {
        kind: SpeculativeKind::Draft,
        family: "qwen3moe",
        use_case: "*",
        accepted_per_drafted: 0.566,
        draft_max: 32,
        source: "https://github.com/ggml-org/llama.cpp/pull/14132",
    },
];

/// When no measurement covers the model: a per-token acceptance of 0.5 for a drafter
/// (a model-based drafter of the same family is rarely below it in the rates above,
/// the lowest being 0.34 per drafted token at draft length 16 in
/// https://github.com/ggml-org/llama.cpp/pull/10455, i.e. α ≈ 0.6). Conservative by
/// choice, not measured.
pub const DEFAULT_ALPHA: f64 = 0.5;

/// n-gram lookup (`ngram-mod`) on a code-editing benchmark (vdaita/edit_5k_char, one
/// request at a time): Gemma 4 26B-A4B 97.57 -> 155.10 t/s, Qwen 3.6 35B-A3B 112.54 ->
/// 153.65 t/s (https://github.com/ggml-org/llama.cpp/pull/22168). The smaller gain,
/// 1.37x, is the tokens per verify step rigplan assumes for coding; for other use
/// cases no gain is assumed (n-gram lookup drafts only on verbatim repeats).
pub const NGRAM_CODING_TOKENS_PER_STEP: f64 = 153.65 / 112.54;

/// Extra cost of each additional token in a GPU verify step, as a fraction of one
/// decode step: fitted on seed 003 (Qwen3.6-27B Q4_K_M, RTX PRO 4000, MTP draft max 3:
/// 19.44 -> 28.13 t/s at 70% acceptance, 18.99 -> 24.47 at 59%). Both runs give a step
/// of 2.1–2.2 decode steps for ~3 expected tokens; less the MTP head's reads
/// (~0.08 decode steps per draft token) that is 0.30 per extra verified token. The
/// small-batch matrix-vector kernels scale with the batch, so k+1 tokens are not free.
pub const GPU_VERIFY_EXTRA_TOKEN: f64 = 0.30;

/// The cost of one decode step and what a verify step adds to it.
#[derive(Clone, Copy, Debug)]
pub struct StepCosts {
    /// One plain decode step, seconds.
    pub decode_s: f64,
    /// Compute of one more token in a batch, seconds (1 / prompt-processing rate).
    pub token_compute_s: f64,
    /// The main model runs (mostly) on a GPU: charge [`GPU_VERIFY_EXTRA_TOKEN`].
    pub on_gpu: bool,
    /// Share of the decode step spent reading routed experts (0 for dense models).
    pub expert_share: f64,
    /// Routed experts per token and in all (MoE); (0, 0) for dense.
    pub experts_used: u32,
    pub experts_total: u32,
    /// The drafter's cost per drafted token, seconds.
    pub draft_s: f64,
}

/// Expected tokens per step for per-token acceptance `alpha` and draft length `k`.
pub fn expected_tokens(alpha: f64, k: u32) -> f64 {
    let a = alpha.clamp(0.0, 0.999_999);
    (1.0 - a.powi(k as i32 + 1)) / (1.0 - a)
}

/// The per-token acceptance α whose mean accepted tokens per drafted token is
/// `rate` at draft length `k` (llama.cpp's "draft acceptance rate"): solves
/// (α + α² + … + α^k) / k = rate by bisection.
pub fn alpha_from_acceptance(rate: f64, k: u32) -> f64 {
    let k = k.max(1);
    let f = |a: f64| (1..=k).map(|i| a.powi(i as i32)).sum::<f64>() / f64::from(k);
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < rate {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Distinct experts k+1 tokens read, relative to one token's:
/// n(1 − (1 − u/n)^(k+1)) / u for independent routing.
fn expert_growth(used: u32, total: u32, k: u32) -> f64 {
    if used == 0 || total == 0 {
        return 1.0;
    }
    let (u, n) = (f64::from(used), f64::from(total));
    n * (1.0 - (1.0 - u / n).powi(k as i32 + 1)) / u
}

/// Seconds of a verify step of k+1 tokens.
pub fn verify_seconds(c: &StepCosts, k: u32) -> f64 {
    let per_extra = if c.on_gpu {
        c.token_compute_s.max(GPU_VERIFY_EXTRA_TOKEN * c.decode_s)
    } else {
        c.token_compute_s
    };
    let experts =
        c.decode_s * c.expert_share * (expert_growth(c.experts_used, c.experts_total, k) - 1.0);
    c.decode_s + f64::from(k) * per_extra + experts
}

/// Decode tokens per second with drafts of length k at acceptance α.
pub fn tokens_per_second(c: &StepCosts, alpha: f64, k: u32) -> f64 {
    let step = verify_seconds(c, k) + f64::from(k) * c.draft_s;
    if step <= 0.0 {
        return 0.0;
    }
    expected_tokens(alpha, k) / step
}

/// The draft length in 1..=k_max with the highest predicted speed, and that speed.
pub fn best_draft_length(c: &StepCosts, alpha: f64, k_max: u32) -> (u32, f64) {
    (1..=k_max.max(1))
        .map(|k| (k, tokens_per_second(c, alpha, k)))
        .fold((1, 0.0), |best, x| if x.1 > best.1 { x } else { best })
}

/// The acceptance rate that applies: the first row of [`ACCEPTANCE`] for this kind whose
/// family prefixes the architecture and whose use case matches.
pub fn acceptance_for(
    kind: SpeculativeKind,
    architecture: &str,
    use_case: &str,
) -> Option<&'static AcceptanceRate> {
    ACCEPTANCE.iter().find(|r| {
        r.kind == kind
            && (r.family == "*" || architecture.starts_with(r.family))
            && (r.use_case == "*" || r.use_case == use_case)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_tokens_and_its_inverse() {
        assert!((expected_tokens(0.0, 3) - 1.0).abs() < 1e-12);
        assert!((expected_tokens(0.5, 2) - 1.75).abs() < 1e-12);
        // accepted/drafted at k=3 -> alpha -> back.
        for (rate, k) in [(0.7, 3), (0.59, 3), (0.34, 16), (0.72, 5)] {
            let a = alpha_from_acceptance(rate, k);
            let back = (expected_tokens(a, k) - 1.0) / f64::from(k);
            assert!((back - rate).abs() < 1e-6, "{rate} {k} {a}");
        }
    }

    /// Seed 003: the fitted GPU factor reproduces both measured MTP speedups (the fit's
    /// own data, so this checks the arithmetic, not the prediction).
    #[test]
    fn seed_003_mtp_speedups_are_reproduced_by_the_fitted_step_cost() {
        for (off, on, rate) in [(19.44, 28.13, 0.70), (18.99, 24.47, 0.59)] {
            let c = StepCosts {
                decode_s: 1.0 / off,
                token_compute_s: 1.0 / 684.68,
                on_gpu: true,
                expert_share: 0.0,
                experts_used: 0,
                experts_total: 0,
                draft_s: 0.08 / off,
            };
            let a = alpha_from_acceptance(rate, 3);
            let got = tokens_per_second(&c, a, 3);
            assert!((got / on - 1.0).abs() < 0.10, "{off} {on} {got}");
        }
    }

    #[test]
    fn moe_verify_reads_more_experts_and_cpu_verify_pays_compute() {
        let dense = StepCosts {
            decode_s: 0.1,
            token_compute_s: 0.02,
            on_gpu: false,
            expert_share: 0.0,
            experts_used: 0,
            experts_total: 0,
            draft_s: 0.0,
        };
        let moe = StepCosts {
            expert_share: 0.5,
            experts_used: 8,
            experts_total: 256,
            ..dense
        };
        assert!((verify_seconds(&dense, 3) - 0.16).abs() < 1e-12);
        assert!(verify_seconds(&moe, 3) > verify_seconds(&dense, 3) + 0.1);
        // A compute-bound verify never pays: one token per step beats any draft.
        let bound = StepCosts {
            token_compute_s: 0.2,
            ..dense
        };
        let (_, tg) = best_draft_length(&bound, 0.6, 8);
        assert!(tg < 10.0, "{tg}");
        let (k, tg) = best_draft_length(&dense, 0.8, 8);
        assert!(tg > 10.0 && k >= 2, "{k} {tg}");
    }
}
