//! Speed: predicted decode and prompt-processing throughput and what limits it.
//!
//! [`Speed`] is what a speed scorer returns for one placement (the planner ranks
//! candidates by it); [`Performance`] is the plan-facing copy in the `plan --format json`
//! contract, which may also say that a `tune` calibration corrected it. Plain data.

use serde::{Deserialize, Serialize};

/// Predicted speeds and what limits them.
#[derive(Clone, Debug, PartialEq)]
pub struct Speed {
    pub tg_tokens_per_s: f64,
    pub pp_tokens_per_s: f64,
    pub bottleneck: String,
    /// The hardware's decode ceiling for this placement (bandwidth only), when the
    /// scorer knows it.
    pub ceiling_tg_tokens_per_s: Option<f64>,
}

impl From<Performance> for Speed {
    fn from(p: Performance) -> Speed {
        Speed {
            tg_tokens_per_s: p.tg_tokens_per_s,
            pp_tokens_per_s: p.pp_tokens_per_s,
            bottleneck: p.bottleneck,
            ceiling_tg_tokens_per_s: p.ceiling_tg_tokens_per_s,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    pub tg_tokens_per_s: f64,
    pub pp_tokens_per_s: f64,
    /// What limits decode speed, in words ("expert reads from DDR4: 71% of per-token time").
    pub bottleneck: String,
    /// The theoretical tg ceiling for this hardware and model (all bandwidth, no overheads).
    #[serde(default)]
    pub ceiling_tg_tokens_per_s: Option<f64>,
    /// "calibrated on this machine on DATE from N runs", when a tune calibration applied.
    #[serde(default)]
    pub calibration: Option<String>,
    /// Decode speed of the same placement without speculative decoding, when the plan
    /// speculates (`tg_tokens_per_s` is then the speed with it).
    #[serde(default)]
    pub tg_tokens_per_s_without_speculation: Option<f64>,
}
