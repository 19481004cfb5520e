//! `export --as systemd`: a hardened unit running llama-server as a dedicated user.
//!
//! Renders `templates/llama-server.service.tera`. Values are escaped for systemd's own
//! syntax (`%` specifiers, `$` expansion, double quotes); a value a unit file cannot
//! hold (a newline, a NUL) is refused as bad input. The API key file is handed over with
//! `LoadCredential=` so it can stay readable by root only.

use super::launch::{DeviceAccess, Launch};
use super::template::{render as render_template, SYSTEMD_UNIT};
use crate::error::{user_error, Result};
use serde::Serialize;
use std::path::Path;

/// Refuses characters no unit-file line can hold.
fn check_line(value: &str, what: &str) -> Result<()> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(user_error(format!(
            "{what} '{}' contains a newline or NUL, which a systemd unit file cannot hold",
            value.escape_debug()
        )));
    }
    Ok(())
}

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ',' | ':' | '@' | '+' | '=')
}

/// One word of `ExecStart=`: `%` → `%%` (specifiers), `$` → `$$` (variable expansion),
/// double-quoted with `\` and `"` escaped when it holds anything but plain characters.
pub fn exec_word(value: &str, what: &str) -> Result<String> {
    check_line(value, what)?;
    if value == ";" {
        return Ok("\\;".to_string());
    }
    let escaped = value.replace('%', "%%").replace('$', "$$");
    if !value.is_empty() && value.chars().all(is_plain) {
        return Ok(escaped);
    }
    Ok(format!(
        "\"{}\"",
        escaped.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// A path in a space-separated path list (`ReadOnlyPaths=`): specifiers escaped, quoted
/// when it holds anything but plain characters.
fn path_word(value: &str, what: &str) -> Result<String> {
    check_line(value, what)?;
    let escaped = value.replace('%', "%%");
    if !value.is_empty() && value.chars().all(is_plain) {
        return Ok(escaped);
    }
    Ok(format!(
        "\"{}\"",
        escaped.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Free text (`Description=`): specifiers escaped.
fn text(value: &str, what: &str) -> Result<String> {
    check_line(value, what)?;
    Ok(value.replace('%', "%%"))
}

#[derive(Serialize)]
struct Ctx {
    engine: String,
    model_name: String,
    description: String,
    rigplan_version: String,
    unit_name: String,
    user: String,
    service_lines: Vec<String>,
    exec_start: String,
    health_check: String,
    storage_lines: Vec<String>,
    protect_home: String,
    device_lines: Vec<String>,
    network_lines: Vec<String>,
}

/// Hardening a GPU unit leaves off, and why (the unit says so too).
const GPU_LEFT_OFF: &[&str] = &[
    "# Left off for the GPU driver: MemoryDenyWriteExecute= (CUDA and ROCm compile kernels",
    "# at run time into writable, executable memory), ProcSubset=pid (the driver reads",
    "# /proc/driver/*), PrivateUsers= (device access through the video/render groups is",
    "# not verified inside a user namespace).",
];

/// The unit's file name for a user name.
pub fn unit_name(user: &str) -> String {
    format!("{user}.service")
}

/// Renders the unit. `user` is the dedicated account (also the unit name);
/// `curl` the absolute path of curl for the health check.
pub fn render(launch: &Launch, user: &str, curl: &str) -> Result<String> {
    if user.is_empty()
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(user_error(format!(
            "service user '{user}' must be letters, digits, '-' or '_'"
        )));
    }
    let mut service_lines = Vec::new();
    for (k, v) in &launch.env {
        service_lines.push(format!(
            "Environment={}",
            path_word(&format!("{k}={v}"), "environment value")?
        ));
    }
    if launch.mlock {
        service_lines.push("# The plan locks the model in RAM (mlock).".to_string());
        service_lines.push("LimitMEMLOCK=infinity".to_string());
    }
    // The key file is copied by systemd into a private credentials directory, so the
    // original can stay root-only (mode 0600).
    let mut words = vec![exec_word(&launch.program, "engine binary")?];
    let mut args = launch.args.iter();
    while let Some(a) = args.next() {
        if a == "--api-key-file" {
            let path = args.next().map(String::as_str).unwrap_or_default();
            if !path.starts_with('/') {
                return Err(user_error(format!(
                    "--api-key-file '{path}' must be an absolute path for a unit"
                )));
            }
            service_lines.push(format!(
                "LoadCredential=api-key:{}",
                path_word(path, "--api-key-file")?
            ));
            words.push("--api-key-file".to_string());
            words.push("${CREDENTIALS_DIRECTORY}/api-key".to_string());
            continue;
        }
        words.push(exec_word(a, "engine argument")?);
    }
    let device_lines = match &launch.devices {
        DeviceAccess::None => vec![
            "PrivateDevices=yes".to_string(),
            // The CPU backend maps no code it writes, reads only its own /proc/self,
            // and needs no other user's id.
            "MemoryDenyWriteExecute=yes".to_string(),
            "ProcSubset=pid".to_string(),
            "PrivateUsers=yes".to_string(),
        ],
        DeviceAccess::Nvidia(gpus) => {
            let mut v = vec![
                "# Only the NVIDIA device nodes; the video group owns them on most distributions."
                    .to_string(),
                "SupplementaryGroups=video render".to_string(),
                "DevicePolicy=closed".to_string(),
                "DeviceAllow=/dev/nvidiactl rw".to_string(),
                "DeviceAllow=/dev/nvidia-uvm rw".to_string(),
                "DeviceAllow=/dev/nvidia-uvm-tools rw".to_string(),
            ];
            for g in gpus {
                v.push(format!("DeviceAllow=/dev/nvidia{g} rw"));
            }
            v.extend(GPU_LEFT_OFF.iter().map(|l| l.to_string()));
            v
        }
        DeviceAccess::Amd => vec![
            "# ROCm needs /dev/kfd and the DRM render nodes.".to_string(),
            "SupplementaryGroups=video render".to_string(),
            "DevicePolicy=closed".to_string(),
            "DeviceAllow=/dev/kfd rw".to_string(),
            "DeviceAllow=char-drm rw".to_string(),
        ]
        .into_iter()
        .chain(GPU_LEFT_OFF.iter().map(|l| l.to_string()))
        .collect(),
    };
    let mut storage_lines = Vec::new();
    let mut read_only: Vec<String> = Vec::new();
    let mut bind_read_only: Vec<String> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for path in [&launch.model_path, &launch.projector_path]
        .into_iter()
        .flatten()
    {
        let dir = Path::new(path)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".to_string());
        // PrivateTmp=yes gives the service an empty /tmp: a model kept there is bound
        // into it read-only (BindReadOnlyPaths= is set up after the private /tmp).
        let in_tmp = ["/tmp", "/var/tmp"]
            .iter()
            .any(|t| Path::new(&dir).starts_with(t));
        let word = path_word(&dir, "model directory")?;
        let list = if in_tmp {
            &mut bind_read_only
        } else {
            &mut read_only
        };
        if !list.contains(&word) {
            list.push(word);
        }
        dirs.push(dir);
    }
    if !read_only.is_empty() {
        storage_lines.push(format!("ReadOnlyPaths={}", read_only.join(" ")));
    }
    if !bind_read_only.is_empty() {
        storage_lines.push(
            "# The model is under a temporary directory, which PrivateTmp= replaces: bind it in."
                .to_string(),
        );
        storage_lines.push(format!("BindReadOnlyPaths={}", bind_read_only.join(" ")));
    }
    if let Some(env) = launch.download_cache_env {
        // The engine downloads on first start into a cache directory systemd creates for
        // this user (/var/cache/USER, kept across restarts).
        storage_lines.extend([
            "# The first start downloads the model into this cache directory; a download that"
                .to_string(),
            "# outlasts TimeoutStartSec fails the start, and Restart= resumes it where it stopped"
                .to_string(),
            "# (mainline common/download.cpp: a Range request on the .downloadInProgress file)."
                .to_string(),
            format!("CacheDirectory={user}"),
            format!("Environment={env}=/var/cache/{user}"),
        ]);
    }
    // Home directories stay readable only when the model or the engine lives there
    // (the `rigplan build` prefix is under ~/.local/share).
    let under_home = |p: &str| {
        ["/home", "/root", "/run/user"]
            .iter()
            .any(|h| Path::new(p).starts_with(h))
    };
    let protect_home = if dirs.iter().any(|d| under_home(d)) || under_home(&launch.program) {
        "read-only"
    } else {
        "yes"
    };
    // A server on loopback talks to loopback only.
    let network_lines = if crate::generate::launch::is_loopback(&launch.server.host) {
        vec![
            "# Loopback only: no other address may reach or be reached by the server.".to_string(),
            "IPAddressDeny=any".to_string(),
            "IPAddressAllow=localhost".to_string(),
        ]
    } else {
        Vec::new()
    };
    let check_host = if crate::generate::launch::is_loopback(&launch.server.host)
        || launch.server.host == "0.0.0.0"
        || launch.server.host == "::"
    {
        "127.0.0.1".to_string()
    } else if launch.server.host.contains(':') {
        format!("[{}]", launch.server.host.trim_matches(['[', ']']))
    } else {
        launch.server.host.clone()
    };
    let url = format!("http://{check_host}:{}/health", launch.server.port);
    // curl retries on 503 (model loading) and refused connections, 2 s apart, within
    // TimeoutStartSec=900.
    let health_check = [
        exec_word(curl, "curl path")?,
        "--silent".into(),
        "--fail".into(),
        "--output".into(),
        "/dev/null".into(),
        "--retry".into(),
        "440".into(),
        "--retry-delay".into(),
        "2".into(),
        "--retry-connrefused".into(),
        "--retry-all-errors".into(),
        "--max-time".into(),
        "5".into(),
        exec_word(&url, "health URL")?,
    ]
    .join(" ");
    let ctx = Ctx {
        engine: launch.engine.name().to_string(),
        model_name: text(&launch.model_name, "model name")?,
        description: text(&launch.model_name, "model name")?,
        rigplan_version: env!("CARGO_PKG_VERSION").to_string(),
        unit_name: unit_name(user),
        user: user.to_string(),
        service_lines,
        exec_start: words.join(" "),
        health_check,
        storage_lines,
        protect_home: protect_home.to_string(),
        device_lines,
        network_lines,
    };
    render_template("systemd unit", SYSTEMD_UNIT, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineKind, ServerOptions};

    fn launch(model: Option<&str>, projector: Option<&str>, cache: bool) -> Launch {
        Launch {
            engine: EngineKind::LlamaCpp,
            model_name: "m".into(),
            model_path: model.map(str::to_string),
            download_cache_env: cache.then_some("LLAMA_CACHE"),
            projector_path: projector.map(str::to_string),
            program: "/opt/llama-server".into(),
            args: vec!["-ngl".into(), "0".into()],
            env: vec![],
            mlock: false,
            devices: DeviceAccess::None,
            server: ServerOptions {
                host: "127.0.0.1".into(),
                port: 8080,
                api_key_file: None,
                alias: None,
            },
        }
    }

    #[test]
    fn local_files_are_read_only_paths_and_downloads_get_a_cache_directory() {
        // (model, projector, downloads) -> lines the unit must hold and must not
        let cases = [
            (
                Some("/models/a/m.gguf"),
                Some("/models/b/mmproj.gguf"),
                false,
                &["ReadOnlyPaths=/models/a /models/b"][..],
                "CacheDirectory",
            ),
            (
                None,
                None,
                true,
                &[
                    "CacheDirectory=llama-m",
                    "Environment=LLAMA_CACHE=/var/cache/llama-m",
                ][..],
                "ReadOnlyPaths",
            ),
            // A local model with a downloaded projector: both.
            (
                Some("/models/a/m.gguf"),
                None,
                true,
                &["ReadOnlyPaths=/models/a", "CacheDirectory=llama-m"][..],
                "ReadOnlyPaths=/models/a /",
            ),
        ];
        for (model, projector, cache, want, not) in cases {
            let unit =
                render(&launch(model, projector, cache), "llama-m", "/usr/bin/curl").unwrap();
            for w in want {
                assert!(unit.contains(w), "{w}:\n{unit}");
            }
            assert!(!unit.contains(not), "{not}:\n{unit}");
        }
    }

    #[test]
    fn exec_words_escape_systemd_syntax() {
        assert_eq!(exec_word("-ngl", "x").unwrap(), "-ngl");
        assert_eq!(exec_word("a b", "x").unwrap(), "\"a b\"");
        assert_eq!(exec_word("100%$HOME", "x").unwrap(), "\"100%%$$HOME\"");
        assert_eq!(
            exec_word("say \"hi\"\\", "x").unwrap(),
            "\"say \\\"hi\\\"\\\\\""
        );
        assert!(exec_word("a\nb", "x").is_err());
        // An `-ot` regex: systemd unescapes `\\` to `\` inside double quotes.
        assert_eq!(
            exec_word("^blk\\.(3|17)\\.ffn_(down|gate|up)_exps\\.=CUDA1", "x").unwrap(),
            "\"^blk\\\\.(3|17)\\\\.ffn_(down|gate|up)_exps\\\\.=CUDA1\""
        );
    }
}
