//! Which files of a model to plan: the candidate quants of a catalog model (one list,
//! for `plan` and `compare` alike), the one quant a reference or `--quant` pins, or the
//! quant files of an `hf:` repository or a local directory.
//!
//! Reads headers where the reference is a file or URL (`reference`); builds catalog
//! specs from the bundled tables otherwise. Decides nothing about which variant wins:
//! the planner plans each and `--prefer` chooses.

use super::catalog::{self, CatalogEntry};
use super::reference::{self, ModelRef, ModelVariant};
use super::ModelSpec;
use crate::error::{user_error, Context, Result};

/// Quants tried for a catalog model when none is pinned: the usual published spread from
/// 8 to 2 bits, each with a published quality figure (`perf::quality`), plus the entry's
/// own named files.
pub const CANDIDATE_QUANTS: &[&str] = &[
    "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M", "IQ3_XXS", "IQ2_M", "IQ2_XXS",
];

/// The quant names to plan for a catalog entry: [`CANDIDATE_QUANTS`] it has, in that
/// order, then its named files.
pub fn candidate_quants(entry: &CatalogEntry) -> Vec<String> {
    let available = entry.quants();
    let mut names: Vec<String> = CANDIDATE_QUANTS
        .iter()
        .filter(|q| available.iter().any(|a| a.eq_ignore_ascii_case(q)))
        .map(|q| q.to_string())
        .collect();
    for f in &entry.files {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&f.quant)) {
            names.push(f.quant.clone());
        }
    }
    names
}

/// The specs of a catalog entry's candidate quants (its default quant if none builds).
/// The quant-independent work (shapes, the quant rules' per-tensor facts) is done once.
pub fn candidate_specs(entry: &CatalogEntry) -> Result<Vec<ModelSpec>> {
    let specs: Vec<ModelSpec> = match entry.shapes() {
        Ok(shapes) => candidate_quants(entry)
            .iter()
            .filter_map(|q| shapes.spec(q).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    if specs.is_empty() {
        return Ok(vec![entry.spec(None)?]);
    }
    Ok(specs)
}

/// What to plan for one model reference.
#[derive(Clone, Debug)]
pub struct Variants {
    /// How the plan names the model: the catalog id, or the reference as given.
    pub reference: String,
    /// The quant the reference (`id:QUANT`) or `--quant` pins, if any.
    pub quant: Option<String>,
    /// Each variant's spec, and its own file path where it has one (the quants of an
    /// `hf:` repository or a directory).
    pub specs: Vec<(ModelSpec, Option<String>)>,
}

/// The variants to plan for `model` (the catalog's default model when `None`), with the
/// quant `--quant` pins: one spec for a file or a pinned quant; the candidate quants of a
/// catalog model otherwise.
pub fn for_reference(model: Option<&str>, quant: Option<&str>) -> Result<Variants> {
    let (entry, ref_quant) = match model.map(reference::parse) {
        None => (catalog::default_entry(), None),
        Some(ModelRef::Catalog { id, quant }) => (catalog::find(&id), quant),
        Some(_) => (None, None),
    };
    if let Some(e) = entry {
        let quant = ref_quant.or_else(|| quant.map(str::to_string));
        let specs = match &quant {
            Some(q) => vec![e
                .spec(Some(q))
                .with_context(|| format!("model '{}:{q}'", e.id))?],
            None => candidate_specs(&e)?,
        };
        return Ok(Variants {
            reference: e.id.clone(),
            quant,
            specs: specs.into_iter().map(|s| (s, None)).collect(),
        });
    }
    let r = model.ok_or_else(|| user_error("the catalog has no default model"))?;
    let mut variants = reference::resolve_variants(r)?;
    if let Some(want) = quant {
        let have = |v: &ModelVariant| {
            v.spec
                .quant
                .as_deref()
                .is_some_and(|q| q.eq_ignore_ascii_case(want))
        };
        if !variants.iter().any(have) {
            let offered: Vec<String> = variants
                .iter()
                .filter_map(|v| v.spec.quant.clone())
                .collect();
            return Err(user_error(format!(
                "--quant '{want}': '{r}' offers {}; pick one of those",
                if offered.is_empty() {
                    "no labelled quant".to_string()
                } else {
                    offered.join(", ")
                }
            )));
        }
        variants.retain(have);
    }
    Ok(Variants {
        reference: r.to_string(),
        quant: quant.map(str::to_string),
        specs: variants
            .into_iter()
            .map(|v| (v.spec, v.path.map(|p| p.display().to_string())))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_in_published_order_then_named_files() {
        for e in catalog::entries() {
            let names = candidate_quants(&e);
            let common: Vec<&String> = names
                .iter()
                .filter(|n| CANDIDATE_QUANTS.iter().any(|c| c.eq_ignore_ascii_case(n)))
                .collect();
            let order: Vec<usize> = common
                .iter()
                .map(|n| CANDIDATE_QUANTS.iter().position(|c| c == n).unwrap())
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{}: {names:?}", e.id);
            for f in &e.files {
                assert!(
                    names.iter().any(|n| n.eq_ignore_ascii_case(&f.quant)),
                    "{}: named file {} is a candidate",
                    e.id,
                    f.quant
                );
            }
        }
    }

    #[test]
    fn a_reference_pins_what_it_names() {
        // (model, --quant) -> (reference, pinned quant, variants)
        let cases = [
            (None, None, ("qwen3.5-35b-a3b", None, 9)),
            (
                Some("qwen3.5-35b-a3b:Q6_K"),
                None,
                ("qwen3.5-35b-a3b", Some("Q6_K"), 1),
            ),
            (
                Some("llama-3.1-8b"),
                Some("Q8_0"),
                ("llama-3.1-8b", Some("Q8_0"), 1),
            ),
        ];
        for (model, quant, (reference, pinned, n)) in cases {
            let v = for_reference(model, quant).unwrap();
            assert_eq!(v.reference, reference, "{model:?}");
            assert_eq!(v.quant.as_deref(), pinned, "{model:?}");
            assert!(
                v.specs.len() >= n && (n > 1 || v.specs.len() == 1),
                "{model:?}: {}",
                v.specs.len()
            );
            assert!(v.specs.iter().all(|(_, path)| path.is_none()));
        }
        let e = for_reference(Some("llama-3.1-8b:Q9_X"), None).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_BAD_INPUT);
    }
}
