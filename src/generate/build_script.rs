//! `build.sh`: the cmake build script for one engine on one machine.
//!
//! Turns a HardwareSnapshot into CMake defines, each with the reason it is there, and
//! renders `templates/build.sh.tera`. The backend follows the GPUs (CUDA with the exact
//! compute capabilities, HIP with the gfx targets, Vulkan for other GPUs, CPU-only
//! without one); the CPU options follow the snapshot's ISA flags, or `GGML_NATIVE` when
//! the script is built on the machine it describes. Nothing here runs cmake or reads the
//! machine.

use super::shell::shell_quote;
use super::template::{render, BUILD_SH};
use crate::engine::backends as engine_backends;
use crate::engine::{info, EngineInfo, EngineKind};
use crate::error::{chain_text, user_error, Result};
use crate::hardware::{GpuVendor, HardwareSnapshot};
use crate::plan::Backend as PlanBackend;
use serde::Serialize;

/// What to build, for which machine, from which source, into which prefix.
#[derive(Clone, Debug)]
pub struct BuildRequest<'a> {
    pub engine: EngineKind,
    pub hardware: &'a HardwareSnapshot,
    /// The snapshot is the machine the script will run on: `GGML_NATIVE=ON` is right.
    pub on_target: bool,
    /// Build this tree instead of cloning the pinned commit.
    pub source_dir: Option<String>,
    pub prefix: Option<String>,
    pub build_dir: Option<String>,
    /// Also build the RPC server.
    pub rpc: bool,
    /// `--backend`: build for this backend only (`cpu`: no GPU backend); `None` builds
    /// each GPU's first usable backend (`GpuInfo::usable_backends`).
    pub backend: Option<PlanBackend>,
}

/// One `-DNAME=VALUE` with the reason it is in the script.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Define {
    pub name: String,
    pub value: String,
    pub why: String,
    /// The quoted `-DNAME=VALUE` word.
    pub arg: String,
}

fn define(name: &str, value: &str, why: impl Into<String>) -> Define {
    Define {
        name: name.to_string(),
        value: value.to_string(),
        why: why.into(),
        arg: shell_quote(&format!("-D{name}={value}")),
    }
}

/// The GPU backends a machine's GPUs need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// CMake CUDA architectures, e.g. `86`, `120a`.
    Cuda(Vec<String>),
    /// AMD gfx targets, e.g. `gfx1100`.
    Hip(Vec<String>),
    Vulkan,
    /// Apple GPUs: on by default in every macOS build, stated explicitly.
    Metal,
    /// Intel GPUs through oneAPI (docs/backend/SYCL.md: icx/icpx compilers).
    Sycl,
}

/// `CMAKE_CUDA_ARCHITECTURES` entry for a compute capability such as `8.6` or `12.0`.
///
/// Blackwell (10.x, 12.x) gets the arch-specific `a` suffix where the engine's CMake uses
/// it (mainline `ggml/src/ggml-cuda/CMakeLists.txt` builds `120a-real`: the FP4 tensor
/// core instructions exist only for arch-specific targets).
pub fn cuda_arch(compute_capability: &str, engine: &EngineInfo) -> Result<String> {
    let bad = || {
        user_error(format!(
            "compute capability '{compute_capability}' is not MAJOR.MINOR (e.g. 8.6)"
        ))
    };
    let (major, minor) = compute_capability.trim().split_once('.').ok_or_else(bad)?;
    let major: u32 = major.parse().map_err(|_| bad())?;
    let minor: u32 = minor.parse().map_err(|_| bad())?;
    if !(3..=20).contains(&major) || minor > 9 {
        return Err(bad());
    }
    let suffix = if major >= 10 && engine.cuda_arch_specific_suffix {
        "a"
    } else {
        ""
    };
    Ok(format!("{major}{minor}{suffix}"))
}

/// The backend each GPU is built for: the pinned one, else its first usable one.
fn gpu_backend(g: &crate::hardware::GpuInfo, pinned: Option<PlanBackend>) -> PlanBackend {
    pinned.unwrap_or_else(|| g.usable_backends()[0])
}

