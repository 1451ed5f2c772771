#!/usr/bin/env bash
# The explorer under load (issue 15): synthetic AlexNet-sized run logs (10 and 100 epochs, 10
# records an epoch, 10,000 validation images), `filterscope serve` on loopback, 8 clients with a
# bounded number of requests, the server's peak memory, and the page's time to first paint.
#   bash bench/run_serve_bench.sh [WORKDIR]      (after the build; takes a few minutes)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD:-$root/build}"
work="${1:-/tmp/filterscope-serve-bench}"
mkdir -p "$work"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for epochs in 10 100; do
  run="$work/alexnet-$epochs"
  echo "== synthetic log: $epochs epochs"
  # The log is seeded: one made by an earlier run of this script is the same file, so it is kept.
  if [ ! -f "$run/run.sqlite" ]; then
    rm -rf "$run"
    "$build/bench/bench_synth_run_log" "$run" "$epochs" 10 10000
  fi
  ls -l "$run/run.sqlite"
  "$build/filterscope" serve "$run" --port 0 --threads 8 > "$work/serve-$epochs.out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q http "$work/serve-$epochs.out" 2>/dev/null && break; sleep 0.1; done
  url=$(grep -o 'http://[^ ]*' "$work/serve-$epochs.out")
  port=$(echo "$url" | sed 's#.*:\([0-9]*\)/#\1#')
  echo "serving $url (pid $pid); start RSS $(grep VmRSS /proc/$pid/status | awk '{print $2}') KB"
  # The server's private memory (RssAnon) sampled every 50 ms during the load; VmHWM also counts
  # the log's pages mapped from the page cache (mmap), which are shared and reclaimable.
  ( peak=0; while kill -0 "$pid" 2>/dev/null; do
      a=$(awk '/RssAnon/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
      [ "${a:-0}" -gt "$peak" ] && peak=$a && echo "$peak" > "$work/anon-$epochs"
      sleep 0.05; done ) &
  sampler=$!
  "$build/bench/bench_serve_load" "$port" "alexnet-$epochs" 8 250 120
  echo "server peak RSS (VmHWM, mapped log pages included): $(grep VmHWM /proc/$pid/status | awk '{print $2}') KB;" \
       "peak private memory (RssAnon): $(cat "$work/anon-$epochs") KB"
  /usr/bin/python3 "$root/bench/explorer_paint.py" "$url" --loads 3
  kill -INT "$pid"
  wait "$pid" || true
  wait "$sampler" 2>/dev/null || true
  echo "reference (the whole per-unit table in memory, numpy scans):"
  /usr/bin/python3 "$root/bench/log_python.py" "$run/run.sqlite" --queries 300
done
