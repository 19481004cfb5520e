//! Memory of a tensor-parallel split (mainline `-sm tensor`, ik `-sm graph`): every layer
//! that runs on the GPUs is cut across all of them, so each GPU holds a slice of every
//! GPU layer's weights and KV cache, a copy of the small tensors, and a compute buffer of
//! its own.
//!
//! The engines' rules, which this module follows:
//! - mainline `llama_meta_device_get_split_state` (src/llama-model.cpp): attention Q/K/V
//!   and gates split by heads, `attn_output` by its input columns, FFN up/gate (dense,
//!   shared and routed experts) by rows and down by columns, SSM projections by heads,
//!   `output.weight` by vocabulary rows, KV cache (`cache_k/v_l*`) and recurrent state
//!   (`cache_r/s_l*`) by heads; norms, biases of the output projections, the router and
//!   everything else are MIRRORED (a full copy on every GPU). Shares follow
//!   `--tensor-split` (equal without it), rounded to whole heads / 128-element blocks.
//! - ik `create_tensors_helper::create_tensors` (src/llama-load-tensors.cpp, the
//!   LLAMA_SPLIT_MODE_GRAPH block): `create_split` cuts wq/wk/wv/wo by heads, ffn and
//!   `*_exps`/`*_shexp` by `n_ff` rows, proportionally to `model.splits` while steering
//!   the running per-GPU total towards those proportions; norms and the router
//!   (`prepare_split_tensors(-1, ...)`) are mirrored. The output matrix and its norm are
//!   created in `ctx_output` (`create_embd_output`, `use_ctx_split` never set) and stay
//!   whole on the output layer's GPU. Layers whose
//!   buffer is host memory ("not splitting layer ... because buffer type is host") and
//!   experts kept in RAM by `--n-cpu-moe` (the `ml.ncmoe` overrides) are not split. The
//!   KV cache follows the wk/wv splits (`llama_kv_cache_init`, src/llama.cpp,
//!   `split_k_l`/`split_v_l`), the recurrent state the `ssm_out` split.
//!
//! Here every 2-D+ tensor of a split class is divided in proportion to the shares
//! (head and block rounding ignored: at most one head or 256-element block per tensor),
//! the rest mirrored; the CPU keeps what a layer split keeps there. The compute buffer
//! of each GPU is taken as the layer split's full per-layer reservation (each GPU builds
//! the whole layer graph for its slice, plus the output stage it takes part in): an
//! upper bound, not measured. Pure functions of (ModelSpec, Placement, MemoryConfig).

use super::weights::{tensor_device, DeviceMap, Placement};
use super::{compute, kv, pad_to, DeviceBytes, MemoryConfig, CUDA_CONTEXT_OVERHEAD};
use crate::engine::split_modes;
use crate::model::{ModelSpec, TensorClass, TensorSpec};
use crate::plan::{DeviceId, Unit};
use crate::units::Bytes;

/// CUDA buffer alignment (ggml-cuda.cu `ggml_backend_cuda_buffer_type_get_alignment`).
const GPU_ALIGNMENT: u64 = 128;
/// ggml CPU buffer alignment (`TENSOR_ALIGNMENT`, ggml/src/ggml-impl.h).
const CPU_ALIGNMENT: u64 = 32;

/// Each used GPU's share of a split tensor, from `--tensor-split` (equal without it).
pub fn shares(p: &Placement) -> Vec<(DeviceId, f64)> {
    let raw: Vec<f64> = if p.tensor_split.len() == p.gpus.len()
        && p.tensor_split.iter().all(|x| x.is_finite() && *x >= 0.0)
        && p.tensor_split.iter().sum::<f64>() > 0.0
    {
        p.tensor_split.clone()
    } else {
        vec![1.0; p.gpus.len()]
    };
    let sum: f64 = raw.iter().sum();
    p.gpus
        .iter()
        .zip(raw)
        .map(|(g, s)| (DeviceId::gpu(*g), s / sum))
        .collect()
}

