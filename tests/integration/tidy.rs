//! Tidy: the source keeps the invariants ARCHITECTURE.md writes down. It reads `src/`
//! and fails on a top-level module using one it must not (the layer table below), a
//! file without its `//!` paragraph, clap or anyhow inside the library, an engine branch
//! outside `src/engine/`, I/O or the clock in the pure modules, or a planner function
//! longer than the planner allows. Test-only code (`#[cfg(test)]`) is exempt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the top-level modules it may use (ARCHITECTURE.md,
/// "Layers"). Lower layers first; nothing may use a module listed after it except
/// where written here.
const LAYERS: &[(&str, &[&str])] = &[
    ("units", &[]),
    ("error", &["units"]),
    ("cli", &[]),
    ("plan", &["units"]),
    ("gguf", &["error", "units"]),
    ("hardware", &["plan", "error", "units"]),
    ("model", &["gguf", "error", "units"]),
    ("engine", &["plan", "hardware", "error", "units"]),
    (
        "perf",
        &[
            "plan", "engine", "hardware", "model", "gguf", "error", "units",
        ],
    ),
    (
        "planner",
        &[
            "plan", "perf", "engine", "hardware", "model", "gguf", "error", "units",
        ],
    ),
    (
        "generate",
        &["plan", "engine", "hardware", "error", "units"],
    ),
    (
        "tune",
        &[
            "plan", "planner", "perf", "engine", "hardware", "model", "gguf", "error", "units",
        ],
    ),
    (
        "ops",
        &[
            "plan", "planner", "perf", "engine", "generate", "tune", "hardware", "model", "gguf",
            "error", "units",
        ],
    ),
    (
        "commands",
        &[
            "cli", "ops", "plan", "planner", "engine", "generate", "tune", "hardware", "model",
            "gguf", "error", "units",
        ],
    ),
];

/// Files (relative to `src/`) that may name an `EngineKind` variant outside
/// `src/engine/`: the request's default engine, and mainline's default context
/// configuration (`MemoryConfig::mainline`, for tests and reports). Engine differences
/// are data in `src/engine/`; at most a handful of these remain.
const ENGINE_KIND_ALLOWED: &[&str] = &["planner/request.rs", "planner/memory/mod.rs"];
const ENGINE_KIND_MAX: usize = 5;

/// The planner's longest function, in lines.
const PLANNER_MAX_FN_LINES: usize = 150;

/// Modules that must stay pure: no files, processes, environment, network or clock.
const PURE: &[&str] = &["plan", "planner", "perf", "engine"];
const IMPURE_APIS: &[&str] = &[
    "std::fs",
    "std::process",
    "std::env",
    "std::net",
    "SystemTime",
    "Instant::now",
    "File::open",
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, relative path and text.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&src_dir(), &src_dir(), &mut out);
    assert!(out.len() > 50, "found only {} source files", out.len());
    out
}

/// The top-level module a file belongs to (`planner/memory/kv.rs` -> `planner`).
fn top_module(rel: &str) -> &str {
    let first = rel.split('/').next().unwrap_or(rel);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// Code without comments, string and char literals (replaced by spaces, newlines kept).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    while i < c.len() {
        if c[i] == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (at(i + 1) == '"' || (at(i + 1) == '#' && !c[i.saturating_sub(1)].is_alphanumeric()))
        {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(c[j]));
                j += 1;
            }
            i = j;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                }
                i += 1;
            }
            i += 1;
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\u{..}'), else a lifetime.
            let end = if at(i + 1) == '\\' {
                (i + 2..c.len().min(i + 12)).find(|&k| c[k] == '\'')
            } else if at(i + 2) == '\'' {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => i = e + 1,
                None => {
                    out.push(c[i]);
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The end (exclusive) of the item starting at `start`: its matching `}` or its `;`.
fn item_end(code: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    for (k, &b) in code.iter().enumerate().skip(start) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k + 1;
                }
            }
            b';' if depth == 0 => return k + 1,
            _ => {}
        }
    }
    code.len()
}

/// Non-test code of a file, and the files of modules declared test-only in it
/// (`#[cfg(test)] mod testing;`).
fn without_tests(code: &str) -> (String, Vec<String>) {
    let bytes = code.as_bytes();
    let mut out = String::new();
    let mut test_mods = Vec::new();
    let mut pos = 0;
    while let Some(found) = code[pos..].find("#[cfg(test)]") {
        let at = pos + found;
        out.push_str(&code[pos..at]);
        let item = at + "#[cfg(test)]".len();
        let end = item_end(bytes, item);
        let text = &code[item..end];
        if text.trim_end().ends_with(';') {
            if let Some(name) = text.split_whitespace().skip_while(|w| *w != "mod").nth(1) {
                test_mods.push(name.trim_end_matches(';').to_string());
            }
        }
        out.push_str(&"\n".repeat(text.matches('\n').count()));
        pos = end;
    }
    out.push_str(&code[pos..]);
    (out, test_mods)
}

