//! Multi-GPU split modes of each pinned engine, as data: which modes exist, which of them
//! run the GPUs in parallel (tensor parallelism), on which backends and architectures,
//! and what they require. [`check`] says why the pinned engine would refuse (or silently
//! replace) a split mode for one model and machine.
//!
//! Facts only, each with the engine function it was read from; nothing here chooses a
//! split mode (the planner does) or lays out memory (`planner::memory::split` does).

use super::EngineKind;
use crate::hardware::GpuVendor;

/// How the engine spreads one model over several GPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitKind {
    /// One GPU only (`-sm none`).
    Single,
    /// Whole layers per GPU, run one GPU after the other (`-sm layer`).
    Layer,
    /// Each matrix split by rows over the GPUs, layers as for a layer split
    /// (mainline `-sm row`, only where the backend exports a split buffer type).
    Row,
    /// Every layer's attention heads, FFN rows, experts and KV cache split over all GPUs,
    /// which run each layer at the same time and all-reduce its output (mainline
    /// `-sm tensor`, ik `-sm graph`).
    Parallel,
    /// ik `-sm attn`: attention split over the GPUs, the rest per layer.
    AttentionOnly,
}

/// One split mode of one pinned engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitModeSpec {
    /// The `-sm` value.
    pub name: &'static str,
    pub kind: SplitKind,
    /// Needs at least this many GPUs.
    pub min_gpus: usize,
    /// The engine refuses it without flash attention.
    pub needs_flash_attn: bool,
    /// Routed experts kept in system RAM (`--n-cpu-moe`) still work with it.
    pub allows_cpu_experts: bool,
    /// A parallel split also cuts the output matrix over the GPUs (otherwise it stays
    /// whole on the output layer's GPU).
    pub splits_output: bool,
    /// The engine's own help calls it experimental: chosen only for a clear predicted
    /// gain ([`EXPERIMENTAL_MIN_GAIN`]), with a warning.
    pub experimental: bool,
    /// A parallel split whose own scheduler the engine turns off when tensors are
    /// overridden (`--n-cpu-moe`, `-ot`), so the gain may be smaller than predicted.
    pub scheduler_off_with_overrides: bool,
    /// Where the rules were read.
    pub source: &'static str,
}

/// Predicted tg gain an experimental split mode must buy over the best established one
/// before a plan chooses it unpinned. A planning choice: the tensor-parallel speed model
/// has no calibration point yet (docs/calibration.md), so small predicted gains are not
/// worth an experimental code path.
pub const EXPERIMENTAL_MIN_GAIN: f64 = 1.10;

/// mainline `-sm {none,layer,row,tensor}` (common/arg.cpp).
const MAINLINE: &[SplitModeSpec] = &[
    SplitModeSpec {
        name: "none",
        kind: SplitKind::Single,
        min_gpus: 0,
        needs_flash_attn: false,
        allows_cpu_experts: true,
        splits_output: false,
        experimental: false,
        scheduler_off_with_overrides: false,
        source: "src/llama.cpp llama_prepare_model_devices (keeps main_gpu only)",
    },
    SplitModeSpec {
        name: "layer",
        kind: SplitKind::Layer,
        min_gpus: 0,
        needs_flash_attn: false,
        allows_cpu_experts: true,
        splits_output: false,
        experimental: false,
        scheduler_off_with_overrides: false,
        source: "src/llama-model.cpp llama_model_base::load_tensors (get_layer_buft_list)",
    },
    SplitModeSpec {
        name: "row",
        kind: SplitKind::Row,
        min_gpus: 2,
        needs_flash_attn: false,
        allows_cpu_experts: true,
        splits_output: false,
        experimental: false,
        scheduler_off_with_overrides: false,
        source: "src/llama-model.cpp make_gpu_buft_list (ggml_backend_split_buffer_type)",
    },
    // src/llama.cpp llama_prepare_model_devices wraps every GPU in one meta device;
    // src/llama-context.cpp llama_init_from_model refuses it without flash attention;
    // --n-cpu-moe overrides put experts in CPU buffers outside the meta device
    // (common/arg.cpp, src/llama-model.cpp load_tensors buffer overrides), which the
    // scheduler runs on the CPU as for a layer split.
    SplitModeSpec {
        name: "tensor",
        kind: SplitKind::Parallel,
        min_gpus: 2,
        needs_flash_attn: true,
        allows_cpu_experts: true,
        // llama_meta_device_get_split_state: `output.weight` GGML_BACKEND_SPLIT_AXIS_1.
        splits_output: true,
        // common/arg.cpp `-sm` help: "tensor: split weights and KV across GPUs
        // (parallelized, EXPERIMENTAL)".
        experimental: true,
        scheduler_off_with_overrides: false,
        source: "src/llama.cpp llama_prepare_model_devices, src/llama-model.cpp llama_meta_device_get_split_state",
    },
];

