//! Quant quality and the `--prefer speed|quality|balanced` choice rules.
//!
//! Quality per quant type is the mean KL divergence to the F16 model measured by
//! llama.cpp's `llama-perplexity --kl-divergence` on LLaMA-3-8B (wikitext-2, imatrix
//! "WT 10m" where the table has one), published in the pinned llama.cpp tree at
//! `tools/perplexity/README.md` (from PR #6936, JohannesGaessler, 2024-04-26). A quant
//! not in the table gets a KLD interpolated from its bits per weight on the same table.
//! The choice functions are pure: the planner calls them with, per quant, the predicted
//! tg of that quant's best plan. They never plan and never read files.

use serde::Serialize;

/// One row of the published table: type name, file size of LLaMA-3-8B in GiB, mean KLD.
struct KldRow {
    quant: &'static str,
    size_gib: f64,
    mean_kld: f64,
}

/// `tools/perplexity/README.md`, table "LLaMA 3 8b Scoreboard" (RTX 4090, revision
/// f364eb6f). Imatrix rows where the table has both.
const KLD_TABLE: &[KldRow] = &[
    KldRow {
        quant: "Q8_0",
        size_gib: 7.96,
        mean_kld: 0.001355,
    },
    KldRow {
        quant: "Q6_K",
        size_gib: 6.14,
        mean_kld: 0.005452,
    },
    KldRow {
        quant: "Q5_K_M",
        size_gib: 5.33,
        mean_kld: 0.010762,
    },
    KldRow {
        quant: "Q5_K_S",
        size_gib: 5.21,
        mean_kld: 0.016595,
    },
    KldRow {
        quant: "Q5_1",
        size_gib: 5.65,
        mean_kld: 0.018045,
    },
    KldRow {
        quant: "Q5_0",
        size_gib: 5.21,
        mean_kld: 0.022239,
    },
    KldRow {
        quant: "Q4_K_M",
        size_gib: 4.58,
        mean_kld: 0.028152,
    },
    KldRow {
        quant: "Q4_K_S",
        size_gib: 4.37,
        mean_kld: 0.031951,
    },
    KldRow {
        quant: "IQ4_NL",
        size_gib: 4.35,
        mean_kld: 0.035742,
    },
    KldRow {
        quant: "IQ4_XS",
        size_gib: 4.14,
        mean_kld: 0.036334,
    },
    KldRow {
        quant: "Q4_1",
        size_gib: 4.78,
        mean_kld: 0.071683,
    },
    KldRow {
        quant: "Q4_0",
        size_gib: 4.34,
        mean_kld: 0.071940,
    },
    KldRow {
        quant: "Q3_K_L",
        size_gib: 4.03,
        mean_kld: 0.073077,
    },
    KldRow {
        quant: "Q3_K_M",
        size_gib: 3.74,
        mean_kld: 0.084358,
    },
    KldRow {
        quant: "IQ3_M",
        size_gib: 3.53,
        mean_kld: 0.102534,
    },
    KldRow {
        quant: "IQ3_S",
        size_gib: 3.42,
        mean_kld: 0.111278,
    },
    KldRow {
        quant: "IQ3_XS",
        size_gib: 3.28,
        mean_kld: 0.138693,
    },
    KldRow {
        quant: "IQ3_XXS",
        size_gib: 3.05,
        mean_kld: 0.183625,
    },
    KldRow {
        quant: "Q3_K_S",
        size_gib: 3.41,
        mean_kld: 0.199821,
    },
    KldRow {
        quant: "IQ2_M",
        size_gib: 2.74,
        mean_kld: 0.325989,
    },
    KldRow {
        quant: "Q2_K",
        size_gib: 2.96,
        mean_kld: 0.332223,
    },
    KldRow {
        quant: "Q2_K_S",
        size_gib: 2.96,
        mean_kld: 0.403360,
    },
    KldRow {
        quant: "IQ2_S",
        size_gib: 2.56,
        mean_kld: 0.439197,
    },
    KldRow {
        quant: "IQ2_XS",
        size_gib: 2.43,
        mean_kld: 0.546290,
    },
    KldRow {
        quant: "IQ2_XXS",
        size_gib: 2.24,
        mean_kld: 0.812022,
    },
    KldRow {
        quant: "IQ1_M",
        size_gib: 2.01,
        mean_kld: 1.393084,
    },
    KldRow {
        quant: "IQ1_S",
        size_gib: 1.88,
        mean_kld: 2.254554,
    },
];

