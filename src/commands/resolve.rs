//! Arguments → validated requests: the one step between what the user typed (the clap
//! types of `cli`) and what the library takes (`PlanRequest`, `HardwareQuery`).
//!
//! Every refusal names the option and quotes the value (exit 2). Values are parsed with
//! the library's own parsers (`UseCase::parse`, `SplitMode::parse`, `EngineKind::parse`);
//! what an engine accepts comes from its description. Nothing here opens a file or
//! probes a device: `hardware::resolve` does that with the query built here.

use crate::cli::{HardwareArgs, PinArgs};
use crate::engine::{self, EngineKind};
use crate::error::{user_error, Error, Result};
use crate::gguf::GgmlType;
use crate::hardware::resolve::{HardwareQuery, WhatIf};
use crate::hardware::HardwareSnapshot;
use crate::plan::Backend;
use crate::planner::request::{Prefer, SplitMode, UseCase};
use crate::planner::PlanRequest;

/// The HARDWARE options as the library's query.
pub fn hardware_query(args: &HardwareArgs) -> HardwareQuery {
    HardwareQuery {
        hardware: args.hardware.clone(),
        what_if: WhatIf {
            gpus: args.gpus.clone(),
            gpu_specs: args.gpu_specs.clone(),
            ram_gib: args.ram_gib,
            ram_bandwidth_gbs: args.ram_bandwidth_gbs,
            cpu_cores: args.cpu_cores,
            no_gpu: args.no_gpu,
        },
    }
}

/// The machine the HARDWARE options describe (this one by default).
pub fn hardware(args: &HardwareArgs) -> Result<HardwareSnapshot> {
    crate::hardware::resolve::resolve(&hardware_query(args))
}

fn positive<T: PartialOrd + Default + Copy + std::fmt::Display>(
    v: Option<T>,
    opt: &str,
) -> Result<Option<T>> {
    match v {
        Some(x) if x <= T::default() => {
            Err(user_error(format!("--{opt} '{x}': must be at least 1")))
        }
        other => Ok(other),
    }
}

/// Refuses a value the engine's `int` option parser cannot hold
/// ([`engine::rules::MAX_INT_OPTION`]).
fn at_most_int<T: Copy + Into<u64> + std::fmt::Display>(
    v: Option<T>,
    opt: &str,
) -> Result<Option<T>> {
    match v {
        Some(x) if x.into() > engine::rules::MAX_INT_OPTION => Err(user_error(format!(
            "--{opt} '{x}': at most {} (the engine reads it as a C int)",
            engine::rules::MAX_INT_OPTION
        ))),
        other => Ok(other),
    }
}

/// Cache types the pinned engines accept for `-ctk/-ctv` (mainline common/arg.cpp
/// `kv_cache_types`: f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1; ik_llama.cpp
/// accepts these and more).
const KV_TYPES: &[&str] = &[
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1",
];

fn kv_type(v: &Option<String>, opt: &str) -> Result<Option<GgmlType>> {
    let Some(s) = v else { return Ok(None) };
    let lower = s.to_ascii_lowercase();
    if !KV_TYPES.contains(&lower.as_str()) {
        return Err(user_error(format!(
            "--{opt} '{s}': not a KV cache type (one of {})",
            KV_TYPES.join(", ")
        )));
    }
    GgmlType::from_name(&lower)
        .map(Some)
        .ok_or_else(|| user_error(format!("--{opt} '{s}': unknown type")))
}

/// `Some(parse(v))` for a given value, or the option's refusal.
fn choice<T>(
    v: &Option<String>,
    parse: impl Fn(&str) -> Option<T>,
    refuse: impl Fn(&str) -> String,
) -> Result<Option<T>> {
    match v {
        None => Ok(None),
        Some(s) => parse(s).map(Some).ok_or_else(|| user_error(refuse(s))),
    }
}

