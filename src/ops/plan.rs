//! Plan a model on a machine, and complete the Plan with its launch command.
//!
//! [`plan_model`] is `rigplan plan`: the model's variants (`model::variants`), one plan
//! each and the quant `--prefer` picks (`planner`), the launch command, and a `tune`
//! calibration saved for this exact machine applied to the predicted speeds.
//! [`plan_file`] is what `export` plans: one local file, its absolute path in the
//! command.
//!
//! The planner decides; here the engine renders the decision into `llama-server`'s argv
//! (only options the pinned version accepts) and `generate` quotes it into one shell
//! line. Without a local model file the command has the engine download it (`-hf`, from
//! the catalog's recorded repository or the `hf:` reference), or, where no repository is
//! known, names a placeholder and a warning says so; a setting the engine would refuse is
//! a warning too.

use crate::engine::{self, EngineKind};
use crate::error::{user_error, Error, Result};
use crate::generate::shell::command_line;
use crate::hardware::HardwareSnapshot;
use crate::model::reference::{self, ModelRef};
use crate::model::{catalog, variants};
use crate::ops::projector::{self, ProjectorChoice};
use crate::plan::{HfDownload, Plan};
use crate::planner::{self, PlanRequest};

/// `rigplan plan MODEL`: the catalog's default model when `model` is `None`; when that
/// cannot fit this machine, the largest catalog model (by parameters) that does, with a
/// warning that says so.
pub fn plan_model(model: Option<&str>, hw: &HardwareSnapshot, req: PlanRequest) -> Result<Plan> {
    plan_model_with(model, hw, req, None)
}

/// [`plan_model`] with a vision projector (`--mmproj`): its bytes taken off the device
/// the engine puts it on before the model is planned, and added to that device's row.
pub fn plan_model_with(
    model: Option<&str>,
    hw: &HardwareSnapshot,
    req: PlanRequest,
    mmproj: Option<&ProjectorChoice>,
) -> Result<Plan> {
    with_projector(model, hw, req, mmproj, plan_or_fallback)
}

/// Plans with `plan_fn` on `hw` less the projector's bytes, then adds the projector.
fn with_projector(
    model: Option<&str>,
    hw: &HardwareSnapshot,
    req: PlanRequest,
    mmproj: Option<&ProjectorChoice>,
    plan_fn: impl Fn(Option<&str>, &HardwareSnapshot, PlanRequest) -> Result<Plan>,
) -> Result<Plan> {
    let Some(choice) = mmproj else {
        return plan_fn(model, hw, req);
    };
    let need = projector::need(choice, model)?;
    let (left, gpu) = projector::reserve(hw, &need);
    let engine = req.engine;
    let mut plan = plan_fn(model, &left, req)?;
    projector::attach(&mut plan, &need, gpu);
    attach_launch_command(&mut plan, engine);
    Ok(plan)
}

/// [`plan_file`] with a vision projector (see [`plan_model_with`]).
pub fn plan_file_with(
    model: &str,
    hw: &HardwareSnapshot,
    req: PlanRequest,
    mmproj: Option<&ProjectorChoice>,
) -> Result<Plan> {
    with_projector(Some(model), hw, req, mmproj, |m, hw, req| {
        plan_file(m.unwrap_or(model), hw, req)
    })
}

fn plan_or_fallback(model: Option<&str>, hw: &HardwareSnapshot, req: PlanRequest) -> Result<Plan> {
    let first = plan_one(model, hw, req.clone());
    let (None, Err(Error::Unsatisfiable(why))) = (model, &first) else {
        return first;
    };
    let default_id = catalog::default_entry().map(|e| e.id).unwrap_or_default();
    for id in smaller_models_largest_first(&default_id) {
        if let Ok(mut plan) = plan_one(Some(&id), hw, req.clone()) {
            plan.warnings.insert(
                0,
                format!(
                    "the default model '{default_id}' does not fit this machine ({why}); this is the largest catalog model that does: '{id}' (name a MODEL to plan another)"
                ),
            );
            return Ok(plan);
        }
    }
    first
}