/// LLaMA-3-8B parameter count, for turning the table's sizes into bits per weight
/// (8.03 B, Meta model card; the table's F16 file is 14.97 GiB = 16.01 bits/weight).
const TABLE_MODEL_PARAMS: f64 = 8.03e9;

/// Quality facts of one quant type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuantQuality {
    /// Mean KL divergence to F16 (lower is better).
    pub mean_kld: f64,
    /// Bits per weight of the table's LLaMA-3-8B file of this type.
    pub bits_per_weight: f64,
    /// `measured` (in the table) or `interpolated from bits per weight`.
    pub basis: &'static str,
}

fn table_bpw(row: &KldRow) -> f64 {
    row.size_gib * 8.0 * (1u64 << 30) as f64 / TABLE_MODEL_PARAMS
}

/// The base ggml quant name of a file-name quant label: `UD-Q4_K_XL` → `Q4_K_M`
/// (Unsloth's dynamic `_XL` mixes are Q4_K_M-class with upgraded tensors), `Q4_K_P` →
/// `Q4_K_M`, `q4_k_m` → `Q4_K_M`.
pub fn base_quant(label: &str) -> String {
    let up = label.trim().to_ascii_uppercase();
    let up = up.strip_prefix("UD-").unwrap_or(&up).to_string();
    for suffix in ["_XL", "_P", "_L"] {
        if let Some(stem) = up.strip_suffix(suffix) {
            if stem.ends_with("_K") {
                return format!("{stem}_M");
            }
        }
    }
    up
}

/// Quality of a quant label, measured where the table has it, else interpolated from
/// `bits_per_weight` (if given). F16/BF16/F32 are the reference (KLD 0).
pub fn quant_quality(label: &str, bits_per_weight: Option<f64>) -> Option<QuantQuality> {
    let base = base_quant(label);
    if matches!(base.as_str(), "F16" | "BF16" | "F32") {
        return Some(QuantQuality {
            mean_kld: 0.0,
            bits_per_weight: if base == "F32" { 32.0 } else { 16.0 },
            basis: "reference",
        });
    }
    if let Some(row) = KLD_TABLE.iter().find(|r| r.quant == base) {
        return Some(QuantQuality {
            mean_kld: row.mean_kld,
            bits_per_weight: table_bpw(row),
            basis: "measured",
        });
    }
    let bpw = bits_per_weight?;
    Some(QuantQuality {
        mean_kld: interpolate_kld(bpw),
        bits_per_weight: bpw,
        basis: "interpolated from bits per weight",
    })
}

/// Log-KLD interpolated linearly in bits per weight over the K-quant/IQ rows' lower
/// envelope (best KLD at or below each bpw), clamped at the ends.
pub fn interpolate_kld(bpw: f64) -> f64 {
    let mut pts: Vec<(f64, f64)> = KLD_TABLE
        .iter()
        .map(|r| (table_bpw(r), r.mean_kld.ln()))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Lower envelope: KLD never rises with more bits.
    let mut env: Vec<(f64, f64)> = Vec::new();
    for p in pts {
        if env.last().is_none_or(|l| p.1 < l.1) {
            env.push(p);
        }
    }
    let (Some(first), Some(last)) = (env.first().copied(), env.last().copied()) else {
        return 1.0;
    };
    if bpw <= first.0 {
        return first.1.exp();
    }
    if bpw >= last.0 {
        return last.1.exp();
    }
    for w in env.windows(2) {
        let (a, b) = (w[0], w[1]);
        if bpw >= a.0 && bpw <= b.0 {
            let t = (bpw - a.0) / (b.0 - a.0);
            return (a.1 + t * (b.1 - a.1)).exp();
        }
    }
    last.1.exp()
}

/// `--prefer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    Speed,
    Quality,
    Balanced,
}

impl Preference {
    pub fn parse(s: &str) -> Option<Preference> {
        match s.to_ascii_lowercase().as_str() {
            "speed" => Some(Preference::Speed),
            "quality" => Some(Preference::Quality),
            "balanced" => Some(Preference::Balanced),
            _ => None,
        }
    }
}

/// Floors used by the choice rules.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ChoiceRules {
    /// `quality`: the interactive floor a plan must reach (`--min-tg`, default 25 tok/s:
    /// a little faster than reading speed with thinking tokens; the seeds call 30 tok/s
    /// "a daily driver" and 6 tok/s "a curiosity").
    pub min_tg_tokens_per_s: f64,
    /// `speed`: nothing below this many bits per weight unless pinned (default 3.0:
    /// below it the table's KLD jumps from ~0.2 (IQ3_XXS) to 0.33+ (IQ2_M, Q2_K)).
    pub min_bits_per_weight: f64,
}