/// Top-level modules a piece of code names through `crate::` (`crate::a::b`,
/// `crate::{a, b::c}`).
fn crate_uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (k, _) in code.match_indices("crate::") {
        if k > 0 && code[..k].ends_with('$') {
            continue;
        }
        let rest = &code[k + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (j, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start && depth == 0 => {
                        out.insert(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

/// The library's non-test code, file by file (test-only module files left out).
fn library() -> Vec<(String, String)> {
    let files = sources();
    let mut test_only = BTreeSet::new();
    let mut cleaned = Vec::new();
    for (rel, text) in &files {
        let (code, mods) = without_tests(&code_only(text));
        let dir = match rel.rsplit_once('/') {
            Some((d, "mod.rs")) => format!("{d}/"),
            Some((d, f)) => format!("{d}/{}/", f.trim_end_matches(".rs")),
            None if rel == "lib.rs" || rel == "main.rs" => String::new(),
            None => format!("{}/", rel.trim_end_matches(".rs")),
        };
        for m in mods {
            test_only.insert(format!("{dir}{m}.rs"));
            test_only.insert(format!("{dir}{m}/mod.rs"));
        }
        cleaned.push((rel.clone(), code));
    }
    cleaned.retain(|(rel, _)| !test_only.contains(rel));
    cleaned
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut bad = Vec::new();
    let mut seen = BTreeSet::new();
    for (rel, code) in library() {
        let top = top_module(&rel);
        if top == "lib" || top == "main" {
            continue;
        }
        seen.insert(top.to_string());
        let allowed = layers.get(top).unwrap_or_else(|| {
            panic!("src/{rel}: top-level module '{top}' is not in the layer table")
        });
        for used in crate_uses(&code) {
            if used != top && !allowed.contains(&used.as_str()) {
                bad.push(format!("src/{rel} uses crate::{used}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports the layer table forbids:\n{}",
        bad.join("\n")
    );
    let declared: BTreeSet<String> = LAYERS.iter().map(|(m, _)| m.to_string()).collect();
    assert_eq!(
        seen, declared,
        "the layer table and src/ disagree on the modules"
    );
}

/// A module using a higher one is a cycle waiting to happen: the table itself must be
/// acyclic (every module only names modules listed before it).
#[test]
fn the_layer_table_has_no_cycle() {
    for (i, (m, uses)) in LAYERS.iter().enumerate() {
        for u in *uses {
            let pos = LAYERS.iter().position(|(x, _)| x == u);
            assert!(
                pos.is_some_and(|p| p < i),
                "'{m}' may use '{u}', which is not below it in the table"
            );
        }
    }
}

#[test]
fn every_file_opens_with_its_purpose() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(rel, _)| format!("src/{rel}"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! paragraph: {missing:?}"
    );
}

#[test]
fn clap_and_anyhow_stay_at_the_edge() {
    let edge = |rel: &str| rel == "main.rs" || rel == "cli.rs" || rel.starts_with("commands/");
    let mut bad = Vec::new();
    for (rel, code) in library() {
        for (what, allowed) in [
            (
                "clap",
                rel == "main.rs" || rel == "cli.rs" || rel.starts_with("commands/"),
            ),
            ("anyhow", edge(&rel)),
        ] {
            let named =
                code.contains(&format!("{what}::")) || code.contains(&format!("use {what}"));
            if named && !allowed {
                bad.push(format!("src/{rel} uses {what}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "edge crates inside the library:\n{}",
        bad.join("\n")
    );
}

#[test]
fn engine_differences_are_engine_data() {
    let mut found = Vec::new();
    for (rel, code) in library() {
        if rel.starts_with("engine/") {
            continue;
        }
        let n = code.matches("EngineKind::LlamaCpp").count()
            + code.matches("EngineKind::IkLlamaCpp").count();
        if n > 0 {
            found.push((rel, n));
        }
    }
    let outside: Vec<&(String, usize)> = found
        .iter()
        .filter(|(rel, _)| !ENGINE_KIND_ALLOWED.contains(&rel.as_str()))
        .collect();
    assert!(
        outside.is_empty(),
        "EngineKind branches outside src/engine/ (make the difference engine data): {outside:?}"
    );
    let total: usize = found.iter().map(|(_, n)| n).sum();
    assert!(
        total <= ENGINE_KIND_MAX,
        "{total} EngineKind variants named outside src/engine/: {found:?}"
    );
}

#[test]
fn pure_modules_touch_no_file_device_or_clock() {
    let mut bad = Vec::new();
    for (rel, code) in library() {
        if !PURE.contains(&top_module(&rel)) {
            continue;
        }
        for api in IMPURE_APIS {
            if code.contains(api) {
                bad.push(format!("src/{rel} uses {api}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "I/O or the clock in a pure module:\n{}",
        bad.join("\n")
    );
}

#[test]
fn planner_functions_stay_short() {
    let mut long = Vec::new();
    for (rel, code) in library() {
        if !rel.starts_with("planner/") {
            continue;
        }
        let lines: Vec<&str> = code.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let sig = t.starts_with("fn ")
                || t.starts_with("pub fn ")
                || t.starts_with("pub(crate) fn ")
                || t.starts_with("const fn ")
                || t.starts_with("pub const fn ");
            if !sig {
                continue;
            }
            let start: usize = lines[..n].iter().map(|l| l.len() + 1).sum();
            let end = item_end(code.as_bytes(), start);
            let len = code[start..end].lines().count();
            if len > PLANNER_MAX_FN_LINES {
                long.push(format!("src/{rel}:{}: {len} lines", n + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "planner functions over {PLANNER_MAX_FN_LINES} lines: {long:?}"
    );
}

/// The checks above see what they should: known uses are found, comments, strings
/// and test code are not.
#[test]
fn the_scanner_sees_code_only() {
    let src = r#"
//! crate::hidden in a doc comment
use crate::{plan::Settings, engine::{self, info}};
use crate::units::Bytes;
let s = "crate::inside_a_string"; // crate::in_a_comment
let c = '"'; let d = crate::model::x;
#[cfg(test)]
mod tests { use crate::test_only; }
#[cfg(test)]
pub(crate) mod testing;
"#;
    let (code, mods) = without_tests(&code_only(src));
    let uses: Vec<String> = crate_uses(&code).into_iter().collect();
    assert_eq!(uses, ["engine", "model", "plan", "units"]);
    assert_eq!(mods, ["testing"]);
    assert_eq!(top_module("planner/memory/kv.rs"), "planner");
    assert_eq!(top_module("units.rs"), "units");
}