/// ik `-sm none|layer|attn|graph` (common/common.cpp gpt_params_find_arg).
const IK: &[SplitModeSpec] = &[
    SplitModeSpec {
        name: "none",
        kind: SplitKind::Single,
        min_gpus: 0,
        needs_flash_attn: false,
        allows_cpu_experts: true,
        splits_output: false,
        experimental: false,
        scheduler_off_with_overrides: false,
        source: "src/llama.cpp llm_load_tensors",
    },
    SplitModeSpec {
        name: "layer",
        kind: SplitKind::Layer,
        min_gpus: 0,
        needs_flash_attn: false,
        allows_cpu_experts: true,
        splits_output: false,
        experimental: false,
        scheduler_off_with_overrides: false,
        source: "src/llama.cpp llm_load_tensors",
    },
    SplitModeSpec {
        name: "attn",
        kind: SplitKind::AttentionOnly,
        min_gpus: 2,
        needs_flash_attn: false,
        allows_cpu_experts: true,
        splits_output: false,
        experimental: false,
        scheduler_off_with_overrides: false,
        source: "src/llama.cpp llm_load_tensors (LLAMA_SPLIT_MODE_ATTN)",
    },
    // src/llama.cpp llm_load_tensors throws "not possible to use split mode 'graph' with
    // less than 2 devices"; src/llama-load-tensors.cpp create_tensors_helper keeps the
    // experts of the first `--n-cpu-moe` layers in CPU buffers for graph split too (the
    // `ml.ncmoe` branch) and leaves host-buffer tensors unsplit. The output matrix is
    // created in `ctx_output` (create_embd_output's `use_ctx_split` defaults to false and
    // no loader sets it), so it stays whole on the output layer's GPU.
    SplitModeSpec {
        name: "graph",
        kind: SplitKind::Parallel,
        min_gpus: 2,
        needs_flash_attn: false,
        allows_cpu_experts: true,
        splits_output: false,
        experimental: false,
        // src/llama.cpp llama_init_from_model: the split-mode-graph scheduler runs only
        // without tensor overrides (which --n-cpu-moe adds), unless -smgs forces it.
        scheduler_off_with_overrides: true,
        source: "src/llama.cpp llm_load_tensors, src/llama-load-tensors.cpp create_tensors_helper::create_tensors",
    },
];

/// Architectures (GGUF `general.architecture`) mainline's `-sm tensor` refuses:
/// `llm_arch_supports_sm_tensor` (src/llama-arch.cpp) returns false for these, and
/// `llama_model_create` (src/llama-model.cpp) throws "LLAMA_SPLIT_MODE_TENSOR not
/// implemented for architecture". Names from `LLM_ARCH_NAMES` (src/llama-arch.cpp).
const MAINLINE_TENSOR_REFUSED: &[&str] = &[
    "grok",
    "mpt",
    "plamo2",
    "minicpm3",
    "gemma3n",
    "mamba",
    "mamba2",
    "jamba",
    "falcon-h1",
    "olmo2",
    "olmoe",
    "deepseek2",
    "deepseek32",
    "hy_v4",
    "dots3note",
    "glm-dsa",
    "bitnet",
    "t5",
    "nemotron_h",
    "nemotron_h_moe",
    "granitehybrid",
    "minimax-01",
    "minimax-m2",
    "minimax-m3",
    "mistral4",
    "kimi-linear",
    "bailingmoe3",
    "kimi-k3",
    "glm5-next",
    "qwen3tts",
    "qwen4exp",
];

/// Architectures ik's `-sm graph`/`-sm attn` supports: `is_model_split_supported`
/// (src/llama.cpp); for any other, `llm_load_tensors` logs "Split mode 'graph' is not
/// supported for this model => changing split mode to 'layer'".
const IK_GRAPH_SUPPORTED: &[&str] = &[
    "llama",
    "qwen3moe",
    "glm4moe",
    "mistral3",
    "command-r",
    "cohere2",
    "mimo2",
    "qwen3",
    "qwen3vl",
    "hunyuan-moe",
    "gpt-oss",
    "ernie4_5-moe",
    "minimax-m2",
    "seed_oss",
    "step35",
    "qwen35",
    "qwen35moe",
    "gemma4",
];

