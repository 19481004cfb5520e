//! Generator tests: engine option tables against the real engines, export formats
//! against their consumers (shellcheck, systemd-analyze, llama-swap's schema), hostile
//! values through a real shell.

use crate::support_engine::{ik_llama_bin, ik_source, llama_bin, llama_source};
use crate::support_gen::*;
use rigplan::engine::{
    bench_args, info, launch_args, launch_args_from, projector_args, BenchOptions, EngineKind,
    ModelSource, ProjectorSource, ServerOptions, Tool,
};
use rigplan::plan::{EngineExtras, HfDownload, Settings};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

// ---- engine option tables ------------------------------------------------------------

/// Settings that make `launch_args`/`bench_args` emit every option kind they know, in
/// each load-mode variant (mainline `-lm`, ik `--mlock`/`--no-mmap`/`-mmp`).
fn every_option_variants() -> Vec<Settings> {
    let full = Settings {
        quant: Some("F32".into()),
        n_gpu_layers: 0,
        n_cpu_moe: 1,
        ctx: 512,
        predict: 16,
        cache_type_k: "q8_0".into(),
        cache_type_v: "q8_0".into(),
        threads: 2,
        batch: 64,
        ubatch: 32,
        parallel: 1,
        split_mode: "layer".into(),
        tensor_split: vec![1.0],
        flash_attn: true,
        mlock: true,
        mmap: true,
        override_tensors: vec!["blk\\.0\\.ffn_up\\.weight=CPU".into()],
        gpu_indices: vec![],
        backend: Default::default(),
        // Every engine-specific extra; each engine's table keeps only its own.
        extras: EngineExtras {
            fit_off: true,
            run_time_repack: true,
            mla: Some(3),
            attention_max_batch: Some(512),
            merge_up_gate_experts: true,
            cache_ram_mib: Some(1024),
            rpc_servers: vec![],
        },
        speculative: Default::default(),
    };
    let mut v = vec![full.clone()];
    for (mmap, mlock) in [(false, true), (false, false), (true, false)] {
        let mut s = full.clone();
        s.mmap = mmap;
        s.mlock = mlock;
        if !mlock {
            // -fa off; a quantized V cache needs flash attention, so f16 here.
            s.flash_attn = false;
            s.cache_type_k = "f16".into();
            s.cache_type_v = "f16".into();
            // --cache-ram 0 disables the prompt cache: zero must be emitted, not dropped.
            s.extras.cache_ram_mib = Some(0);
        }
        v.push(s);
    }
    v.extend(speculative_variants(&full));
    v
}

/// A model the engine downloads itself, named by file (both engines accept this form).
fn download() -> HfDownload {
    HfDownload {
        repo: "unsloth/Qwen3.5-35B-A3B-GGUF".into(),
        file: Some("Q8_0/Qwen3.5-35B-A3B-Q8_0-00001-of-00002.gguf".into()),
        quant: Some("Q8_0".into()),
        shards: Some(2),
    }
}

/// Every projector option an engine emits: a file kept on the CPU, and a URL where the
/// engine downloads one.
fn projector_variants(kind: EngineKind) -> Vec<String> {
    let mut args = projector_args(
        kind,
        ProjectorSource::File("/nonexistent-mmproj.gguf"),
        false,
    )
    .unwrap();
    args.extend(
        projector_args(
            kind,
            ProjectorSource::Url("https://huggingface.co/o/r/resolve/main/mmproj-F16.gguf"),
            true,
        )
        .unwrap_or_default(),
    );
    args
}

/// One settings variant per speculative kind rigplan emits, with every draft option
/// set, so every speculative flag of both tables is written and parsed.
fn speculative_variants(base: &Settings) -> Vec<Settings> {
    use rigplan::plan::{Speculative, SpeculativeKind};
    let mtp = Speculative {
        kind: SpeculativeKind::Mtp,
        draft_max: 3,
        draft_min: 1,
        p_min: 0.5,
        draft_cache_type_k: Some("q8_0".into()),
        draft_cache_type_v: Some("q8_0".into()),
        ..Speculative::default()
    };
    let draft = Speculative {
        kind: SpeculativeKind::Draft,
        draft_model: Some("/nonexistent-rigplan-draft.gguf".into()),
        draft_gpu_layers: Some(0),
        draft_on_cpu: true,
        draft_ctx: Some(2048),
        autotune: true,
        ..mtp.clone()
    };
    let ngram = Speculative {
        kind: SpeculativeKind::Ngram,
        ..Speculative::default()
    };
    [mtp, draft, ngram]
        .into_iter()
        .map(|sp| Settings {
            speculative: sp,
            ..base.clone()
        })
        .collect()
}

fn server_opts(port: u16, key: &Path) -> ServerOptions {
    ServerOptions {
        host: "127.0.0.1".into(),
        port,
        api_key_file: Some(key.to_str().unwrap().into()),
        alias: Some("tiny alias".into()),
    }
}

fn bench_opts() -> BenchOptions {
    BenchOptions {
        n_prompt: 16,
        n_gen: 4,
        repetitions: 1,
        output: "json".into(),
    }
}

/// Every option word (`-x`, `--xy`) a `--help` text lists.
fn help_options(bin: &Path) -> BTreeSet<String> {
    let out = Command::new(bin).arg("--help").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .map(|w| w.trim_end_matches([':', '.']).to_string())
        .collect()
}

fn flags_of(args: &[String]) -> BTreeSet<String> {
    args.iter()
        .filter(|a| a.starts_with('-') && a.parse::<f64>().is_err())
        .cloned()
        .collect()
}

