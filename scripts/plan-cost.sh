#!/usr/bin/env bash
# plan-cost.sh [RIGPLAN ARGS...]: the planning cost of one `rigplan plan` in instructions
# executed (callgrind's Ir), a count that does not depend on the machine's load or clock.
#
# Builds the release binary (cargo decides whether anything changed), runs
#   valgrind --tool=callgrind target/release/rigplan plan --hardware z440-2x3060
# (or `plan` with the arguments given), prints the total Ir and the functions that
# execute the most instructions. The figures and their history are in
# docs/performance.md. Needs valgrind (callgrind and callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in valgrind callgrind_annotate; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "plan-cost.sh: '$tool' is not installed (it comes with valgrind: apt-get install valgrind)" >&2
    exit 2
  fi
done

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--hardware z440-2x3060)
fi

cargo build --release --quiet
out=$(mktemp -t plan-cost.XXXXXX.cg)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" \
  target/release/rigplan plan "${args[@]}" >/dev/null 2>"$out.log" || {
  echo "plan-cost.sh: rigplan plan ${args[*]} failed under valgrind:" >&2
  tail -20 "$out.log" >&2
  rm -f "$out.log"
  exit 1
}
rm -f "$out.log"

report=$(callgrind_annotate "$out")
total=$(printf '%s\n' "$report" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
if [ -z "$total" ]; then
  echo "plan-cost.sh: no total in callgrind's output" >&2
  exit 1
fi
millions=$(awk -v n="$total" 'BEGIN { printf "%.1f", n / 1e6 }')
printf 'rigplan plan %s: %s instructions (%sM)\n\n' "${args[*]}" "$total" "$millions"
echo "Top functions by instructions executed (self):"
printf '%s\n' "$report" | awk '/file:function/ { on = 1; getline; next } on && NF { print } ' |
  head -15 | sed -E 's/ \[[^]]*\]$//'
