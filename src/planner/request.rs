//! PlanRequest: the user's pins, validated once (`resolve`), before planning.
//!
//! `resolve` turns `cli::PinArgs` strings into typed values; a bad value is a
//! `UserError` (exit 2) naming the option. The planner then honours every pin exactly.

use crate::cli::PinArgs;
use crate::engine::EngineKind;
use crate::error::UserError;
use crate::gguf::GgmlType;
use crate::perf::quality::Preference;
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
    pub use_case: UseCase,
    pub prefer: Prefer,
    pub min_tg: Option<f64>,
    /// Model reference as the user gave it, and the local path if any.
    pub model_reference: String,
    pub model_path: Option<String>,
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
            use_case: UseCase::Chat,
            prefer: Prefer::Balanced,
            min_tg: None,
            model_reference: String::new(),
            model_path: None,
        }
    }
}

fn bad(msg: String) -> UserError {
    UserError(msg)
}

fn positive<T: PartialOrd + Default + Copy + std::fmt::Display>(
    v: Option<T>,
    opt: &str,
) -> Result<Option<T>, UserError> {
    match v {
        Some(x) if x <= T::default() => Err(bad(format!("--{opt} '{x}': must be at least 1"))),
        other => Ok(other),
    }
}

/// Cache types the pinned engines accept for `-ctk/-ctv` (common/arg.cpp
/// `kv_cache_types`: f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1).
const KV_TYPES: &[&str] = &[
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1",
];

fn kv_type(v: &Option<String>, opt: &str) -> Result<Option<GgmlType>, UserError> {
    let Some(s) = v else { return Ok(None) };
    let lower = s.to_ascii_lowercase();
    if !KV_TYPES.contains(&lower.as_str()) {
        return Err(bad(format!(
            "--{opt} '{s}': not a KV cache type (one of {})",
            KV_TYPES.join(", ")
        )));
    }
    GgmlType::from_name(&lower)
        .map(Some)
        .ok_or_else(|| bad(format!("--{opt} '{s}': unknown type")))
}