/// Every option in `kind`'s table, and every option `launch_args`/`bench_args` can emit,
/// is listed by the built `llama-server --help` and `llama-bench --help` in `bin`.
fn help_lists_every_option(kind: EngineKind, bin: &Path) {
    let e = info(kind);
    for (tool, exe) in [(Tool::Server, "llama-server"), (Tool::Bench, "llama-bench")] {
        let help = help_options(&bin.join(exe));
        assert!(help.len() > 20, "{kind} {exe} --help listed too little");
        for spec in e.options_for(tool) {
            for f in std::iter::once(&spec.flag).chain(spec.aliases) {
                assert!(
                    help.contains(*f),
                    "{kind} {exe} --help does not list {f} ({:?})",
                    spec.kind
                );
            }
        }
        let key = PathBuf::from("/k");
        let mut emitted = BTreeSet::new();
        // `--rpc` dials its servers while the engine parses it (common/arg.cpp
        // `add_rpc_devices`), so it is checked against --help here and run for real with
        // two workers in rpc.rs.
        let mut with_rpc = every_option_variants().remove(0);
        with_rpc.extras.rpc_servers = vec!["127.0.0.1:50052".into()];
        // A draft the engine downloads (`-hfd`) would fetch it while loading: run offline
        // in mainline_server_parses_every_emitted_speculative_combination.
        let mut with_draft_download = speculative_variants(&every_option_variants()[0])[1].clone();
        with_draft_download.speculative.draft_download = Some(rigplan::plan::HfDownload {
            repo: "o/r".into(),
            file: Some("d.gguf".into()),
            quant: None,
            shards: None,
        });
        for s in every_option_variants()
            .into_iter()
            .chain([with_rpc, with_draft_download])
        {
            let args = match tool {
                Tool::Server => launch_args(kind, &s, "/m.gguf", Some(&server_opts(1, &key))),
                Tool::Bench => bench_args(kind, &s, "/m.gguf", &bench_opts()),
            };
            emitted.extend(flags_of(&args));
            if tool == Tool::Server {
                let d = download();
                let args = launch_args_from(kind, &s, ModelSource::Download(&d), None);
                emitted.extend(flags_of(&args));
                emitted.extend(flags_of(&projector_variants(kind)));
            }
        }
        for f in &emitted {
            assert!(
                help.contains(f),
                "{kind} {exe} does not accept emitted option {f}"
            );
        }
        // Every option kind of the table for this tool was exercised.
        assert_eq!(
            emitted.len(),
            e.options_for(tool).count(),
            "{kind} {exe}: {emitted:?}"
        );
    }
}

#[test]
fn mainline_help_lists_every_option_in_the_table_and_every_emitted_option() {
    let bin = llama_bin();
    help_lists_every_option(EngineKind::LlamaCpp, &bin);
    // The replaced switches are gone from this version.
    let help = help_options(&bin.join("llama-server"));
    for gone in ["--mlock", "--no-mmap", "-fmoe"] {
        assert!(
            !help.contains(gone),
            "{gone} is still listed: update the table"
        );
    }
}

/// The downloading command (`-hf REPO -hff FILE --no-mmproj`, and `-hf REPO:QUANT`)
/// passes mainline's parser: run offline (`--offline`, an empty `LLAMA_CACHE`) it gets
/// past argument parsing to the model load, which finds nothing to load.
#[test]
fn mainline_parser_accepts_the_download_options() {
    let bin = llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let mut by_quant = download();
    by_quant.file = None;
    for d in [download(), by_quant] {
        let s = every_option_variants().remove(0);
        let mut args = launch_args_from(EngineKind::LlamaCpp, &s, ModelSource::Download(&d), None);
        assert!(args.contains(&"-hf".to_string()), "{args:?}");
        // The projector from its URL, as `--mmproj auto` writes it.
        args.extend(
            projector_args(
                EngineKind::LlamaCpp,
                ProjectorSource::Url("https://huggingface.co/o/r/resolve/main/mmproj-F16.gguf"),
                true,
            )
            .unwrap(),
        );
        let out = Command::new(bin.join("llama-server"))
            .args(&args)
            .arg("--offline")
            .env("LLAMA_CACHE", tmp.path())
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("invalid argument"), "{args:?}: {text}");
        assert!(text.contains("failed to load model"), "{args:?}: {text}");
    }
}

