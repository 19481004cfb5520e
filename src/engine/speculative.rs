//! Speculative decoding as each pinned engine offers it: which kinds it runs, how each
//! is switched on, which architectures have an MTP graph, and how it sizes the draft
//! context. Data read from the pinned sources, with the function each fact comes from.
//!
//! The option spellings themselves live in each engine's option table (`SpecType`,
//! `Mtp`, `DraftModel`, `DraftMax`...); this module says which of them a kind needs.
//! Nothing here decides whether a plan speculates (the planner's `speculative` stage
//! does) and nothing runs the engine.

use super::EngineKind;
use crate::plan::SpeculativeKind;

/// mainline `--spec-type` names: common/speculative.cpp
/// `common_speculative_type_from_name_map` (the full list; rigplan emits three).
pub const LLAMA_CPP_SPEC_TYPES: &[&str] = &[
    "none",
    "draft-simple",
    "draft-eagle3",
    "draft-mtp",
    "draft-dflash",
    "draft-dspark",
    "ngram-simple",
    "ngram-map-k",
    "ngram-map-k4v",
    "ngram-mod",
    "ngram-cache",
];

/// ik_llama.cpp `--spec-type` values: common/common.cpp `gpt_params_find_arg` accepts
/// only these ("unknown speculative decoding type without draft model" otherwise); a
/// draft model is enabled by `-md` alone and MTP by `-mtp`.
pub const IK_SPEC_TYPES: &[&str] = &[
    "none",
    "ngram-cache",
    "ngram-simple",
    "ngram-map-k",
    "ngram-map-k4v",
    "ngram-mod",
];

/// The GGUF architecture of an EAGLE-3 drafter (mainline src/llama-arch.cpp
/// `LLM_ARCH_EAGLE3`, graph src/models/eagle3.cpp): a one-layer model trained for one
/// target, converted with `convert_hf_to_gguf.py --target-model-dir TARGET`
/// (docs/speculative.md "EAGLE-3"), run with `-md FILE --spec-type draft-eagle3`. It
/// reads three of the target's hidden layers (common/speculative.cpp
/// `common_speculative_impl_draft_eagle3`: "expected 3 extract layers") and may carry a
/// reduced vocabulary mapped back with a `d2t` table.
pub const EAGLE3_ARCHITECTURE: &str = "eagle3";

/// How the engine sizes the draft model's context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DraftContext {
    /// mainline common/speculative.cpp `common_base_params_to_speculative`: the draft
    /// context is a copy of the main context's parameters (same `n_ctx`, `n_parallel`,
    /// batch), with the draft cache types.
    SameAsMain,
    /// ik examples/server/server-context.cpp `load_model`: `-cd`, else
    /// `n_ctx / n_parallel`, one sequence, `n_batch = n_ctx`.
    OneSlot,
}

/// The draft context's KV cache types when `-ctkd/-ctvd` are not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DraftCacheDefault {
    /// mainline common/common.h `common_params_speculative_draft`: `GGML_TYPE_F16`.
    F16,
    /// ik server-context.cpp `load_model`: the main context's `-ctk/-ctv`.
    SameAsMain,
}

