//! Remote GGUF headers: `https://…/model.gguf` and `hf:OWNER/REPO[:QUANT]`, read with
//! HTTP range requests that fetch the header only.
//!
//! The first request asks for [`INITIAL_READ_BYTES`]; when the parser says the header
//! is longer ([`Prefix::NeedMore`]) the range grows (at least fourfold), so a header
//! takes one to three requests and tensor data is never downloaded. A server that
//! ignores ranges is refused rather than downloaded from. `hf:` references list the
//! repository through the Hugging Face API (endpoint `RIGPLAN_HF_ENDPOINT`, default
//! <https://huggingface.co>; token `HF_TOKEN` if set) and pick the file whose quant
//! matches. Bad references, unreachable hosts and refusing servers are
//! bad input (exit 2); malformed headers are [`GgufError`]s. A progress spinner is
//! drawn only when stderr is a terminal. This module must not cache or write files.
//!
//! Hostile servers: the token goes only to Hugging Face's own hosts over https
//! ([`sends_token`]), and never along a redirect to another host; redirects are followed
//! here, one hop at a time, each hop checked like the URL the user gave (https, or
//! loopback http from loopback; a `.gguf` path unless the hop is Hugging Face's own
//! content host). Reading one header has an overall deadline ([`header_deadline`],
//! `--remote-timeout`), so a server that dribbles bytes cannot hold `inspect` forever.

use super::reader::{next_read_len, parse_prefix, Prefix, INITIAL_READ_BYTES};
use super::split::{check_shards, ShardName, KEY_SPLIT_COUNT};
use super::{GgufError, GgufFile};
use crate::error::input::Quoted;
use crate::error::{user_error, Error, Result};
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Environment variable overriding the Hugging Face endpoint (tests use loopback).
pub const HF_ENDPOINT_ENV: &str = "RIGPLAN_HF_ENDPOINT";
/// The public Hugging Face hub.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";
/// Most range requests spent on one header: 1 MiB, then ×4 each time, reaches the
/// 256 MiB header limit in 5 requests.
const MAX_REQUESTS_PER_HEADER: u32 = 8;
/// Connecting may take this long before we give up (a slow DNS or a dead host).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waiting for bytes may take this long between reads.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Reading one header (all its range requests and redirects) or one repository listing
/// may take this long in all unless `--remote-timeout` says otherwise: a header is 1 to
/// 3 requests of a few MiB, seconds on any working link.
pub const DEFAULT_HEADER_DEADLINE: Duration = Duration::from_secs(120);
/// Most redirects followed for one request (Hugging Face uses one, to its CDN).
const MAX_REDIRECTS: u32 = 5;
/// The deadline in milliseconds set by [`set_header_deadline`]; 0 is the default.
static HEADER_DEADLINE_MS: AtomicU64 = AtomicU64::new(0);

