//! Fuzzes a saved plan (`export --plan FILE`) from the text to every artefact: the
//! reader must return a plan or a one-line bad-input error; for a plan it accepts, each
//! export kind must render or refuse it (exit 2), never panic, and nothing rendered
//! may carry a NUL byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rigplan::ops::export::{launches, plan_from_str, render, Artefact, LaunchRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let plan = match plan_from_str(text, "fuzz.plan.toml") {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "{e}");
            return;
        }
    };
    let plans = [plan];
    for artefact in [Artefact::Command, Artefact::Script, Artefact::Systemd, Artefact::LlamaSwap] {
        let req = LaunchRequest {
            artefact,
            host: "127.0.0.1".into(),
            port: 8080,
            api_key_file: None,
            alias: None,
            engine_bin: Some("/opt/llama/bin".into()),
        };
        let rendered = launches(&plans, None, &req).and_then(|l| render(artefact, &plans, l, None));
        match rendered {
            Ok((text, _)) => assert!(!text.contains('\0')),
            Err(e) => assert_eq!(e.exit_code(), 2, "{artefact:?}: {e}"),
        }
    }
});