/// Whether the engines cut this tensor across the GPUs (otherwise every GPU holds a copy).
pub fn is_split(t: &TensorSpec) -> bool {
    let big = t.dims.len() >= 2 && t.dims.iter().skip(1).any(|d| *d > 1);
    big && matches!(
        t.class,
        TensorClass::Attention
            | TensorClass::FeedForward
            | TensorClass::RoutedExperts
            | TensorClass::SharedExperts
            | TensorClass::Recurrent
            | TensorClass::Output
    )
}

/// One device's weights under a parallel split: resident bytes, bytes read per token,
/// resident routed-expert bytes, active parameters per token.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceWeights {
    pub device: DeviceId,
    pub resident: Bytes,
    pub active: Bytes,
    pub routed: Bytes,
    pub active_params: u64,
}

/// Bytes (and parameters) of `total` that `share` of the GPUs take.
fn part(total: u64, share: f64) -> u64 {
    (total as f64 * share).round() as u64
}

/// Whether the engine's parallel split also cuts the output matrix (mainline) or keeps
/// it whole on the output layer's GPU (ik), from `engine::split_modes`.
pub fn output_is_split(cfg: &MemoryConfig) -> bool {
    split_modes::parallel_mode(cfg.engine).splits_output
}

/// Weights per device (CPU first, then the GPUs in placement order). `split_output`:
/// see [`output_is_split`].
pub fn weights(
    spec: &ModelSpec,
    p: &Placement,
    map: &DeviceMap,
    split_output: bool,
) -> Vec<DeviceWeights> {
    /// Sums of one bucket: resident, read per token, routed experts, active parameters.
    #[derive(Default)]
    struct Sum {
        resident: u64,
        active: u64,
        routed: u64,
        params: u64,
    }
    // CPU-resident, cut across the GPUs, copied onto every GPU, whole on the output GPU.
    let (mut cpu, mut cut, mut copied, mut at_output) = (
        Sum::default(),
        Sum::default(),
        Sum::default(),
        Sum::default(),
    );
    let used = u64::from(spec.expert_used.max(1));
    let count = u64::from(spec.expert_count.max(1));
    let mut add = |d: DeviceId, t: &TensorSpec, class: TensorClass, bytes: u64| {
        let params: u64 = t.dims.iter().product();
        let (active, params, routed) = match class {
            TensorClass::TokenEmbedding => (0, 0, 0),
            TensorClass::RoutedExperts => (bytes / count * used, params / count * used, bytes),
            _ => (bytes, params, 0),
        };
        let (sum, align) = match d.unit() {
            Unit::Cpu => (&mut cpu, CPU_ALIGNMENT),
            Unit::Gpu(_) => {
                let output_side = matches!(class, TensorClass::Output | TensorClass::OutputNorm);
                let sum = if output_side && !split_output {
                    // ik: output matrix and norm whole on the output layer's GPU.
                    &mut at_output
                } else if is_split(t) {
                    &mut cut
                } else {
                    &mut copied
                };
                (sum, GPU_ALIGNMENT)
            }
        };
        // Each tensor (or slice: within one alignment unit of its share) is padded.
        sum.resident += pad_to(bytes, align);
        sum.active += active;
        sum.routed += routed;
        sum.params += params;
    };
    for t in &spec.tensors {
        if let Some(d) = tensor_device(p, map, t) {
            add(d, t, t.class, t.bytes.0);
        }
    }
    // Tied output: the engine duplicates the embedding as the output matrix on the
    // output device (`TENSOR_DUPLICATED`), where it is placed like `output.weight`.
    let tied = spec.tied_output_bytes();
    let embedding = spec
        .tensors
        .iter()
        .find(|t| t.class == TensorClass::TokenEmbedding);
    if let (true, Some(e)) = (
        tied > Bytes::ZERO && map.output() != DeviceId::CPU,
        embedding,
    ) {
        add(map.output(), e, TensorClass::Output, tied.0);
    }
    let mut out = vec![DeviceWeights {
        device: DeviceId::CPU,
        resident: Bytes(cpu.resident),
        active: Bytes(cpu.active),
        routed: Bytes(cpu.routed),
        active_params: cpu.params,
    }];
    for (g, s) in shares(p) {
        let here = if g == map.output() { 1 } else { 0 };
        out.push(DeviceWeights {
            device: g,
            resident: Bytes(part(cut.resident, s) + copied.resident + here * at_output.resident),
            active: Bytes(part(cut.active, s) + copied.active + here * at_output.active),
            routed: Bytes(part(cut.routed, s) + copied.routed + here * at_output.routed),
            active_params: part(cut.params, s) + copied.params + here * at_output.params,
        });
    }
    out
}

