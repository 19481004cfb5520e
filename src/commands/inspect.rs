//! `rigplan inspect MODEL`: what a model is, from its header or the catalog.
//!
//! Resolves the reference, builds the [`InspectReport`] (plain data, the stable
//! `inspect --format json` keys of DESIGN.md) and renders it as a table or JSON. It
//! decides nothing and reads no tensor data.

use crate::cli::{Format, InspectArgs};
use crate::gguf::GgmlType;
use crate::model::reference::resolve;
use crate::model::{AttentionKind, ModelSpec, TensorClass};
use crate::units::Bytes;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct Parameters {
    pub total: u64,
    pub active: u64,
}

#[derive(Serialize)]
pub struct ByteTotals {
    pub total: u64,
    /// What a plain CPU-only llama.cpp load allocates (MTP skipped, tied copy counted
    /// where the loader makes one).
    pub loaded_cpu_only: u64,
    /// The output projection (or the token embedding it duplicates when tied).
    pub output_layer: u64,
    pub mtp: u64,
    pub by_class: BTreeMap<String, u64>,
    pub by_type: BTreeMap<String, u64>,
}

#[derive(Serialize)]
pub struct LayerRow {
    pub index: u32,
    pub attention: AttentionKind,
    pub kv_heads: u64,
    pub n_embd_k_gqa: u64,
    pub n_embd_v_gqa: u64,
    pub expert_bytes: u64,
    pub bytes: u64,
    pub mtp: bool,
}

#[derive(Serialize)]
pub struct KvPer1k {
    pub f16: u64,
    pub q8_0: u64,
    pub q4_0: u64,
}

/// The `inspect --format json` document.
#[derive(Serialize)]
pub struct InspectReport {
    pub name: String,
    pub source: String,
    pub architecture: String,
    pub architecture_known: bool,
    pub quant: Option<String>,
    pub parameters: Parameters,
    pub bytes: ByteTotals,
    pub layers: Vec<LayerRow>,
    /// KV-cache bytes for a 1024-token context of one sequence at K=V=type: full layers
    /// hold 1024 cells, sliding-window layers `pad256(min(1024, n_swa + 512))` (the
    /// default ubatch, src/llama-kv-cache-iswa.cpp), plus the constant recurrent state.
    pub kv_bytes_per_1k_tokens: KvPer1k,
    pub recurrent_state_bytes: u64,
    pub expert_count: u32,
    pub expert_used: u32,
    pub engines: Vec<String>,
    pub notes: Vec<String>,
}

fn class_name(c: TensorClass) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{c:?}"))
}

/// Context and ubatch the `kv_bytes_per_1k_tokens` figures assume (llama.cpp's default
/// `n_ubatch` is 512, common/common.h).
const KV_CTX: u64 = 1024;
const DEFAULT_UBATCH: u64 = 512;

fn kv_1k(spec: &ModelSpec, ty: &str) -> u64 {
    let Some(t) = GgmlType::from_name(ty) else {
        return 0;
    };
    let swa_cells = spec.n_swa.map_or(KV_CTX, |w| {
        KV_CTX.min(w.saturating_add(DEFAULT_UBATCH)).div_ceil(256) * 256
    });
    spec.layers
        .iter()
        .map(|l| {
            let cells = match l.attention {
                AttentionKind::Full => KV_CTX,
                AttentionKind::SlidingWindow => swa_cells,
                _ => 0,
            };
            let row =
                t.row_size(l.n_embd_k_gqa).unwrap_or(0) + t.row_size(l.n_embd_v_gqa).unwrap_or(0);
            row.saturating_mul(cells)
        })
        .sum::<u64>()
        .saturating_add(spec.recurrent_state_bytes().0)
}

