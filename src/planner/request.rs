//! PlanRequest: everything the user fixed, as validated values. The planner honours every
//! pin exactly and chooses the rest.
//!
//! The command line's strings become these values at the edge (`commands::resolve`),
//! which names the option in every refusal; the value parsers it uses live here, with
//! the types. Plain data.

use crate::engine::EngineKind;
use crate::gguf::GgmlType;
use crate::perf::quality::Preference;
use crate::plan::{Backend, Speed};
use crate::planner::memory::weights::GpuSplit;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UseCase {
    Quick,
    Chat,
    Coding,
    Long,
}

impl UseCase {
    /// (context, generation budget) per use case (issue 4).
    pub fn ctx_predict(self) -> (u64, u64) {
        match self {
            UseCase::Quick => (2048, 512),
            UseCase::Chat => (8192, 2048),
            UseCase::Coding => (32768, 8192),
            UseCase::Long => (0, 8192),
        }
    }

    /// `quick`, `chat`, `coding` or `long`, any case.
    pub fn parse(s: &str) -> Option<UseCase> {
        match s.to_ascii_lowercase().as_str() {
            "quick" => Some(UseCase::Quick),
            "chat" => Some(UseCase::Chat),
            "coding" => Some(UseCase::Coding),
            "long" => Some(UseCase::Long),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            UseCase::Quick => "quick",
            UseCase::Chat => "chat",
            UseCase::Coding => "coding",
            UseCase::Long => "long",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefer {
    Speed,
    Quality,
    Balanced,
}

impl Prefer {
    /// `speed`, `quality` or `balanced`, any case.
    pub fn parse(s: &str) -> Option<Prefer> {
        match s.to_ascii_lowercase().as_str() {
            "speed" => Some(Prefer::Speed),
            "quality" => Some(Prefer::Quality),
            "balanced" => Some(Prefer::Balanced),
            _ => None,
        }
    }

    /// The quant-choice rule of `perf::quality` this preference asks for.
    pub fn preference(self) -> Preference {
        match self {
            Prefer::Speed => Preference::Speed,
            Prefer::Quality => Preference::Quality,
            Prefer::Balanced => Preference::Balanced,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitMode {
    None,
    Layer,
    /// mainline only
    Row,
    /// mainline only (`-sm tensor`)
    Tensor,
    /// ik_llama.cpp only
    Attn,
    /// ik_llama.cpp only
    Graph,
}

impl SplitMode {
    /// A `-sm` value of either engine, any case.
    pub fn parse(s: &str) -> Option<SplitMode> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(SplitMode::None),
            "layer" => Some(SplitMode::Layer),
            "row" => Some(SplitMode::Row),
            "tensor" => Some(SplitMode::Tensor),
            "attn" => Some(SplitMode::Attn),
            "graph" => Some(SplitMode::Graph),
            _ => None,
        }
    }

    /// How the placement search lays the GPUs out under this split: the engine's
    /// tensor-parallel mode for `tensor`/`graph`, whole layers per GPU otherwise
    /// (`row` and `attn` are estimated as a layer split).
    pub fn gpu_split(self) -> GpuSplit {
        match self {
            SplitMode::Tensor | SplitMode::Graph => GpuSplit::Parallel,
            SplitMode::None | SplitMode::Layer | SplitMode::Row | SplitMode::Attn => {
                GpuSplit::Layer
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SplitMode::None => "none",
            SplitMode::Layer => "layer",
            SplitMode::Row => "row",
            SplitMode::Tensor => "tensor",
            SplitMode::Attn => "attn",
            SplitMode::Graph => "graph",
        }
    }
}

/// Measured / predicted speed on this machine (a `rigplan tune` calibration), per thread
/// count: the planner ranks placements and thread counts with the corrected speeds and
/// reports them, so a plan made after `tune` chooses and predicts what was measured.
/// Plain data; a thread count that was not measured takes the nearest measured one's
/// factor (the lower of two equally near), else the overall factor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpeedCorrection {
    /// (threads, measured/predicted tg), from the tune runs at that thread count.
    pub tg_by_threads: Vec<(u32, f64)>,
    /// (threads, measured/predicted pp).
    pub pp_by_threads: Vec<(u32, f64)>,
    /// The overall factors, for a correction without per-thread figures.
    pub tg: f64,
    pub pp: f64,
    /// "calibrated on this machine on DATE from N runs".
    pub label: String,
}

impl SpeedCorrection {
    fn factor(by: &[(u32, f64)], threads: u32, overall: f64) -> f64 {
        by.iter()
            .min_by_key(|(t, _)| (t.abs_diff(threads), *t))
            .map_or(overall, |(_, f)| *f)
    }

    /// The tg factor for settings with this many threads.
    pub fn tg_factor(&self, threads: u32) -> f64 {
        Self::factor(&self.tg_by_threads, threads, self.tg)
    }

    /// The pp factor for settings with this many threads.
    pub fn pp_factor(&self, threads: u32) -> f64 {
        Self::factor(&self.pp_by_threads, threads, self.pp)
    }

    /// `speed` corrected for settings with this many threads.
    pub fn apply(&self, mut speed: Speed, threads: u32) -> Speed {
        speed.tg_tokens_per_s *= self.tg_factor(threads);
        speed.pp_tokens_per_s *= self.pp_factor(threads);
        speed
    }
}

/// A draft model for speculative decoding: its spec (from its GGUF header or the
/// catalog) and how the launch command names it.
#[derive(Clone, Debug, PartialEq)]
pub struct DraftModel {
    /// The reference as given (`--draft`).
    pub reference: String,
    /// The local file's absolute path, when it is one (what `-md` gets).
    pub path: Option<String>,
    pub spec: crate::model::ModelSpec,
    /// Where the engine can download it (a catalog model's recorded repository and
    /// file), when it is not a local file.
    pub download: Option<crate::plan::HfDownload>,
}

/// Everything the user fixed; `None` means the planner chooses.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRequest {
    pub engine: EngineKind,
    pub engine_pinned: bool,
    pub quant: Option<String>,
    pub ngl: Option<u32>,
    pub n_cpu_moe: Option<u32>,
    pub ctx: Option<u64>,
    pub predict: Option<u64>,
    pub ctk: Option<GgmlType>,
    pub ctv: Option<GgmlType>,
    pub threads: Option<u32>,
    pub batch: Option<u32>,
    pub ubatch: Option<u32>,
    pub parallel: Option<u32>,
    pub split_mode: Option<SplitMode>,
    pub tensor_split: Option<Vec<f64>>,
    pub flash_attn: Option<bool>,
    /// `--backend`: the ggml backend the GPUs run on (`cpu` leaves them out).
    pub backend: Option<Backend>,
    pub use_case: UseCase,
    pub prefer: Prefer,
    pub min_tg: Option<f64>,
    /// `--speculative none|auto|mtp|draft|ngram`: `None` is `auto` (the planner chooses).
    pub speculative: Option<crate::plan::SpeculativeKind>,
    /// `--draft-max N`: the draft length, instead of the one predicted fastest.
    pub draft_max: Option<u32>,
    /// `--draft MODEL` as the user gave it; `ops` resolves it into [`Self::draft`].
    pub draft_reference: Option<String>,
    /// The draft model's header, read by `ops` (the planner reads no file).
    pub draft: Option<DraftModel>,
    /// Model reference as the user gave it, and the local path if any.
    pub model_reference: String,
    pub model_path: Option<String>,
    /// This machine's saved `tune` calibration, when the caller loaded one.
    pub speed_correction: Option<SpeedCorrection>,
    /// RPC workers and the link to them (`plan --worker`); `None` plans one machine.
    pub cluster: Option<super::cluster::ClusterRequest>,
}

impl Default for PlanRequest {
    fn default() -> Self {
        PlanRequest {
            engine: EngineKind::LlamaCpp,
            engine_pinned: false,
            quant: None,
            ngl: None,
            n_cpu_moe: None,
            ctx: None,
            predict: None,
            ctk: None,
            ctv: None,
            threads: None,
            batch: None,
            ubatch: None,
            parallel: None,
            split_mode: None,
            tensor_split: None,
            flash_attn: None,
            backend: None,
            use_case: UseCase::Chat,
            prefer: Prefer::Balanced,
            min_tg: None,
            speculative: None,
            draft_max: None,
            draft_reference: None,
            draft: None,
            model_reference: String::new(),
            model_path: None,
            speed_correction: None,
            cluster: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_takes_the_nearest_measured_thread_count() {
        let c = SpeedCorrection {
            tg_by_threads: vec![(1, 2.0), (4, 0.5)],
            pp_by_threads: vec![],
            tg: 1.0,
            pp: 0.8,
            label: String::new(),
        };
        assert_eq!(c.tg_factor(1), 2.0);
        assert_eq!(c.tg_factor(2), 2.0, "nearer to 1 than to 4");
        assert_eq!(c.tg_factor(3), 0.5);
        assert_eq!(c.tg_factor(16), 0.5);
        assert_eq!(c.pp_factor(2), 0.8, "no per-thread pp: the overall factor");
        let s = c.apply(
            Speed {
                tg_tokens_per_s: 10.0,
                pp_tokens_per_s: 100.0,
                bottleneck: String::new(),
                ceiling_tg_tokens_per_s: None,
            },
            1,
        );
        assert_eq!((s.tg_tokens_per_s, s.pp_tokens_per_s), (20.0, 80.0));
    }

    #[test]
    fn a_plan_with_a_correction_chooses_the_thread_count_measured_fastest() {
        // Two cores where two threads measured 50x slower than predicted (a shared box):
        // the planner must rank with the corrected speeds and keep one thread.
        let spec = crate::planner::testing::model("llama-3.2-3b", "Q4_K_M");
        let hw = crate::hardware::presets::get("xeon-e5-2620v4-cpu")
            .unwrap()
            .unwrap();
        let hw = crate::hardware::resolve::apply_what_if(
            hw,
            &crate::hardware::resolve::WhatIf {
                cpu_cores: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        let plain = crate::planner::plan(&spec, &hw, &PlanRequest::default()).unwrap();
        assert_eq!(plain.settings.threads, 2);
        let req = PlanRequest {
            speed_correction: Some(SpeedCorrection {
                tg_by_threads: vec![(1, 1.0), (2, 0.02)],
                pp_by_threads: vec![],
                tg: 0.1,
                pp: 1.0,
                label: "calibrated".into(),
            }),
            ..PlanRequest::default()
        };
        let tuned = crate::planner::plan(&spec, &hw, &req).unwrap();
        assert_eq!(tuned.settings.threads, 1);
        assert_eq!(tuned.performance.calibration.as_deref(), Some("calibrated"));
    }
}