#[test]
fn mainline_server_starts_with_every_emitted_option_and_bench_runs() {
    let bin = llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let model = model.to_str().unwrap();
    let key = tmp.path().join("api.key");
    std::fs::write(&key, "sk-test-key\n").unwrap();
    let port = free_port();
    let settings = every_option_variants().remove(0);
    let args = launch_args(
        EngineKind::LlamaCpp,
        &settings,
        model,
        Some(&server_opts(port, &key)),
    );
    for f in [
        "-lm",
        "-ctk",
        "-ctv",
        "-fa",
        "-ot",
        "--n-cpu-moe",
        "-ts",
        "-sm",
        "-np",
        "--api-key-file",
        "-a",
    ] {
        assert!(args.iter().any(|a| a == f), "{f} not emitted: {args:?}");
    }
    let log = tmp.path().join("server.log");
    let mut server = spawn_logged(Command::new(bin.join("llama-server")).args(&args), &log);
    wait_healthy_logged(&mut server, port, 60, Some(&log));
    // The alias and the API key took effect.
    let models = ureq::get(&format!("http://127.0.0.1:{port}/v1/models"))
        .set("Authorization", "Bearer sk-test-key")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(models.contains("tiny alias"), "{models}");
    let unauth = ureq::get(&format!("http://127.0.0.1:{port}/v1/models")).call();
    assert!(
        matches!(unauth, Err(ureq::Error::Status(401, _))),
        "no key must be refused"
    );
    drop(server);

    for s in every_option_variants() {
        let args = bench_args(EngineKind::LlamaCpp, &s, model, &bench_opts());
        let out = Command::new(bin.join("llama-bench"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "llama-bench {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(runs.as_array().is_some_and(|r| !r.is_empty()), "{runs}");
    }
}

/// Runs the server `cmd` with `args` (a main model that does not exist) and asserts its
/// parser took every option: it got as far as loading the model, and no argument error.
fn parsed_then_failed_to_load(cmd: &mut Command, args: &[String]) {
    let out = cmd.args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("rror while handling argument") && !text.contains("invalid argument"),
        "llama-server {args:?}: {text}"
    );
    assert!(text.contains("failed to load model"), "{args:?}: {text}");
}

/// The built mainline `llama-server` parses every speculative combination rigplan
/// writes: with a missing model it gets past the parser to the model load (a bad value
/// or option stops it at "error while handling argument" / "invalid argument").
#[test]
fn mainline_server_parses_every_emitted_speculative_combination() {
    let bin = llama_bin();
    let key = PathBuf::from("/k");
    let mut seen = BTreeSet::new();
    for s in speculative_variants(&every_option_variants()[0]) {
        let args = launch_args(
            EngineKind::LlamaCpp,
            &s,
            "/nonexistent-rigplan-main.gguf",
            Some(&server_opts(free_port(), &key)),
        );
        let args: Vec<String> = args
            .into_iter()
            .filter(|a| a != "--api-key-file" && a != "/k")
            .collect();
        parsed_then_failed_to_load(&mut Command::new(bin.join("llama-server")), &args);
        seen.extend(flags_of(&args));
    }
    // A catalog drafter the engine downloads (-hfd REPO -md FILE, or -hfd REPO:QUANT)
    // on the CPU: `--offline` with an empty cache keeps the engine off the network.
    let cache = tempfile::tempdir().unwrap();
    let base = &every_option_variants()[0];
    for file in [Some("Llama-3.2-1B-Instruct-Q4_K_M.gguf"), None] {
        let mut s = speculative_variants(base)[1].clone();
        s.speculative.draft_download = Some(rigplan::plan::HfDownload {
            repo: "bartowski/Llama-3.2-1B-Instruct-GGUF".into(),
            file: file.map(String::from),
            quant: Some("Q4_K_M".into()),
            shards: None,
        });
        s.speculative.draft_model = file.map(String::from);
        let mut args = launch_args(
            EngineKind::LlamaCpp,
            &s,
            "/nonexistent-rigplan-main.gguf",
            None,
        );
        assert!(args.iter().any(|a| a == "-hfd"), "{args:?}");
        args.push("--offline".into());
        parsed_then_failed_to_load(
            Command::new(bin.join("llama-server")).env("LLAMA_CACHE", cache.path()),
            &args,
        );
        seen.extend(flags_of(&args));
    }
    for f in [
        "-hfd",
        "-devd",
        "--spec-type",
        "-md",
        "--spec-draft-n-max",
        "--spec-draft-n-min",
        "--spec-draft-p-min",
        "-ngld",
        "-ctkd",
        "-ctvd",
    ] {
        assert!(seen.contains(f), "{f} never emitted: {seen:?}");
    }
}

/// Every `arg == "X"` string of an argument parser written as if-chains (ik).
fn parser_options(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in source.split("arg == \"").skip(1) {
        if let Some(end) = part.find('"') {
            out.insert(part[..end].to_string());
        }
    }
    out
}

/// ik_llama.cpp's built binaries (`RIGPLAN_IK_LLAMA_BIN`, or what
/// `scripts/ensure-engine.sh ik_llama.cpp` builds): the same parser check as for
/// mainline. The option tables are also checked against ik's parser source below.
#[test]
fn ik_parser_accepts_every_emitted_option() {
    let bin = ik_llama_bin();
    // A build without a GPU backend hides the offload options from --help but still
    // parses them (common/common.cpp gates only the listing on
    // llama_supports_gpu_offload()); it refuses a tensor split of more entries than its
    // devices (one), so multi-GPU splits are checked on GPU builds only.
    let gpu_build = help_options(&bin.join("llama-server")).contains("-ngl");
    // ik reads --api-key-file while parsing: it must exist.
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("api key");
    std::fs::write(&key, "secret\n").unwrap();
    let model = "/nonexistent-rigplan-check.gguf";
    let d = download();
    let mut checked = BTreeSet::new();
    for mut s in every_option_variants() {
        if !gpu_build {
            s.tensor_split.clear();
        }
        for (exe, args) in [
            // The engine's own download (-hfr/-hff): this build has no libcurl, so it
            // stops at the download without touching the network.
            (
                "llama-server",
                launch_args_from(EngineKind::IkLlamaCpp, &s, ModelSource::Download(&d), None)
                    .into_iter()
                    .chain(projector_variants(EngineKind::IkLlamaCpp))
                    .collect(),
            ),
            (
                "llama-server",
                launch_args(
                    EngineKind::IkLlamaCpp,
                    &s,
                    model,
                    Some(&server_opts(1, &key)),
                ),
            ),
            (
                "llama-bench",
                bench_args(EngineKind::IkLlamaCpp, &s, model, &bench_opts()),
            ),
        ] {
            let out = Command::new(bin.join(exe))
                .args(&args)
                .env("LLAMA_CACHE", tmp.path())
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let complaint = text
                .lines()
                .find(|l| l.contains("unknown argument") || l.contains("invalid parameter"));
            assert!(complaint.is_none(), "ik {exe} {args:?}: {complaint:?}");
            // It got past the parser to the (missing) model.
            assert!(
                text.contains("failed to load model"),
                "ik {exe} {args:?}: {text}"
            );
            checked.extend(flags_of(&args));
        }
    }
    // Every option of ik's tables was among the arguments the parser accepted.
    let e = info(EngineKind::IkLlamaCpp);
    for tool in [Tool::Server, Tool::Bench] {
        for spec in e.options_for(tool) {
            if !gpu_build && spec.flag == "-ts" {
                continue;
            }
            assert!(checked.contains(spec.flag), "{} never emitted", spec.flag);
        }
    }
}

#[test]
fn ik_table_matches_its_argument_parser_source() {
    let src = ik_source();
    let e = info(EngineKind::IkLlamaCpp);
    let server = parser_options(&std::fs::read_to_string(src.join(e.server_arg_source)).unwrap());
    let bench = parser_options(&std::fs::read_to_string(src.join(e.bench_arg_source)).unwrap());
    for (tool, set) in [(Tool::Server, &server), (Tool::Bench, &bench)] {
        for spec in e.options_for(tool) {
            for f in std::iter::once(&spec.flag).chain(spec.aliases) {
                assert!(set.contains(*f), "ik {tool:?} parser lacks {f}");
            }
        }
        let key = PathBuf::from("/k");
        for s in every_option_variants() {
            let mut args = match tool {
                Tool::Server => launch_args(
                    EngineKind::IkLlamaCpp,
                    &s,
                    "/m.gguf",
                    Some(&server_opts(1, &key)),
                ),
                Tool::Bench => bench_args(EngineKind::IkLlamaCpp, &s, "/m.gguf", &bench_opts()),
            };
            if tool == Tool::Server {
                let d = download();
                args.extend(launch_args_from(
                    EngineKind::IkLlamaCpp,
                    &s,
                    ModelSource::Download(&d),
                    None,
                ));
                args.extend(projector_variants(EngineKind::IkLlamaCpp));
            }
            for f in flags_of(&args) {
                assert!(set.contains(&f), "ik {tool:?} does not accept emitted {f}");
            }
        }
    }
    // Facts the table encodes: fused MoE only has an off switch on the server; no -lm.
    assert!(server.contains("-no-fmoe"));
    for gone in e.removed_options.iter().flat_map(|r| r.flags) {
        assert!(!server.contains(*gone), "ik server still parses {gone}");
    }
    assert!(!server.contains("-lm") && server.contains("--mlock") && server.contains("--no-mmap"));
    // Cache types: exactly the names kv_cache_type_from_str accepts.
    let common = std::fs::read_to_string(src.join("common/common.cpp")).unwrap();
    let body = common
        .split("kv_cache_type_from_str(const std::string & s)")
        .nth(1)
        .unwrap();
    let body = &body[..body.find("throw").unwrap()];
    let types: BTreeSet<String> = body
        .split("s == \"")
        .skip(1)
        .map(|p| p[..p.find('"').unwrap()].to_string())
        .collect();
    let table: BTreeSet<String> = e.cache_types.iter().map(|s| s.to_string()).collect();
    assert_eq!(types, table);
    eprintln!(
        "ik_llama.cpp checked against the parser source in {}",
        src.display()
    );
}

#[test]
fn mainline_tables_match_its_source() {
    let src = llama_source();
    let e = info(EngineKind::LlamaCpp);
    let arg = std::fs::read_to_string(src.join("common/arg.cpp")).unwrap();
    let body = arg
        .split("const std::vector<ggml_type> kv_cache_types = {")
        .nth(1)
        .unwrap();
    let body = &body[..body.find("};").unwrap()];
    let types: Vec<String> = body
        .split("GGML_TYPE_")
        .skip(1)
        .map(|p| p[..p.find(',').unwrap()].trim().to_ascii_lowercase())
        .collect();
    assert_eq!(types, e.cache_types);
    assert!(!arg.contains("{\"--mlock\"}") && !arg.contains("{\"--no-mmap\"}"));
    assert!(arg.contains("{\"-sm\", \"--split-mode\"}, \"{none,layer,row,tensor}\""));
}

/// `option(NAME` and `set(TARGET NAME)` across a tree's CMake files.
fn cmake_names(root: &Path, files: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(root.join(f)) else {
            continue;
        };
        for key in ["option(", "set(TARGET "] {
            for part in text.split(key).skip(1) {
                let name: String = part
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                out.insert(name);
            }
        }
    }
    out
}

