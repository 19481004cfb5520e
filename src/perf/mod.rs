//! The speed model: predicted decode (tg) and prompt-processing (pp) tokens per second
//! for one placement, the bottleneck in words, and the hardware's ceiling.
//!
//! Decode is bandwidth-bound: every device reads its share of the active weights and
//! the KV cache per token, in sequence for a layer split; plus fixed per-layer,
//! per-hop and per-token costs ([`decode`]). Prefill is compute-bound: active FLOPs
//! over effective throughput, plus the host-resident weights the engine copies over
//! PCIe per ubatch ([`prefill`]). Every efficiency factor lives in [`factors`], fitted
//! by [`calibration`] on published and seed measurements. [`quality`] holds the
//! per-quant quality table and the `--prefer` choice rules. [`network`] adds the link
//! time of a multi-host (RPC) placement.
//!
//! This module is pure: no files (the calibration data is compiled in), no clock, no
//! devices. It never chooses a placement — the planner does, calling [`predict`].

pub mod attention;
pub mod batched;
pub mod calibration;
pub mod decode;
pub mod devices;
pub mod factors;
pub mod network;
pub mod prefill;
pub mod quality;
pub mod roofline;
pub mod speculative;

use crate::engine::EngineKind;
use crate::hardware::HardwareSnapshot;
use crate::model::spec::{AttentionKind, ModelSpec, TensorClass};
use crate::plan::Layout;
use crate::plan::{Performance, Settings};
use factors::{Factors, DEFAULT_FACTORS};
use serde::Serialize;

/// One component of the per-token decode time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeShare {
    /// What the time is spent on, in words ("expert reads from DDR4").
    pub what: String,
    pub seconds: f64,
}

/// The full prediction; [`Performance`] is its plan-facing summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    pub tg_tokens_per_s: f64,
    pub pp_tokens_per_s: f64,
    /// Decode time per token, seconds, and its parts (largest first).
    pub tg_seconds_per_token: f64,
    pub tg_shares: Vec<TimeShare>,
    /// Prefill time per ubatch and its parts (largest first).
    pub pp_seconds_per_ubatch: f64,
    pub pp_shares: Vec<TimeShare>,
    /// All active bytes at spec-sheet bandwidth, no overheads.
    pub ceiling_tg_tokens_per_s: f64,
    /// "expert reads from DDR4: 71% of per-token time".
    pub bottleneck: String,
    /// Numbers the snapshot lacked and the model assumed.
    pub assumptions: Vec<String>,
}

impl Prediction {
    pub fn performance(&self) -> Performance {
        Performance {
            tg_tokens_per_s: self.tg_tokens_per_s,
            pp_tokens_per_s: self.pp_tokens_per_s,
            bottleneck: self.bottleneck.clone(),
            ceiling_tg_tokens_per_s: Some(self.ceiling_tg_tokens_per_s),
            calibration: None,
            tg_tokens_per_s_without_speculation: None,
        }
    }
}

/// Predicted speed of one placement with the fitted factors.
pub fn predict(
    layout: &Layout,
    hw: &HardwareSnapshot,
    settings: &Settings,
    spec: &ModelSpec,
    engine: EngineKind,
) -> Performance {
    predict_detailed(layout, hw, settings, spec, engine).performance()
}

/// [`predict`] with the time breakdown.
pub fn predict_detailed(
    layout: &Layout,
    hw: &HardwareSnapshot,
    settings: &Settings,
    spec: &ModelSpec,
    engine: EngineKind,
) -> Prediction {
    predict_with(&DEFAULT_FACTORS, layout, hw, settings, spec, engine)
}

/// The model with explicit factors (the calibration fit varies them).
pub fn predict_with(
    f: &Factors,
    layout: &Layout,
    hw: &HardwareSnapshot,
    settings: &Settings,
    spec: &ModelSpec,
    engine: EngineKind,
) -> Prediction {
    predict_from_facts(f, layout, hw, settings, &ModelFacts::of(spec), engine)
}