/// What one pinned engine offers for speculative decoding.
#[derive(Clone, Copy, Debug)]
pub struct SpeculativeSupport {
    /// `--spec-type` value per kind, `None` where the kind needs no `--spec-type`.
    pub mtp_spec_type: Option<&'static str>,
    pub draft_spec_type: Option<&'static str>,
    pub ngram_spec_type: &'static str,
    /// `--spec-type` value of an EAGLE-3 drafter ([`EAGLE3_ARCHITECTURE`]), `None` where
    /// the engine has none. rigplan does not plan EAGLE-3 (its draft context reads the
    /// target's hidden states; neither its memory nor its acceptance is modelled): it
    /// refuses such a drafter with this reason.
    pub eagle3_spec_type: Option<&'static str>,
    /// GGUF architectures whose graph runs a built-in nextn/MTP head.
    pub mtp_architectures: &'static [&'static str],
    /// Draft-model architectures the engine runs as an external MTP drafter
    /// (`-md` + the MTP kind), e.g. Gemma 4's "assistant" drafters.
    pub external_mtp_drafters: &'static [&'static str],
    pub draft_context: DraftContext,
    pub draft_cache_default: DraftCacheDefault,
    /// The engine's default draft length for a draft model or MTP head.
    pub default_draft_max: u32,
    /// The engine's default `p_min`.
    pub default_p_min: f64,
    /// n-gram lookup's own draft bounds (mainline `common_params_speculative_ngram_mod`
    /// n_max/n_min; ik uses `--draft-max`), which rigplan leaves at their defaults.
    pub ngram_draft_max: u32,
    pub ngram_draft_min: u32,
    /// `--spec-autotune` exists.
    pub autotune: bool,
    /// The `-devd` value that keeps a draft model off every GPU.
    pub cpu_draft_device: Option<&'static str>,
    /// The draft or MTP context computes one output per slot (`n_outputs_max =
    /// n_parallel`), so its worst-case graph holds that many logit rows, not a batch's.
    pub draft_outputs_per_slot: bool,
    /// An MTP drafter makes the main context keep `draft_max` extra recurrent states per
    /// sequence (hybrid/recurrent models), to roll back rejected drafts.
    pub mtp_recurrent_snapshots: bool,
}

/// mainline (0c1e57098): `--spec-type draft-mtp` builds an MTP context
/// (tools/server/server-context.cpp `load_model`, `LLAMA_CONTEXT_TYPE_MTP`); the graphs
/// with an MTP branch are src/models/{qwen35,qwen35moe,qwen3next,deepseek2,deepseek32,
/// deepseek4,glm4-moe,glm-dsa,glm5-next,bailingmoe3,cohere2moe,nemotron-h,mimo2,step35,
/// hy-v3}.cpp (`load_mtp`/`LLAMA_CONTEXT_TYPE_MTP`); `gemma4-assistant` is a drafter
/// architecture that needs the target's context (src/llama-context.cpp `ctx_other`).
const LLAMA_CPP: SpeculativeSupport = SpeculativeSupport {
    mtp_spec_type: Some("draft-mtp"),
    draft_spec_type: Some("draft-simple"),
    ngram_spec_type: "ngram-mod",
    eagle3_spec_type: Some("draft-eagle3"),
    mtp_architectures: &[
        "qwen35",
        "qwen35moe",
        "qwen3next",
        "deepseek2",
        "deepseek32",
        "deepseek4",
        "glm4moe",
        "glm-dsa",
        "glm5-next",
        "bailingmoe3",
        "cohere2moe",
        "nemotron_h",
        "mimo2",
        "step35",
    ],
    external_mtp_drafters: &["gemma4-assistant"],
    draft_context: DraftContext::SameAsMain,
    draft_cache_default: DraftCacheDefault::F16,
    // common/common.h `common_params_speculative_draft`: n_max = 3, p_min = 0.0f.
    default_draft_max: 3,
    default_p_min: 0.0,
    // common/common.h `common_params_speculative_ngram_mod`: n_max = 64, n_min = 48.
    ngram_draft_max: 64,
    ngram_draft_min: 48,
    autotune: false,
    // common/speculative.cpp `common_base_params_to_speculative`: `result.n_outputs_max =
    // params.n_parallel` for the draft and MTP contexts (src/llama-context.cpp
    // `sched_reserve` then reserves `min(n_tokens, n_outputs_max)` outputs).
    draft_outputs_per_slot: true,
    // common/arg.cpp `parse_device_list`: "none" is an empty device list (no offload).
    cpu_draft_device: Some("none"),
    // common/common.h `common_params_speculative::need_n_rs_seq` (MTP, EAGLE3, DFlash,
    // DSpark) -> `cparams.n_rs_seq`; src/llama-memory-recurrent.cpp allocates
    // `mem_size * (1 + n_rs_seq)` rows.
    mtp_recurrent_snapshots: true,
};