/// Every split mode of the pinned engine.
pub fn modes(engine: EngineKind) -> &'static [SplitModeSpec] {
    match engine {
        EngineKind::LlamaCpp => MAINLINE,
        EngineKind::IkLlamaCpp => IK,
    }
}

/// The split mode called `name`, if the engine has it.
pub fn mode(engine: EngineKind, name: &str) -> Option<&'static SplitModeSpec> {
    modes(engine).iter().find(|m| m.name == name)
}

/// The engine's tensor-parallel split mode (mainline `tensor`, ik `graph`).
pub fn parallel_mode(engine: EngineKind) -> &'static SplitModeSpec {
    let all = modes(engine);
    // Both tables hold exactly one Parallel entry (checked by a unit test).
    all.iter()
        .find(|m| m.kind == SplitKind::Parallel)
        .unwrap_or(&all[0])
}

/// What the check needs to know about the model and machine.
#[derive(Clone, Copy, Debug)]
pub struct SplitContext<'a> {
    pub architecture: &'a str,
    pub gpu_vendors: &'a [GpuVendor],
    pub flash_attn: bool,
    /// Routed experts of some layers stay in system RAM.
    pub cpu_experts: bool,
}

/// Why the engine would refuse split mode `name` here, or `None` if it runs it as asked.
/// The message names the split mode and the engine function that decides.
pub fn check(engine: EngineKind, name: &str, ctx: &SplitContext<'_>) -> Option<String> {
    let Some(m) = mode(engine, name) else {
        let all: Vec<&str> = modes(engine).iter().map(|m| m.name).collect();
        return Some(format!(
            "--split-mode '{name}': {engine} has no such split mode (it accepts {})",
            all.join(", ")
        ));
    };
    let n = ctx.gpu_vendors.len();
    if n < m.min_gpus {
        return Some(format!(
            "--split-mode '{name}' needs at least {} GPUs and this machine has {n} ({engine}: {})",
            m.min_gpus, m.source
        ));
    }
    let arch = ctx.architecture;
    match (engine, m.kind) {
        (EngineKind::LlamaCpp, SplitKind::Row) => {
            // ggml_backend_cuda_reg_get_proc_address (ggml/src/ggml-cuda/ggml-cuda.cu)
            // exports no `ggml_backend_split_buffer_type` any more (nor do Metal and
            // Vulkan); only SYCL (ggml-sycl.cpp) and Hexagon keep it, and
            // make_gpu_buft_list throws "device ... does not support split buffers".
            let bad = ctx
                .gpu_vendors
                .iter()
                .find(|v| !matches!(v, GpuVendor::Intel));
            if let Some(v) = bad {
                return Some(format!(
                    "--split-mode 'row': llama.cpp's {v:?} backend has no split buffer type any more (make_gpu_buft_list in src/llama-model.cpp throws \"does not support split buffers\"; only SYCL keeps it); use --split-mode tensor or layer"
                ));
            }
        }
        (EngineKind::LlamaCpp, SplitKind::Parallel) => {
            if MAINLINE_TENSOR_REFUSED.contains(&arch) {
                return Some(format!(
                    "--split-mode 'tensor': llama.cpp does not implement tensor parallelism for architecture '{arch}' (llm_arch_supports_sm_tensor in src/llama-arch.cpp); use --split-mode layer"
                ));
            }
            if !ctx.flash_attn {
                return Some(
                    "--split-mode 'tensor' with --flash-attn off: llama.cpp requires flash attention for tensor parallelism (llama_init_from_model in src/llama-context.cpp)".into(),
                );
            }
        }
        (EngineKind::IkLlamaCpp, SplitKind::Parallel | SplitKind::AttentionOnly) => {
            if !IK_GRAPH_SUPPORTED.contains(&arch) {
                return Some(format!(
                    "--split-mode '{name}': ik_llama.cpp has no graph split for architecture '{arch}' and would silently fall back to a layer split (is_model_split_supported in src/llama.cpp); use --split-mode layer"
                ));
            }
            // llama_default_buffer_type_split (src/llama.cpp) creates the split buffer
            // only under GGML_USE_CUDA (also set for HIP builds, ggml/src/CMakeLists.txt)
            // or GGML_USE_SYCL; elsewhere the weights land on one GPU unsplit.
            let bad = ctx
                .gpu_vendors
                .iter()
                .find(|v| !matches!(v, GpuVendor::Nvidia | GpuVendor::Amd | GpuVendor::Intel));
            if let Some(v) = bad {
                return Some(format!(
                    "--split-mode '{name}': ik_llama.cpp splits tensors only on CUDA, HIP or SYCL GPUs, not {v:?} (llama_default_buffer_type_split in src/llama.cpp)"
                ));
            }
        }
        _ => {}
    }
    if m.needs_flash_attn && !ctx.flash_attn {
        return Some(format!(
            "--split-mode '{name}' needs flash attention ({engine}: {})",
            m.source
        ));
    }
    if ctx.cpu_experts && !m.allows_cpu_experts {
        return Some(format!(
            "--split-mode '{name}' cannot keep experts in system RAM ({engine}: {})",
            m.source
        ));
    }
    None
}

