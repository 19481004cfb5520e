#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of hostile input, reproducibly seeded:
#   gguf_header    the GGUF header reader (whole files and range-read prefixes), seeded
#                  with every catalog model's synthetic header and the pinned llama.cpp's
#                  vocabulary GGUFs (its models/ directory);
#   snapshot_file  hardware snapshot files (TOML and JSON), seeded with every preset;
#   saved_plan     saved plans through every export kind, seeded with every catalog
#                  model's plan on every preset.
# One fuzzing process at a time (-jobs=1 -workers=1), each for its share of the time.
#
# Usage: scripts/fuzz.sh [GGUF_SECONDS SNAPSHOT_SECONDS PLAN_SECONDS]   (default 600 420 420)
# Installs the nightly toolchain and cargo-fuzz (from crates.io) when missing. Logs and
# libFuzzer's final statistics go to fuzz/logs/; a crash leaves its input in
# fuzz/artifacts/TARGET/ and makes the script exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

times=("${1:-600}" "${2:-420}" "${3:-420}")
targets=(gguf_header snapshot_file saved_plan)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

llama_src="${RIGPLAN_LLAMA_SRC:-$(scripts/ensure-engine.sh llama.cpp --source-only)}"
corpus="$root/fuzz/corpus"
logs="$root/fuzz/logs"
mkdir -p "$corpus" "$logs"

# Seeds: synthetic headers, presets, plans; then the engine's vocabulary files.
cargo run --quiet --example fuzz_seeds -- "$corpus"
cp "$llama_src"/models/ggml-vocab-*.gguf "$corpus/gguf_header/"

# Build every target first (minutes), so the time limits below count fuzzing only.
for t in "${targets[@]}"; do
  cargo +nightly fuzz build --fuzz-dir "$root/fuzz" -s none --debug-assertions "$t"
done

status=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  secs=${times[$i]}
  mkdir -p "$root/fuzz/artifacts/$t"
  echo "fuzz.sh: $t for ${secs}s ($(ls "$corpus/$t" | wc -l) seeds)"
  # Rust is memory safe here (unsafe_code = forbid), so no sanitizer: the run looks for
  # panics (overflow checks stay on via debug assertions), hangs and memory blow-ups.
  # -jobs=1 runs one worker process whose output libFuzzer writes to fuzz-0.log.
  (
    cd "$logs"
    rm -f fuzz-0.log
    timeout $((secs + 300)) cargo +nightly fuzz run --fuzz-dir "$root/fuzz" -s none \
      --debug-assertions "$t" "$corpus/$t" -- \
      -jobs=1 -workers=1 -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$root/fuzz/artifacts/$t/" >"$logs/$t.cargo.log" 2>&1 || true
    mv -f fuzz-0.log "$logs/$t.log" 2>/dev/null || true
  )
  if ls "$root/fuzz/artifacts/$t"/crash-* "$root/fuzz/artifacts/$t"/timeout-* \
       "$root/fuzz/artifacts/$t"/oom-* >/dev/null 2>&1; then
    echo "fuzz.sh: $t found a failing input (fuzz/artifacts/$t)" >&2
    status=1
  fi
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|^#[0-9]+.*DONE' \
    "$logs/$t.log" || { echo "fuzz.sh: $t left no statistics:" >&2; tail -n 5 "$logs/$t.cargo.log" >&2; status=1; }
done
exit $status