/// Builds the report from a spec (pure).
pub fn report(spec: &ModelSpec, source: &str) -> InspectReport {
    let mut by_class = BTreeMap::new();
    let mut by_type = BTreeMap::new();
    for t in &spec.tensors {
        *by_class.entry(class_name(t.class)).or_insert(0u64) += t.bytes.0;
        *by_type
            .entry(t.ggml_type.name().to_string())
            .or_insert(0u64) += t.bytes.0;
    }
    let mut engines = Vec::new();
    if spec.engines.llama_cpp {
        engines.push("llama.cpp".to_string());
    }
    if spec.engines.ik_llama_cpp {
        engines.push("ik_llama.cpp".to_string());
    }
    let mut notes = spec.notes.clone();
    notes.extend(spec.engines.notes.iter().cloned());
    InspectReport {
        name: spec.name.clone(),
        source: source.to_string(),
        architecture: spec.architecture.clone(),
        architecture_known: spec.architecture_known,
        quant: spec.quant.clone(),
        parameters: Parameters {
            total: spec.total_parameters(),
            active: spec.active_parameters(),
        },
        bytes: ByteTotals {
            total: spec.total_bytes().0,
            loaded_cpu_only: spec.loaded_weight_bytes().0,
            output_layer: spec.output_layer_bytes().0,
            mtp: spec.mtp_bytes().0,
            by_class,
            by_type,
        },
        layers: spec
            .layers
            .iter()
            .map(|l| LayerRow {
                index: l.index,
                attention: l.attention,
                kv_heads: l.n_head_kv,
                n_embd_k_gqa: l.n_embd_k_gqa,
                n_embd_v_gqa: l.n_embd_v_gqa,
                expert_bytes: l.expert_bytes.0,
                bytes: l.bytes.0,
                mtp: l.mtp,
            })
            .collect(),
        kv_bytes_per_1k_tokens: KvPer1k {
            f16: kv_1k(spec, "F16"),
            q8_0: kv_1k(spec, "Q8_0"),
            q4_0: kv_1k(spec, "Q4_0"),
        },
        recurrent_state_bytes: spec.recurrent_state_bytes().0,
        expert_count: spec.expert_count,
        expert_used: spec.expert_used,
        engines,
        notes,
    }
}

fn attention_label(a: AttentionKind) -> &'static str {
    match a {
        AttentionKind::Full => "full",
        AttentionKind::SlidingWindow => "swa",
        AttentionKind::Recurrent => "recurrent",
        AttentionKind::None => "none",
    }
}

fn billions(n: u64) -> String {
    format!("{:.2} B", n as f64 / 1e9)
}

