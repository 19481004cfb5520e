//! Engine arguments from plan settings: the argv rigplan hands to `llama-server` or
//! `llama-bench` of a pinned engine.
//!
//! Every option comes from the engine's table ([`super::info`]), so an option the pinned
//! version does not accept is never written; a setting whose value the engine does not
//! accept (a cache type, a split mode) is left out and named by
//! [`unsupported_settings`], which callers turn into an error. Nothing here chooses a
//! setting: the planner did that.

use super::options::{OptionKind, Tool, ValueSyntax};
use super::{info, EngineKind};
use crate::plan::{HfDownload, Settings};

/// Server-only options: where it listens and how clients reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    pub host: String,
    pub port: u16,
    pub api_key_file: Option<String>,
    pub alias: Option<String>,
}

/// llama-bench run options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    pub n_prompt: u32,
    pub n_gen: u32,
    pub repetitions: u32,
    /// `json`, `csv`, `md`...
    pub output: String,
}

/// Where llama-server finds the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelSource<'a> {
    /// A local file (`-m`).
    File(&'a str),
    /// The engine's own downloader (`-hf`/`-hfr` and `-hff`); see [`download_refusal`].
    Download(&'a HfDownload),
}

/// The `llama-server` argv (without the program name) for these settings.
pub fn launch_args(
    engine: EngineKind,
    settings: &Settings,
    model_path: &str,
    server: Option<&ServerOptions>,
) -> Vec<String> {
    launch_args_from(engine, settings, ModelSource::File(model_path), server)
}

/// [`launch_args`] with the model from a file or the engine's downloader. A download the
/// engine cannot express ([`download_refusal`]) writes no model option at all.
pub fn launch_args_from(
    engine: EngineKind,
    settings: &Settings,
    model: ModelSource<'_>,
    server: Option<&ServerOptions>,
) -> Vec<String> {
    let mut w = ArgWriter::new(engine, Tool::Server);
    match model {
        ModelSource::File(path) => w.push(OptionKind::Model, path),
        ModelSource::Download(d) => download_args(&mut w, d),
    }
    common_args(&mut w, settings);
    w.num(OptionKind::CtxSize, settings.ctx);
    w.num(OptionKind::Predict, settings.predict);
    w.num(OptionKind::Parallel, u64::from(settings.parallel));
    w.choice(
        OptionKind::FlashAttn,
        if settings.flash_attn { "on" } else { "off" },
    );
    load_mode_args(&mut w, settings);
    extras_args(&mut w, settings);
    speculative_args(&mut w, settings);
    for ot in &settings.override_tensors {
        w.push(OptionKind::OverrideTensor, ot);
    }
    if let Some(s) = server {
        w.push(OptionKind::Host, &s.host);
        w.push(OptionKind::Port, &s.port.to_string());
        if let Some(k) = &s.api_key_file {
            w.push(OptionKind::ApiKeyFile, k);
        }
        if let Some(a) = &s.alias {
            w.push(OptionKind::Alias, a);
        }
    }
    w.args
}

/// The `llama-bench` argv (without the program name) measuring these settings.
pub fn bench_args(
    engine: EngineKind,
    settings: &Settings,
    model_path: &str,
    bench: &BenchOptions,
) -> Vec<String> {
    let mut w = ArgWriter::new(engine, Tool::Bench);
    w.push(OptionKind::Model, model_path);
    w.num(OptionKind::BenchPrompt, u64::from(bench.n_prompt));
    w.num(OptionKind::BenchGen, u64::from(bench.n_gen));
    w.num(OptionKind::BenchRepetitions, u64::from(bench.repetitions));
    w.choice(OptionKind::BenchOutput, &bench.output);
    common_args(&mut w, settings);
    // mainline bench: -fa on|off; ik bench: -fa 0|1 (string_split<bool>).
    let fa = match (engine, settings.flash_attn) {
        (EngineKind::LlamaCpp, true) => "on",
        (EngineKind::LlamaCpp, false) => "off",
        (EngineKind::IkLlamaCpp, true) => "1",
        (EngineKind::IkLlamaCpp, false) => "0",
    };
    w.choice(OptionKind::FlashAttn, fa);
    load_mode_args(&mut w, settings);
    extras_args(&mut w, settings);
    if !settings.override_tensors.is_empty() {
        if let Some(spec) = info(engine).option(OptionKind::OverrideTensor, Tool::Bench) {
            if let ValueSyntax::Overrides(sep) = spec.value {
                // One value: repeating -ot would make llama-bench run one test per value.
                w.push(
                    OptionKind::OverrideTensor,
                    &settings.override_tensors.join(sep),
                );
            }
        }
    }
    w.args
}

/// Settings whose values the pinned engine does not accept, one line each. Empty when
/// [`launch_args`] and [`bench_args`] represent the settings completely.
pub fn unsupported_settings(engine: EngineKind, settings: &Settings) -> Vec<String> {
    let e = info(engine);
    let mut out = Vec::new();
    for (what, v) in [
        ("cache_type_k", &settings.cache_type_k),
        ("cache_type_v", &settings.cache_type_v),
    ] {
        if !v.is_empty() && !e.cache_types.contains(&v.as_str()) {
            out.push(format!(
                "{what} '{v}' is not a cache type of {} {} (accepted: {})",
                e.kind,
                e.short_commit(),
                e.cache_types.join(", ")
            ));
        }
    }
    let sm = &settings.split_mode;
    if !sm.is_empty() && !e.split_modes.contains(&sm.as_str()) {
        out.push(format!(
            "split_mode '{sm}' is not a split mode of {} {} (accepted: {})",
            e.kind,
            e.short_commit(),
            e.split_modes.join(", ")
        ));
    }
    if settings
        .tensor_split
        .iter()
        .any(|f| !f.is_finite() || *f < 0.0)
    {
        out.push("tensor_split holds a negative or non-finite proportion".to_string());
    }
    if !settings.extras.rpc_servers.is_empty() {
        if let Err(why) = super::rpc::supports_clusters(engine) {
            out.push(format!("rpc_servers: {why}"));
        }
    }
    out
}

/// Where llama-server finds the vision projector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectorSource<'a> {
    File(&'a str),
    /// An https URL the engine downloads (mainline `--mmproj-url`).
    Url(&'a str),
}

/// The projector options (`--mmproj FILE` or `--mmproj-url URL`, and
/// `--no-mmproj-offload` to keep it on the CPU); `None` when the engine cannot take this
/// source (ik has no projector download).
pub fn projector_args(
    engine: EngineKind,
    source: ProjectorSource<'_>,
    offload: bool,
) -> Option<Vec<String>> {
    let mut w = ArgWriter::new(engine, Tool::Server);
    let (kind, value) = match source {
        ProjectorSource::File(p) => (OptionKind::Mmproj, p),
        ProjectorSource::Url(u) => (OptionKind::MmprojUrl, u),
    };
    w.spec(kind)?;
    w.push(kind, value);
    if !offload {
        w.switch(OptionKind::NoMmprojOffload);
    }
    Some(w.args)
}

/// The projector options of a plan's projector (`None`: the engine cannot load it from
/// that source, e.g. ik and a URL).
pub fn plan_projector_args(engine: EngineKind, p: &crate::plan::Projector) -> Option<Vec<String>> {
    let source = match (&p.path, &p.url) {
        (Some(f), _) => ProjectorSource::File(f),
        (None, Some(u)) => ProjectorSource::Url(u),
        (None, None) => return None,
    };
    projector_args(engine, source, p.offload)
}

/// Why this engine cannot download `d` as it is, or `None` when it can: the engine's
/// repository option takes no quant tag and the file is unknown.
pub fn download_refusal(engine: EngineKind, d: &HfDownload) -> Option<String> {
    let e = info(engine);
    if !e.server_accepts(OptionKind::HfRepo) {
        return Some(format!("{} has no download option", e.kind));
    }
    if d.file.is_none() && !e.download.repo_takes_quant {
        return Some(format!(
            "{} downloads only a named file (-hfr REPO -hff FILE) and the file of {} in '{}' is not known",
            e.kind,
            d.quant.as_deref().unwrap_or("this quant"),
            d.repo
        ));
    }
    None
}

/// `-hf REPO -hff FILE`, or `-hf REPO:QUANT` where the engine picks the file by its quant;
/// mainline's `--no-mmproj`, since the plan counts no projector.
fn download_args(w: &mut ArgWriter, d: &HfDownload) {
    if download_refusal(w.engine, d).is_some() {
        return;
    }
    match (&d.file, &d.quant) {
        (Some(file), _) => {
            w.push(OptionKind::HfRepo, &d.repo);
            w.push(OptionKind::HfFile, file);
        }
        (None, Some(q)) => w.push(OptionKind::HfRepo, &format!("{}:{q}", d.repo)),
        (None, None) => w.push(OptionKind::HfRepo, &d.repo),
    }
    w.switch(OptionKind::NoMmproj);
}

/// Engine-specific options the planner chose (`Settings::extras`).
fn extras_args(w: &mut ArgWriter, s: &Settings) {
    let x = &s.extras;
    if x.fit_off {
        // The plan is already fitted: the engine must not move layers itself.
        w.choice(OptionKind::Fit, "off");
    }
    if x.run_time_repack {
        w.switch(OptionKind::RunTimeRepack);
    }
    if let Some(m) = x.mla {
        w.push(OptionKind::MlaUse, &m.to_string());
    }
    if let Some(a) = x.attention_max_batch {
        w.num(OptionKind::AttnMaxBatch, u64::from(a));
    }
    if x.merge_up_gate_experts {
        w.switch(OptionKind::MergeUpGateExperts);
    }
    if !x.rpc_servers.is_empty() {
        w.push(OptionKind::Rpc, &x.rpc_servers.join(","));
    }
    if let Some(mib) = x.cache_ram_mib {
        // 0 is meaningful here (disable), so not `num`, which skips zero.
        w.push(OptionKind::CacheRam, &mib.to_string());
    }
}

/// Speculative decoding (server only): the kind as the engine switches it on
/// ([`super::speculative`]), the draft model and the draft lengths. n-gram lookup keeps
/// the engine's own draft bounds.
fn speculative_args(w: &mut ArgWriter, s: &Settings) {
    use crate::plan::SpeculativeKind;
    let sp = &s.speculative;
    if sp.kind == SpeculativeKind::None {
        return;
    }
    let support = super::speculative::support(w.engine);
    if let Some(t) = support.spec_type(sp.kind) {
        w.choice(OptionKind::SpecType, t);
    } else if sp.kind == SpeculativeKind::Mtp && sp.draft_model.is_none() {
        w.flag(OptionKind::Mtp);
    }
    if let Some(d) = &sp.draft_download {
        // mainline: `-hfd REPO` with `-md FILE` naming the file in it, or `-hfd
        // REPO:QUANT`; an engine without `-hfd` gets the name alone (the plan warns).
        match (&d.file, &d.quant) {
            (Some(_), _) | (None, None) => w.push(OptionKind::DraftHfRepo, &d.repo),
            (None, Some(q)) => w.push(OptionKind::DraftHfRepo, &format!("{}:{q}", d.repo)),
        }
    }
    if let Some(m) = &sp.draft_model {
        w.push(OptionKind::DraftModel, m);
    }
    if sp.draft_on_cpu {
        if let Some(none) = support.cpu_draft_device {
            w.push(OptionKind::DraftDevice, none);
        }
    }
    if let Some(n) = sp.draft_ctx {
        w.num(OptionKind::DraftCtxSize, n);
    }
    if sp.kind != SpeculativeKind::Ngram {
        w.num(OptionKind::DraftMax, u64::from(sp.draft_max));
        w.num(OptionKind::DraftMin, u64::from(sp.draft_min));
        if sp.p_min.is_finite() && (0.0..=1.0).contains(&sp.p_min) {
            w.push(OptionKind::DraftPMin, &format!("{}", sp.p_min));
        }
    }
    if let Some(n) = sp.draft_gpu_layers {
        w.push(OptionKind::DraftGpuLayers, &n.to_string());
    }
    if let Some(t) = &sp.draft_cache_type_k {
        w.choice(OptionKind::DraftCacheTypeK, t);
    }
    if let Some(t) = &sp.draft_cache_type_v {
        w.choice(OptionKind::DraftCacheTypeV, t);
    }
    if sp.autotune {
        w.flag(OptionKind::SpecAutotune);
    }
}

/// Options both tools share, in the same order.
fn common_args(w: &mut ArgWriter, s: &Settings) {
    w.push(OptionKind::GpuLayers, &s.n_gpu_layers.to_string());
    w.num(OptionKind::NCpuMoe, u64::from(s.n_cpu_moe));
    w.choice(OptionKind::CacheTypeK, &s.cache_type_k);
    w.choice(OptionKind::CacheTypeV, &s.cache_type_v);
    w.num(OptionKind::Threads, u64::from(s.threads));
    w.num(OptionKind::Batch, u64::from(s.batch));
    w.num(OptionKind::Ubatch, u64::from(s.ubatch));
    if !s.split_mode.is_empty() {
        w.choice(OptionKind::SplitMode, &s.split_mode);
    }
    if !s.tensor_split.is_empty() && s.tensor_split.iter().all(|f| f.is_finite() && *f >= 0.0) {
        if let Some(spec) = w.spec(OptionKind::TensorSplit) {
            if let ValueSyntax::NumberList(sep) = spec.value {
                let v: Vec<String> = s.tensor_split.iter().map(|f| format!("{f}")).collect();
                w.push(OptionKind::TensorSplit, &v.join(sep));
            }
        }
    }
}

/// mmap/mlock: mainline's `-lm MODE` replaced `--mlock`/`--no-mmap` (common/arg.cpp);
/// ik keeps the switches on the server and `-mmp 0|1` on the bench.
fn load_mode_args(w: &mut ArgWriter, s: &Settings) {
    if w.spec(OptionKind::LoadMode).is_some() {
        let mode = match (s.mmap, s.mlock) {
            (true, false) => None, // the engine default, `auto`, maps the model
            (true, true) => Some("mmap+mlock"),
            (false, true) => Some("mlock"),
            (false, false) => Some("none"),
        };
        if let Some(m) = mode {
            w.choice(OptionKind::LoadMode, m);
        }
        return;
    }
    if s.mlock {
        w.flag(OptionKind::Mlock);
    }
    if !s.mmap {
        w.flag(OptionKind::NoMmap);
        w.choice(OptionKind::MmapBool, "0");
    }
}

/// Appends options through the engine's table: unknown kinds for this tool are skipped,
/// values outside a `OneOf` list are skipped (and reported by `unsupported_settings`).
struct ArgWriter {
    engine: EngineKind,
    tool: Tool,
    args: Vec<String>,
}

impl ArgWriter {
    fn new(engine: EngineKind, tool: Tool) -> ArgWriter {
        ArgWriter {
            engine,
            tool,
            args: Vec::new(),
        }
    }

    fn spec(&self, kind: OptionKind) -> Option<&'static super::OptionSpec> {
        info(self.engine).option(kind, self.tool)
    }

    fn push(&mut self, kind: OptionKind, value: &str) {
        if let Some(spec) = self.spec(kind) {
            self.args.push(spec.flag.to_string());
            self.args.push(value.to_string());
        }
    }

    fn flag(&mut self, kind: OptionKind) {
        if let Some(spec) = self.spec(kind) {
            if spec.value == ValueSyntax::Flag {
                self.args.push(spec.flag.to_string());
            }
        }
    }

    /// A positive count; zero means "engine default" and writes nothing.
    fn num(&mut self, kind: OptionKind, value: u64) {
        if value > 0 {
            self.push(kind, &value.to_string());
        }
    }

    /// An on-switch: a bare flag on the server, `FLAG 1` where the tool takes `0|1`.
    fn switch(&mut self, kind: OptionKind) {
        if let Some(spec) = self.spec(kind) {
            match spec.value {
                ValueSyntax::Flag => self.args.push(spec.flag.to_string()),
                ValueSyntax::OneOf(v) if v.contains(&"1") => self.push(kind, "1"),
                _ => {}
            }
        }
    }

    fn choice(&mut self, kind: OptionKind, value: &str) {
        if let Some(spec) = self.spec(kind) {
            if let ValueSyntax::OneOf(allowed) = spec.value {
                if allowed.contains(&value) {
                    self.push(kind, value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn settings() -> Settings {
        Settings {
            quant: Some("Q4_K_M".into()),
            n_gpu_layers: 999,
            n_cpu_moe: 12,
            ctx: 32768,
            predict: 4096,
            cache_type_k: "q8_0".into(),
            cache_type_v: "q8_0".into(),
            threads: 6,
            batch: 2048,
            ubatch: 512,
            parallel: 1,
            split_mode: "layer".into(),
            tensor_split: vec![1.0, 1.5],
            flash_attn: true,
            mlock: true,
            mmap: true,
            override_tensors: vec!["blk\\.1\\.ffn_.*_exps=CPU".into()],
            gpu_indices: vec![0, 1],
            backend: Default::default(),
            extras: Default::default(),
            speculative: Default::default(),
        }
    }

    fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    }

    #[test]
    fn mainline_uses_load_mode_not_mlock() {
        let a = launch_args(EngineKind::LlamaCpp, &settings(), "/m.gguf", None);
        assert_eq!(value_of(&a, "-lm"), Some("mmap+mlock"));
        assert!(!a.iter().any(|x| x == "--mlock" || x == "--no-mmap"));
        assert_eq!(value_of(&a, "-ts"), Some("1,1.5"));
        assert_eq!(value_of(&a, "--n-cpu-moe"), Some("12"));
        assert_eq!(value_of(&a, "-fa"), Some("on"));
    }

    #[test]
    fn ik_uses_mlock_switches_and_integer_ngl() {
        let mut s = settings();
        s.mmap = false;
        let a = launch_args(EngineKind::IkLlamaCpp, &s, "/m.gguf", None);
        assert!(a.iter().any(|x| x == "--mlock"));
        assert!(a.iter().any(|x| x == "--no-mmap"));
        assert!(!a.iter().any(|x| x == "-lm"));
        assert_eq!(value_of(&a, "-ngl"), Some("999"));
        let b = bench_args(
            EngineKind::IkLlamaCpp,
            &s,
            "/m.gguf",
            &BenchOptions {
                n_prompt: 512,
                n_gen: 128,
                repetitions: 2,
                output: "json".into(),
            },
        );
        assert_eq!(value_of(&b, "-fa"), Some("1"));
        assert_eq!(value_of(&b, "-mmp"), Some("0"));
        assert_eq!(value_of(&b, "-ts"), Some("1/1.5"));
        assert!(b.iter().any(|x| x == "--n-cpu-moe"));
    }

    #[test]
    fn unsupported_values_are_named_and_left_out() {
        let mut s = settings();
        s.split_mode = "row".into();
        s.cache_type_k = "q8_KV".into();
        let bad = unsupported_settings(EngineKind::IkLlamaCpp, &s);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].contains("split_mode 'row'"));
        let a = launch_args(EngineKind::IkLlamaCpp, &s, "/m.gguf", None);
        assert_eq!(value_of(&a, "-sm"), None);
        assert_eq!(value_of(&a, "-ctk"), Some("q8_KV"));
        let bad = unsupported_settings(EngineKind::LlamaCpp, &s);
        assert!(bad.iter().any(|b| b.contains("cache_type_k 'q8_KV'")));
        assert!(unsupported_settings(EngineKind::LlamaCpp, &settings()).is_empty());
    }

    #[test]
    fn extras_go_only_to_the_engine_that_has_them() {
        let mut s = settings();
        s.extras.fit_off = true;
        s.extras.run_time_repack = true;
        s.extras.mla = Some(3);
        s.extras.attention_max_batch = Some(512);
        s.extras.merge_up_gate_experts = true;
        let a = launch_args(EngineKind::LlamaCpp, &s, "/m.gguf", None);
        assert_eq!(value_of(&a, "-fit"), Some("off"));
        assert!(!a.iter().any(|x| x == "-rtr" || x == "-mla" || x == "-muge"));
        let a = launch_args(EngineKind::IkLlamaCpp, &s, "/m.gguf", None);
        assert!(a.iter().any(|x| x == "-rtr") && a.iter().any(|x| x == "-muge"));
        assert_eq!(value_of(&a, "-mla"), Some("3"));
        assert_eq!(value_of(&a, "-amb"), Some("512"));
        assert!(!a.iter().any(|x| x == "-fit"));
        let bench = BenchOptions {
            n_prompt: 1,
            n_gen: 1,
            repetitions: 1,
            output: "json".into(),
        };
        let b = bench_args(EngineKind::IkLlamaCpp, &s, "/m.gguf", &bench);
        assert_eq!(value_of(&b, "-rtr"), Some("1"));
        assert_eq!(value_of(&b, "-muge"), Some("1"));
    }

    #[test]
    fn server_options_follow_the_model_settings() {
        let so = ServerOptions {
            host: "127.0.0.1".into(),
            port: 8081,
            api_key_file: Some("/k".into()),
            alias: Some("my model".into()),
        };
        let a = launch_args(EngineKind::LlamaCpp, &settings(), "/m.gguf", Some(&so));
        assert_eq!(value_of(&a, "--port"), Some("8081"));
        assert_eq!(value_of(&a, "-a"), Some("my model"));
        assert_eq!(value_of(&a, "--api-key-file"), Some("/k"));
    }
}