/// Sets the overall deadline of one remote header read (`--remote-timeout`).
pub fn set_header_deadline(deadline: Duration) {
    let ms = u64::try_from(deadline.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    HEADER_DEADLINE_MS.store(ms, Ordering::Relaxed);
}

/// The overall deadline of one remote header read.
pub fn header_deadline() -> Duration {
    match HEADER_DEADLINE_MS.load(Ordering::Relaxed) {
        0 => DEFAULT_HEADER_DEADLINE,
        ms => Duration::from_millis(ms),
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(READ_TIMEOUT)
        // Redirects are followed by `call`, so that each hop is checked.
        .redirects(0)
        .user_agent(concat!("rigplan/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A URL's scheme (lower case) and host (lower case, without port or user info).
fn scheme_host(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        format!("[{}]", v6.split(']').next().unwrap_or(""))
    } else {
        authority.split(':').next().unwrap_or("").to_string()
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// Hugging Face's own hosts: the hub and its content/CDN hosts.
fn is_hf_host(host: &str) -> bool {
    ["huggingface.co", "hf.co"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Whether a request to `url` carries `HF_TOKEN`: only to Hugging Face's own hosts,
/// only over https, and only to the host the request was first made to (`origin`), so a
/// redirect to another host, Hugging Face's or not, goes without it.
pub fn sends_token(url: &str, origin: &str) -> bool {
    match (scheme_host(url), scheme_host(origin)) {
        (Some((scheme, host)), Some((_, origin_host))) => {
            scheme == "https" && is_hf_host(&host) && host == origin_host
        }
        _ => false,
    }
}

/// `Location` resolved against the URL that answered with it.
fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(net) = location.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest[authority.len()..]
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{scheme}://{authority}{dir}/{location}")
}

/// Checks one redirect hop from `from` to `to`: no step down from https, plain http
/// only between loopback hosts, and a `.gguf` path when `gguf` (unless the hop is to
/// Hugging Face's own content host, whose paths are content hashes).
fn check_redirect(from: &str, to: &str, gguf: bool) -> Result<()> {
    let refuse = |why: &str| {
        Err(user_error(format!(
            "'{from}': redirects to '{}', {why}; not followed",
            Quoted(to)
        )))
    };
    let (Some((from_scheme, _)), Some((scheme, host))) = (scheme_host(from), scheme_host(to))
    else {
        return refuse("which is not an http(s) URL");
    };
    match scheme.as_str() {
        "https" => {}
        "http" if from_scheme == "http" && is_loopback_host(&host) => {}
        _ => return refuse("which is not https"),
    }
    let path = to.split(['?', '#']).next().unwrap_or(to);
    if gguf
        && !(scheme == "https" && is_hf_host(&host))
        && !path.to_ascii_lowercase().ends_with(".gguf")
    {
        return refuse("which is not a .gguf path");
    }
    Ok(())
}

/// Time left before `deadline`, or the error naming the URL that ran out of it.
fn time_left(url: &str, deadline: Instant) -> Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(deadline_error(url)),
    }
}

fn deadline_error(url: &str) -> Error {
    user_error(format!(
        "'{url}': no answer within {} s, the overall deadline of one remote read (--remote-timeout SECS changes it)",
        header_deadline().as_secs_f64()
    ))
}

/// One GET with `headers`, following redirects hop by hop (each checked with
/// [`check_redirect`]; `HF_TOKEN` added per hop as [`sends_token`] allows), within
/// `deadline`. Returns the final URL and its response, or the request's error.
fn call(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, String)],
    gguf: bool,
    deadline: Instant,
) -> Result<(String, std::result::Result<ureq::Response, ureq::Error>)> {
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    let mut at = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let mut req = agent.get(&at).timeout(time_left(url, deadline)?);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        if let Some(token) = token.as_deref().filter(|_| sends_token(&at, url)) {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(e) if Instant::now() >= deadline => {
                drop(e);
                return Err(deadline_error(url));
            }
            Err(e) => return Ok((at, Err(e))),
        };
        if !matches!(resp.status(), 301 | 302 | 303 | 307 | 308) {
            return Ok((at, Ok(resp)));
        }
        let Some(location) = resp.header("Location") else {
            return Err(user_error(format!(
                "'{at}': HTTP {} redirect without a Location header",
                resp.status()
            )));
        };
        let next = resolve_location(&at, location);
        check_redirect(&at, &next, gguf)?;
        at = next;
    }
    Err(user_error(format!(
        "'{url}': more than {MAX_REDIRECTS} redirects; not followed"
    )))
}

/// Reads the header of a remote `.gguf` (and of its other shards, for a split model).
pub fn open_url(url: &str) -> Result<Vec<GgufFile>> {
    check_url(url)?;
    let agent = agent();
    let first = read_header(&agent, url)?;
    let Some(count) = first.get_u64(KEY_SPLIT_COUNT).filter(|&c| c > 1) else {
        return Ok(vec![first]);
    };
    let name = url.split(['?', '#']).next().unwrap_or(url);
    let Some(shard_name) = ShardName::parse(name) else {
        return Err(user_error(format!(
            "'{url}': is one shard of a {count}-shard model, but its name does not end in -NNNNN-of-{count:05}.gguf"
        )));
    };
    if shard_name.number != 1 || u64::from(shard_name.count) != count {
        return Err(user_error(format!(
            "'{url}': give the first shard ({}) of this {count}-shard model",
            shard_name.shard(1)
        )));
    }
    let mut shards = vec![first];
    for number in 2..=shard_name.count {
        shards.push(read_header(&agent, &shard_name.shard(number))?);
    }
    check_shards(&shards)?;
    Ok(shards)
}

fn check_url(url: &str) -> Result<()> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.starts_with(p));
    if !url.starts_with("https://") && !loopback {
        return Err(user_error(format!(
            "'{url}': only https:// URLs are supported"
        )));
    }
    if !path.to_ascii_lowercase().ends_with(".gguf") {
        return Err(user_error(format!("'{url}': not a .gguf URL")));
    }
    Ok(())
}

