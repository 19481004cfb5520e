//! The build script turns on each engine's model downloader (`-hf`) and checks for the
//! library it links before cmake runs: without it, a one-line stop naming the package;
//! with `RIGPLAN_NO_DOWNLOADER=1`, a build without it. Run with stub `cmake`/`c++` and a
//! `pkg-config` that finds nothing, so nothing is compiled.

use crate::support::rigplan;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn stub(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_build_script_enables_the_downloader_and_names_its_missing_library() {
    for (engine, option, package) in [
        ("llama.cpp", "LLAMA_OPENSSL", "libssl-dev"),
        ("ik_llama.cpp", "LLAMA_CURL", "libcurl4-openssl-dev"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let script = tmp.path().join("build.sh");
        let tree = tmp.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        std::fs::write(tree.join("CMakeLists.txt"), "project(x)\n").unwrap();
        let o = rigplan()
            .args(["build", "--no-gpu", "--engine", engine, "--source"])
            .arg(&tree)
            .arg("--out")
            .arg(&script)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(
            text.contains(&format!("\"-D{option}=$downloader\"")),
            "{engine}: no {option} define"
        );
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        stub(&bin, "cmake", "exit 0");
        stub(&bin, "c++", "exit 0");
        stub(&bin, "pkg-config", "exit 1");
        let path = format!("{}:/usr/bin:/bin", bin.display());
        let run = |no_downloader: bool| {
            let mut c = Command::new("bash");
            // the script runs on a tree that is not there: it stops at that check
            c.arg(&script)
                .env("PATH", &path)
                .env("SOURCE_DIR", tmp.path().join("no-tree"));
            if no_downloader {
                c.env("RIGPLAN_NO_DOWNLOADER", "1");
            }
            c.output().unwrap()
        };
        // The library is missing: exit 1, one line naming it and the way out.
        let o = run(false);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{engine}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{engine}: {err}");
        assert!(
            err.contains(package) && err.contains("RIGPLAN_NO_DOWNLOADER=1"),
            "{engine}: {err}"
        );
        // Opting out passes the check and stops only at the missing source tree.
        let o = run(true);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("building without the model downloader"),
            "{err}"
        );
        assert!(err.contains("is not a source tree"), "{engine}: {err}");
    }
}