/// Catalog ids with fewer parameters than `default_id`'s, most parameters first.
fn smaller_models_largest_first(default_id: &str) -> Vec<String> {
    let params = |e: &catalog::CatalogEntry| e.spec(None).map_or(0, |s| s.total_parameters());
    let entries = catalog::entries();
    let ceiling = entries
        .iter()
        .find(|e| e.id == default_id)
        .map_or(u64::MAX, params);
    let mut sized: Vec<(u64, String)> = entries
        .iter()
        .map(|e| (params(e), e.id.clone()))
        .filter(|(p, id)| *p > 0 && *p < ceiling && id != default_id)
        .collect();
    sized.sort_by(|a, b| b.cmp(a));
    sized.into_iter().map(|(_, id)| id).collect()
}

fn plan_one(model: Option<&str>, hw: &HardwareSnapshot, mut req: PlanRequest) -> Result<Plan> {
    resolve_draft(&mut req)?;
    let v = variants::for_reference(model, req.quant.as_deref())?;
    req.model_reference = v.reference;
    req.quant = v.quant;
    // A `rigplan tune` calibration saved for this exact machine corrects the speeds the
    // planner compares and predicts (per thread count), and the plan says so
    // ("calibrated on this machine on DATE from N runs").
    req.speed_correction = crate::tune::calibration::correction_for(hw)?;
    let mut plan = planner::plan_variants(&v.specs, hw, &req)?;
    if plan.model.path.is_none() {
        plan.model.download = download_location(model, plan.settings.quant.as_deref())?;
        warn_unconfirmed_quant(&mut plan, model);
    }
    attach_launch_command(&mut plan, req.engine);
    Ok(plan)
}

/// A catalog model downloading from its repository at a quant no source shows there:
/// the engine stops if the listing has no such file, so the plan names the quants seen.
fn warn_unconfirmed_quant(plan: &mut Plan, model: Option<&str>) {
    let entry = match model.map(reference::parse) {
        None => catalog::default_entry(),
        Some(ModelRef::Catalog { id, .. }) => catalog::find(&id),
        Some(_) => None,
    };
    let (Some(e), Some(q)) = (entry, plan.settings.quant.clone()) else {
        return;
    };
    if let Some((repo, seen)) = e.unconfirmed_download(&q) {
        warn_once(
            plan,
            format!(
                "{q} is not among the quants a source shows in {repo} ({}): if the download finds no {q} file, pass --quant with one of them",
                seen.join(", ")
            ),
        );
    }
}

/// Where the engine downloads `quant` of `model` (the catalog's default model when
/// `None`) when there is no local file: the catalog's recorded file or repository, or the
/// `hf:` repository's file of that quant (one listing request). `None` for a URL or a
/// catalog model without a recorded repository.
pub fn download_location(model: Option<&str>, quant: Option<&str>) -> Result<Option<HfDownload>> {
    let entry = match model.map(reference::parse) {
        None => catalog::default_entry(),
        Some(ModelRef::Catalog { id, .. }) => catalog::find(&id),
        Some(ModelRef::Hf { repo, quant: q }) => {
            let listed = crate::gguf::remote::list_hf_quants(&repo)?;
            let chosen = crate::gguf::remote::choose_quant(&repo, &listed, quant.or(q.as_deref()))?;
            return Ok(Some(HfDownload {
                repo: repo.clone(),
                file: Some(chosen.file.clone()),
                quant: Some(chosen.quant.clone()),
                shards: (chosen.shards > 1).then_some(chosen.shards),
            }));
        }
        Some(_) => None,
    };
    let Some(entry) = entry else { return Ok(None) };
    let quant = quant.unwrap_or(&entry.default_quant);
    Ok(entry.hf_location(quant).map(|l| HfDownload {
        repo: l.repo,
        file: l.file,
        quant: Some(l.quant),
        shards: l.shards,
    }))
}

/// Reads the `--draft` model's header (a file, catalog id or hf:) into the request; a
/// local file's absolute path is what `-md` gets.
pub fn resolve_draft(req: &mut PlanRequest) -> Result<()> {
    let Some(r) = req.draft_reference.clone() else {
        return Ok(());
    };
    let resolved = reference::resolve(&r).map_err(|e| user_error(format!("--draft: {e}")))?;
    let path = match &resolved.reference {
        ModelRef::Path(p) => Some(
            std::path::absolute(p)
                .map_err(|e| user_error(format!("--draft '{r}': {e}")))?
                .to_string_lossy()
                .into_owned(),
        ),
        _ => None,
    };
    // A catalog or hf: draft without a local file: where the engine can download it.
    let download = match path {
        Some(_) => None,
        None => download_location(Some(&r), resolved.spec.quant.as_deref()).unwrap_or(None),
    };
    req.draft = Some(planner::request::DraftModel {
        reference: r,
        path,
        spec: resolved.spec,
        download,
    });
    Ok(())
}