/// A one-line reason for a failed request, as a bad-input error naming the URL.
fn request_error(url: &str, err: ureq::Error) -> Error {
    match err {
        ureq::Error::Status(404, _) => user_error(format!("'{url}': not found (HTTP 404)")),
        ureq::Error::Status(code @ (401 | 403), _) => user_error(format!(
            "'{url}': access denied (HTTP {code}); a gated or private repository needs HF_TOKEN"
        )),
        ureq::Error::Status(code, r) => user_error(format!(
            "'{url}': HTTP {code} '{}'",
            Quoted(r.status_text())
        )),
        ureq::Error::Transport(t) => {
            let reason = t
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| t.kind().to_string());
            user_error(format!(
                "'{url}': cannot reach the server: {}",
                Quoted(&reason)
            ))
        }
    }
}

fn progress(url: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("reading GGUF header of {url}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// One range request: bytes `start..end` (end exclusive). Returns the bytes and the
/// total file size from `Content-Range`.
fn get_range(
    agent: &ureq::Agent,
    url: &str,
    start: u64,
    end: u64,
    deadline: Instant,
) -> Result<(Vec<u8>, u64)> {
    let range = format!("bytes={start}-{}", end.saturating_sub(1));
    let (_, resp) = call(agent, url, &[("Range", range)], true, deadline)?;
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(416, _)) => {
            return Err(user_error(format!(
                "'{url}': the server says the file has no byte {start} (HTTP 416); it is not a GGUF model"
            )))
        }
        Err(e) => return Err(request_error(url, e)),
    };
    if resp.status() != 206 {
        return Err(user_error(format!(
            "'{url}': the server ignores HTTP range requests (HTTP {} instead of 206); refusing to download the whole file",
            resp.status()
        )));
    }
    let total = resp
        .header("Content-Range")
        .and_then(|v| v.rsplit_once('/'))
        .and_then(|(_, total)| total.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            user_error(format!(
                "'{url}': the server sent no usable Content-Range header, so the file size is unknown"
            ))
        })?;
    let want = end.min(total).saturating_sub(start);
    let mut body = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
    let read = resp.into_reader().take(want).read_to_end(&mut body);
    if let Err(e) = read {
        if Instant::now() >= deadline || e.kind() == std::io::ErrorKind::TimedOut {
            return Err(deadline_error(url));
        }
        return Err(user_error(format!(
            "'{url}': reading the response failed: {}",
            Quoted(&e.to_string())
        )));
    }
    Ok((body, total))
}

/// Reads and parses one header with growing range requests.
fn read_header(agent: &ureq::Agent, url: &str) -> Result<GgufFile> {
    let bar = progress(url);
    let path = Path::new(url);
    let deadline = Instant::now() + header_deadline();
    let (mut buf, total) = get_range(agent, url, 0, INITIAL_READ_BYTES, deadline)?;
    let mut requests = 1;
    loop {
        bar.set_position(buf.len() as u64);
        let have = buf.len() as u64;
        match parse_prefix(path, &buf, total)? {
            Prefix::Complete(f) => {
                bar.finish_and_clear();
                return Ok(*f);
            }
            Prefix::NeedMore { at_least } => {
                let next = next_read_len(have, at_least, total);
                if next <= have || requests >= MAX_REQUESTS_PER_HEADER {
                    return Err(GgufError::Malformed {
                        path: path.to_path_buf(),
                        offset: have,
                        what: format!(
                            "the server sent only {have} of the {at_least} header bytes needed"
                        ),
                    }
                    .into());
                }
                let (more, _) = get_range(agent, url, have, next, deadline)?;
                if more.is_empty() {
                    return Err(user_error(format!(
                        "'{url}': the server sent no bytes for range {have}-{}",
                        next - 1
                    )));
                }
                buf.extend_from_slice(&more);
                requests += 1;
            }
        }
    }
}