fn check_cmake(kind: EngineKind, root: &Path) {
    let e = info(kind);
    let target_files: &[&str] = match kind {
        EngineKind::LlamaCpp => &[
            "CMakeLists.txt",
            "ggml/CMakeLists.txt",
            "tools/server/CMakeLists.txt",
            "tools/llama-bench/CMakeLists.txt",
            "tools/cli/CMakeLists.txt",
            "tools/fit-params/CMakeLists.txt",
            "tools/rpc/CMakeLists.txt",
        ],
        EngineKind::IkLlamaCpp => &[
            "CMakeLists.txt",
            "ggml/CMakeLists.txt",
            "examples/server/CMakeLists.txt",
            "examples/llama-bench/CMakeLists.txt",
            "examples/main/CMakeLists.txt",
            "examples/rpc/CMakeLists.txt",
        ],
    };
    let names = cmake_names(root, target_files);
    let c = &e.cmake;
    let mut want = vec![
        c.cuda,
        c.cuda_graphs,
        c.hip,
        c.vulkan,
        c.blas,
        c.native,
        c.lto,
        c.openmp,
        c.rpc,
        c.avx,
        c.avx2,
        c.fma,
        c.f16c,
        c.avx512,
        c.avx512_vbmi,
        c.avx512_vnni,
        c.avx512_bf16,
    ];
    want.extend(c.bmi2);
    want.extend(c.avx_vnni);
    want.extend(e.component_defines.iter().map(|d| d.name));
    let t = &e.targets;
    want.extend([t.server, t.bench, t.cli, t.rpc_server]);
    want.extend(t.fit_params);
    for w in want {
        assert!(
            names.contains(w),
            "{kind}: '{w}' is not an option or target of the pinned tree"
        );
    }
}

