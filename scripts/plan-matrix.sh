#!/usr/bin/env bash
# plan-matrix.sh BIN OUTDIR: what a rigplan binary plans for every bundled hardware preset x
# catalog model x engine, plus what-if rigs (Apple, AMD, three GPUs), pins, use cases and
# `compare` over every preset; one file per case (stdout, stderr, exit code).
#
# For refactors that must not change a plan: run it with the binary before and after the
# change, then `scripts/plan-diff.py BEFORE AFTER` compares every case field by field.
set -u
bin="$1"; out="$2"; mkdir -p "$out"
presets=$("$bin" catalog hardware --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join(sorted(d.keys() if isinstance(d,dict) else [x["name"] for x in d])))')
models=$(find "$(dirname "$0")/../profiles/models" -name '*.toml' -printf '%f\n' | sed 's/\.toml$//' | sort)
run() { # name args...
  local name="$1"; shift
  "$bin" plan "$@" --format json >"$out/$name.json" 2>"$out/$name.err"; echo $? >"$out/$name.rc"
}
for p in $presets; do for m in $models; do for e in llama.cpp ik_llama.cpp; do
  run "${p}__${m}__${e}" "$m" --hardware "$p" --engine "$e"
done; done; done
# what-if rigs and pins
for m in qwen3.5-35b-a3b gemma-4-26b-a4b deepseek-r1 qwen3.5-27b gpt-oss-120b; do for e in llama.cpp ik_llama.cpp; do
  run "m4max64__${m}__$e" "$m" --hardware desktop-3090 --gpu "M4 Max" --ram-gib 64 --engine "$e"
  run "2x7900xtx__${m}__$e" "$m" --hardware desktop-3090 --gpu "RX 7900 XTX" --gpu "RX 7900 XTX" --engine "$e"
  run "3x3060__${m}__$e" "$m" --hardware z440-2x3060 --gpu "RTX 3060 12GB" --gpu "RTX 3060 12GB" --gpu "RTX 3060 12GB" --engine "$e"
  run "long__${m}__$e" "$m" --hardware z440-2x3060 --use-case long --engine "$e"
  run "np4__${m}__$e" "$m" --hardware desktop-3090 --parallel 4 --use-case coding --engine "$e"
  run "nofa__${m}__$e" "$m" --hardware desktop-3070-8gb --flash-attn off --quant Q4_K_M --engine "$e"
  run "speed__${m}__$e" "$m" --hardware ms02-rtxpro4000 --prefer speed --engine "$e"
  run "quality__${m}__$e" "$m" --hardware xeon-e5-2620v4-cpu --prefer quality --threads 4 --engine "$e"
done; done
run "sm_tensor" qwen3.5-27b:Q4_K_M --hardware z440-2x3060 --split-mode tensor
run "sm_graph" qwen3.5-27b:Q4_K_M --hardware z440-2x3060 --split-mode graph --engine ik_llama.cpp
run "sm_row" qwen3.5-27b:Q4_K_M --hardware z440-2x3060 --split-mode row
run "ngl27" qwen3.5-35b-a3b:IQ2_XXS --hardware desktop-3070-8gb --ngl 27
run "ncmoe" qwen3.5-35b-a3b:Q6_K --hardware z440-2x3060 --n-cpu-moe 12 --ctk q8_0 --ctv q8_0
run "ts" qwen3.5-35b-a3b:Q6_K --hardware z440-2x3060 --tensor-split 3,1 --ubatch 1024 --batch 4096
run "default" --hardware z440-2x3060
run "unsat" llama-3.3-70b:Q8_0 --hardware desktop-3070-8gb --no-gpu --ram-gib 16
# compare: every catalog model over every preset, both engines
hw_args=(); for p in $presets; do hw_args+=(--hardware "$p"); done
for m in $models; do for e in llama.cpp ik_llama.cpp; do
  "$bin" compare "$m" "${hw_args[@]}" --engine "$e" --format json >"$out/compare__${m}__$e.json" 2>"$out/compare__${m}__$e.err"; echo $? >"$out/compare__${m}__$e.rc"
done; done
"$bin" compare qwen3.5-35b-a3b:Q4_K_M "${hw_args[@]}" --prefer speed --format json >"$out/compare__pinned.json" 2>"$out/compare__pinned.err"; echo $? >"$out/compare__pinned.rc"
