#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine.
#
# Installs what the tests need (cmake, a C++ compiler, shellcheck, systemd-analyze, the
# Python build backend used to fetch the engines' PyPI sources, OpenSSL's headers for
# the engine's model downloader), builds both pinned engines once into the user cache
# (mainline with rigplan's own generated build script, which the end-to-end test then
# re-runs as a no-op; reused on later runs; the first time about 8 min for llama.cpp and
# 10 min for ik_llama.cpp on 2 cores), then runs every Rust test,
# engine-agreement and end-to-end tests included. The tests find the engines through
# the variables exported here (tests/integration/support_engine.rs); none is skipped
# for want of an engine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
command -v curl >/dev/null || need_apt+=(curl)
# the generated build.sh (e2e test) checks for the OpenSSL 3 headers the -hf downloader needs
[ -f /usr/include/openssl/opensslv.h ] || need_apt+=(libssl-dev)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! python3 -c 'import scikit_build_core' 2>/dev/null; then
  python3 -m pip install -q scikit-build-core
fi

RIGPLAN_LLAMA_BIN="$(scripts/ensure-engine.sh llama.cpp)"
RIGPLAN_LLAMA_SRC="$(scripts/ensure-engine.sh llama.cpp --source-only)"
export RIGPLAN_LLAMA_BIN RIGPLAN_LLAMA_SRC
echo "test.sh: llama.cpp binaries in $RIGPLAN_LLAMA_BIN" >&2
# ik_llama.cpp's llama-server and llama-bench: its parser must accept every option
# rigplan emits for it, and it must load and run the ik-only quant types.
RIGPLAN_IK_LLAMA_BIN="$(scripts/ensure-engine.sh ik_llama.cpp)"
RIGPLAN_IK_SRC="$(scripts/ensure-engine.sh ik_llama.cpp --source-only)"
export RIGPLAN_IK_LLAMA_BIN RIGPLAN_IK_SRC
echo "test.sh: ik_llama.cpp binaries in $RIGPLAN_IK_LLAMA_BIN" >&2

cargo test --all-targets "$@"