/// The model from pre-digested [`ModelFacts`] (cheap to clone into a scorer closure).
pub fn predict_from_facts(
    f: &Factors,
    layout: &Layout,
    hw: &HardwareSnapshot,
    settings: &Settings,
    facts: &ModelFacts,
    engine: EngineKind,
) -> Prediction {
    let tg = decode::decode_time(f, layout, hw, settings, facts, engine);
    let pp = prefill::prefill_time(f, layout, hw, settings, facts, engine);
    let ceiling = decode::ceiling_seconds(layout, hw, settings);

    let tg_s = tg.total();
    let tg_shares = tg.shares.clone();
    let bottleneck = match tg.shares.first() {
        Some(top) if tg_s > 0.0 => format!(
            "{}: {:.0}% of per-token time",
            top.what,
            100.0 * top.seconds / tg_s
        ),
        _ => "nothing to compute".to_string(),
    };
    let pp_s = pp.total();
    let mut assumptions = tg.assumptions;
    for a in pp.assumptions {
        if !assumptions.contains(&a) {
            assumptions.push(a);
        }
    }
    let ubatch = prefill::effective_ubatch(settings) as f64;
    Prediction {
        tg_tokens_per_s: rate(1.0, tg_s),
        pp_tokens_per_s: rate(ubatch, pp_s),
        tg_seconds_per_token: tg_s,
        tg_shares,
        pp_seconds_per_ubatch: pp_s,
        pp_shares: pp.shares,
        ceiling_tg_tokens_per_s: rate(1.0, ceiling),
        bottleneck,
        assumptions,
    }
}

/// The perf model as the planner's speed scorer for one model and engine
/// (`planner::plan_with(spec, hw, req, &perf::scorer(spec, engine))`).
pub fn scorer(
    spec: &ModelSpec,
    engine: EngineKind,
) -> impl Fn(&Layout, &HardwareSnapshot, &Settings) -> crate::plan::Speed + 'static {
    let facts = ModelFacts::of(spec);
    move |layout, hw, settings| {
        predict_from_facts(&DEFAULT_FACTORS, layout, hw, settings, &facts, engine)
            .performance()
            .into()
    }
}

fn rate(work: f64, seconds: f64) -> f64 {
    if seconds > 0.0 && seconds.is_finite() {
        work / seconds
    } else {
        0.0
    }
}

/// The model facts the speed model needs, derived once from the ModelSpec.
#[derive(Clone, Debug)]
pub struct ModelFacts {
    /// Fraction of blocks whose FFN is a routed-expert MoE.
    pub moe_layer_fraction: f64,
    /// Fraction of blocks that are recurrent / linear attention.
    pub recurrent_layer_fraction: f64,
    /// expert_used / expert_count (1.0 for dense models).
    pub expert_fraction_used: f64,
    /// Mean routed-expert bytes per MoE block.
    pub expert_bytes_per_moe_layer: f64,
    /// Fraction of blocks with softmax attention over the context (full or SWA).
    pub attention_layer_fraction: f64,
    pub n_layer: u32,
    pub n_embd: u64,
    /// Vocabulary size: the logits row copied back to the host per generated token.
    pub n_vocab: u64,
    pub token_embedding_bytes: f64,
    pub is_moe: bool,
    /// Mean query heads of the softmax-attention blocks (the width of the score tensor).
    pub attention_heads: f64,
    /// Share of the softmax-attention blocks that use a sliding window, and the window.
    pub swa_attention_share: f64,
    pub swa_window: Option<f64>,
    /// Attention FLOPs per query token per cached cell, per softmax-attention block:
    /// `2 x n_head x (head_dim_k + head_dim_v)` (QK^T and PV), averaged over those blocks
    /// ([`attention::flops_per_cell`]).
    pub attention_flops_per_cell: f64,
}