/// One quantisation offered by a Hugging Face repository.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HfQuant {
    /// The quant as spelled in the file name, upper case (`Q4_K_M`, `UD-Q4_K_XL`, `BF16`).
    pub quant: String,
    /// Path in the repository of the file (the first shard of a split model).
    pub file: String,
    /// Number of shards (1 for a single file).
    pub shards: u32,
    /// Total bytes of all shards, when the listing says.
    pub size: Option<u64>,
}

/// The endpoint: `RIGPLAN_HF_ENDPOINT` or the public hub, without a trailing slash.
pub fn hf_endpoint() -> String {
    std::env::var(HF_ENDPOINT_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_HF_ENDPOINT.to_string())
        .trim_end_matches('/')
        .to_string()
}

fn check_repo(owner_repo: &str) -> Result<()> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match owner_repo.split_once('/') {
        Some((owner, repo)) if ok_part(owner) && ok_part(repo) => Ok(()),
        _ => Err(user_error(format!(
            "'hf:{owner_repo}': expected hf:OWNER/REPO[:QUANT]"
        ))),
    }
}

/// Lists the GGUF quants in a Hugging Face repository (vision projectors excluded),
/// sorted by name.
pub fn list_hf_quants(owner_repo: &str) -> Result<Vec<HfQuant>> {
    check_repo(owner_repo)?;
    let url = format!(
        "{}/api/models/{owner_repo}/tree/main?recursive=1",
        hf_endpoint()
    );
    let deadline = Instant::now() + header_deadline();
    let (_, resp) = call(&agent(), &url, &[], false, deadline)?;
    let listing: serde_json::Value = match resp {
        Ok(r) => {
            // A repository listing is a few hundred KB at most; cap what we read.
            let mut body = Vec::new();
            if let Err(e) = r.into_reader().take(64 << 20).read_to_end(&mut body) {
                if Instant::now() >= deadline || e.kind() == std::io::ErrorKind::TimedOut {
                    return Err(deadline_error(&url));
                }
                return Err(user_error(format!(
                    "'{url}': reading the listing failed: {}",
                    Quoted(&e.to_string())
                )));
            }
            serde_json::from_slice(&body)
                .map_err(|e| user_error(format!("'{url}': the listing is not JSON: {e}")))?
        }
        Err(ureq::Error::Status(404, _)) => {
            return Err(user_error(format!(
                "'hf:{owner_repo}': no such repository (HTTP 404 from {url})"
            )))
        }
        Err(e) => return Err(request_error(&url, e)),
    };
    Ok(quants_from_listing(&listing))
}

/// (path, size) of every file in a tree listing (`[{type, path, size}]`) or a model
/// info object (`{siblings: [{rfilename, size?}]}`).
fn files_in_listing(listing: &serde_json::Value) -> Vec<(String, Option<u64>)> {
    let entries = listing
        .as_array()
        .or_else(|| listing.get("siblings").and_then(|s| s.as_array()));
    entries
        .into_iter()
        .flatten()
        .filter(|e| {
            e.get("type")
                .and_then(|t| t.as_str())
                .is_none_or(|t| t == "file")
        })
        .filter_map(|e| {
            let path = e
                .get("path")
                .or_else(|| e.get("rfilename"))
                .and_then(|p| p.as_str())?;
            let size = e
                .get("lfs")
                .and_then(|l| l.get("size"))
                .or_else(|| e.get("size"))
                .and_then(|s| s.as_u64());
            Some((path.to_string(), size))
        })
        .collect()
}