/// The backends the snapshot's GPUs need, in a stable order. A pinned backend (`--backend`)
/// every GPU must be able to use; without one each GPU gets its first usable backend.
pub fn backends(
    hw: &HardwareSnapshot,
    engine: &EngineInfo,
    pinned: Option<PlanBackend>,
) -> Result<Vec<Backend>> {
    let mut cuda: Vec<String> = Vec::new();
    let mut hip: Vec<String> = Vec::new();
    let (mut vulkan, mut metal, mut sycl) = (false, false, false);
    if pinned == Some(PlanBackend::Cpu) {
        return Ok(Vec::new());
    }
    for gpu in &hw.gpus {
        let b = gpu_backend(gpu, pinned);
        if !gpu.usable_backends().contains(&b) {
            let names: Vec<&str> = gpu.usable_backends().iter().map(|b| b.as_str()).collect();
            return Err(user_error(format!(
                "--backend '{b}' is not available for GPU {} '{}' (available: {}, cpu)",
                gpu.index,
                gpu.name,
                names.join(", ")
            )));
        }
        match b {
            PlanBackend::Cuda => match &gpu.compute_capability {
                Some(cc) => {
                    let arch = cuda_arch(cc, engine).map_err(|e| {
                        user_error(format!(
                            "GPU {} '{}': {}",
                            gpu.index,
                            gpu.name,
                            chain_text(&e)
                        ))
                    })?;
                    if !cuda.contains(&arch) {
                        cuda.push(arch);
                    }
                }
                None => {
                    return Err(user_error(format!(
                        "GPU {} '{}' has no compute capability in the hardware description; \
                         CMAKE_CUDA_ARCHITECTURES cannot be chosen",
                        gpu.index, gpu.name
                    )))
                }
            },
            PlanBackend::Rocm => match &gpu.gfx_target {
                Some(t) if is_gfx_target(t) => {
                    if !hip.contains(t) {
                        hip.push(t.clone());
                    }
                }
                Some(t) => {
                    return Err(user_error(format!(
                        "GPU {} gfx target '{t}' is not gfxNNNN",
                        gpu.index
                    )))
                }
                // No gfx target known: Vulkan runs on any AMD GPU without ROCm, unless
                // ROCm was asked for.
                None if pinned.is_none() => vulkan = true,
                None => {
                    return Err(user_error(format!(
                        "GPU {} '{}' has no gfx target in the hardware description; the ROCm build cannot choose GPU_TARGETS",
                        gpu.index, gpu.name
                    )))
                }
            },
            PlanBackend::Vulkan => vulkan = true,
            PlanBackend::Metal => metal = true,
            PlanBackend::Sycl => sycl = true,
            PlanBackend::Cpu => {}
        }
    }
    let mut out = Vec::new();
    if !cuda.is_empty() {
        cuda.sort();
        out.push(Backend::Cuda(cuda));
    }
    if !hip.is_empty() {
        hip.sort();
        out.push(Backend::Hip(hip));
    }
    if vulkan {
        out.push(Backend::Vulkan);
    }
    if metal {
        out.push(Backend::Metal);
    }
    if sycl {
        out.push(Backend::Sycl);
    }
    Ok(out)
}