/// KV bytes per device: each GPU layer's cache cut by the shares, CPU layers' on the CPU.
/// Returns (device, allocated bytes, bytes read per token at `depth` tokens).
pub fn kv_by_device(
    spec: &ModelSpec,
    p: &Placement,
    cfg: &MemoryConfig,
    map: &DeviceMap,
    depth: u64,
) -> Result<Vec<(DeviceId, Bytes, Bytes)>, String> {
    Ok(kv_split(&kv::per_layer(spec, cfg)?, p, map, depth))
}

/// [`kv_by_device`] from already computed per-layer cache sizes.
fn kv_split(
    layers: &[kv::LayerKv],
    p: &Placement,
    map: &DeviceMap,
    depth: u64,
) -> Vec<(DeviceId, Bytes, Bytes)> {
    let shares = shares(p);
    let mut out: Vec<(DeviceId, Bytes, Bytes)> = vec![(DeviceId::CPU, Bytes::ZERO, Bytes::ZERO)];
    for (d, _) in &shares {
        out.push((*d, Bytes::ZERO, Bytes::ZERO));
    }
    for l in layers {
        let mut read = l.recurrent.0;
        if let Some(per_cell) = l.attention.0.checked_div(l.cells) {
            read += per_cell * depth.min(l.cells);
        }
        let targets: Vec<(DeviceId, f64)> = match map.layer(l.layer).unit() {
            Unit::Cpu => vec![(DeviceId::CPU, 1.0)],
            Unit::Gpu(_) => shares.clone(),
        };
        for (d, s) in targets {
            if let Some(e) = out.iter_mut().find(|(x, _, _)| *x == d) {
                e.1 += Bytes(part(l.total().0, s));
                e.2 += Bytes(part(read, s));
            }
        }
    }
    out
}