/// Validates the pins.
pub fn resolve(pins: &PinArgs) -> Result<PlanRequest, UserError> {
    let mut r = PlanRequest::default();
    if let Some(e) = &pins.engine {
        r.engine = EngineKind::parse(e).ok_or_else(|| {
            bad(format!(
                "--engine '{e}': expected llama.cpp or ik_llama.cpp"
            ))
        })?;
        r.engine_pinned = true;
    }
    r.quant = pins.quant.clone();
    r.ngl = pins.ngl;
    r.n_cpu_moe = pins.n_cpu_moe;
    r.ctx = positive(pins.ctx, "ctx")?;
    r.predict = pins.predict;
    r.ctk = kv_type(&pins.ctk, "ctk")?;
    r.ctv = kv_type(&pins.ctv, "ctv")?;
    r.threads = positive(pins.threads, "threads")?;
    r.batch = positive(pins.batch, "batch")?;
    r.ubatch = positive(pins.ubatch, "ubatch")?;
    r.parallel = positive(pins.parallel, "parallel")?;
    if let (Some(b), Some(u)) = (r.batch, r.ubatch) {
        if u > b {
            return Err(bad(format!("--ubatch '{u}' is larger than --batch '{b}'")));
        }
    }
    if let Some(m) = &pins.split_mode {
        r.split_mode = Some(match m.to_ascii_lowercase().as_str() {
            "none" => SplitMode::None,
            "layer" => SplitMode::Layer,
            "row" => SplitMode::Row,
            "tensor" => SplitMode::Tensor,
            "attn" => SplitMode::Attn,
            "graph" => SplitMode::Graph,
            _ => {
                return Err(bad(format!(
                    "--split-mode '{m}': expected none, layer, row, tensor (llama.cpp), attn or graph (ik_llama.cpp)"
                )))
            }
        });
        if r.split_mode == Some(SplitMode::Graph) && r.engine != EngineKind::IkLlamaCpp {
            return Err(bad(format!(
                "--split-mode '{m}': only ik_llama.cpp has graph split"
            )));
        }
    }
    if let Some(ts) = &pins.tensor_split {
        let parts: Result<Vec<f64>, _> = ts.split(',').map(|p| p.trim().parse::<f64>()).collect();
        match parts {
            Ok(v)
                if !v.is_empty()
                    && v.iter().all(|x| x.is_finite() && *x >= 0.0)
                    && v.iter().any(|x| *x > 0.0) =>
            {
                r.tensor_split = Some(v)
            }
            _ => {
                return Err(bad(format!(
                    "--tensor-split '{ts}': expected proportions like 1,1"
                )))
            }
        }
    }
    if let Some(f) = &pins.flash_attn {
        r.flash_attn = Some(match f.to_ascii_lowercase().as_str() {
            "on" | "1" | "true" => true,
            "off" | "0" | "false" => false,
            _ => return Err(bad(format!("--flash-attn '{f}': expected on or off"))),
        });
    }
    if let Some(u) = &pins.use_case {
        r.use_case = match u.to_ascii_lowercase().as_str() {
            "quick" => UseCase::Quick,
            "chat" => UseCase::Chat,
            "coding" => UseCase::Coding,
            "long" => UseCase::Long,
            _ => {
                return Err(bad(format!(
                    "--use-case '{u}': expected chat, coding, quick or long"
                )))
            }
        };
    }
    if let Some(p) = &pins.prefer {
        r.prefer = match p.to_ascii_lowercase().as_str() {
            "speed" => Prefer::Speed,
            "quality" => Prefer::Quality,
            "balanced" => Prefer::Balanced,
            _ => {
                return Err(bad(format!(
                    "--prefer '{p}': expected speed, quality or balanced"
                )))
            }
        };
    }
    if let Some(m) = pins.min_tg {
        if !(m.is_finite() && m > 0.0) {
            return Err(bad(format!("--min-tg '{m}': must be a positive number")));
        }
        r.min_tg = Some(m);
    }
    let v_quant = r
        .ctv
        .is_some_and(|t| !matches!(t.name(), "F16" | "BF16" | "F32"));
    if v_quant && r.flash_attn == Some(false) {
        return Err(bad(
            "--ctv quantized with --flash-attn off: a quantized V cache needs flash attention"
                .into(),
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pins_are_user_errors_naming_the_option() {
        let cases: Vec<(PinArgs, &str)> = vec![
            (
                PinArgs {
                    ctk: Some("q3".into()),
                    ..Default::default()
                },
                "--ctk 'q3'",
            ),
            (
                PinArgs {
                    engine: Some("vllm".into()),
                    ..Default::default()
                },
                "--engine 'vllm'",
            ),
            (
                PinArgs {
                    tensor_split: Some("1,x".into()),
                    ..Default::default()
                },
                "--tensor-split",
            ),
            (
                PinArgs {
                    ctx: Some(0),
                    ..Default::default()
                },
                "--ctx '0'",
            ),
            (
                PinArgs {
                    use_case: Some("gaming".into()),
                    ..Default::default()
                },
                "--use-case",
            ),
            (
                PinArgs {
                    ctv: Some("q8_0".into()),
                    flash_attn: Some("off".into()),
                    ..Default::default()
                },
                "flash attention",
            ),
        ];
        for (p, want) in cases {
            let e = resolve(&p).unwrap_err();
            assert!(e.0.contains(want), "{} does not mention {want}", e.0);
        }
    }

    #[test]
    fn good_pins_resolve() {
        let p = PinArgs {
            tensor_split: Some("3,1".into()),
            ctk: Some("Q8_0".into()),
            use_case: Some("coding".into()),
            ..Default::default()
        };
        let r = resolve(&p).unwrap();
        assert_eq!(r.tensor_split, Some(vec![3.0, 1.0]));
        assert_eq!(r.ctk.map(|t| t.name()), Some("Q8_0"));
        assert_eq!(r.use_case, UseCase::Coding);
    }
}