/// "2x RTX 3060 (8.6)" style list of the NVIDIA GPUs.
fn nvidia_summary(hw: &HardwareSnapshot) -> String {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for g in hw.gpus.iter().filter(|g| g.vendor == GpuVendor::Nvidia) {
        let key = format!(
            "{} (compute {})",
            g.name,
            g.compute_capability.as_deref().unwrap_or("?")
        );
        match seen.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => seen.push((key, 1)),
        }
    }
    seen.iter()
        .map(|(k, n)| {
            if *n > 1 {
                format!("{n}x {k}")
            } else {
                k.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_gfx_target(t: &str) -> bool {
    t.strip_prefix("gfx")
        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Every CMake define of the build, with its reason.
pub fn cmake_defines(req: &BuildRequest<'_>) -> Result<Vec<Define>> {
    let e = info(req.engine);
    let c = &e.cmake;
    let hw = req.hardware;
    let mut d = vec![
        define("CMAKE_BUILD_TYPE", "Release", "optimised binaries"),
        define(
            "BUILD_SHARED_LIBS",
            "OFF",
            "static libraries: the installed binaries run without the build directory",
        ),
    ];
    for cd in e.component_defines {
        d.push(define(cd.name, cd.value, cd.why));
    }
    let backends = backends(hw, e, req.backend)?;
    let gpu_build = !backends.is_empty();
    let option =
        |b: PlanBackend| engine_backends::support(req.engine, b).map_or("", |s| s.cmake_option);
    for b in &backends {
        match b {
            Backend::Cuda(archs) => {
                d.push(define(c.cuda, "ON", "NVIDIA GPU(s) present"));
                d.push(define(
                    "CMAKE_CUDA_ARCHITECTURES",
                    &archs.join(";"),
                    format!(
                        "exactly the compute capabilities of this machine's GPUs ({}): smaller, faster build than the default list",
                        nvidia_summary(hw)
                    ),
                ));
                d.push(define(
                    c.cuda_graphs,
                    "ON",
                    "CUDA graphs cut kernel launch overhead per generated token",
                ));
            }
            Backend::Hip(targets) => {
                d.push(define(c.hip, "ON", "AMD GPU(s) with ROCm"));
                d.push(define(
                    c.hip_targets,
                    &targets.join(";"),
                    "exactly the gfx targets of this machine's AMD GPUs",
                ));
            }
            Backend::Vulkan => d.push(define(
                c.vulkan,
                "ON",
                "the GPU(s) run on Vulkan (chosen with --backend, or their first usable backend)",
            )),
            Backend::Metal => d.push(define(
                option(PlanBackend::Metal),
                "ON",
                "Apple GPU: Metal (the default of every macOS build, stated)",
            )),
            Backend::Sycl => {
                d.push(define(
                    option(PlanBackend::Sycl),
                    "ON",
                    "Intel GPU(s) through oneAPI SYCL (Level Zero)",
                ));
                // docs/backend/SYCL.md: cmake -DGGML_SYCL=ON -DCMAKE_C_COMPILER=icx
                // -DCMAKE_CXX_COMPILER=icpx, after sourcing oneAPI's setvars.sh.
                d.push(define(
                    "CMAKE_C_COMPILER",
                    "icx",
                    "SYCL needs oneAPI's compilers",
                ));
                d.push(define(
                    "CMAKE_CXX_COMPILER",
                    "icpx",
                    "SYCL needs oneAPI's compilers",
                ));
            }
        }
    }
    cpu_defines(req, e, gpu_build, &mut d);
    if let Some(b) = e.download.build {
        // `$downloader` is set by the prerequisite check: ON unless RIGPLAN_NO_DOWNLOADER=1.
        d.push(Define {
            name: b.cmake_option.to_string(),
            value: "$downloader".to_string(),
            why:
                "the model downloader the printed commands use (-hf); its library is checked above"
                    .to_string(),
            arg: format!("\"-D{}=$downloader\"", b.cmake_option),
        });
    }
    if req.rpc {
        d.push(define(
            c.rpc,
            "ON",
            "--rpc: build the RPC backend and server",
        ));
    }
    Ok(d)
}

fn cpu_defines(req: &BuildRequest<'_>, e: &EngineInfo, gpu_build: bool, d: &mut Vec<Define>) {
    let c = &e.cmake;
    let cpu = &req.hardware.cpu;
    d.push(define(
        c.openmp,
        "ON",
        "ggml's CPU threads are an OpenMP team; launch scripts pin them with OMP_PLACES=cores",
    ));
    if req.on_target {
        d.push(define(
            c.native,
            "ON",
            "building on the machine that will run it: -march=native uses every ISA extension it has",
        ));
    } else {
        d.push(define(
            c.native,
            "OFF",
            "building for another machine: its ISA is spelled out below instead of -march=native",
        ));
        let x86 = cpu.arch.is_empty() || cpu.arch == "x86_64";
        if x86 {
            let mut isa: Vec<(&str, &str)> = vec![
                (c.avx, "avx"),
                (c.avx2, "avx2"),
                (c.fma, "fma"),
                (c.f16c, "f16c"),
                (c.avx512, "avx512f"),
                (c.avx512_vbmi, "avx512vbmi"),
                (c.avx512_vnni, "avx512_vnni"),
                (c.avx512_bf16, "avx512_bf16"),
            ];
            if let Some(b) = c.bmi2 {
                isa.push((b, "bmi2"));
            }
            if let Some(v) = c.avx_vnni {
                isa.push((v, "avx_vnni"));
            }
            for (name, flag) in isa {
                let on = cpu.has(flag);
                d.push(define(
                    name,
                    if on { "ON" } else { "OFF" },
                    if on {
                        format!("the target CPU has '{flag}'")
                    } else {
                        format!("the target CPU lacks '{flag}'")
                    },
                ));
            }
        }
        if let Some(march) = cpu.march.as_deref().filter(|m| is_march(m)) {
            let flags = format!("-march={march} -mtune={march}");
            d.push(define(
                "CMAKE_C_FLAGS",
                &flags,
                format!(
                    "tune all code for the target's microarchitecture ({})",
                    cpu.microarchitecture.as_deref().unwrap_or(march)
                ),
            ));
            d.push(define("CMAKE_CXX_FLAGS", &flags, "the same for C++"));
        }
    }
    if !gpu_build {
        if e.supports_blas {
            // ggml/src/ggml-blas/ggml-blas.cpp `supports_op`: mat-muls with all dims >= 32
            // (prompt processing) go to BLAS; token generation (batch 1) stays in ggml.
            // `$blas` is set by the prerequisite check: ON when OpenBLAS is installed.
            d.push(Define {
                name: c.blas.to_string(),
                value: "$blas".to_string(),
                why: "CPU-only machine: OpenBLAS speeds up prompt processing (batches >= 32) when installed".to_string(),
                arg: format!("\"-D{}=$blas\"", c.blas),
            });
            d.push(define(
                c.blas_vendor,
                "OpenBLAS",
                "docs/build.md 'OpenBLAS'",
            ));
        }
        d.push(define(
            c.lto,
            "ON",
            "CPU-only: link-time optimisation inlines across ggml's CPU kernels (not used with nvcc/hipcc)",
        ));
    } else {
        d.push(define(
            c.lto,
            "OFF",
            "GPU build: device code dominates and LTO with nvcc/hipcc objects is fragile",
        ));
    }
}

fn is_march(m: &str) -> bool {
    !m.is_empty()
        && m.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | '+'))
}

#[derive(Serialize)]
struct Ctx {
    engine_name: String,
    engine_version: String,
    target: String,
    rigplan_version: String,
    hardware_source: String,
    commit: String,
    git_url: String,
    source_dir: String,
    build_dir: String,
    build_root: String,
    prefix: String,
    checks: Vec<String>,
    source_lines: Vec<String>,
    defines: Vec<Define>,
    configure_env: Vec<String>,
    targets: String,
}

/// A value for `VAR="${VAR:-HERE}"`: inside double quotes, so `\`, `"`, `$` and backquote
/// are escaped; a newline cannot be held.
fn dq(s: &str, what: &str) -> Result<String> {
    if s.contains(['\n', '\r', '\0']) {
        return Err(user_error(format!(
            "{what} '{}' contains a newline",
            s.escape_debug()
        )));
    }
    let mut out = String::new();
    for ch in s.chars() {
        if matches!(ch, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(ch);
    }
    Ok(out)
}

/// The CMake targets rigplan needs from this engine.
pub fn targets(engine: &EngineInfo, rpc: bool) -> Vec<&'static str> {
    let t = &engine.targets;
    let mut v = vec![t.server, t.bench, t.cli];
    if let Some(f) = t.fit_params {
        v.push(f);
    }
    if rpc {
        v.push(t.rpc_server);
    }
    v
}

/// Shell lines setting `$downloader`: ON when the downloader's library is installed
/// (pkg-config, else its headers), a clear stop when it is not, OFF on request.
fn downloader_check(b: &crate::engine::rules::DownloaderBuild) -> Vec<String> {
    let missing = format!(
        "the model downloader (-D{}=ON, which the printed -hf commands need) needs {}; or set RIGPLAN_NO_DOWNLOADER=1 to build without it and launch with -m FILE",
        b.cmake_option, b.install
    );
    let headers: Vec<String> = b.headers.iter().map(|h| h.to_string()).collect();
    vec![
        "downloader=ON".to_string(),
        "if [ \"${RIGPLAN_NO_DOWNLOADER:-0}\" = 1 ]; then".to_string(),
        "  downloader=OFF".to_string(),
        "  echo \"build.sh: note: RIGPLAN_NO_DOWNLOADER=1: building without the model downloader (launch with -m FILE)\" >&2".to_string(),
        "elif command -v pkg-config >/dev/null 2>&1; then".to_string(),
        format!(
            "  pkg-config --exists {} || die {}",
            shell_quote(b.pkg_config),
            shell_quote(&format!("{} not found by pkg-config: {missing}", b.pkg_config))
        ),
        format!(
            "elif ! {{ {}; }} >/dev/null; then",
            headers
                .iter()
                .map(|h| format!("compgen -G {}", shell_quote(h)))
                .collect::<Vec<_>>()
                .join(" || ")
        ),
        format!("  die {}", shell_quote(&format!("no {} header: {missing}", headers.join(" or ")))),
        "fi".to_string(),
    ]
}

/// Renders the whole build script.
pub fn build_script(req: &BuildRequest<'_>) -> Result<String> {
    let e = info(req.engine);
    let defines = cmake_defines(req)?;
    let backends = backends(req.hardware, e, req.backend)?;
    let key = e.build_key();
    let mut checks = Vec::new();
    let mut configure_env = Vec::new();
    for b in &backends {
        match b {
            Backend::Cuda(archs) => {
                checks.push("need nvcc \"install the CUDA toolkit (https://developer.nvidia.com/cuda-downloads) and put its bin/ on PATH\"".to_string());
                checks.push("cuda_archs=(".to_string() + &archs.join(" ") + ")");
                checks.push("for a in \"${cuda_archs[@]}\"; do".to_string());
                checks.push("  nvcc --list-gpu-arch | grep -qx \"compute_${a%a}\" \\".to_string());
                checks.push("    || die \"nvcc $(nvcc --version | sed -n 's/.*release \\([0-9.]*\\).*/\\1/p') cannot compile for sm_$a: install a newer CUDA toolkit (sm_86 needs 11.1, sm_89 11.8, sm_120 12.8)\"".to_string());
                checks.push("done".to_string());
            }
            Backend::Hip(_) => {
                checks.push("need hipconfig \"install ROCm (https://rocm.docs.amd.com) and put /opt/rocm/bin on PATH\"".to_string());
                // docs/build.md 'HIP': HIPCXX and HIP_PATH from hipconfig.
                configure_env.push("HIPCXX=\"$(hipconfig -l)/clang\"; export HIPCXX".to_string());
                configure_env.push("HIP_PATH=\"$(hipconfig -R)\"; export HIP_PATH".to_string());
            }
            Backend::Vulkan => {
                checks.push("need glslc \"install the Vulkan SDK shader compiler (Debian/Ubuntu: sudo apt-get install glslc libvulkan-dev)\"".to_string());
            }
            Backend::Metal => {}
            Backend::Sycl => {
                checks.push("need icpx \"install the oneAPI Base Toolkit and run: source /opt/intel/oneapi/setvars.sh\"".to_string());
            }
        }
    }
    if let Some(b) = e.download.build {
        checks.extend(downloader_check(&b));
    }
    if defines.iter().any(|d| d.name == e.cmake.blas) {
        checks.extend(
            [
                "blas=OFF",
                "if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas; then",
                "  blas=ON",
                "else",
                "  echo \"build.sh: note: OpenBLAS not found, building without it (for faster prompt processing: sudo apt-get install libopenblas-dev pkg-config)\" >&2",
                "fi",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
    }
    let mut source_lines = Vec::new();
    let source_default;
    match &req.source_dir {
        Some(dir) => {
            source_default = dq(dir, "--source")?;
            source_lines.push(
                "[ -f \"$SOURCE_DIR/CMakeLists.txt\" ] || die \"'$SOURCE_DIR' is not a source tree (no CMakeLists.txt)\""
                    .to_string(),
            );
        }
        None => {
            source_default = format!("${{XDG_CACHE_HOME:-$HOME/.cache}}/rigplan/src/{key}");
            source_lines.extend(
                [
                    "if [ ! -d \"$SOURCE_DIR/.git\" ]; then",
                    "  need git \"install git (Debian/Ubuntu: sudo apt-get install git)\"",
                    "  mkdir -p \"$SOURCE_DIR\"",
                    "  git -C \"$SOURCE_DIR\" init -q",
                    "  git -C \"$SOURCE_DIR\" remote add origin \"$GIT_URL\"",
                    "fi",
                    "if [ \"$(git -C \"$SOURCE_DIR\" rev-parse HEAD 2>/dev/null || true)\" != \"$ENGINE_COMMIT\" ]; then",
                    "  echo \"build.sh: fetching $GIT_URL at $ENGINE_COMMIT\" >&2",
                    "  git -C \"$SOURCE_DIR\" fetch -q --depth 1 origin \"$ENGINE_COMMIT\"",
                    "  git -C \"$SOURCE_DIR\" checkout -q --detach FETCH_HEAD",
                    "fi",
                ]
                .iter()
                .map(|s| s.to_string()),
            );
        }
    }
    if e.needs_build_info_fix {
        // DESIGN.md: the ik sdist lacks common/cmake/build-info-gen-cpp.cmake.
        source_lines.extend(
            [
                "if [ ! -f \"$SOURCE_DIR/common/build-info.cpp\" ] && [ ! -f \"$SOURCE_DIR/common/cmake/build-info-gen-cpp.cmake\" ]; then",
                "  # This tree (a PyPI sdist) cannot generate build-info.cpp itself: write it.",
                "  sed -e 's/@BUILD_NUMBER@/0/' -e \"s/@BUILD_COMMIT@/${ENGINE_COMMIT:0:9}/\" \\",
                "      -e 's/@BUILD_COMPILER@/c++/' -e \"s/@BUILD_TARGET@/$(uname -m)-linux/\" \\",
                "      \"$SOURCE_DIR/common/build-info.cpp.in\" > \"$SOURCE_DIR/common/build-info.cpp\"",
                "fi",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
    }
    let target = describe_target(req.hardware);
    let ctx = Ctx {
        engine_name: e.kind.name().to_string(),
        engine_version: e.version.to_string(),
        target: target.replace('\n', " "),
        rigplan_version: env!("CARGO_PKG_VERSION").to_string(),
        hardware_source: req.hardware.source.replace('\n', " "),
        commit: e.commit.to_string(),
        git_url: shell_quote(e.git_url),
        source_dir: source_default,
        // Empty: the script keys the default by the source tree's path.
        build_dir: match &req.build_dir {
            Some(b) => dq(b, "build directory")?,
            None => String::new(),
        },
        build_root: format!("${{XDG_CACHE_HOME:-$HOME/.cache}}/rigplan/build/{key}"),
        prefix: match &req.prefix {
            Some(p) => dq(p, "--prefix")?,
            None => format!("${{XDG_DATA_HOME:-$HOME/.local/share}}/rigplan/{key}"),
        },
        checks,
        source_lines,
        defines,
        configure_env,
        targets: targets(e, req.rpc).join(" "),
    };
    render("build.sh", BUILD_SH, &ctx)
}

fn describe_target(hw: &HardwareSnapshot) -> String {
    let mut parts = vec![format!(
        "{} ({})",
        hw.cpu.brand,
        hw.cpu
            .microarchitecture
            .as_deref()
            .unwrap_or("unknown microarchitecture")
    )];
    for g in &hw.gpus {
        parts.push(g.name.clone());
    }
    if hw.gpus.is_empty() {
        parts.push("no GPU".to_string());
    }
    parts.join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{CpuInfo, GpuInfo, MemoryInfo};

    fn gpu(
        index: u32,
        name: &str,
        vendor: GpuVendor,
        cc: Option<&str>,
        gfx: Option<&str>,
    ) -> GpuInfo {
        GpuInfo {
            index,
            name: name.into(),
            vendor,
            vram_bytes: 12 << 30,
            vram_free_bytes: None,
            bandwidth_gbs: None,
            fp16_tflops: None,
            compute_capability: cc.map(str::to_string),
            gfx_target: gfx.map(str::to_string),
            unified_memory: false,
            pcie: None,
            uuid: None,
            pci_bus_id: None,
            power_limit_w: None,
            backends: Vec::new(),
            vulkan_matrix: None,
        }
    }

    fn machine(flags: &[&str], gpus: Vec<GpuInfo>) -> HardwareSnapshot {
        HardwareSnapshot {
            schema_version: 1,
            source: "test".into(),
            cpu: CpuInfo {
                vendor: "GenuineIntel".into(),
                brand: "Xeon E5-1620 v3".into(),
                microarchitecture: Some("haswell".into()),
                march: Some("haswell".into()),
                arch: "x86_64".into(),
                physical_cores: 4,
                threads: 8,
                sockets: 1,
                numa_nodes: 1,
                flags: flags.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            memory: MemoryInfo::default(),
            gpus,
            system: Default::default(),
            notes: vec![],
        }
    }

    fn req(engine: EngineKind, hw: &HardwareSnapshot, on_target: bool) -> BuildRequest<'_> {
        BuildRequest {
            engine,
            hardware: hw,
            on_target,
            source_dir: None,
            prefix: None,
            build_dir: None,
            backend: None,
            rpc: true,
        }
    }

    fn value(d: &[Define], name: &str) -> Option<String> {
        d.iter().find(|x| x.name == name).map(|x| x.value.clone())
    }

    #[test]
    fn cuda_archs_follow_compute_capability() {
        let main = info(EngineKind::LlamaCpp);
        let ik = info(EngineKind::IkLlamaCpp);
        assert_eq!(cuda_arch("8.6", main).unwrap(), "86");
        assert_eq!(cuda_arch("12.0", main).unwrap(), "120a");
        assert_eq!(cuda_arch("12.0", ik).unwrap(), "120");
        assert!(cuda_arch("eight", main).is_err());
        assert!(cuda_arch("8.", main).is_err());
    }

    #[test]
    fn two_3060s_on_haswell_for_another_machine() {
        let g = |i| gpu(i, "RTX 3060", GpuVendor::Nvidia, Some("8.6"), None);
        let hw = machine(&["avx", "avx2", "fma", "f16c", "bmi2"], vec![g(0), g(1)]);
        let d = cmake_defines(&req(EngineKind::LlamaCpp, &hw, false)).unwrap();
        assert_eq!(value(&d, "CMAKE_CUDA_ARCHITECTURES").as_deref(), Some("86"));
        assert_eq!(value(&d, "GGML_CUDA_GRAPHS").as_deref(), Some("ON"));
        assert_eq!(value(&d, "GGML_NATIVE").as_deref(), Some("OFF"));
        assert_eq!(value(&d, "GGML_AVX2").as_deref(), Some("ON"));
        assert_eq!(value(&d, "GGML_BMI2").as_deref(), Some("ON"));
        assert_eq!(value(&d, "GGML_AVX512").as_deref(), Some("OFF"));
        assert_eq!(
            value(&d, "CMAKE_C_FLAGS").as_deref(),
            Some("-march=haswell -mtune=haswell")
        );
        assert_eq!(value(&d, "GGML_BLAS"), None, "GPU build: no BLAS");
        assert_eq!(value(&d, "GGML_RPC").as_deref(), Some("ON"));
        assert!(d.iter().all(|x| !x.why.is_empty()));
        let s = build_script(&req(EngineKind::LlamaCpp, &hw, false)).unwrap();
        assert!(s.contains("nvcc --list-gpu-arch"), "{s}");
        assert!(s.contains("ggml-rpc-server"), "{s}");
        // ik spells graphs and the RPC target differently and has no GGML_BMI2.
        let d = cmake_defines(&req(EngineKind::IkLlamaCpp, &hw, false)).unwrap();
        assert_eq!(value(&d, "GGML_CUDA_USE_GRAPHS").as_deref(), Some("ON"));
        assert_eq!(value(&d, "GGML_BMI2"), None);
        let s = build_script(&req(EngineKind::IkLlamaCpp, &hw, false)).unwrap();
        assert!(
            s.contains("targets=(llama-server llama-bench llama-cli rpc-server)"),
            "{s}"
        );
        assert!(s.contains("build-info.cpp.in"), "{s}");
    }

    #[test]
    fn native_cpu_only_and_amd() {
        let hw = machine(&["avx2"], vec![]);
        let d = cmake_defines(&req(EngineKind::LlamaCpp, &hw, true)).unwrap();
        assert_eq!(value(&d, "GGML_NATIVE").as_deref(), Some("ON"));
        assert_eq!(value(&d, "GGML_AVX2"), None, "native: no explicit ISA");
        assert_eq!(value(&d, "GGML_BLAS").as_deref(), Some("$blas"));
        assert_eq!(value(&d, "GGML_LTO").as_deref(), Some("ON"));
        let hw = machine(
            &[],
            vec![gpu(0, "RX 7900 XTX", GpuVendor::Amd, None, Some("gfx1100"))],
        );
        let d = cmake_defines(&req(EngineKind::LlamaCpp, &hw, true)).unwrap();
        assert_eq!(value(&d, "GGML_HIP").as_deref(), Some("ON"));
        assert_eq!(value(&d, "GPU_TARGETS").as_deref(), Some("gfx1100"));
        let d = cmake_defines(&req(EngineKind::IkLlamaCpp, &hw, true)).unwrap();
        assert_eq!(value(&d, "GGML_HIPBLAS").as_deref(), Some("ON"));
        let mut arc = gpu(0, "Arc A770", GpuVendor::Intel, None, None);
        // Intel's runtime is SYCL (oneAPI compilers); Vulkan when only that is installed.
        let hw = machine(&[], vec![arc.clone()]);
        let d = cmake_defines(&req(EngineKind::LlamaCpp, &hw, true)).unwrap();
        assert_eq!(value(&d, "GGML_SYCL").as_deref(), Some("ON"));
        assert_eq!(value(&d, "CMAKE_CXX_COMPILER").as_deref(), Some("icpx"));
        arc.backends = vec![PlanBackend::Vulkan];
        let hw = machine(&[], vec![arc]);
        let d = cmake_defines(&req(EngineKind::LlamaCpp, &hw, true)).unwrap();
        assert_eq!(value(&d, "GGML_VULKAN").as_deref(), Some("ON"));
        assert_eq!(value(&d, "GGML_SYCL"), None);
    }

    #[test]
    fn a_pinned_backend_is_built_and_checked() {
        let mut g = gpu(0, "RTX 3060", GpuVendor::Nvidia, Some("8.6"), None);
        g.backends = vec![PlanBackend::Cuda, PlanBackend::Vulkan];
        let hw = machine(&[], vec![g]);
        let pinned = |b| {
            let mut r = req(EngineKind::LlamaCpp, &hw, true);
            r.backend = Some(b);
            cmake_defines(&r)
        };
        let d = pinned(PlanBackend::Vulkan).unwrap();
        assert_eq!(value(&d, "GGML_VULKAN").as_deref(), Some("ON"));
        assert_eq!(value(&d, "GGML_CUDA"), None);
        let d = pinned(PlanBackend::Cpu).unwrap();
        assert_eq!(value(&d, "GGML_CUDA"), None);
        assert_eq!(value(&d, "GGML_VULKAN"), None);
        let e = pinned(PlanBackend::Rocm).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            format!("{e:#}").contains("available: cuda, vulkan"),
            "{e:#}"
        );
    }

    #[test]
    fn nvidia_without_compute_capability_is_bad_input() {
        let hw = machine(&[], vec![gpu(0, "mystery", GpuVendor::Nvidia, None, None)]);
        let e = cmake_defines(&req(EngineKind::LlamaCpp, &hw, true)).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