impl ModelFacts {
    /// Mean kernel units per block: a dense attention + FFN block is 1.0; a routed-expert
    /// FFN and a recurrent mixer add the factors' `moe_kernel_units` and
    /// `recurrent_kernel_units`.
    pub fn kernel_units_per_layer(&self, f: &Factors) -> f64 {
        1.0 + self.moe_layer_fraction * f.moe_kernel_units
            + self.recurrent_layer_fraction * f.recurrent_kernel_units
    }

    pub fn of(spec: &ModelSpec) -> ModelFacts {
        let blocks: Vec<_> = spec.layers.iter().filter(|l| !l.mtp).collect();
        let n = blocks.len().max(1) as f64;
        let moe_blocks = blocks.iter().filter(|l| l.moe).count();
        let recurrent_blocks = blocks
            .iter()
            .filter(|l| l.attention == AttentionKind::Recurrent)
            .count();
        let expert_bytes: u64 = blocks.iter().map(|l| l.expert_bytes.as_u64()).sum();
        let attention_blocks: Vec<_> = blocks
            .iter()
            .filter(|l| {
                matches!(
                    l.attention,
                    AttentionKind::Full | AttentionKind::SlidingWindow
                )
            })
            .collect();
        let attention = attention_blocks.len();
        let is_moe = spec.is_moe();
        ModelFacts {
            moe_layer_fraction: if blocks.is_empty() {
                0.0
            } else {
                moe_blocks as f64 / n
            },
            recurrent_layer_fraction: if blocks.is_empty() {
                0.0
            } else {
                recurrent_blocks as f64 / n
            },
            expert_fraction_used: if is_moe && spec.expert_count > 0 {
                (spec.expert_used as f64 / spec.expert_count as f64).clamp(0.0, 1.0)
            } else {
                1.0
            },
            expert_bytes_per_moe_layer: if moe_blocks > 0 {
                expert_bytes as f64 / moe_blocks as f64
            } else {
                0.0
            },
            attention_layer_fraction: if blocks.is_empty() {
                1.0
            } else {
                attention as f64 / n
            },
            n_layer: spec.n_layer,
            n_embd: spec.n_embd,
            n_vocab: spec.n_vocab,
            token_embedding_bytes: spec.bytes_of(TensorClass::TokenEmbedding).as_u64() as f64,
            is_moe,
            attention_heads: if attention > 0 {
                attention_blocks
                    .iter()
                    .map(|l| l.n_head as f64)
                    .sum::<f64>()
                    / attention as f64
            } else {
                0.0
            },
            swa_attention_share: if attention > 0 {
                attention_blocks
                    .iter()
                    .filter(|l| l.attention == AttentionKind::SlidingWindow)
                    .count() as f64
                    / attention as f64
            } else {
                0.0
            },
            swa_window: spec.n_swa.map(|w| w as f64),
            attention_flops_per_cell: attention::flops_per_cell(
                spec,
                attention_blocks.iter().map(|l| **l),
            ),
        }
    }
}

/// Time parts of one phase, merged by label and sorted largest first.
#[derive(Default)]
pub(crate) struct Breakdown {
    pub shares: Vec<TimeShare>,
    pub assumptions: Vec<String>,
}

impl Breakdown {
    pub fn add(&mut self, what: impl Into<String>, seconds: f64) {
        if !(seconds.is_finite() && seconds > 0.0) {
            return;
        }
        let what = what.into();
        match self.shares.iter_mut().find(|s| s.what == what) {
            Some(s) => s.seconds += seconds,
            None => self.shares.push(TimeShare { what, seconds }),
        }
    }

    pub fn assume(&mut self, a: Option<String>) {
        if let Some(a) = a {
            if !self.assumptions.contains(&a) {
                self.assumptions.push(a);
            }
        }
    }

    pub fn total(&self) -> f64 {
        self.shares.iter().map(|s| s.seconds).sum()
    }

    pub fn finish(mut self) -> Breakdown {
        self.shares.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        self
    }
}