/// ik_llama.cpp (pinned sdist 0.1.5): `-mtp` sets `has_mtp`, and the server makes an MTP
/// context only when `llama_model_n_nextn_layer(model) > 0`
/// (examples/server/server-context.cpp `init`); the only graph that runs the MTP head
/// is `llm_build_context::build_glm4_moe` (src/llama-build-context.cpp, the
/// `cparams.mtp_op_type` branch). This version has no Gemma 4 assistant architecture
/// (src/llama-arch.cpp), so the seed's `--spec-type mtp` with a Gemma drafter is a
/// later ik than the pinned one.
const IK_LLAMA_CPP: SpeculativeSupport = SpeculativeSupport {
    mtp_spec_type: None,
    draft_spec_type: None,
    ngram_spec_type: "ngram-mod",
    // No eagle3 architecture in src/llama-arch.cpp and no such `--spec-type`
    // (common/common.cpp `gpt_params_find_arg`).
    eagle3_spec_type: None,
    mtp_architectures: &["glm4moe"],
    external_mtp_drafters: &[],
    draft_context: DraftContext::OneSlot,
    draft_cache_default: DraftCacheDefault::SameAsMain,
    // common/common.h `common_params_speculative`: n_max = 16, p_min = 0.75f.
    default_draft_max: 16,
    default_p_min: 0.75,
    ngram_draft_max: 16,
    ngram_draft_min: 0,
    autotune: true,
    // ik has no n_outputs_max: src/llama.cpp `llama_output_reserve` and the worst-case
    // graph reserve every token of the batch as an output.
    draft_outputs_per_slot: false,
    // common/common.cpp help: "-devd ... (none = don't offload)"; src/llama.cpp
    // `llama_model_load` finds no device named "none" (it logs "none backend not
    // available"), keeps no device and sets n_gpu_layers to 0.
    cpu_draft_device: Some("none"),
    // Only glm4moe (no recurrent layers) runs an MTP head in this version.
    mtp_recurrent_snapshots: false,
};

/// What `engine` offers for speculative decoding.
pub fn support(engine: EngineKind) -> &'static SpeculativeSupport {
    match engine {
        EngineKind::LlamaCpp => &LLAMA_CPP,
        EngineKind::IkLlamaCpp => &IK_LLAMA_CPP,
    }
}

impl SpeculativeSupport {
    /// The `--spec-type` value this kind is written with, if any.
    pub fn spec_type(&self, kind: SpeculativeKind) -> Option<&'static str> {
        match kind {
            SpeculativeKind::None => None,
            SpeculativeKind::Mtp => self.mtp_spec_type,
            SpeculativeKind::Draft => self.draft_spec_type,
            SpeculativeKind::Ngram => Some(self.ngram_spec_type),
        }
    }

    /// Whether the engine runs a built-in MTP head for this architecture.
    pub fn runs_mtp_head(&self, architecture: &str) -> bool {
        self.mtp_architectures.contains(&architecture)
    }

    /// Whether the engine runs a draft model of this architecture as an MTP drafter.
    pub fn runs_external_mtp(&self, draft_architecture: &str) -> bool {
        self.external_mtp_drafters.contains(&draft_architecture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_spelled_with_a_type_the_engine_accepts() {
        for (engine, names) in [
            (EngineKind::LlamaCpp, LLAMA_CPP_SPEC_TYPES),
            (EngineKind::IkLlamaCpp, IK_SPEC_TYPES),
        ] {
            let s = support(engine);
            for k in SpeculativeKind::ALL {
                if let Some(t) = s.spec_type(k) {
                    assert!(names.contains(&t), "{engine} {k:?} {t}");
                }
            }
        }
        // ik switches MTP on with -mtp and a draft with -md alone.
        assert_eq!(
            support(EngineKind::IkLlamaCpp).spec_type(SpeculativeKind::Mtp),
            None
        );
        assert!(support(EngineKind::LlamaCpp).runs_mtp_head("qwen35"));
        assert!(!support(EngineKind::IkLlamaCpp).runs_mtp_head("qwen35moe"));
        assert!(support(EngineKind::IkLlamaCpp).runs_mtp_head("glm4moe"));
        // EAGLE-3 is a mainline spec type; ik has none.
        let eagle3 = support(EngineKind::LlamaCpp).eagle3_spec_type.unwrap();
        assert!(LLAMA_CPP_SPEC_TYPES.contains(&eagle3));
        assert!(support(EngineKind::IkLlamaCpp).eagle3_spec_type.is_none());
    }
}