/// The pins as a validated [`PlanRequest`].
pub fn plan_request(pins: &PinArgs) -> Result<PlanRequest> {
    let mut r = PlanRequest::default();
    if let Some(e) = choice(&pins.engine, EngineKind::parse, |e| {
        format!("--engine '{e}': expected llama.cpp or ik_llama.cpp")
    })? {
        r.engine = e;
        r.engine_pinned = true;
    }
    r.quant = pins.quant.clone();
    r.ngl = pins.ngl;
    r.n_cpu_moe = pins.n_cpu_moe;
    r.ctx = at_most_int(positive(pins.ctx, "ctx")?, "ctx")?;
    r.predict = at_most_int(pins.predict, "predict")?;
    r.ctk = kv_type(&pins.ctk, "ctk")?;
    r.ctv = kv_type(&pins.ctv, "ctv")?;
    r.threads = positive(pins.threads, "threads")?;
    if let Some(t) = r.threads.filter(|&t| t > engine::rules::MAX_THREADS) {
        return Err(user_error(format!(
            "--threads '{t}': at most {} (ggml's GGML_MAX_N_THREADS)",
            engine::rules::MAX_THREADS
        )));
    }
    r.batch = at_most_int(positive(pins.batch, "batch")?, "batch")?;
    r.ubatch = at_most_int(positive(pins.ubatch, "ubatch")?, "ubatch")?;
    r.parallel = at_most_int(positive(pins.parallel, "parallel")?, "parallel")?;
    if let (Some(b), Some(u)) = (r.batch, r.ubatch) {
        if u > b {
            return Err(user_error(format!(
                "--ubatch '{u}' is larger than --batch '{b}'"
            )));
        }
    }
    r.split_mode = split_mode(&pins.split_mode, r.engine)?;
    r.tensor_split = tensor_split(&pins.tensor_split)?;
    r.flash_attn = choice(
        &pins.flash_attn,
        |f| match f.to_ascii_lowercase().as_str() {
            "on" | "1" | "true" => Some(true),
            "off" | "0" | "false" => Some(false),
            _ => None,
        },
        |f| format!("--flash-attn '{f}': expected on or off"),
    )?;
    r.backend = backend(&pins.backend)?;
    if let Some(u) = choice(&pins.use_case, UseCase::parse, |u| {
        format!("--use-case '{u}': expected chat, coding, quick or long")
    })? {
        r.use_case = u;
    }
    if let Some(p) = choice(&pins.prefer, Prefer::parse, |p| {
        format!("--prefer '{p}': expected speed, quality or balanced")
    })? {
        r.prefer = p;
    }
    if let Some(sp) = &pins.speculative {
        if !sp.eq_ignore_ascii_case("auto") {
            r.speculative = Some(crate::plan::SpeculativeKind::parse(sp).ok_or_else(|| {
                user_error(format!(
                    "--speculative '{sp}': expected none, auto, mtp, draft or ngram"
                ))
            })?);
        }
    }
    if let Some(d) = &pins.draft {
        if d.trim().is_empty() {
            return Err(user_error(
                "--draft '': expected a model (path, catalog id or hf:)",
            ));
        }
        r.draft_reference = Some(d.clone());
    }
    if let Some(k) = pins.draft_max {
        if !(1..=64).contains(&k) {
            return Err(user_error(format!(
                "--draft-max '{k}': expected 1 to 64 tokens"
            )));
        }
        r.draft_max = Some(k);
    }
    if let Some(m) = pins.min_tg {
        if !(m.is_finite() && m > 0.0) {
            return Err(user_error(format!(
                "--min-tg '{m}': must be a positive number"
            )));
        }
        r.min_tg = Some(m);
    }
    let v_quant = r
        .ctv
        .is_some_and(|t| !matches!(t.name(), "F16" | "BF16" | "F32"));
    if v_quant && r.flash_attn == Some(false) {
        return Err(user_error(
            "--ctv quantized with --flash-attn off: a quantized V cache needs flash attention",
        ));
    }
    Ok(r)
}

/// `--backend B`: one of the ggml backends (whether this machine's GPUs can use it is
/// the planner's check, which names the ones they can).
pub fn backend(v: &Option<String>) -> Result<Option<Backend>> {
    choice(v, Backend::parse, |b| {
        let all: Vec<&str> = Backend::ALL.iter().map(|b| b.as_str()).collect();
        format!("--backend '{b}': expected one of {}", all.join(", "))
    })
}

/// `--split-mode M`: a mode of either engine; `graph` only for an engine that has it
/// (whether the engine runs the mode for this model and machine is the planner's check).
fn split_mode(v: &Option<String>, engine: EngineKind) -> Result<Option<SplitMode>> {
    let mode = choice(v, SplitMode::parse, |m| {
        format!(
            "--split-mode '{m}': expected none, layer, row, tensor (llama.cpp), attn or graph (ik_llama.cpp)"
        )
    })?;
    if let (Some(SplitMode::Graph), Some(m)) = (mode, v) {
        if !engine::info(engine).split_modes.contains(&"graph") {
            return Err(Error::BadInput(format!(
                "--split-mode '{m}': only ik_llama.cpp has graph split"
            )));
        }
    }
    Ok(mode)
}

/// `--tensor-split A,B,...`: finite, non-negative proportions, at least one positive.
fn tensor_split(v: &Option<String>) -> Result<Option<Vec<f64>>> {
    let Some(ts) = v else { return Ok(None) };
    let parts: std::result::Result<Vec<f64>, _> =
        ts.split(',').map(|p| p.trim().parse::<f64>()).collect();
    match parts {
        Ok(v)
            if !v.is_empty()
                && v.iter().all(|x| x.is_finite() && *x >= 0.0)
                && v.iter().any(|x| *x > 0.0) =>
        {
            Ok(Some(v))
        }
        _ => Err(user_error(format!(
            "--tensor-split '{ts}': expected proportions like 1,1"
        ))),
    }
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
            (
                PinArgs {
                    split_mode: Some("graph".into()),
                    ..Default::default()
                },
                "only ik_llama.cpp has graph split",
            ),
            (
                PinArgs {
                    ubatch: Some(1024),
                    batch: Some(512),
                    ..Default::default()
                },
                "--ubatch '1024' is larger than --batch '512'",
            ),
        ];
        for (p, want) in cases {
            let e = plan_request(&p).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::EXIT_BAD_INPUT);
            let msg = e.to_string();
            assert!(msg.contains(want), "{msg} does not mention {want}");
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
        let r = plan_request(&p).unwrap();
        assert_eq!(r.tensor_split, Some(vec![3.0, 1.0]));
        assert_eq!(r.ctk.map(|t| t.name()), Some("Q8_0"));
        assert_eq!(r.use_case, UseCase::Coding);
        let ik = plan_request(&PinArgs {
            engine: Some("ik".into()),
            split_mode: Some("GRAPH".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (ik.engine, ik.engine_pinned, ik.split_mode),
            (EngineKind::IkLlamaCpp, true, Some(SplitMode::Graph))
        );
    }
}