impl Default for ChoiceRules {
    fn default() -> Self {
        ChoiceRules {
            min_tg_tokens_per_s: 25.0,
            min_bits_per_weight: 3.0,
        }
    }
}

/// One quant the planner could use, with its best plan's predicted speed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuantCandidate {
    pub quant: String,
    pub tg_tokens_per_s: f64,
    /// Bits per weight of this model's file in this quant (file bytes × 8 / params).
    pub bits_per_weight: f64,
    /// The user pinned this quant (`--quant`): it passes every floor.
    pub pinned: bool,
}

/// The choice and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuantChoice {
    /// Index into the candidates.
    pub index: usize,
    pub why: String,
}

/// Weight of quality in the `balanced` score: score = ln(tg) − BALANCED_KLD_WEIGHT × KLD.
/// With 5, Q8_0 over Q4_K_M (ΔKLD 0.027) is worth giving up 13% speed; Q4_K_M over
/// IQ2_XXS (ΔKLD 0.78) is worth a factor 49 — the table's IQ2_XXS has ~28% RMS token
/// probability error against ~5% for Q4_K_M.
pub const BALANCED_KLD_WEIGHT: f64 = 5.0;

fn kld_of(c: &QuantCandidate) -> f64 {
    quant_quality(&c.quant, Some(c.bits_per_weight))
        .map(|q| q.mean_kld)
        .unwrap_or_else(|| interpolate_kld(c.bits_per_weight))
}

/// The `balanced` score: ln(tg) − BALANCED_KLD_WEIGHT × KLD.
fn balanced_score(c: &QuantCandidate) -> f64 {
    c.tg_tokens_per_s.max(1e-9).ln() - BALANCED_KLD_WEIGHT * kld_of(c)
}

/// Index of the candidate with the best balanced score; `None` for an empty list.
fn best_balanced(candidates: &[QuantCandidate]) -> Option<usize> {
    (0..candidates.len())
        .max_by(|&a, &b| balanced_score(&candidates[a]).total_cmp(&balanced_score(&candidates[b])))
}

