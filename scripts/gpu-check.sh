#!/usr/bin/env bash
# GPU check (issue 13 item 7): rigplan's predicted per-device memory and speed against
# the pinned llama.cpp built with CUDA, on sparse GGUFs with real model shapes.
#
#   scripts/gpu-check.sh [--dry-run] [--out DIR] [--source DIR] [--gpu NAME]
#
# On an NVIDIA machine it
#   1. builds the pinned llama.cpp (llama-cpp-python 0.3.36's vendor/llama.cpp, the tree
#      scripts/ensure-engine.sh unpacks from the PyPI sdist, or --source DIR) with
#      GGML_CUDA=ON for this GPU's compute capability, into its own directory
#      ($RIGPLAN_ENGINE_CACHE/llama.cpp-cuda-0.3.36, never the CPU build's);
#   2. writes the test models with `cargo run --example test_model` (sparse files: the
#      header and a hole of the tensor data's size; all-zero weights run at full speed):
#      llama-3.1-8b Q4_K_M (dense) and qwen3-30b-a3b Q4_K_M (MoE, 48 layers);
#   3. for each case (dense full offload; MoE full offload; MoE with half and with all
#      expert layers in RAM, --n-cpu-moe 24/48) asks `rigplan plan --format json` for its
#      prediction with the same pins, runs `llama-fit-params` (the engine's own per-device
#      buffers: model, context, compute), and `llama-bench` (pp512, tg128, 3 repetitions)
#      while sampling nvidia-smi's memory.used (buffers plus the CUDA context);
#   4. writes DIR/gpu-check.md: predicted vs measured per device, and tg/pp with errors.
#
# --dry-run (no GPU, no engine build): writes the models, asks rigplan for predictions on
# a what-if GPU (--gpu NAME, default "H100 SXM", with this machine's CPU and RAM) and
# writes the same table with the measured columns marked "not run". What CI can run.
#
# The device machine has no network: give --source DIR (a copy of the pinned tree), or
# have the sdist already unpacked in the engine cache.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
dry_run=0
out="$repo/target/gpu-check"
source_dir=""
what_if_gpu="H100 SXM"
ctx=4096

usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    --source) source_dir="${2:?--source needs a directory}"; shift ;;
    --gpu) what_if_gpu="${2:?--gpu needs a name}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

log() { echo "gpu-check: $*" >&2; }
for tool in cargo python3; do
  command -v "$tool" >/dev/null || { log "'$tool' is missing"; exit 1; }
done

mkdir -p "$out/models" "$out/raw"
cd "$repo"
# A debug build is enough: rigplan only predicts here, the engine does the measuring.
cargo build --quiet --bin rigplan --example test_model
rigplan="$repo/target/debug/rigplan"
write_model="$repo/target/debug/examples/test_model"

# --- 1. the CUDA engine -------------------------------------------------------------
bin=""
hw_args=()
if [ "$dry_run" -eq 1 ]; then
  hw_args=(--gpu "$what_if_gpu")
  log "dry run: predictions for a what-if '$what_if_gpu'; nothing is measured"
else
  command -v nvidia-smi >/dev/null || { log "nvidia-smi not found: run on an NVIDIA machine, or pass --dry-run"; exit 1; }
  command -v nvcc >/dev/null || { log "nvcc not found: install the CUDA toolkit and put its bin/ on PATH"; exit 1; }
  if [ -z "$source_dir" ]; then
    source_dir="$("$here/ensure-engine.sh" llama.cpp --source-only)"
  fi
  [ -f "$source_dir/CMakeLists.txt" ] || { log "--source '$source_dir' is not a llama.cpp tree"; exit 2; }
  # The first GPU's compute capability, 8.6 -> 86 (what `rigplan build` writes too).
  cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' .')"
  cache="${RIGPLAN_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rigplan/engines}"
  build="$cache/llama.cpp-cuda-0.3.36-sm$cc"
  bin="$build/bin"
  if [ ! -x "$bin/llama-bench" ] || [ ! -x "$bin/llama-fit-params" ]; then
    log "building llama.cpp with CUDA for sm_$cc in $build (log: $build.log)"
    cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
      -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$cc" -DLLAMA_CURL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=ON -DBUILD_SHARED_LIBS=OFF >"$build.log" 2>&1 \
      || { tail -n 40 "$build.log" >&2; exit 1; }
    cmake --build "$build" -j "$(nproc)" --target llama-bench llama-fit-params >>"$build.log" 2>&1 \
      || { tail -n 40 "$build.log" >&2; exit 1; }
  fi
fi

# --- 2. the models --------------------------------------------------------------------
dense="$out/models/llama-3.1-8b-Q4_K_M.gguf"
moe="$out/models/qwen3-30b-a3b-Q4_K_M.gguf"
[ -f "$dense" ] || "$write_model" llama-3.1-8b Q4_K_M "$dense" >&2
[ -f "$moe" ] || "$write_model" qwen3-30b-a3b Q4_K_M "$moe" >&2

