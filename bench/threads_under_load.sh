#!/usr/bin/env bash
# `filterscope train` with all cores (passive and spinning OpenMP waits) and with one thread, on an
# idle machine and on one whose cores are busy with two spinning processes: three runs of each,
# alternating. Prints one line per run: state, setting, seconds. bench/RESULTS.md, "Threads on a busy machine".
#   bash bench/threads_under_load.sh [BINARY]    (default build/filterscope)
set -euo pipefail
bin="${1:-build/filterscope}"
out="$(mktemp -d)"
hogs=""
trap 'rm -rf "$out"; [ -z "$hogs" ] || kill $hogs 2>/dev/null || true' EXIT
args=(train --dataset fashion-mnist --train-size 1000 --val-size 500 --epochs 2 --quiet)
once() {  # STATE LABEL WAIT_POLICY THREADS  (WAIT_POLICY "-" = the launcher's default)
  local t0 t1
  t0=$(date +%s.%N)
  if [ "$3" = "-" ]; then "$bin" "${args[@]}" --threads "$4" --out "$out/run" > /dev/null
  else OMP_WAIT_POLICY="$3" "$bin" "${args[@]}" --threads "$4" --out "$out/run" > /dev/null; fi
  t1=$(date +%s.%N)
  rm -rf "$out/run"
  printf '%s %s %.2f\n' "$1" "$2" "$(echo "$t1 - $t0" | bc)"
}
round() {
  for _ in 1 2 3; do
    once "$1" threads-0-passive-default - 0
    once "$1" threads-0-active active 0
    once "$1" threads-1 - 1
  done
}
round idle
yes > /dev/null & hogs="$!"
yes > /dev/null & hogs="$hogs $!"
round busy