/// Per-device bytes of a parallel placement, as [`super::breakdown`] reports them: CPU
/// first, then the GPUs in order.
pub fn breakdown(
    spec: &ModelSpec,
    p: &Placement,
    cfg: &MemoryConfig,
) -> Result<Vec<(DeviceId, DeviceBytes)>, String> {
    let map = DeviceMap::new(spec, p);
    let mut devs: Vec<(DeviceId, DeviceBytes)> = vec![(DeviceId::CPU, DeviceBytes::default())];
    for g in &p.gpus {
        devs.push((DeviceId::gpu(*g), DeviceBytes::default()));
    }
    let split_output = output_is_split(cfg);
    for w in weights(spec, p, &map, split_output) {
        if let Some((_, b)) = devs.iter_mut().find(|(d, _)| *d == w.device) {
            b.weights += w.resident;
        }
    }
    let layers = kv::per_layer(spec, cfg)?;
    for (d, alloc, _) in kv_split(&layers, p, &map, 0) {
        if let Some((_, b)) = devs.iter_mut().find(|(x, _)| *x == d) {
            b.kv += alloc;
        }
    }
    let max_cells = |on_gpu: bool| -> u64 {
        layers
            .iter()
            .filter(|l| (map.layer(l.layer) != DeviceId::CPU) == on_gpu)
            .map(|l| l.cells)
            .max()
            .unwrap_or(0)
    };
    let masks = compute::mask_bytes(cfg, &layers);
    let ffn_width = compute::ffn_activation_width(spec);
    let gpu_blocks = (0..spec.n_layer).any(|il| map.layer(il) != DeviceId::CPU);
    let cpu_blocks = map.runs_blocks(DeviceId::CPU);
    let cpu_experts =
        p.n_cpu_moe > 0 || p.expert_overrides.iter().any(|(_, d)| *d == DeviceId::CPU);
    let output_on_gpu = map.output() != DeviceId::CPU;
    for (d, b) in devs.iter_mut() {
        match d.unit() {
            Unit::Gpu(_) => {
                let layer = if gpu_blocks {
                    compute::layer_stage(spec, cfg, ffn_width, max_cells(true), true)
                } else {
                    Bytes::ZERO
                };
                // The logits are computed where the output matrix lives: on every GPU
                // when it is split, else on the output layer's GPU only.
                let has_output = output_on_gpu && (split_output || *d == map.output());
                b.compute = if has_output {
                    compute::output_stage(spec, cfg).max(layer)
                } else {
                    layer
                };
                b.overhead = CUDA_CONTEXT_OVERHEAD;
            }
            Unit::Cpu => {
                let layer = if cpu_blocks {
                    compute::layer_stage(spec, cfg, ffn_width, max_cells(false), false)
                } else if cpu_experts {
                    compute::layer_stage(spec, cfg, ffn_width, 0, false)
                } else {
                    Bytes::ZERO
                };
                b.compute = if output_on_gpu {
                    // No pipeline parallelism outside a layer split: one copy.
                    compute::host_input_stage(spec, cfg, masks, 1).max(layer)
                } else {
                    compute::output_stage(spec, cfg).max(layer)
                };
            }
        }
    }
    Ok(devs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgmlType;
    use crate::model::spec::{AttentionKind, EngineSupport, LayerSpec};

    fn tensor(
        name: &str,
        dims: Vec<u64>,
        bytes: u64,
        class: TensorClass,
        layer: Option<u32>,
    ) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            dims,
            ggml_type: GgmlType::from_name("F16").unwrap(),
            bytes: Bytes(bytes),
            class,
            layer,
        }
    }

    /// Two blocks: per block attention 4 MiB (two 2-D tensors), one norm of 8 KiB
    /// (4096 F16), routed experts 64 MiB (8 experts, 2 used); output 32 MiB, token
    /// embeddings 32 MiB. F16 K and V of 4 KV heads x 128 per layer.
    fn spec() -> ModelSpec {
        let mib = 1u64 << 20;
        let mut tensors = vec![
            tensor(
                "token_embd.weight",
                vec![4096, 4096],
                32 * mib,
                TensorClass::TokenEmbedding,
                None,
            ),
            tensor(
                "output.weight",
                vec![4096, 4096],
                32 * mib,
                TensorClass::Output,
                None,
            ),
            tensor(
                "output_norm.weight",
                vec![4096],
                8192,
                TensorClass::OutputNorm,
                None,
            ),
        ];
        for il in 0..2 {
            tensors.push(tensor(
                &format!("blk.{il}.attn_q.weight"),
                vec![4096, 256],
                2 * mib,
                TensorClass::Attention,
                Some(il),
            ));
            tensors.push(tensor(
                &format!("blk.{il}.attn_output.weight"),
                vec![256, 4096],
                2 * mib,
                TensorClass::Attention,
                Some(il),
            ));
            tensors.push(tensor(
                &format!("blk.{il}.attn_norm.weight"),
                vec![4096],
                8192,
                TensorClass::Norm,
                Some(il),
            ));
            tensors.push(tensor(
                &format!("blk.{il}.ffn_up_exps.weight"),
                vec![4096, 1024, 8],
                64 * mib,
                TensorClass::RoutedExperts,
                Some(il),
            ));
        }
        let layers = (0..2)
            .map(|i| LayerSpec {
                index: i,
                attention: AttentionKind::Full,
                n_head: 32,
                n_head_kv: 4,
                n_embd_k_gqa: 512,
                n_embd_v_gqa: 512,
                head_dim_k: 128,
                head_dim_v: 128,
                recurrent: None,
                moe: true,
                expert_bytes: Bytes(64 * mib),
                bytes: Bytes(68 * mib + 8192),
                mtp: false,
            })
            .collect();
        ModelSpec {
            name: "t".into(),
            architecture: "qwen3moe".into(),
            architecture_known: true,
            quant: None,
            n_layer: 2,
            n_embd: 4096,
            n_vocab: 4096,
            n_ctx_train: 4096,
            n_swa: None,
            expert_count: 8,
            expert_used: 2,
            expert_shared: 0,
            leading_dense: 0,
            mla: None,
            nextn_layers: 0,
            layers,
            tensors,
            engines: EngineSupport::default(),
            notes: vec![],
        }
    }

    fn placement(ncmoe: u32, ts: Vec<f64>) -> Placement {
        Placement {
            n_gpu_layers: 3,
            gpus: vec![0, 1],
            tensor_split: ts,
            n_cpu_moe: ncmoe,
            expert_overrides: vec![],
            gpu_split: super::super::weights::GpuSplit::Parallel,
        }
    }

    #[test]
    fn equal_split_halves_the_big_tensors_and_copies_the_small_ones() {
        let s = spec();
        let p = placement(0, vec![1.0, 1.0]);
        let map = DeviceMap::new(&s, &p);
        let w = weights(&s, &p, &map, true);
        let mib = 1u64 << 20;
        // GPU: per block (2 + 2 + 64) MiB / 2 = 34 MiB, two blocks 68 MiB; output 32 / 2
        // = 16 MiB; mirrored: 2 attn_norm + output_norm = 3 x 8192 B each.
        let gpu = 68 * mib + 16 * mib + 3 * 8192;
        for g in [DeviceId::gpu(0), DeviceId::gpu(1)] {
            let d = w.iter().find(|x| x.device == g).unwrap();
            assert_eq!(d.resident, Bytes(gpu));
            // Read per token: attention 2 MiB per block, experts 64 / 8 x 2 = 16 MiB per
            // block, output 16 MiB, norms in full.
            assert_eq!(
                d.active,
                Bytes(2 * (2 * mib + 8 * mib) + 16 * mib + 3 * 8192)
            );
            assert_eq!(d.routed, Bytes(64 * mib));
        }
        // CPU: the token embeddings only (32 MiB, 32-byte aligned already), none read.
        let cpu = &w[0];
        assert_eq!(cpu.device, DeviceId::CPU);
        assert_eq!((cpu.resident, cpu.active), (Bytes(32 * mib), Bytes::ZERO));
    }

    #[test]
    fn ik_keeps_the_output_whole_on_the_output_layers_gpu() {
        let s = spec();
        let p = placement(0, vec![1.0, 1.0]);
        let map = DeviceMap::new(&s, &p);
        assert_eq!(map.output(), DeviceId::gpu(1));
        let w = weights(&s, &p, &map, false);
        let mib = 1u64 << 20;
        let g0 = w.iter().find(|x| x.device == DeviceId::gpu(0)).unwrap();
        let g1 = w.iter().find(|x| x.device == DeviceId::gpu(1)).unwrap();
        // Blocks halved as before (68 MiB each GPU) with the 2 attn norms mirrored; the
        // 32 MiB output and its 8 KiB norm only on GPU 1.
        assert_eq!(g0.resident, Bytes(68 * mib + 2 * 8192));
        assert_eq!(g1.resident, Bytes(68 * mib + 32 * mib + 3 * 8192));
        let mut cfg = MemoryConfig::mainline(4096, GgmlType::from_name("F16").unwrap(), true);
        cfg.engine = crate::engine::EngineKind::IkLlamaCpp;
        assert!(!output_is_split(&cfg));
        // A Qwen-sized vocabulary makes the logits (n_vocab x ubatch F32) the larger stage.
        let mut s = s;
        s.n_vocab = 151_936;
        let mem = breakdown(&s, &p, &cfg).unwrap();
        // The logits buffer only where the output lives: GPU 0 reserves the layer stage
        // alone, GPU 1 the larger of it and the output stage.
        let layer = compute::layer_stage(&s, &cfg, compute::ffn_activation_width(&s), 4096, true);
        assert_eq!(mem[1].1.compute, layer);
        assert_eq!(mem[2].1.compute, compute::output_stage(&s, &cfg).max(layer));
        assert!(compute::output_stage(&s, &cfg) > layer);
    }

    #[test]
    fn experts_in_ram_stay_whole_on_the_cpu_and_shares_follow_tensor_split() {
        let s = spec();
        let p = placement(1, vec![3.0, 1.0]);
        let map = DeviceMap::new(&s, &p);
        let w = weights(&s, &p, &map, true);
        let mib = 1u64 << 20;
        // CPU: embeddings 32 MiB + block 0's experts 64 MiB, reading 64/8x2 = 16 MiB.
        assert_eq!(w[0].resident, Bytes(96 * mib));
        assert_eq!(w[0].active, Bytes(16 * mib));
        assert_eq!(w[0].routed, Bytes(64 * mib));
        // GPU 0 takes 3/4: block 0 attention 4 MiB, block 1 68 MiB, output 32 MiB
        // = 104 MiB x 3/4 = 78 MiB; GPU 1 26 MiB; each + 3 norms.
        let g0 = w.iter().find(|x| x.device == DeviceId::gpu(0)).unwrap();
        let g1 = w.iter().find(|x| x.device == DeviceId::gpu(1)).unwrap();
        assert_eq!(g0.resident, Bytes(78 * mib + 3 * 8192));
        assert_eq!(g1.resident, Bytes(26 * mib + 3 * 8192));
    }

    #[test]
    fn layout_gives_each_gpu_its_share_of_reads_and_every_gpu_layer() {
        let s = spec();
        let p = placement(1, vec![1.0, 1.0]);
        let cfg = MemoryConfig::mainline(4096, GgmlType::from_name("F16").unwrap(), true);
        let mem = breakdown(&s, &p, &cfg).unwrap();
        let l = crate::planner::placement::layout_for(&s, &p, &cfg, &mem);
        let mib = 1u64 << 20;
        for g in [DeviceId::gpu(0), DeviceId::gpu(1)] {
            let d = l.device(g).unwrap();
            // Both blocks run on both GPUs.
            assert_eq!(d.layers, 2);
            // Reads: block 0 attention 4/2 MiB (its experts are in RAM), block 1
            // attention 2 MiB + experts 64/8x2/2 = 8 MiB, output 32/2 MiB, 3 norms whole.
            assert_eq!(
                d.active_weight_bytes_per_token,
                Bytes(2 * mib + 2 * mib + 8 * mib + 16 * mib + 3 * 8192)
            );
            // KV read at depth n_ctx/2 = 2048 cells x 2048 B x 2 layers, halved.
            assert_eq!(d.kv_read_bytes_per_token, Bytes(4 * mib));
        }
        let cpu = l.device(DeviceId::CPU).unwrap();
        assert_eq!(cpu.layers, 0);
        assert_eq!(cpu.active_weight_bytes_per_token, Bytes(16 * mib));
        assert_eq!(cpu.routed_expert_bytes, Bytes(64 * mib));
        // Path: input (CPU) -> GPUs -> block 0's experts (CPU) -> GPUs: 3 crossings.
        assert_eq!(l.boundary_crossings, 3);
        assert_eq!(l.host_experts_offloaded_bytes, Bytes(64 * mib));
    }

    #[test]
    fn kv_cache_is_cut_by_heads_on_every_gpu() {
        let s = spec();
        let p = placement(0, vec![1.0, 1.0]);
        let cfg = MemoryConfig::mainline(4096, GgmlType::from_name("F16").unwrap(), true);
        let mem = breakdown(&s, &p, &cfg).unwrap();
        // Per layer per cell: K 512 + V 512 F16 = 2048 B; 4096 cells x 2 layers = 16 MiB,
        // 8 MiB per GPU, nothing on the CPU.
        let kv: Vec<u64> = mem.iter().map(|(_, b)| b.kv.0).collect();
        assert_eq!(kv, vec![0, 8 << 20, 8 << 20]);
        for (d, b) in &mem[1..] {
            assert!(d.is_gpu());
            assert_eq!(b.overhead, CUDA_CONTEXT_OVERHEAD);
            assert!(b.compute > Bytes::ZERO);
        }
        let map = DeviceMap::new(&s, &p);
        let reads = kv_by_device(&s, &p, &cfg, &map, 1000).unwrap();
        // 1000 cells x 2048 B x 2 layers / 2 GPUs.
        assert_eq!(reads[1].2, Bytes(2_048_000));
    }
}
