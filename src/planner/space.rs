//! Stage 1a: the search space a request leaves open — the contexts, KV cache types and
//! ubatch sizes the search tries, in the order it tries them.
//!
//! A pin leaves one value; otherwise the use case decides: one context (its own, capped
//! at the trained context) or, for `--use-case long`, the trained context and its halves
//! down to 8192, largest first; an f16 cache, then q8_0 (and q4_0 for long contexts),
//! each tried only if it buys speed (`search`); ubatch 512, and 1024 where experts may
//! live in RAM (hybrid prompt processing copies them per ubatch). Pure.

use super::request::{PlanRequest, UseCase};
use super::PlanError;
use crate::gguf::GgmlType;
use crate::hardware::HardwareSnapshot;
use crate::model::ModelSpec;
use crate::plan::Backend;

/// What the search tries.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpace {
    /// Requested contexts (before the engine's padding), in the order tried.
    pub contexts: Vec<u64>,
    /// (K, V) cache types, highest precision first.
    pub kv_types: Vec<(GgmlType, GgmlType)>,
    /// Physical batch sizes, the default first.
    pub ubatches: Vec<u32>,
    /// The generation budget (`-n`).
    pub predict: u64,
    pub flash_attn: bool,
    /// The backend placements are scored with (`backend::search_backend`).
    pub backend: Backend,
    /// The model's trained context (at least 256).
    pub n_ctx_train: u64,
    /// Stop at the first context and cache type that fit: the long use case wants the
    /// largest context, not the fastest cache.
    pub stop_at_first_fit: bool,
}

fn ty(name: &str) -> Result<GgmlType, PlanError> {
    GgmlType::from_name(name)
        .ok_or_else(|| PlanError::Invalid(format!("the ggml type table lacks {name}")))
}