/// `export` of a file reference: a catalog id or `hf:` reference is planned with
/// [`plan_model`] instead; a URL is bad input.
pub fn require_local_file(model: &str) -> Result<()> {
    if matches!(reference::parse(model), ModelRef::Path(_)) {
        Ok(())
    } else {
        Err(user_error(format!(
            "MODEL '{model}': export launches a local .gguf file, a catalog id or an hf:OWNER/REPO reference; download it and pass its path"
        )))
    }
}

/// One local `.gguf` file planned with the request, as `rigplan plan FILE` would, with
/// the file's absolute path in the command (what `export` launches).
pub fn plan_file(model: &str, hw: &HardwareSnapshot, mut req: PlanRequest) -> Result<Plan> {
    require_local_file(model)?;
    resolve_draft(&mut req)?;
    let resolved = reference::resolve(model)?;
    req.model_reference = model.to_string();
    if let ModelRef::Path(p) = &resolved.reference {
        let abs =
            std::path::absolute(p).map_err(|e| user_error(format!("MODEL '{model}': {e}")))?;
        let utf8 = abs
            .to_str()
            .ok_or_else(|| user_error(format!("MODEL '{}' is not valid UTF-8", abs.display())))?;
        req.model_path = Some(utf8.to_string());
    }
    req.speed_correction = crate::tune::calibration::correction_for(hw)?;
    let mut plan = planner::plan_quants(&[resolved.spec], hw, &req)?;
    attach_launch_command(&mut plan, req.engine);
    Ok(plan)
}

/// Fills `plan.args` and `plan.command` for `engine`, adding the warnings they need:
/// the local file; else the engine's own download of `plan.model.download`; else a
/// placeholder file name, and a warning that says so.
pub fn attach_launch_command(plan: &mut Plan, engine: EngineKind) {
    attach_model_command(plan, engine);
    if let Some(p) = plan.projector.clone() {
        match engine::plan_projector_args(engine, &p) {
            Some(args) => {
                plan.args.extend(args);
                plan.command = command_line(engine::info(engine).targets.server, &plan.args);
            }
            None => warn_once(
                plan,
                format!(
                    "{engine} cannot download the projector: fetch {} and pass --mmproj FILE",
                    p.url.as_deref().unwrap_or("it")
                ),
            ),
        }
    }
}

/// A warning added once, however often the command is rendered.
fn warn_once(plan: &mut Plan, w: String) {
    if !plan.warnings.contains(&w) {
        plan.warnings.push(w);
    }
}

fn attach_model_command(plan: &mut Plan, engine: EngineKind) {
    for w in engine::unsupported_settings(engine, &plan.settings) {
        warn_once(plan, w);
    }
    let sp = &plan.settings.speculative;
    if let Some(dl) = sp.draft_download.clone() {
        warn_once(
            plan,
            format!(
                "the draft model is downloaded by the engine from https://huggingface.co/{} \
                 ({}) on its first start, into $LLAMA_CACHE (or the engine's per-user cache)",
                dl.repo,
                dl.file
                    .as_deref()
                    .or(dl.quant.as_deref())
                    .unwrap_or("its default file")
            ),
        );
    } else if let Some(d) = sp.draft_model.clone() {
        if !std::path::Path::new(&d).is_file() {
            warn_once(
                plan,
                format!(
                    "the draft model '{d}' is not a local file: download the GGUF and pass its path with --draft"
                ),
            );
        }
    }
    attach_worker_commands(plan, engine);
    if plan.model.path.is_none() {
        if let Some(d) = plan.model.download.clone() {
            match engine::download_refusal(engine, &d) {
                None => {
                    warn_once(plan, download_warning(engine, &d));
                    plan.args = engine::launch_args_from(
                        engine,
                        &plan.settings,
                        engine::ModelSource::Download(&d),
                        None,
                    );
                    plan.command = command_line(engine::info(engine).targets.server, &plan.args);
                    return;
                }
                Some(why) => warn_once(plan, format!("cannot download here: {why}")),
            }
        }
    }
    let model_path = match &plan.model.path {
        Some(p) => p.clone(),
        None => {
            let name = format!(
                "{}-{}.gguf",
                if plan.model.reference.is_empty() {
                    plan.model.name.as_str()
                } else {
                    plan.model.reference.as_str()
                },
                plan.settings.quant.as_deref().unwrap_or("model")
            );
            warn_once(
                plan,
                format!(
                    "no local file for this model yet: the command uses the placeholder '{name}'; download the GGUF and pass its path"
                ),
            );
            name
        }
    };
    plan.args = engine::launch_args(engine, &plan.settings, &model_path, None);
    plan.command = command_line(engine::info(engine).targets.server, &plan.args);
}