/// Applies a preference to the candidates; `None` only for an empty list.
pub fn choose_quant(
    candidates: &[QuantCandidate],
    preference: Preference,
    rules: ChoiceRules,
) -> Option<QuantChoice> {
    if candidates.is_empty() {
        return None;
    }
    let fastest = |idx: &mut dyn Iterator<Item = usize>| {
        idx.max_by(|&a, &b| {
            candidates[a]
                .tg_tokens_per_s
                .total_cmp(&candidates[b].tg_tokens_per_s)
        })
    };
    let all = 0..candidates.len();
    match preference {
        Preference::Quality => {
            let ok: Vec<usize> = all
                .clone()
                .filter(|&i| {
                    candidates[i].pinned
                        || candidates[i].tg_tokens_per_s >= rules.min_tg_tokens_per_s
                })
                .collect();
            if let Some(i) = ok
                .iter()
                .copied()
                .min_by(|&a, &b| kld_of(&candidates[a]).total_cmp(&kld_of(&candidates[b])))
            {
                return Some(QuantChoice {
                    index: i,
                    why: format!(
                        "highest-quality quant (mean KLD {:.3}) whose best plan reaches {:.0} tok/s",
                        kld_of(&candidates[i]),
                        rules.min_tg_tokens_per_s
                    ),
                });
            }
            // Nothing is interactive: falling back to the fastest would hand a quality-
            // minded user the worst quant, so take the balanced score's choice instead.
            let i = best_balanced(candidates)?;
            Some(QuantChoice {
                index: i,
                why: format!(
                    "no quant reaches {:.0} tok/s; the best balance of speed and quality instead (ln(tg) − {BALANCED_KLD_WEIGHT}×KLD)",
                    rules.min_tg_tokens_per_s
                ),
            })
        }
        Preference::Speed => {
            let mut ok = all.clone().filter(|&i| {
                candidates[i].pinned || candidates[i].bits_per_weight >= rules.min_bits_per_weight
            });
            if let Some(i) = fastest(&mut ok) {
                return Some(QuantChoice {
                    index: i,
                    why: format!(
                        "fastest plan among quants of at least {:.1} bits per weight",
                        rules.min_bits_per_weight
                    ),
                });
            }
            let i = fastest(&mut all.clone())?;
            Some(QuantChoice {
                index: i,
                why: format!(
                    "no quant of at least {:.1} bits per weight; the fastest one",
                    rules.min_bits_per_weight
                ),
            })
        }
        Preference::Balanced => {
            let i = best_balanced(candidates)?;
            Some(QuantChoice {
                index: i,
                why: format!(
                    "best balance of speed and quality: ln(tg) − {BALANCED_KLD_WEIGHT}×KLD = {:.2}",
                    balanced_score(&candidates[i])
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(q: &str, tg: f64, bpw: f64) -> QuantCandidate {
        QuantCandidate {
            quant: q.into(),
            tg_tokens_per_s: tg,
            bits_per_weight: bpw,
            pinned: false,
        }
    }

    #[test]
    fn table_orders_the_usual_quants() {
        let k = |q: &str| quant_quality(q, None).unwrap().mean_kld;
        assert!(k("Q8_0") < k("Q6_K"));
        assert!(k("Q6_K") < k("Q4_K_M"));
        assert!(k("Q4_K_M") < k("IQ3_XXS"));
        assert!(k("IQ3_XXS") < k("IQ2_XXS"));
        assert_eq!(k("UD-Q4_K_XL"), k("Q4_K_M"));
        assert_eq!(quant_quality("BF16", None).unwrap().mean_kld, 0.0);
    }

    #[test]
    fn table_bits_per_weight_match_the_type_sizes() {
        // Q8_0 is 8.5 bits per weight (34 bytes per 32 weights) before the F16 extras.
        let q8 = quant_quality("Q8_0", None).unwrap().bits_per_weight;
        assert!((8.4..8.6).contains(&q8), "{q8}");
    }

    #[test]
    fn interpolation_is_monotone_in_bits() {
        let mut last = f64::INFINITY;
        for tenth in 20..90 {
            let k = interpolate_kld(tenth as f64 / 10.0);
            assert!(k <= last + 1e-12);
            last = k;
        }
        assert!(quant_quality("MXFP4", None).is_none());
        assert_eq!(
            quant_quality("MXFP4", Some(4.25)).unwrap().basis,
            "interpolated from bits per weight"
        );
    }

    #[test]
    fn quality_takes_best_quant_above_the_floor() {
        let cands = [
            c("Q8_0", 12.0, 8.5),
            c("Q4_K_M", 40.0, 4.9),
            c("IQ2_XXS", 80.0, 2.4),
        ];
        let ch = choose_quant(&cands, Preference::Quality, ChoiceRules::default()).unwrap();
        assert_eq!(cands[ch.index].quant, "Q4_K_M");
    }

    #[test]
    fn speed_skips_sub_3_bit_unless_pinned() {
        let mut cands = vec![c("Q4_K_M", 40.0, 4.9), c("IQ2_XXS", 80.0, 2.4)];
        let ch = choose_quant(&cands, Preference::Speed, ChoiceRules::default()).unwrap();
        assert_eq!(cands[ch.index].quant, "Q4_K_M");
        cands[1].pinned = true;
        let ch = choose_quant(&cands, Preference::Speed, ChoiceRules::default()).unwrap();
        assert_eq!(cands[ch.index].quant, "IQ2_XXS");
    }

    #[test]
    fn balanced_trades_a_little_speed_for_much_quality() {
        let cands = [
            c("Q8_0", 36.0, 8.5),
            c("Q4_K_M", 40.0, 4.9),
            c("IQ2_XXS", 80.0, 2.4),
        ];
        let ch = choose_quant(&cands, Preference::Balanced, ChoiceRules::default()).unwrap();
        assert_eq!(cands[ch.index].quant, "Q8_0");
        let cands = [c("Q8_0", 10.0, 8.5), c("Q4_K_M", 40.0, 4.9)];
        let ch = choose_quant(&cands, Preference::Balanced, ChoiceRules::default()).unwrap();
        assert_eq!(cands[ch.index].quant, "Q4_K_M");
        assert!(choose_quant(&[], Preference::Balanced, ChoiceRules::default()).is_none());
    }

    #[test]
    fn quality_falls_back_to_fastest_when_nothing_is_interactive() {
        let cands = [c("Q8_0", 5.0, 8.5), c("Q4_K_M", 9.0, 4.9)];
        let ch = choose_quant(&cands, Preference::Quality, ChoiceRules::default()).unwrap();
        assert_eq!(cands[ch.index].quant, "Q4_K_M");
        assert!(ch.why.contains("no quant reaches"));
    }
}