/// Renders the human table.
pub fn render_table(r: &InspectReport) -> String {
    let mut out = String::new();
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.add_row(vec![
        "model".to_string(),
        format!("{} ({})", r.name, r.source),
    ]);
    t.add_row(vec![
        "architecture".to_string(),
        if r.architecture_known {
            r.architecture.clone()
        } else {
            format!("{} (not known to rigplan: generic facts)", r.architecture)
        },
    ]);
    t.add_row(vec![
        "quant".to_string(),
        r.quant.clone().unwrap_or_else(|| "?".into()),
    ]);
    t.add_row(vec![
        "parameters".to_string(),
        format!(
            "{} total, {} active per token",
            billions(r.parameters.total),
            billions(r.parameters.active)
        ),
    ]);
    if r.expert_count > 0 {
        t.add_row(vec![
            "experts".to_string(),
            format!(
                "{} routed, {} used per token",
                r.expert_count, r.expert_used
            ),
        ]);
    }
    t.add_row(vec!["size".to_string(), Bytes(r.bytes.total).to_string()]);
    let kv = &r.kv_bytes_per_1k_tokens;
    t.add_row(vec![
        "KV per 1k tokens".to_string(),
        format!(
            "f16 {}, q8_0 {}, q4_0 {}",
            Bytes(kv.f16),
            Bytes(kv.q8_0),
            Bytes(kv.q4_0)
        ),
    ]);
    t.add_row(vec![
        "engines".to_string(),
        if r.engines.is_empty() {
            "none known".to_string()
        } else {
            r.engines.join(", ")
        },
    ]);
    out.push_str(&t.to_string());
    out.push('\n');

    let mut c = Table::new();
    c.load_preset(UTF8_FULL_CONDENSED);
    c.set_header(vec!["class", "bytes"]);
    for (k, v) in &r.bytes.by_class {
        c.add_row(vec![k.clone(), Bytes(*v).to_string()]);
    }
    out.push_str(&c.to_string());
    out.push('\n');

    let mut q = Table::new();
    q.load_preset(UTF8_FULL_CONDENSED);
    q.set_header(vec!["type", "bytes", "share"]);
    for (k, v) in &r.bytes.by_type {
        let share = *v as f64 * 100.0 / r.bytes.total.max(1) as f64;
        q.add_row(vec![
            k.clone(),
            Bytes(*v).to_string(),
            format!("{share:.1}%"),
        ]);
    }
    out.push_str(&q.to_string());
    out.push('\n');

    // Per-layer summary: runs of identical layers are folded into one row.
    let mut l = Table::new();
    l.load_preset(UTF8_FULL_CONDENSED);
    l.set_header(vec![
        "layers",
        "attention",
        "kv heads",
        "expert bytes",
        "bytes",
    ]);
    let mut i = 0;
    while i < r.layers.len() {
        let a = &r.layers[i];
        let mut j = i + 1;
        while j < r.layers.len() {
            let b = &r.layers[j];
            if b.attention != a.attention
                || b.kv_heads != a.kv_heads
                || b.expert_bytes != a.expert_bytes
                || b.bytes != a.bytes
                || b.mtp != a.mtp
            {
                break;
            }
            j += 1;
        }
        let range = if j - i == 1 {
            format!("{}", a.index)
        } else {
            format!("{}-{}", a.index, r.layers[j - 1].index)
        };
        let kind = if a.mtp {
            "mtp".to_string()
        } else {
            attention_label(a.attention).to_string()
        };
        l.add_row(vec![
            range,
            kind,
            a.kv_heads.to_string(),
            Bytes(a.expert_bytes).to_string(),
            Bytes(a.bytes).to_string(),
        ]);
        i = j;
    }
    out.push_str(&l.to_string());
    out.push('\n');
    for n in &r.notes {
        out.push_str("note: ");
        out.push_str(n);
        out.push('\n');
    }
    out
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let resolved = resolve(&args.model)?;
    let r = report(&resolved.spec, &resolved.source);
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        Format::Toml => println!("{}", toml::to_string(&r)?),
        Format::Table => print!("{}", render_table(&r)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog;

    #[test]
    fn report_of_the_default_has_the_stable_keys_and_hybrid_kv() {
        let e = catalog::default_entry().unwrap();
        let spec = e.spec(None).unwrap();
        let r = report(&spec, "x");
        let v = serde_json::to_value(&r).unwrap();
        for k in [
            "architecture",
            "parameters",
            "bytes",
            "layers",
            "kv_bytes_per_1k_tokens",
            "engines",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        // qwen35moe: 10 of 40 layers are full attention, 2 KV heads x 256 dims each,
        // f16 K+V: 10 * 2 * 512 * 2 bytes = 20480 bytes per cell.
        let full = spec
            .layers
            .iter()
            .filter(|l| l.attention == AttentionKind::Full)
            .count();
        assert_eq!(full, 10);
        let per_cell = 10 * 2 * 512 * 2;
        assert_eq!(
            r.kv_bytes_per_1k_tokens.f16,
            per_cell * 1024 + r.recurrent_state_bytes
        );
        assert!(render_table(&r).contains("recurrent"));

        // gpt-oss: 12 SWA layers (window 128) hold pad256(128 + 512) = 768 cells,
        // 12 full layers 1024; 8 KV heads x 64 dims, K+V f16 = 2048 bytes per cell.
        let g = catalog::find("gpt-oss-20b").unwrap().spec(None).unwrap();
        let r = report(&g, "x");
        assert_eq!(r.kv_bytes_per_1k_tokens.f16, 12 * 2048 * (768 + 1024));
    }
}
