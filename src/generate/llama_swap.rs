//! `export --as llama-swap`: a llama-swap config with one entry per model, and groups so
//! that models whose plans do not fit in memory together never run together.
//!
//! Uses only keys of llama-swap's config schema (mostlygeek/llama-swap
//! `config-schema.json` at 032d741: top-level `healthCheckTimeout`, `models`, `groups`;
//! per model `name`, `cmd`, `env`, `aliases`, `ttl`, `checkEndpoint`; per group `swap`,
//! `exclusive`, `members`). Strings are written double-quoted with JSON escapes, which
//! YAML reads unchanged. Values llama-swap would misread — a newline (its `cmd` is split
//! into lines) or `${` (its macro syntax) — are refused as bad input.

use super::launch::Launch;
use super::shell::shell_quote;
use crate::error::{user_error, Result};
use crate::plan::Plan;
use std::collections::BTreeMap;

/// Keys this generator writes, by level, for tests against the schema.
pub const TOP_KEYS: &[&str] = &["healthCheckTimeout", "models", "groups"];
pub const MODEL_KEYS: &[&str] = &["name", "cmd", "env", "aliases", "ttl", "checkEndpoint"];
pub const GROUP_KEYS: &[&str] = &["swap", "exclusive", "members"];

/// Seconds an idle model stays loaded before llama-swap unloads it and frees its memory
/// for another (llama-swap's own default, -1/global 0, never unloads).
pub const TTL_SECONDS: u32 = 600;

/// Seconds llama-swap waits for `/health` (schema minimum 15, default 120); large models
/// from disk take minutes to load.
pub const HEALTH_CHECK_TIMEOUT_SECONDS: u32 = 900;

/// One model of the config.
pub struct Entry<'a> {
    /// The model ID clients request.
    pub id: String,
    pub aliases: Vec<String>,
    pub plan: &'a Plan,
    /// Rendered with `--port` set to [`PORT_PLACEHOLDER`]'s port (any), host loopback.
    pub launch: Launch,
}

fn yaml_str(s: &str) -> String {
    // JSON string syntax is a YAML double-quoted scalar.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn check_value(value: &str, what: &str) -> Result<()> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(user_error(format!(
            "{what} '{}' contains a newline, which a llama-swap cmd cannot hold",
            value.escape_debug()
        )));
    }
    if value.contains("${") {
        return Err(user_error(format!(
            "{what} '{value}' contains '${{', which llama-swap would read as a macro"
        )));
    }
    Ok(())
}

/// The `cmd` line: the server with every value quoted and `--port ${PORT}`.
fn cmd_line(launch: &Launch) -> Result<String> {
    check_value(&launch.program, "engine binary")?;
    let mut words = vec![shell_quote(&launch.program)];
    let mut it = launch.args.iter();
    while let Some(a) = it.next() {
        check_value(a, "engine argument")?;
        words.push(shell_quote(a));
        if a == "--port" {
            it.next();
            words.push("${PORT}".to_string());
        }
    }
    Ok(words.join(" "))
}

/// Partitions models into groups whose plans fit in memory all together: a model joins
/// the first group where, on every device, the sum of the plans' `total_bytes` stays
/// within that device's capacity. Returns indices into `plans`.
pub fn fit_groups(plans: &[&Plan]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let slot = groups.iter().position(|g| {
            let mut members: Vec<&Plan> = g.iter().filter_map(|&j| plans.get(j).copied()).collect();
            members.push(p);
            fits_together(&members)
        });
        match slot {
            Some(s) => {
                if let Some(g) = groups.get_mut(s) {
                    g.push(i);
                }
            }
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// True when the plans' memory, summed per device, fits every device's capacity.
pub fn fits_together(plans: &[&Plan]) -> bool {
    let mut used: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    for p in plans {
        for d in &p.memory.devices {
            let e = used
                .entry((d.kind.as_str(), d.name.as_str()))
                .or_insert((0, d.capacity_bytes));
            e.0 = e.0.saturating_add(d.total_bytes);
            e.1 = e.1.min(d.capacity_bytes);
        }
    }
    used.values().all(|(u, cap)| u <= cap)
}

pub fn render(entries: &[Entry<'_>]) -> Result<String> {
    let mut ids = std::collections::BTreeSet::new();
    for e in entries {
        check_value(&e.id, "model id")?;
        if e.id.is_empty() || !ids.insert(e.id.clone()) {
            return Err(user_error(format!(
                "model id '{}' is empty or used twice",
                e.id
            )));
        }
        for a in &e.aliases {
            check_value(a, "alias")?;
            if a.is_empty() || !ids.insert(a.clone()) {
                return Err(user_error(format!("alias '{a}' is empty or not unique")));
            }
        }
    }
    let mut out = String::new();
    out.push_str(&format!(
        "# llama-swap config generated by rigplan {}\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(&format!(
        "healthCheckTimeout: {HEALTH_CHECK_TIMEOUT_SECONDS}\n"
    ));
    out.push_str("models:\n");
    for e in entries {
        out.push_str(&format!("  {}:\n", yaml_str(&e.id)));
        out.push_str(&format!("    name: {}\n", yaml_str(&e.plan.model.name)));
        out.push_str(&format!("    cmd: {}\n", yaml_str(&cmd_line(&e.launch)?)));
        out.push_str("    checkEndpoint: \"/health\"\n");
        if !e.launch.env.is_empty() {
            out.push_str("    env:\n");
            for (k, v) in &e.launch.env {
                check_value(v, "environment value")?;
                out.push_str(&format!("      - {}\n", yaml_str(&format!("{k}={v}"))));
            }
        }
        if !e.aliases.is_empty() {
            out.push_str("    aliases:\n");
            for a in &e.aliases {
                out.push_str(&format!("      - {}\n", yaml_str(a)));
            }
        }
        out.push_str(&format!("    ttl: {TTL_SECONDS}\n"));
    }
    if entries.len() > 1 {
        let plans: Vec<&Plan> = entries.iter().map(|e| e.plan).collect();
        let groups = fit_groups(&plans);
        out.push_str(
            "# Each group's models fit in memory together; starting a model of one group\n",
        );
        out.push_str(
            "# unloads the other groups (exclusive), so models that do not fit together\n",
        );
        out.push_str("# never run together.\n");
        out.push_str("groups:\n");
        for (n, g) in groups.iter().enumerate() {
            out.push_str(&format!("  {}:\n", yaml_str(&format!("fit-{}", n + 1))));
            out.push_str("    swap: false\n");
            out.push_str("    exclusive: true\n");
            out.push_str("    members:\n");
            for &i in g {
                if let Some(e) = entries.get(i) {
                    out.push_str(&format!("      - {}\n", yaml_str(&e.id)));
                }
            }
        }
    }
    Ok(out)
}