#[test]
fn cmake_names_and_targets_exist_in_the_pinned_trees() {
    check_cmake(EngineKind::LlamaCpp, &llama_source());
    // The names that differ between the engines.
    assert_eq!(
        info(EngineKind::LlamaCpp).cmake.cuda_graphs,
        "GGML_CUDA_GRAPHS"
    );
    assert_eq!(
        info(EngineKind::IkLlamaCpp).cmake.cuda_graphs,
        "GGML_CUDA_USE_GRAPHS"
    );
    check_cmake(EngineKind::IkLlamaCpp, &ik_source());
}

// ---- export ---------------------------------------------------------------------------

fn export(plan: &Path, extra: &[&str]) -> std::process::Output {
    rigplan()
        .args(["export", "--plan"])
        .arg(plan)
        .args(extra)
        .output()
        .unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A 2-GPU plan with mlock and CPU-resident experts, for environment and unit checks.
fn gpu_plan(model: &str, name: &str, gib_per_gpu: u64) -> rigplan::plan::Plan {
    let mut s = settings_cpu();
    s.n_gpu_layers = 999;
    s.n_cpu_moe = 4;
    s.gpu_indices = vec![0, 1];
    s.split_mode = "layer".into();
    s.tensor_split = vec![1.0, 1.0];
    s.mlock = true;
    s.flash_attn = true;
    s.cache_type_k = "q8_0".into();
    s.cache_type_v = "q8_0".into();
    let mut p = plan_for(model, name, s);
    let gpu = |i: u32| rigplan::plan::DeviceMemory {
        name: format!("CUDA{i} NVIDIA GeForce RTX 3060 12GB"),
        host: None,
        kind: "gpu".into(),
        capacity_bytes: 12 << 30,
        weights_bytes: gib_per_gpu << 30,
        kv_bytes: 0,
        compute_bytes: 0,
        overhead_bytes: 0,
        total_bytes: gib_per_gpu << 30,
        margin_bytes: 0,
        pinned_bytes: 0,
    };
    p.memory.devices.push(gpu(0));
    p.memory.devices.push(gpu(1));
    p
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let bin = llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("models/m.gguf");
    std::fs::create_dir_all(model.parent().unwrap()).unwrap();
    std::fs::write(&model, b"GGUF").unwrap();
    let plan = tmp.path().join("p.plan.toml");
    write_plan(
        &gpu_plan(model.to_str().unwrap(), "Qwen3 30B-A3B 100%", 9),
        &plan,
    );
    let key = tmp.path().join("key");
    std::fs::write(&key, "sk-x").unwrap();
    let unit = tmp.path().join("llama-qwen3.service");
    let o = export(
        &plan,
        &[
            "--as",
            "systemd",
            "--host",
            "0.0.0.0",
            "--api-key-file",
            key.to_str().unwrap(),
            "--engine-bin",
            bin.to_str().unwrap(),
            "--out",
            unit.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&unit).unwrap();
    for want in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "LimitMEMLOCK=infinity",
        "Restart=on-failure",
        "DeviceAllow=/dev/nvidia1 rw",
        "DeviceAllow=/dev/nvidiactl rw",
        "ExecStartPost=",
        "/health",
        "LoadCredential=api-key:",
        "--api-key-file ${CREDENTIALS_DIRECTORY}/api-key",
        "Environment=CUDA_VISIBLE_DEVICES=0,1",
        "for Qwen3 30B-A3B 100%%",
    ] {
        assert!(text.contains(want), "unit lacks {want}:\n{text}");
    }
    assert!(text.contains(&format!(
        "ReadOnlyPaths={}",
        model.parent().unwrap().display()
    )));
    // Home directories stay readable only when the engine or the model lives there
    // (generate::systemd): the engine's install dir depends on this machine's cache.
    let program = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let under_home = |p: &str| {
        ["/home", "/root", "/run/user"]
            .iter()
            .any(|h| Path::new(p).starts_with(h))
    };
    let want = if under_home(&program) || under_home(model.parent().unwrap().to_str().unwrap()) {
        "ProtectHome=read-only"
    } else {
        "ProtectHome=yes"
    };
    assert!(
        text.contains(want),
        "unit lacks {want} (engine {program}):\n{text}"
    );
    let v = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let err = stderr(&v);
    assert!(
        v.status.success(),
        "systemd-analyze verify failed:\n{err}\n{text}"
    );
    for bad in [
        "Unknown key",
        "Unknown section",
        "Invalid",
        "Failed to parse",
        "ignoring",
    ] {
        assert!(!err.contains(bad), "systemd-analyze: {err}\n{text}");
    }

    // CPU-only plan, loopback: no key needed, devices closed off.
    write_plan(
        &plan_for(model.to_str().unwrap(), "tiny", settings_cpu()),
        &plan,
    );
    let o = export(
        &plan,
        &["--as", "systemd", "--engine-bin", bin.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("PrivateDevices=yes") && text.contains("--host 127.0.0.1"),
        "{text}"
    );
    assert!(!text.contains("LimitMEMLOCK"), "{text}");
    std::fs::write(&unit, &text).unwrap();
    let v = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", stderr(&v));
}

/// `export CATALOG-ID` with nothing downloaded: every artefact has the engine download
/// the catalog's file, and the unit gives it a cache directory systemd-analyze accepts.
#[test]
fn a_catalog_id_exports_a_downloading_launch() {
    let bin = llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let run = |kind: &str| {
        let o = rigplan()
            .args([
                "export",
                "qwen3.5-35b-a3b:UD-Q4_K_XL",
                "--hardware",
                "desktop-3090",
                "--engine-bin",
                bin.to_str().unwrap(),
                "--as",
                kind,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        stdout(&o)
    };
    let want = "-hf unsloth/Qwen3.5-35B-A3B-GGUF -hff Qwen3.5-35B-A3B-UD-Q4_K_XL.gguf --no-mmproj";
    for kind in ["command", "llama-swap"] {
        assert!(run(kind).contains(want), "{kind}");
    }
    let script = run("script");
    assert!(
        script.contains("  -hff Qwen3.5-35B-A3B-UD-Q4_K_XL.gguf \\\n"),
        "{script}"
    );
    let text = run("systemd");
    assert!(text.contains(want), "{text}");
    assert!(
        text.contains("CacheDirectory=llama-qwen3-5-35b-a3b")
            && text.contains("Environment=LLAMA_CACHE=/var/cache/llama-qwen3-5-35b-a3b")
            && !text.contains("ReadOnlyPaths"),
        "{text}"
    );
    let unit = tmp.path().join("llama-qwen3-5-35b-a3b.service");
    std::fs::write(&unit, &text).unwrap();
    let v = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}\n{text}", stderr(&v));
}

/// A plan without a local file, exported as a launch script, runs as it is: the real
/// llama-server resolves `-hf REPO -hff FILE` from its Hugging Face cache (prepared here
/// with a tiny model, offline: `LLAMA_ARG_OFFLINE=1`, no network) and serves.
#[test]
fn a_downloading_launch_script_serves_from_the_engine_cache() {
    let bin = llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo_dir = cache.join("models--rigplan-test--tiny-GGUF");
    let snapshot = repo_dir.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(repo_dir.join("refs/main"), commit).unwrap();
    let model = tiny_model(&snapshot);
    let mut plan = plan_for(model.to_str().unwrap(), "tiny", settings_cpu());
    plan.model.path = None;
    plan.model.download = Some(HfDownload {
        repo: "rigplan-test/tiny-GGUF".into(),
        file: Some("tiny-llama.gguf".into()),
        quant: None,
        shards: None,
    });
    let plan_file = tmp.path().join("p.plan.toml");
    write_plan(&plan, &plan_file);
    let port = free_port();
    let script = tmp.path().join("launch.sh");
    let port_s = port.to_string();
    let o = export(
        &plan_file,
        &[
            "--as",
            "script",
            "--engine-bin",
            bin.to_str().unwrap(),
            "--port",
            &port_s,
            "--out",
            script.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.contains("-hf rigplan-test/tiny-GGUF") && !text.contains(" -m "),
        "{text}"
    );
    let log = tmp.path().join("server.log");
    let mut server = spawn_logged(
        Command::new("bash")
            .arg(&script)
            .env("LLAMA_CACHE", &cache)
            .env("LLAMA_ARG_OFFLINE", "1"),
        &log,
    );
    wait_healthy_logged(&mut server, port, 60, Some(&log));
    let props = get_json(port, "/props");
    assert_eq!(
        props["model_path"].as_str(),
        Some(model.to_str().unwrap()),
        "{props}"
    );
}

#[test]
fn non_loopback_host_needs_an_api_key_file() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("p.plan.toml");
    write_plan(&plan_for("/models/m.gguf", "m", settings_cpu()), &plan);
    for kind in ["systemd", "script", "command"] {
        let o = export(
            &plan,
            &[
                "--as",
                kind,
                "--host",
                "0.0.0.0",
                "--engine-bin",
                "/opt/llama/bin",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{kind}: {}", stderr(&o));
        assert!(stderr(&o).contains("--api-key-file"), "{}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1);
    }
}

#[test]
fn a_newline_a_unit_file_cannot_hold_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("p.plan.toml");
    write_plan(
        &plan_for("/models/bad\nname.gguf", "m", settings_cpu()),
        &plan,
    );
    let o = export(
        &plan,
        &["--as", "systemd", "--engine-bin", "/opt/llama/bin"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("newline"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let o = export(
        &plan,
        &["--as", "llama-swap", "--engine-bin", "/opt/llama/bin"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A shell script holds it (quoted).
    let o = export(&plan, &["--as", "script", "--engine-bin", "/opt/llama/bin"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn generated_shell_passes_shellcheck() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("p.plan.toml");
    write_plan(&gpu_plan("/models/it's a $model `x`.gguf", "m", 9), &plan);
    let o = export(
        &plan,
        &[
            "--as",
            "script",
            "--engine-bin",
            "/opt/llama/bin",
            "--alias",
            "a \"b\"",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let script = stdout(&o);
    for want in [
        "export CUDA_VISIBLE_DEVICES=0,1",
        "ulimit -l unlimited",
        "OMP_PLACES=cores",
        "\nexec ",
    ] {
        assert!(script.contains(want), "launch.sh lacks {want}:\n{script}");
    }
    let f = tmp.path().join("launch.sh");
    std::fs::write(&f, &script).unwrap();
    let sc = Command::new("shellcheck").arg(&f).output().unwrap();
    assert!(sc.status.success(), "{}\n{script}", stdout(&sc));

    let o = export(
        &plan,
        &["--as", "command", "--engine-bin", "/opt/llama/bin"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let f = tmp.path().join("command.sh");
    std::fs::write(&f, format!("#!/bin/sh\n{}", stdout(&o))).unwrap();
    // SC2016 (info: "expressions don't expand in single quotes") is the point of the
    // quoting; a one-line command has no room for a directive.
    let sc = Command::new("shellcheck")
        .args(["--exclude", "SC2016"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(sc.status.success(), "{}", stdout(&sc));
}

/// Keys of llama-swap's config schema (mostlygeek/llama-swap config-schema.json @032d741).
const SWAP_TOP: &[&str] = &[
    "healthCheckTimeout",
    "globalTTL",
    "unloadTimeout",
    "logLevel",
    "logTimeFormat",
    "metricsMaxInMemory",
    "captureBuffer",
    "store",
    "ui",
    "performance",
    "startPort",
    "sendLoadingState",
    "includeAliasesInList",
    "macros",
    "profiles",
    "models",
    "groups",
    "matrix",
    "hooks",
    "logToStdout",
    "apiKeys",
    "peers",
    "upstream",
];
const SWAP_MODEL: &[&str] = &[
    "macros",
    "cmd",
    "cmdStop",
    "name",
    "description",
    "env",
    "proxy",
    "aliases",
    "checkEndpoint",
    "ttl",
    "unloadTimeout",
    "useModelName",
    "filters",
    "metadata",
    "concurrencyLimit",
    "sendLoadingState",
    "unlisted",
    "timeouts",
    "capabilities",
];
const SWAP_GROUP: &[&str] = &["swap", "exclusive", "persistent", "members"];

fn keys_within(v: &serde_yaml::Value, known: &[&str], what: &str) {
    let m = v
        .as_mapping()
        .unwrap_or_else(|| panic!("{what} is not a mapping"));
    for k in m.keys() {
        let k = k.as_str().unwrap();
        assert!(
            known.contains(&k),
            "{what}: key '{k}' is not in llama-swap's schema"
        );
    }
}

#[test]
fn llama_swap_config_parses_uses_known_keys_and_separates_models_that_do_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    // 9 + 9 GiB on 12 GiB GPUs do not fit together; 2 GiB fits with either.
    let a = tmp.path().join("a.plan.toml");
    let b = tmp.path().join("b.plan.toml");
    let c = tmp.path().join("c.plan.toml");
    write_plan(&gpu_plan("/models/a.gguf", "big-a", 9), &a);
    write_plan(&gpu_plan("/models/b.gguf", "big-b", 9), &b);
    write_plan(&gpu_plan("/models/c.gguf", "small-c", 2), &c);
    let o = rigplan()
        .args([
            "export",
            "--as",
            "llama-swap",
            "--engine-bin",
            "/opt/llama/bin",
        ])
        .args([&a, &b, &c])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let y: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    keys_within(&y, SWAP_TOP, "top level");
    let models = y["models"].as_mapping().unwrap();
    assert_eq!(models.len(), 3);
    for (id, m) in models {
        keys_within(m, SWAP_MODEL, id.as_str().unwrap());
        let cmd = m["cmd"].as_str().unwrap();
        assert!(
            cmd.contains("--port ${PORT}") && cmd.contains("--host 127.0.0.1"),
            "{cmd}"
        );
        assert!(m["ttl"].as_u64().is_some());
    }
    let groups = y["groups"].as_mapping().unwrap();
    let mut member_sets = Vec::new();
    for (name, g) in groups {
        keys_within(g, SWAP_GROUP, name.as_str().unwrap());
        assert_eq!(g["exclusive"], serde_yaml::Value::Bool(true));
        let members: Vec<String> = g["members"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect();
        member_sets.push(members);
    }
    // Every model in exactly one group; the two big ones never in the same group.
    let all: Vec<&String> = member_sets.iter().flatten().collect();
    assert_eq!(all.len(), 3);
    assert!(!member_sets
        .iter()
        .any(|g| g.contains(&"big-a".into()) && g.contains(&"big-b".into())));
    assert!(
        member_sets
            .iter()
            .any(|g| g.len() == 2 && g.contains(&"small-c".into())),
        "{member_sets:?}"
    );

    // A single model with an alias.
    let o = export(
        &a,
        &[
            "--as",
            "llama-swap",
            "--engine-bin",
            "/opt/llama/bin",
            "--alias",
            "qwen",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let y: serde_yaml::Value = serde_yaml::from_str(&stdout(&o)).unwrap();
    keys_within(&y, SWAP_TOP, "top level");
    assert!(y["models"]["qwen"]["cmd"].as_str().is_some(), "{y:?}");
}

#[test]
fn out_is_atomic_and_never_overwrites_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("p.plan.toml");
    write_plan(&plan_for("/models/m.gguf", "m", settings_cpu()), &plan);
    let out = tmp.path().join("launch.sh");
    std::fs::write(&out, "keep").unwrap();
    let args = [
        "--as",
        "script",
        "--engine-bin",
        "/opt/llama/bin",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = export(&plan, &args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep");
    let mut forced = args.to_vec();
    forced.push("--force");
    let o = export(&plan, &forced);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("#!/usr/bin/env bash"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

/// Hostile characters in the model directory and the alias: space, both quotes, `$`,
/// backticks, `*` and a newline.
const HOSTILE: &str = "we ird 'q' \"dq\" $HOME `id` *\nline2";

#[test]
fn hostile_paths_and_aliases_survive_into_a_working_command_and_script() {
    let bin = llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(HOSTILE);
    std::fs::create_dir_all(&dir).unwrap();
    let model = tiny_model(&dir);
    let plan = tmp.path().join("p.plan.toml");
    write_plan(
        &plan_for(model.to_str().unwrap(), "tiny", settings_cpu()),
        &plan,
    );
    let alias = format!("alias {HOSTILE}");
    for kind in ["command", "script"] {
        let port = free_port();
        let o = export(
            &plan,
            &[
                "--as",
                kind,
                "--engine-bin",
                bin.to_str().unwrap(),
                "--port",
                &port.to_string(),
                "--alias",
                &alias,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let log = tmp.path().join(format!("{kind}.log"));
        let mut cmd = Command::new("bash");
        match kind {
            // `exec env` so the server replaces bash (and dies with it) while bash still
            // parses every quoted word of the command line.
            "command" => cmd.arg("-c").arg(format!("exec env {}", stdout(&o))),
            _ => {
                let f = tmp.path().join("launch.sh");
                std::fs::write(&f, stdout(&o)).unwrap();
                cmd.arg(f)
            }
        };
        let mut server = spawn_logged(&mut cmd, &log);
        wait_healthy_logged(&mut server, port, 60, Some(&log));
        let models = get_json(port, "/v1/models");
        let ids: Vec<&str> = models["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        assert!(
            ids.contains(&alias.as_str()),
            "{kind}: alias not served verbatim: {ids:?}"
        );
        let props = get_json(port, "/props");
        assert_eq!(
            props["model_path"].as_str(),
            Some(model.to_str().unwrap()),
            "{kind}: {props}"
        );
    }
}

// ---- docs/build-examples.md -----------------------------------------------------------

/// The seed rigs (bundled presets) shown in docs/build-examples.md.
const PRESETS: &[&str] = &[
    "z440-2x3060",
    "desktop-3070-8gb",
    "xeon-e5-2620v4-cpu",
    "ms02-rtxpro4000",
    "desktop-3090",
    "desktop-5090",
];

fn build_for(preset: &str) -> String {
    let o = rigplan()
        .args(["build", "--hardware", preset])
        .output()
        .unwrap();
    assert!(o.status.success(), "{preset}: {}", stderr(&o));
    stdout(&o)
}

/// The `# why` + `-Dx=y` lines of a script, as "x=y — why" bullets.
fn summary(script: &str) -> String {
    let mut out = String::new();
    let mut why = "";
    for line in script.lines().map(str::trim) {
        if let Some(w) = line.strip_prefix("# ") {
            why = w;
        } else if let Some(d) = line.trim_matches('\'').trim_matches('"').strip_prefix("-D") {
            if ["GGML_", "CMAKE_CUDA", "CMAKE_C_FLAGS", "GPU_TARGETS"]
                .iter()
                .any(|p| d.starts_with(p))
            {
                out.push_str(&format!("- `{d}` — {why}\n"));
            }
        }
    }
    out
}

fn build_examples_doc() -> String {
    let mut doc = String::from(
        "# Build scripts for the seed rigs\n\n\
         `rigplan build --hardware PRESET` writes the cmake build script for a machine described by\n\
         a bundled preset (the rigs of the users' reports, see `profiles/hardware/`). Each script\n\
         below is exactly what this version of rigplan prints (a test compares them and runs\n\
         `shellcheck` on each). Built for another machine, the CPU's instruction set is spelled\n\
         out; run `rigplan build` on the machine itself to get `GGML_NATIVE=ON` instead.\n\
         Regenerate this file with `RIGPLAN_UPDATE_DOCS=1 cargo test build_examples`.\n",
    );
    for p in PRESETS {
        let script = build_for(p);
        let target = script
            .lines()
            .nth(1)
            .and_then(|l| l.split_once(" for: "))
            .map(|(_, t)| t.to_string())
            .unwrap_or_default();
        doc.push_str(&format!(
            "\n## `{p}`\n\n{target}\n\n```sh\nrigplan build --hardware {p} --out build-{p}.sh\n```\n\n{}\n<details><summary>build-{p}.sh</summary>\n\n```bash\n{}```\n\n</details>\n",
            summary(&script),
            script
        ));
    }
    doc
}

#[test]
fn build_examples_doc_matches_and_every_preset_script_passes_shellcheck() {
    let tmp = tempfile::tempdir().unwrap();
    for p in PRESETS {
        let f = tmp.path().join(format!("build-{p}.sh"));
        std::fs::write(&f, build_for(p)).unwrap();
        let sc = Command::new("shellcheck").arg(&f).output().unwrap();
        assert!(sc.status.success(), "{p}: {}", stdout(&sc));
    }
    let doc = build_examples_doc();
    let path = repo_root().join("docs/build-examples.md");
    if std::env::var_os("RIGPLAN_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == doc,
        "docs/build-examples.md is stale: RIGPLAN_UPDATE_DOCS=1 cargo test build_examples"
    );
}

#[test]
fn export_plans_a_model_file_and_the_command_runs() {
    let bin = llama_bin();
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let port = free_port();
    let o = rigplan()
        .arg("export")
        .arg(&model)
        .args([
            "--no-gpu",
            "--ram-gib",
            "8",
            "--cpu-cores",
            "2",
            "--ctx",
            "512",
            "--as",
            "command",
            "--port",
        ])
        .arg(port.to_string())
        .arg("--engine-bin")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cmd = stdout(&o);
    assert!(cmd.contains(" -c 512 "), "{cmd}");
    let log = tmp.path().join("server.log");
    let mut server = spawn_logged(
        Command::new("bash")
            .arg("-c")
            .arg(format!("exec env {cmd}")),
        &log,
    );
    wait_healthy_logged(&mut server, port, 60, Some(&log));
    let done = post_json(
        port,
        "/completion",
        serde_json::json!({"prompt": "Hi", "n_predict": 4}),
    );
    assert!(done["tokens_predicted"].as_u64().unwrap_or(0) > 0, "{done}");

    // A catalog model without a local file: the command downloads the catalog's file
    // with the engine's own downloader.
    let o = rigplan()
        .args([
            "export",
            "llama-3.2-3b:Q4_K_M",
            "--no-gpu",
            "--as",
            "command",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cmd = String::from_utf8_lossy(&o.stdout);
    assert!(
        cmd.contains(
            "-hf bartowski/Llama-3.2-3B-Instruct-GGUF -hff Llama-3.2-3B-Instruct-Q4_K_M.gguf"
        ),
        "{cmd}"
    );
    // A URL has nothing to launch: bad input, one line.
    let o = rigplan()
        .args([
            "export",
            "https://example.invalid/x.gguf",
            "--no-gpu",
            "--as",
            "command",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
}
