//! `-ot` patterns for per-block expert placement: turns `Placement::expert_overrides`
//! into `--override-tensor` values the pinned engines parse, one regex per destination.
//!
//! Engine rules (both pinned engines): the value is a comma-separated list of
//! `PATTERN=BUFFER_TYPE` (mainline `parse_tensor_buffer_overrides`, common/arg.cpp;
//! ik_llama.cpp `parse_buft_overrides`, common/common.cpp); each tensor takes the first
//! pattern that `std::regex_search` finds in its name (mainline
//! `llama_model_loader::create_tensor` loop with `break`, src/llama-model-loader.cpp; ik
//! `create_tensors_helper::get_context_for_tensor`, src/llama-load-tensors.cpp). Buffer
//! types are named by the engine (`engine::buffer_type_name`), the device numbered among
//! the visible GPUs. `--n-cpu-moe`
//! adds its own patterns (mainline: appended in argv order; ik: after every `-ot`), so
//! the patterns written here never name a block below `n_cpu_moe` and order never
//! matters. Rendering only: nothing here decides where experts go.

use crate::hardware::HardwareSnapshot;
use crate::model::{ModelSpec, TensorClass};
use crate::plan::{DeviceId, Unit};
use crate::planner::memory::weights::Placement;

/// The engine's buffer-type name for a device of this placement, or `None` for a GPU
/// whose backend has no per-device buffer type rigplan can name.
pub fn buffer_type(hw: &HardwareSnapshot, p: &Placement, d: DeviceId) -> Option<String> {
    let i = match d.unit() {
        Unit::Cpu => return Some("CPU".into()),
        Unit::Gpu(i) => i,
    };
    // The launch scripts expose exactly `p.gpus` (CUDA_VISIBLE_DEVICES), so the engine
    // numbers them by position.
    let pos = p.gpus.iter().position(|g| *g == i)?;
    let vendor = hw.gpus.iter().find(|g| g.index == i)?.vendor;
    crate::engine::buffer_type_name(vendor, pos)
}

/// True when every GPU of the placement has a nameable buffer type.
pub fn gpus_nameable(hw: &HardwareSnapshot, p: &Placement) -> bool {
    p.gpus
        .iter()
        .all(|g| buffer_type(hw, p, DeviceId::gpu(*g)).is_some())
}

/// The name part after `blk.N.` and before the next `.` (`ffn_up_exps`).
fn base_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("blk.")?;
    let (_, rest) = rest.split_once('.')?;
    Some(rest.split_once('.').map(|(b, _)| b).unwrap_or(rest))
}

/// `ffn_(down|gate|up)_exps` for a set of base names sharing that frame, else `(a|b)`.
fn bases_regex(bases: &[&str]) -> String {
    if let [one] = bases {
        return one.to_string();
    }
    let framed: Option<Vec<&str>> = bases
        .iter()
        .map(|b| b.strip_prefix("ffn_")?.strip_suffix("_exps"))
        .collect();
    match framed {
        Some(mid) if mid.iter().all(|m| !m.is_empty()) => {
            format!("ffn_({})_exps", mid.join("|"))
        }
        _ => format!("({})", bases.join("|")),
    }
}

/// The `-ot` values for the placement's expert overrides, one per destination (CPU
/// first, then GPUs in order): `^blk\.(3|4|17)\.ffn_(down|gate|up)_exps\.=CPU`. The base
/// names are the routed-expert tensors the model has in those blocks, so the engine
/// moves exactly the tensors rigplan counted (weights, biases and scales alike).
pub fn patterns(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    p: &Placement,
) -> Result<Vec<String>, String> {
    patterns_on(spec, hw, p, None)
}