fn quants_from_listing(listing: &serde_json::Value) -> Vec<HfQuant> {
    let files = files_in_listing(listing);
    let mut out: Vec<HfQuant> = Vec::new();
    for (path, _) in &files {
        let base = path.rsplit('/').next().unwrap_or(path);
        let lower = base.to_ascii_lowercase();
        if !lower.ends_with(".gguf") || lower.contains("mmproj") {
            continue;
        }
        let (stem_name, shards) = match ShardName::parse(path) {
            Some(s) if s.number == 1 => (s.prefix.clone(), s.count),
            Some(_) => continue,
            None => (path.trim_end_matches(".gguf").to_string(), 1),
        };
        let size = if shards == 1 {
            files.iter().find(|(p, _)| p == path).and_then(|(_, s)| *s)
        } else {
            let names = ShardName::parse(path);
            names.and_then(|n| {
                (1..=n.count)
                    .map(|k| {
                        let want = n.shard(k);
                        files.iter().find(|(p, _)| *p == want).and_then(|(_, s)| *s)
                    })
                    .sum::<Option<u64>>()
            })
        };
        let stem_base = stem_name.rsplit('/').next().unwrap_or(&stem_name);
        let quant = quant_label(stem_base).unwrap_or_else(|| stem_base.to_string());
        out.push(HfQuant {
            quant,
            file: path.clone(),
            shards,
            size,
        });
    }
    out.sort_by(|a, b| a.quant.cmp(&b.quant).then(a.file.cmp(&b.file)));
    out
}

/// Whether one `-`/`.`-separated token of a file name is a quant name: `Q4_K_M`,
/// `IQ2_XXS`, `Q8_0`, `TQ1_0`, `F16`, `BF16`, `F32`, `MXFP4`, `MXFP4_MOE`.
fn is_quant_token(t: &str) -> bool {
    let u = t.to_ascii_uppercase();
    if matches!(u.as_str(), "F16" | "BF16" | "F32" | "FP16" | "FP32") || u.starts_with("MXFP4") {
        return true;
    }
    let rest = u
        .strip_prefix("IQ")
        .or_else(|| u.strip_prefix("TQ"))
        .or_else(|| u.strip_prefix('Q'));
    let Some(rest) = rest else { return false };
    let mut chars = rest.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_digit())
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The quant named in a file stem (`Qwen3.5-35B-A3B-UD-Q4_K_XL` → `UD-Q4_K_XL`): the
/// last quant-like token, with a preceding `UD` kept (Unsloth's dynamic quants).
pub fn quant_label(stem: &str) -> Option<String> {
    let tokens: Vec<&str> = stem.split(['-', '.']).collect();
    let i = tokens.iter().rposition(|t| is_quant_token(t))?;
    let q = tokens[i].to_ascii_uppercase();
    if i > 0 && tokens[i - 1].eq_ignore_ascii_case("ud") {
        Some(format!("UD-{q}"))
    } else {
        Some(q)
    }
}