/// Whether the engine runs its parallel split for this model and machine at all.
pub fn parallel_supported(engine: EngineKind, ctx: &SplitContext<'_>) -> bool {
    ctx.gpu_vendors.len() >= 2 && check(engine, parallel_mode(engine).name, ctx).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(arch: &'a str, gpus: &'a [GpuVendor]) -> SplitContext<'a> {
        SplitContext {
            architecture: arch,
            gpu_vendors: gpus,
            flash_attn: true,
            cpu_experts: false,
        }
    }

    const TWO_NV: &[GpuVendor] = &[GpuVendor::Nvidia, GpuVendor::Nvidia];

    #[test]
    fn each_engine_has_one_parallel_mode_and_its_tables_match_the_parser() {
        assert_eq!(parallel_mode(EngineKind::LlamaCpp).name, "tensor");
        assert_eq!(parallel_mode(EngineKind::IkLlamaCpp).name, "graph");
        for e in [EngineKind::LlamaCpp, EngineKind::IkLlamaCpp] {
            let names: Vec<&str> = modes(e).iter().map(|m| m.name).collect();
            // The same words as the option table's `-sm` values.
            assert_eq!(names, super::super::info(e).split_modes);
            let parallel = modes(e)
                .iter()
                .filter(|m| m.kind == SplitKind::Parallel)
                .count();
            assert_eq!(parallel, 1, "{e}");
        }
    }

    #[test]
    fn refusals_name_the_pin_and_the_engine_rule() {
        let row = check(EngineKind::LlamaCpp, "row", &ctx("llama", TWO_NV)).unwrap();
        assert!(
            row.contains("'row'") && row.contains("split buffer"),
            "{row}"
        );
        let t = check(EngineKind::LlamaCpp, "tensor", &ctx("deepseek2", TWO_NV)).unwrap();
        assert!(
            t.contains("'tensor'") && t.contains("llm_arch_supports_sm_tensor"),
            "{t}"
        );
        let mut no_fa = ctx("llama", TWO_NV);
        no_fa.flash_attn = false;
        let f = check(EngineKind::LlamaCpp, "tensor", &no_fa).unwrap();
        assert!(f.contains("flash attention"), "{f}");
        let g = check(EngineKind::IkLlamaCpp, "graph", &ctx("qwen3next", TWO_NV)).unwrap();
        assert!(g.contains("is_model_split_supported"), "{g}");
        let one = check(
            EngineKind::IkLlamaCpp,
            "graph",
            &ctx("qwen35moe", &[GpuVendor::Nvidia]),
        )
        .unwrap();
        assert!(one.contains("at least 2 GPUs"), "{one}");
        let no = check(EngineKind::IkLlamaCpp, "row", &ctx("llama", TWO_NV)).unwrap();
        assert!(no.contains("no such split mode"), "{no}");
    }

    #[test]
    fn supported_combinations_pass() {
        assert!(parallel_supported(
            EngineKind::LlamaCpp,
            &ctx("qwen35moe", TWO_NV)
        ));
        assert!(parallel_supported(
            EngineKind::IkLlamaCpp,
            &ctx("qwen35moe", TWO_NV)
        ));
        // ik runs graph split with experts in RAM (the ncmoe branch).
        let mut hybrid = ctx("qwen3moe", TWO_NV);
        hybrid.cpu_experts = true;
        assert!(parallel_supported(EngineKind::IkLlamaCpp, &hybrid));
        assert!(!parallel_supported(
            EngineKind::IkLlamaCpp,
            &ctx("qwen3next", TWO_NV)
        ));
        assert!(check(EngineKind::LlamaCpp, "layer", &ctx("deepseek2", TWO_NV)).is_none());
    }
}