impl SearchSpace {
    pub fn new(
        spec: &ModelSpec,
        hw: &HardwareSnapshot,
        req: &PlanRequest,
    ) -> Result<SearchSpace, PlanError> {
        let backend = super::backend::search_backend(hw, req);
        let support = crate::engine::backends::support(req.engine, backend);
        // Flash attention by default where the backend runs it on the GPU.
        let flash_attn = req
            .flash_attn
            .unwrap_or(support.is_none_or(|s| s.flash_attn));
        let (uc_ctx, uc_predict) = req.use_case.ctx_predict();
        let n_ctx_train = spec.n_ctx_train.max(256);
        let contexts = match (req.ctx, req.use_case) {
            (Some(c), _) => vec![c],
            (None, UseCase::Long) => {
                let mut v = vec![n_ctx_train];
                let mut c = n_ctx_train / 2;
                while c >= 8192 {
                    v.push(c);
                    c /= 2;
                }
                v
            }
            (None, _) => vec![uc_ctx.min(n_ctx_train)],
        };
        let f16 = ty("F16")?;
        let kv_types = match (req.ctk, req.ctv) {
            (Some(k), Some(v)) => vec![(k, v)],
            (Some(k), None) => vec![(k, f16)],
            (None, Some(v)) => vec![(f16, v)],
            (None, None) if !flash_attn => vec![(f16, f16)],
            (None, None) if req.use_case == UseCase::Long => vec![
                (f16, f16),
                (ty("Q8_0")?, ty("Q8_0")?),
                (ty("Q4_0")?, ty("Q4_0")?),
            ],
            (None, None) => vec![(f16, f16), (ty("Q8_0")?, ty("Q8_0")?)],
        };
        // Unpinned cache types only where the backend's flash attention reads them.
        let mut kv_types = kv_types;
        if req.ctk.is_none() && req.ctv.is_none() && flash_attn {
            if let Some(s) = support {
                let name = |t: GgmlType| t.name().to_ascii_lowercase();
                kv_types.retain(|(k, v)| s.fa_reads(&name(*k), &name(*v)));
                if kv_types.is_empty() {
                    kv_types.push((f16, f16));
                }
            }
        }
        let moe_hybrid_possible = spec.is_moe() && !hw.gpus.is_empty();
        let ubatches = match req.ubatch {
            Some(u) => vec![u],
            None if moe_hybrid_possible => vec![512, 1024],
            None => vec![512],
        };
        Ok(SearchSpace {
            contexts,
            kv_types,
            ubatches,
            predict: req.predict.unwrap_or(uc_predict),
            flash_attn,
            backend,
            n_ctx_train,
            stop_at_first_fit: req.use_case == UseCase::Long && req.ctx.is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::testing::rig;

    fn spec(id: &str) -> ModelSpec {
        crate::planner::testing::model(id, "Q4_K_M")
    }

    fn names(kv: &[(GgmlType, GgmlType)]) -> Vec<String> {
        kv.iter()
            .map(|(k, v)| format!("{}/{}", k.name(), v.name()))
            .collect()
    }

    #[test]
    fn the_request_opens_the_space() {
        let moe = spec("qwen3.5-35b-a3b");
        let dense = spec("llama-3.1-8b");
        let gpu = rig("desktop-3090");
        let cpu = rig("xeon-e5-2620v4-cpu");
        let q8 = GgmlType::from_name("Q8_0");
        // (model, rig, request) -> (contexts, kv types, ubatches, predict, stop at first fit)
        type Case<'a> = (&'a ModelSpec, &'a HardwareSnapshot, PlanRequest);
        type Want = (Vec<u64>, Vec<&'static str>, Vec<u32>, u64, bool);
        let cases: Vec<(Case, Want)> = vec![
            (
                (&moe, &gpu, PlanRequest::default()),
                (
                    vec![8192],
                    vec!["F16/F16", "Q8_0/Q8_0"],
                    vec![512, 1024],
                    2048,
                    false,
                ),
            ),
            (
                (&moe, &cpu, PlanRequest::default()),
                (
                    vec![8192],
                    vec!["F16/F16", "Q8_0/Q8_0"],
                    vec![512],
                    2048,
                    false,
                ),
            ),
            (
                (&dense, &gpu, PlanRequest::default()),
                (
                    vec![8192],
                    vec!["F16/F16", "Q8_0/Q8_0"],
                    vec![512],
                    2048,
                    false,
                ),
            ),
            (
                (
                    &dense,
                    &gpu,
                    PlanRequest {
                        use_case: UseCase::Long,
                        ..Default::default()
                    },
                ),
                (
                    vec![131072, 65536, 32768, 16384, 8192],
                    vec!["F16/F16", "Q8_0/Q8_0", "Q4_0/Q4_0"],
                    vec![512],
                    8192,
                    true,
                ),
            ),
            (
                (
                    &moe,
                    &gpu,
                    PlanRequest {
                        ctx: Some(4000),
                        ctk: q8,
                        ubatch: Some(256),
                        predict: Some(7),
                        ..Default::default()
                    },
                ),
                (vec![4000], vec!["Q8_0/F16"], vec![256], 7, false),
            ),
            (
                (
                    &dense,
                    &gpu,
                    PlanRequest {
                        flash_attn: Some(false),
                        use_case: UseCase::Quick,
                        ..Default::default()
                    },
                ),
                (vec![2048], vec!["F16/F16"], vec![512], 512, false),
            ),
        ];
        for ((s, hw, req), (ctx, kv, ub, predict, stop)) in cases {
            let space = SearchSpace::new(s, hw, &req).unwrap();
            assert_eq!(space.contexts, ctx, "{req:?}");
            assert_eq!(names(&space.kv_types), kv, "{req:?}");
            assert_eq!(space.ubatches, ub, "{req:?}");
            assert_eq!(space.predict, predict, "{req:?}");
            assert_eq!(space.stop_at_first_fit, stop, "{req:?}");
            assert_eq!(space.flash_attn, req.flash_attn.unwrap_or(true));
        }
    }
}