/// Picks the quant asked for (case-insensitive, exact label first, then a file name
/// containing it); with none asked, the only one. Errors list what is available.
pub fn choose_quant<'a>(
    owner_repo: &str,
    quants: &'a [HfQuant],
    wanted: Option<&str>,
) -> Result<&'a HfQuant> {
    let available = || {
        let mut names: Vec<&str> = quants.iter().map(|q| q.quant.as_str()).collect();
        names.dedup();
        names.join(", ")
    };
    if quants.is_empty() {
        return Err(user_error(format!(
            "'hf:{owner_repo}': the repository has no .gguf files"
        )));
    }
    let Some(wanted) = wanted else {
        return match quants {
            [only] => Ok(only),
            _ => Err(user_error(format!(
                "'hf:{owner_repo}': several quants; pick one with hf:{owner_repo}:QUANT ({})",
                available()
            ))),
        };
    };
    let exact: Vec<&HfQuant> = quants
        .iter()
        .filter(|q| q.quant.eq_ignore_ascii_case(wanted))
        .collect();
    let found = if exact.is_empty() {
        let w = wanted.to_ascii_lowercase();
        quants
            .iter()
            .filter(|q| q.file.to_ascii_lowercase().contains(&w))
            .collect()
    } else {
        exact
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(user_error(format!(
            "'hf:{owner_repo}:{wanted}': no such quant; available: {}",
            available()
        ))),
        many => Err(user_error(format!(
            "'hf:{owner_repo}:{wanted}': ambiguous, matches {}",
            many.iter()
                .map(|q| q.file.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Percent-encodes a repository path for a URL (keeps `/` and unreserved characters).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads the header(s) of `hf:OWNER/REPO[:QUANT]`.
pub fn open_hf(owner_repo: &str, quant: Option<&str>) -> Result<Vec<GgufFile>> {
    let quants = list_hf_quants(owner_repo)?;
    let chosen = choose_quant(owner_repo, &quants, quant)?;
    open_hf_file(owner_repo, chosen)
}

/// Reads the header(s) of one file of a listing from [`list_hf_quants`].
pub fn open_hf_file(owner_repo: &str, file: &HfQuant) -> Result<Vec<GgufFile>> {
    let url = format!(
        "{}/{owner_repo}/resolve/main/{}",
        hf_endpoint(),
        encode_path(&file.file)
    );
    open_url(&url)
}

/// Parses `hf:OWNER/REPO[:QUANT]` into its parts; `None` if it does not start with `hf:`.
pub fn parse_hf_ref(reference: &str) -> Option<(String, Option<String>)> {
    let rest = reference.strip_prefix("hf:")?;
    Some(match rest.split_once(':') {
        Some((repo, q)) if !q.is_empty() => (repo.to_string(), Some(q.to_string())),
        Some((repo, _)) => (repo.to_string(), None),
        None => (rest.to_string(), None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quant_labels_from_real_file_names() {
        let cases = [
            ("Qwen3.5-35B-A3B-UD-Q4_K_XL", Some("UD-Q4_K_XL")),
            ("Qwen3-30B-A3B-Q4_K_M", Some("Q4_K_M")),
            ("gpt-oss-20b-MXFP4", Some("MXFP4")),
            ("DeepSeek-R1-UD-IQ1_S", Some("UD-IQ1_S")),
            ("Llama-3.2-3B-Instruct-IQ2_XXS", Some("IQ2_XXS")),
            ("gemma-4-26b-a4b-it-bf16", Some("BF16")),
            ("model.Q8_0", Some("Q8_0")),
            ("README", None),
        ];
        for (stem, want) in cases {
            assert_eq!(quant_label(stem).as_deref(), want, "{stem}");
        }
    }

    fn listing() -> serde_json::Value {
        serde_json::json!([
            {"type": "directory", "path": "BF16"},
            {"type": "file", "path": "README.md", "size": 10},
            {"type": "file", "path": "M-Q4_K_M.gguf", "size": 100, "lfs": {"size": 1000}},
            {"type": "file", "path": "M-UD-Q4_K_XL.gguf", "size": 200},
            {"type": "file", "path": "mmproj-F16.gguf", "size": 5},
            {"type": "file", "path": "BF16/M-BF16-00001-of-00002.gguf", "size": 7},
            {"type": "file", "path": "BF16/M-BF16-00002-of-00002.gguf", "size": 8},
        ])
    }

    #[test]
    fn lists_quants_and_chooses_case_insensitively() {
        let q = quants_from_listing(&listing());
        let names: Vec<(&str, u32, Option<u64>)> = q
            .iter()
            .map(|q| (q.quant.as_str(), q.shards, q.size))
            .collect();
        assert_eq!(
            names,
            vec![
                ("BF16", 2, Some(15)),
                ("Q4_K_M", 1, Some(1000)),
                ("UD-Q4_K_XL", 1, Some(200))
            ]
        );
        assert_eq!(
            choose_quant("o/r", &q, Some("ud-q4_k_xl")).unwrap().file,
            "M-UD-Q4_K_XL.gguf"
        );
        assert_eq!(
            choose_quant("o/r", &q, Some("bf16")).unwrap().file,
            "BF16/M-BF16-00001-of-00002.gguf"
        );
        let e = choose_quant("o/r", &q, Some("Q8_0"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "'hf:o/r:Q8_0': no such quant; available: BF16, Q4_K_M, UD-Q4_K_XL"
        );
        let e = choose_quant("o/r", &q, Some("Q4_K"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "'hf:o/r:Q4_K': ambiguous, matches M-Q4_K_M.gguf, M-UD-Q4_K_XL.gguf"
        );
        let e = choose_quant("o/r", &q, None).unwrap_err().to_string();
        assert!(e.contains("several quants"), "{e}");
    }

    #[test]
    fn the_token_goes_only_to_hugging_face_over_https_and_never_across_hosts() {
        let hub = "https://huggingface.co/o/r/resolve/main/m.gguf";
        assert!(sends_token(hub, hub));
        assert!(sends_token("https://huggingface.co/api/models/o/r", hub));
        // Plain http, even to the hub; any other host; loopback.
        assert!(!sends_token("http://huggingface.co/o/r/m.gguf", hub));
        assert!(!sends_token(
            "http://127.0.0.1:8080/x.gguf",
            "http://127.0.0.1:8080/x.gguf"
        ));
        let evil = "https://evil.example/x.gguf";
        assert!(!sends_token(evil, evil));
        assert!(!sends_token(
            "https://huggingface.co.evil.example/x.gguf",
            hub
        ));
        assert!(!sends_token("https://evilhuggingface.co/x.gguf", hub));
        // A redirect from the hub to its CDN (another host) goes without it.
        assert!(!sends_token(
            "https://cas-bridge.xethub.hf.co/abc?sig=1",
            hub
        ));
        // The user info part cannot pose as the host.
        assert!(!sends_token(
            "https://huggingface.co@evil.example/x.gguf",
            hub
        ));
        assert!(!sends_token(
            "https://evil.example/x.gguf",
            "https://evil.example@huggingface.co/"
        ));
    }

    #[test]
    fn each_redirect_hop_is_checked_like_the_url() {
        let from = "https://huggingface.co/o/r/resolve/main/m.gguf";
        assert!(
            check_redirect(from, "https://cas-bridge.xethub.hf.co/x/abc123?sig=1", true).is_ok()
        );
        assert!(check_redirect(from, "https://mirror.example/m.gguf", true).is_ok());
        for (to, why) in [
            ("http://huggingface.co/m.gguf", "not https"),
            ("http://127.0.0.1/m.gguf", "not https"),
            ("https://mirror.example/m.bin", "not a .gguf path"),
            ("file:///etc/passwd", "not https"),
            ("/etc/passwd", "not an http(s) URL"),
        ] {
            let e = check_redirect(from, to, true).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(why), "{to}: {e}");
        }
        let local = "http://127.0.0.1:9/a.gguf";
        assert!(check_redirect(local, "http://127.0.0.1:9/b.gguf", true).is_ok());
        assert!(check_redirect(local, "http://10.0.0.1/b.gguf", true).is_err());
        // A listing (not a .gguf read) may land on any https path.
        assert!(check_redirect(from, "https://huggingface.co/api/x", false).is_ok());
        assert_eq!(
            resolve_location(local, "/c.gguf"),
            "http://127.0.0.1:9/c.gguf"
        );
        assert_eq!(
            resolve_location(local, "d/e.gguf"),
            "http://127.0.0.1:9/d/e.gguf"
        );
        assert_eq!(resolve_location(from, "//hf.co/x"), "https://hf.co/x");
    }

    #[test]
    fn references_and_urls_are_checked_before_any_request() {
        assert_eq!(
            parse_hf_ref("hf:a/b:Q4_K_M"),
            Some(("a/b".into(), Some("Q4_K_M".into())))
        );
        assert_eq!(parse_hf_ref("hf:a/b"), Some(("a/b".into(), None)));
        assert_eq!(parse_hf_ref("a/b"), None);
        assert!(check_repo("unsloth/Qwen3.5-35B-A3B-GGUF").is_ok());
        for bad in ["a", "a/b/c", "/b", "a/", "a/../b", "a b/c"] {
            let e = check_repo(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        assert!(check_url("ftp://x/y.gguf").is_err());
        assert!(check_url("http://example.com/y.gguf").is_err());
        assert!(check_url("https://example.com/y.bin").is_err());
        assert!(check_url("https://example.com/y.gguf?download=1").is_ok());
        assert!(check_url("http://127.0.0.1:8080/y.gguf").is_ok());
        assert_eq!(encode_path("a b/c+d.gguf"), "a%20b/c%2Bd.gguf");
    }
}
