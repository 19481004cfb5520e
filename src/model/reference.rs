//! MODEL references: what a user typed, resolved to a [`ModelSpec`].
//!
//! Forms (DESIGN.md): a local `.gguf` path (the first shard of a split model is
//! enough), `catalog-id[:QUANT]`, `hf:OWNER/REPO[:QUANT]`, an `https://...gguf` URL, or
//! nothing (the catalog's default model). Parsing is pure; resolving reads GGUF headers
//! (never tensor data). Bad references are [bad input](crate::error::Error::BadInput)
//! (exit 2) that name the input and, for near-miss catalog ids, the close ones.

use crate::error::{user_error, Error, Result};
use crate::gguf::remote::{open_hf, open_url};
use crate::gguf::split::open_model;
use crate::model::catalog;
use crate::model::spec::ModelSpec;
use std::path::{Path, PathBuf};

/// A parsed MODEL reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelRef {
    Path(PathBuf),
    Catalog { id: String, quant: Option<String> },
    Hf { repo: String, quant: Option<String> },
    Url(String),
}

/// A resolved model: its spec and where it came from (for messages and plans).
#[derive(Clone, Debug)]
pub struct ResolvedModel {
    pub spec: ModelSpec,
    pub reference: ModelRef,
    /// Human description: the path, URL or `catalog-id:QUANT`.
    pub source: String,
}

/// Splits `NAME[:QUANT]` at the last colon.
fn split_quant(s: &str) -> (String, Option<String>) {
    match s.rsplit_once(':') {
        Some((a, q)) if !q.is_empty() => (a.to_string(), Some(q.to_string())),
        Some((a, _)) => (a.to_string(), None),
        None => (s.to_string(), None),
    }
}

/// Parses a reference without touching the file system (except to tell a path that
/// exists from a catalog id).
pub fn parse(reference: &str) -> ModelRef {
    let r = reference.trim();
    if let Some(rest) = r.strip_prefix("hf:") {
        let (repo, quant) = split_quant(rest);
        return ModelRef::Hf { repo, quant };
    }
    if r.starts_with("https://") || r.starts_with("http://") {
        return ModelRef::Url(r.to_string());
    }
    let looks_like_path = r.to_ascii_lowercase().ends_with(".gguf")
        || r.contains('/')
        || r.contains(std::path::MAIN_SEPARATOR)
        || Path::new(r).exists();
    if looks_like_path {
        return ModelRef::Path(PathBuf::from(r));
    }
    let (id, quant) = split_quant(r);
    ModelRef::Catalog { id, quant }
}

/// Resolves a reference; `None` is the catalog's default model at its default quant.
pub fn resolve_or_default(reference: Option<&str>) -> Result<ResolvedModel> {
    match reference {
        Some(r) => resolve(r),
        None => {
            let e = catalog::default_entry()
                .ok_or_else(|| Error::failed("the catalog has no default model"))?;
            resolve_catalog(&e.id, None)
        }
    }
}

/// Resolves one reference to a spec.
pub fn resolve(reference: &str) -> Result<ResolvedModel> {
    if reference.trim().is_empty() {
        return Err(user_error("empty MODEL reference"));
    }
    match parse(reference) {
        ModelRef::Path(p) => {
            if !p.exists() {
                return Err(user_error(format!(
                    "'{}': no such file (and not a catalog id)",
                    p.display()
                )));
            }
            let shards = open_model(&p)?;
            Ok(ResolvedModel {
                spec: ModelSpec::from_gguf(&shards),
                source: p.display().to_string(),
                reference: ModelRef::Path(p),
            })
        }
        ModelRef::Catalog { id, quant } => resolve_catalog(&id, quant.as_deref()),
        ModelRef::Hf { repo, quant } => {
            let shards = open_hf(&repo, quant.as_deref())?;
            let mut spec = ModelSpec::from_gguf(&shards);
            // the file's quant label is the one the user asked for, when given
            if let Some(q) = &quant {
                spec.quant = Some(q.clone());
            }
            Ok(ResolvedModel {
                spec,
                source: format!("hf:{repo}"),
                reference: ModelRef::Hf { repo, quant },
            })
        }
        ModelRef::Url(u) => {
            let shards = open_url(&u)?;
            Ok(ResolvedModel {
                spec: ModelSpec::from_gguf(&shards),
                source: u.clone(),
                reference: ModelRef::Url(u),
            })
        }
    }
}

/// One candidate file of a model, for quant choice: its spec and, for local files, the
/// path to launch.
#[derive(Clone, Debug)]
pub struct ModelVariant {
    pub spec: ModelSpec,
    pub path: Option<PathBuf>,
}