# --- 3. the cases -----------------------------------------------------------------------
# name|model|--n-cpu-moe
cases=(
  "dense-full|$dense|0"
  "moe-full|$moe|0"
  "moe-half-experts-in-ram|$moe|24"
  "moe-all-experts-in-ram|$moe|48"
)
threads="$(nproc)"
for c in "${cases[@]}"; do
  IFS='|' read -r name model ncmoe <<<"$c"
  log "case $name"
  "$rigplan" plan "$model" "${hw_args[@]}" --engine llama.cpp --backend cuda \
    --ctx "$ctx" --ngl 999 --n-cpu-moe "$ncmoe" --flash-attn on --ctk f16 --ctv f16 \
    --batch 2048 --ubatch 512 --parallel 1 --threads "$threads" --format json \
    >"$out/raw/$name.plan.json"
  if [ "$dry_run" -eq 1 ]; then
    continue
  fi
  "$bin/llama-fit-params" --fit-print on -m "$model" -c "$ctx" -ngl 999 \
    --n-cpu-moe "$ncmoe" -fa on -b 2048 -ub 512 -t "$threads" \
    >"$out/raw/$name.fit.txt" 2>"$out/raw/$name.fit.log"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 \
    >"$out/raw/$name.smi.txt" &
  smi=$!
  "$bin/llama-bench" -m "$model" -ngl 999 -ncmoe "$ncmoe" -fa 1 -b 2048 -ub 512 \
    -t "$threads" -p 512 -n 128 -r 3 -o json \
    >"$out/raw/$name.bench.json" 2>"$out/raw/$name.bench.log" || true
  kill "$smi" 2>/dev/null || true
  wait "$smi" 2>/dev/null || true
done

# --- 4. the table ----------------------------------------------------------------------
python3 - "$out" "$dry_run" "${hw_args[*]:-this machine}" "${cases[@]}" <<'PY'
import json, os, sys

out, dry_run, hardware, cases = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4:]
MIB = 1024 * 1024

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None

def fit_rows(text):
    """llama-fit-params --fit-print on, stdout: 'DEVICE model context compute' (MiB)."""
    rows = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
            rows[parts[0]] = [int(p) for p in parts[1:]]
    return rows

def bench(text):
    """llama-bench -o json: avg_ts of the pp (n_gen 0) and tg (n_prompt 0) tests."""
    pp = tg = None
    try:
        for r in json.loads(text or "[]"):
            if r.get("n_gen") == 0 and r.get("n_prompt", 0) > 0:
                pp = r["avg_ts"]
            elif r.get("n_prompt") == 0 and r.get("n_gen", 0) > 0:
                tg = r["avg_ts"]
    except (ValueError, KeyError, TypeError):
        pass
    return pp, tg

def err(pred, meas):
    return f"{(pred / meas - 1) * 100:+.0f}%" if pred and meas else "–"

def mib(b):
    return f"{b / MIB:.0f}"

not_run = "not run"
mem = ["| case | device | predicted MiB (weights + KV + compute + overhead) | "
       "llama-fit-params MiB (model + context + compute) | nvidia-smi peak MiB | error |",
       "|---|---|---|---|---|---|"]
speed = ["| case | predicted tg | measured tg128 | error | predicted pp | measured pp512 | error |",
         "|---|---|---|---|---|---|---|"]
for case in cases:
    name = case.split("|")[0]
    plan = json.loads(read(f"{out}/raw/{name}.plan.json") or "{}")
    fit = fit_rows(read(f"{out}/raw/{name}.fit.txt"))
    smi = [int(x) for x in (read(f"{out}/raw/{name}.smi.txt") or "").split() if x.isdigit()]
    pp, tg = bench(read(f"{out}/raw/{name}.bench.json"))
    gpu_i = 0
    for d in plan.get("memory", {}).get("devices", []):
        pred = d["total_bytes"]
        parts = " + ".join(mib(d[k]) for k in
                           ("weights_bytes", "kv_bytes", "compute_bytes", "overhead_bytes"))
        if d["kind"] == "gpu":
            key, peak = f"CUDA{gpu_i}", (f"{max(smi)}" if smi else not_run)
            gpu_i += 1
        else:
            key, peak = "Host", "–"
        m = fit.get(key)
        measured = f"{sum(m)} ({m[0]} + {m[1]} + {m[2]})" if m else not_run
        e = err(pred / MIB, sum(m)) if m else "–"
        mem.append(f"| {name} | {d['name']} | {mib(pred)} ({parts}) | {measured} | {peak} | {e} |")
    perf = plan.get("performance", {})
    ptg, ppp = perf.get("tg_tokens_per_s"), perf.get("pp_tokens_per_s")
    fmt = lambda v: f"{v:.1f}" if v else not_run
    speed.append(f"| {name} | {fmt(ptg)} | {fmt(tg)} | {err(ptg, tg)} | "
                 f"{fmt(ppp)} | {fmt(pp)} | {err(ppp, pp)} |")

head = [f"# GPU check: rigplan's predictions against llama.cpp (CUDA)", "",
        f"Hardware: {hardware}. Context {4096}, f16 KV cache, flash attention on, "
        "ubatch 512, all layers on the GPU (`-ngl 999`), `--n-cpu-moe` as the case says.",
        "Models: sparse GGUFs with the catalog's real shapes (`cargo run --example test_model`).", ""]
if dry_run:
    head += ["**Dry run**: no GPU; the measured columns were not run.", ""]
text = "\n".join(head + ["## Memory per device", ""] + mem + ["", "## Speed", ""] + speed) + "\n"
with open(os.path.join(out, "gpu-check.md"), "w") as f:
    f.write(text)
print(text)
PY
log "table written to $out/gpu-check.md"