/// Fills each RPC worker's `rpc-server` command and `rigplan build` line.
fn attach_worker_commands(plan: &mut Plan, engine: EngineKind) {
    use crate::generate::rpc_worker;
    if let Some(c) = plan.cluster.as_mut() {
        for w in c.workers.iter_mut() {
            w.rpc_server_command = rpc_worker::command(w, rpc_worker::program(engine));
            w.build_command = rpc_worker::build_command(w);
        }
    }
}

/// What the first start of a downloading command does, and the engine's own caveat.
fn download_warning(engine: EngineKind, d: &HfDownload) -> String {
    let e = engine::info(engine);
    let what = match (&d.file, &d.quant) {
        (Some(f), _) => format!("'{f}'"),
        (None, Some(q)) => format!(
            "the file named with {q} (the catalog records no {q} file there; llama-server lists the repository's files if it finds none)"
        ),
        (None, None) => "the model".to_string(),
    };
    let shards = d
        .shards
        .map(|n| format!(" ({n} files)"))
        .unwrap_or_default();
    let mut w = format!(
        "no local file: the command downloads {what}{shards} from https://huggingface.co/{} on its first start, into ${} (or the engine's per-user cache)",
        d.repo, e.download.cache_env
    );
    if let Some(note) = e.download.note {
        w.push_str("; ");
        w.push_str(note);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(reference: &str, path: Option<&str>) -> Plan {
        let spec = crate::model::catalog::find("llama-3.1-8b")
            .unwrap()
            .spec(Some("Q4_K_M"))
            .unwrap();
        let hw = crate::hardware::presets::get("desktop-3090")
            .unwrap()
            .unwrap();
        let req = PlanRequest {
            model_reference: reference.into(),
            model_path: path.map(str::to_string),
            // The main model's file only (a catalog drafter adds its own warning).
            speculative: Some(crate::plan::SpeculativeKind::None),
            ..Default::default()
        };
        planner::plan(&spec, &hw, &req).unwrap()
    }

    #[test]
    fn without_a_file_the_command_downloads_where_the_engine_can() {
        let d = |file: Option<&str>| HfDownload {
            repo: "unsloth/Qwen3.5-35B-A3B-GGUF".into(),
            file: file.map(str::to_string),
            quant: Some("Q6_K".into()),
            shards: None,
        };
        let file = "Qwen3.5-35B-A3B-Q4_K_M.gguf";
        let f = Some(file);
        // (download, engine) -> model options in the argv, whether -m is there
        let cases = [
            (
                d(f),
                EngineKind::LlamaCpp,
                &[
                    "-hf",
                    "unsloth/Qwen3.5-35B-A3B-GGUF",
                    "-hff",
                    file,
                    "--no-mmproj",
                ][..],
            ),
            (
                d(None),
                EngineKind::LlamaCpp,
                &["-hf", "unsloth/Qwen3.5-35B-A3B-GGUF:Q6_K", "--no-mmproj"][..],
            ),
            (
                d(f),
                EngineKind::IkLlamaCpp,
                &["-hfr", "unsloth/Qwen3.5-35B-A3B-GGUF", "-hff", file][..],
            ),
            // ik needs the file: a placeholder -m and a warning instead.
            (
                d(None),
                EngineKind::IkLlamaCpp,
                &["-m", "x-Q4_K_M.gguf"][..],
            ),
        ];
        for (download, engine, want) in cases {
            let mut plan = planned("x", None);
            plan.model.download = Some(download);
            attach_launch_command(&mut plan, engine);
            assert_eq!(&plan.args[..want.len()], want, "{engine}");
            let says = |w: &str| plan.warnings.iter().any(|x| x.contains(w));
            if want[0] == "-m" {
                assert!(says("cannot download here") && says("placeholder"));
            } else {
                assert!(says("downloads"), "{:?}", plan.warnings);
                assert_eq!(says("LLAMA_CURL"), engine == EngineKind::IkLlamaCpp);
            }
        }
    }

    #[test]
    fn without_a_model_a_machine_too_small_for_the_default_gets_the_largest_that_fits() {
        let mut hw = crate::hardware::presets::get("xeon-e5-2620v4-cpu")
            .unwrap()
            .unwrap();
        hw.memory.total_bytes = 8 << 30;
        hw.memory.available_bytes = Some(8 << 30);
        let plan = plan_model(None, &hw, PlanRequest::default()).unwrap();
        assert_ne!(plan.model.name, "Qwen3.5-35B-A3B");
        assert!(
            plan.warnings[0].contains("does not fit this machine")
                && plan.warnings[0].contains(&format!("'{}'", plan.model.reference)),
            "{:?}",
            plan.warnings
        );
        // Every larger model than the one chosen fails here: it is the largest that fits.
        let chosen = catalog::find(&plan.model.reference).unwrap();
        let chosen_params = chosen.spec(None).unwrap().total_parameters();
        for id in smaller_models_largest_first("qwen3.5-35b-a3b") {
            let p = catalog::find(&id)
                .unwrap()
                .spec(None)
                .unwrap()
                .total_parameters();
            if p > chosen_params {
                assert!(
                    plan_one(Some(&id), &hw, PlanRequest::default()).is_err(),
                    "{id}"
                );
            }
        }
        // A named model that does not fit stays an error (exit 1).
        let e = plan_model(Some("llama-3.3-70b"), &hw, PlanRequest::default()).unwrap_err();
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn catalog_and_default_models_download_from_their_recorded_repository() {
        // The recorded Q4_K_M file (the one its size is counted at).
        let default = download_location(None, None).unwrap().unwrap();
        assert_eq!(
            (
                default.repo.as_str(),
                default.file.as_deref(),
                default.quant.as_deref()
            ),
            (
                "unsloth/Qwen3.5-35B-A3B-GGUF",
                Some("Qwen3.5-35B-A3B-Q4_K_M.gguf"),
                Some("Q4_K_M")
            )
        );
        // No Q6_K file is recorded: the repository and the quant, for the engine to find.
        let q6 = download_location(None, Some("Q6_K")).unwrap().unwrap();
        assert_eq!((q6.file, q6.quant.as_deref()), (None, Some("Q6_K")));
        let gemma = download_location(Some("gemma-4-26b-a4b"), Some("UD-Q4_K_XL"))
            .unwrap()
            .unwrap();
        assert_eq!(gemma.repo, "unsloth/gemma-4-26B-A4B-it-GGUF");
        assert_eq!(download_location(Some("/x/m.gguf"), None).unwrap(), None);
    }

    #[test]
    fn the_command_names_the_file_or_a_placeholder_and_says_so() {
        // (reference, local path, engine) -> (-m value, placeholder warning)
        let cases = [
            (
                "llama-3.1-8b",
                None,
                EngineKind::LlamaCpp,
                "llama-3.1-8b-Q4_K_M.gguf",
                true,
            ),
            (
                "",
                None,
                EngineKind::LlamaCpp,
                "Llama-3.1-8B-Q4_K_M.gguf",
                true,
            ),
            (
                "m.gguf",
                Some("/models/m 1.gguf"),
                EngineKind::IkLlamaCpp,
                "/models/m 1.gguf",
                false,
            ),
        ];
        for (reference, path, engine, model, warned) in cases {
            let mut plan = planned(reference, path);
            let before = plan.warnings.len();
            attach_launch_command(&mut plan, engine);
            let m = plan.args.iter().position(|a| a == "-m").unwrap();
            assert_eq!(plan.args[m + 1], model, "{reference}");
            assert_eq!(
                plan.warnings.len() - before,
                usize::from(warned),
                "{:?}",
                plan.warnings
            );
            assert!(
                plan.command.starts_with("llama-server -m "),
                "{}",
                plan.command
            );
            // The shell line reads back as the same argv.
            assert_eq!(
                plan.command,
                crate::generate::shell::command_line("llama-server", &plan.args)
            );
        }
    }
}