/// The quants a reference offers: every model file in a local directory (first shards
/// of split models), or every quant listed in an `hf:OWNER/REPO` repository given
/// without `:QUANT` (one header read per quant). Any other reference is one variant.
pub fn resolve_variants(reference: &str) -> Result<Vec<ModelVariant>> {
    match parse(reference) {
        ModelRef::Path(dir) if dir.is_dir() => {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| user_error(format!("'{}': {e}", dir.display())))?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_model_file(p))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(user_error(format!(
                    "'{}': a directory with no .gguf model files",
                    dir.display()
                )));
            }
            files
                .into_iter()
                .map(|p| {
                    let shards = open_model(&p)?;
                    let mut spec = ModelSpec::from_gguf(&shards);
                    // Within one directory the file names tell the variants apart
                    // (`UD-Q4_K_XL` and `Q4_K_M` share a file type).
                    if let Some(q) = p
                        .file_stem()
                        .and_then(|s| crate::gguf::remote::quant_label(&s.to_string_lossy()))
                    {
                        spec.quant = Some(q);
                    }
                    Ok(ModelVariant {
                        spec,
                        path: Some(p),
                    })
                })
                .collect()
        }
        ModelRef::Hf { repo, quant: None } => {
            let listed = crate::gguf::remote::list_hf_quants(&repo)?;
            if listed.is_empty() {
                return Err(user_error(format!(
                    "'hf:{repo}': no .gguf files in the repository"
                )));
            }
            listed
                .iter()
                .map(|q| {
                    let shards = crate::gguf::remote::open_hf_file(&repo, q)?;
                    let mut spec = ModelSpec::from_gguf(&shards);
                    spec.quant = Some(q.quant.clone());
                    Ok(ModelVariant { spec, path: None })
                })
                .collect()
        }
        _ => {
            let r = resolve(reference)?;
            let path = match &r.reference {
                ModelRef::Path(p) => Some(p.clone()),
                _ => None,
            };
            Ok(vec![ModelVariant { spec: r.spec, path }])
        }
    }
}

/// A `.gguf` that is a whole model or the first shard of a split one (not a vision
/// projector, which llama.cpp names `mmproj-*`).
fn is_model_file(p: &Path) -> bool {
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    if !lower.ends_with(".gguf") || lower.starts_with("mmproj") || !p.is_file() {
        return false;
    }
    // `NAME-0000k-of-0000N.gguf`: only shard 1 stands for the model.
    match lower.trim_end_matches(".gguf").rsplit_once("-of-") {
        Some((head, _)) => head.ends_with("-00001"),
        None => true,
    }
}

fn resolve_catalog(id: &str, quant: Option<&str>) -> Result<ResolvedModel> {
    let Some(entry) = catalog::find(id) else {
        let close = catalog::close_ids(id);
        return Err(user_error(format!(
            "'{id}' is not a file or a catalog model{}",
            if close.is_empty() {
                String::new()
            } else {
                format!(" (did you mean: {}?)", close.join(", "))
            }
        )));
    };
    let spec = entry.spec(quant)?;
    let q = quant.unwrap_or(&entry.default_quant).to_string();
    Ok(ResolvedModel {
        spec,
        source: format!("{}:{q}", entry.id),
        reference: ModelRef::Catalog {
            id: entry.id,
            quant: Some(q),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EXIT_BAD_INPUT;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse("qwen3.5-35b-a3b:Q4_K_M"),
            ModelRef::Catalog {
                id: "qwen3.5-35b-a3b".into(),
                quant: Some("Q4_K_M".into())
            }
        );
        assert_eq!(
            parse("hf:unsloth/Qwen3.5-35B-A3B-GGUF:UD-Q4_K_XL"),
            ModelRef::Hf {
                repo: "unsloth/Qwen3.5-35B-A3B-GGUF".into(),
                quant: Some("UD-Q4_K_XL".into())
            }
        );
        assert_eq!(
            parse("https://example.org/m.gguf"),
            ModelRef::Url("https://example.org/m.gguf".into())
        );
        assert_eq!(
            parse("models/x.gguf"),
            ModelRef::Path("models/x.gguf".into())
        );
    }

    #[test]
    fn default_and_catalog_resolve_and_typos_are_exit_2_with_suggestions() {
        let d = resolve_or_default(None).unwrap();
        assert_eq!(d.spec.architecture, "qwen35moe");
        assert_eq!(d.source, "qwen3.5-35b-a3b:Q4_K_M");
        let e = resolve("qwen3.5-35b").unwrap_err();
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
        assert!(e.to_string().contains("qwen3.5-35b-a3b"), "{e}");
        let e = resolve("llama-3.1-8b:Q9_Z").unwrap_err();
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
    }
}