/// [`patterns`] for GPUs run by a backend whose buffer types are `PREFIX0`, `PREFIX1`...
/// in the order of the placement's GPUs (`engine::backends::BackendSupport::
/// buffer_type_prefix`); `None` names them as their vendor's runtime does.
pub fn patterns_on(
    spec: &ModelSpec,
    hw: &HardwareSnapshot,
    p: &Placement,
    gpu_prefix: Option<&str>,
) -> Result<Vec<String>, String> {
    let mut dests: Vec<DeviceId> = p
        .expert_overrides
        .iter()
        .filter(|(il, _)| *il >= p.n_cpu_moe)
        .map(|(_, d)| *d)
        .collect();
    dests.sort_unstable();
    dests.dedup();
    let mut out = Vec::new();
    for d in dests {
        let mut layers: Vec<u32> = p
            .expert_overrides
            .iter()
            .filter(|(il, x)| *x == d && *il >= p.n_cpu_moe)
            .map(|(il, _)| *il)
            .collect();
        layers.sort_unstable();
        layers.dedup();
        let mut bases: Vec<&str> = spec
            .tensors
            .iter()
            .filter(|t| t.class == TensorClass::RoutedExperts)
            .filter(|t| t.layer.is_some_and(|il| layers.contains(&il)))
            .filter_map(|t| base_name(&t.name))
            .collect();
        bases.sort_unstable();
        bases.dedup();
        if bases.is_empty() {
            continue;
        }
        let named = match (gpu_prefix, d.unit()) {
            (Some(prefix), Unit::Gpu(i)) => p
                .gpus
                .iter()
                .position(|g| *g == i)
                .map(|pos| format!("{prefix}{pos}")),
            _ => buffer_type(hw, p, d),
        };
        let buft = named
            .ok_or_else(|| format!("no engine buffer-type name for {d:?} to place experts on"))?;
        let ids: Vec<String> = layers.iter().map(u32::to_string).collect();
        let blocks = if let [one] = ids.as_slice() {
            one.clone()
        } else {
            format!("({})", ids.join("|"))
        };
        out.push(format!(
            "^blk\\.{blocks}\\.{}\\.={buft}",
            bases_regex(&bases)
        ));
    }
    Ok(out)
}

/// The blocks one value written by [`patterns`] names (`^blk\.(3|4)\.…=CPU` -> 3, 4);
/// empty for any other pattern.
pub fn blocks_in(pattern: &str) -> Vec<u32> {
    let Some(rest) = pattern.strip_prefix("^blk\\.") else {
        return Vec::new();
    };
    let Some((ids, _)) = rest.split_once("\\.") else {
        return Vec::new();
    };
    let ids = ids
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(ids);
    let parsed: Option<Vec<u32>> = ids.split('|').map(|x| x.parse().ok()).collect();
    parsed.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_read_back_from_patterns() {
        assert_eq!(
            blocks_in("^blk\\.(3|4|17)\\.ffn_(down|gate|up)_exps\\.=CPU"),
            vec![3, 4, 17]
        );
        assert_eq!(
            blocks_in("^blk\\.0\\.ffn_(down|gate|up)_exps\\.=CUDA1"),
            vec![0]
        );
        assert!(blocks_in("blk\\.1\\.ffn_.*_exps=CPU").is_empty());
        assert!(blocks_in("^blk\\.(a|1)\\.x=CPU").is_empty());
    }

    #[test]
    fn base_names_and_their_regex() {
        assert_eq!(base_name("blk.17.ffn_up_exps.weight"), Some("ffn_up_exps"));
        assert_eq!(
            base_name("blk.3.ffn_down_exps.scale"),
            Some("ffn_down_exps")
        );
        assert_eq!(base_name("output.weight"), None);
        assert_eq!(
            bases_regex(&["ffn_down_exps", "ffn_gate_exps", "ffn_up_exps"]),
            "ffn_(down|gate|up)_exps"
        );
        assert_eq!(
            bases_regex(&["ffn_down_exps", "ffn_gate_up_exps"]),
            "ffn_(down|gate_up)_exps"
        );
        assert_eq!(bases_regex(&["ffn_up_exps"]), "ffn_up_exps");
        assert_eq!(
            bases_regex(&["ffn_norm_exps", "x_exps"]),
            "(ffn_norm_exps|x_exps)"
        );
    }
}
