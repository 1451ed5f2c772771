#!/usr/bin/env bash
# Sharding over MPI ranks (issue 18): `track` of a 30-epoch simple-cnn run and `analyze` of a
# ResNet-50 TorchScript export at N = 1,000, each as one process with one thread and as 2 ranks of
# one thread each (mpirun binds each to a core). Prints wall time, peak RSS of the largest process,
# each rank's busy time and share, and checks that the files agree (timings aside).
#
#   bench/run_mpi_bench.sh [--workdir DIR] [--bin FILTERSCOPE] [--ranks "1 2"] [--skip-track] [--skip-resnet]
set -euo pipefail
cd "$(dirname "$0")/.."
work=/tmp/filterscope-mpi-bench
bin=$(pwd)/build/filterscope
ranks="1 2"
do_track=1
do_resnet=1
while [ $# -gt 0 ]; do
  case "$1" in
    --workdir) work="$2"; shift ;;
    --bin) bin="$2"; shift ;;
    --ranks) ranks="$2"; shift ;;
    --skip-track) do_track=0 ;;
    --skip-resnet) do_resnet=0 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "run_mpi_bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
command -v mpirun >/dev/null || { echo "run_mpi_bench.sh: mpirun not found (scripts/setup.sh)" >&2; exit 2; }
mkdir -p "$work"
py=/usr/bin/python3
timed() {  # timed LABEL P CMD...: wall time and the largest process's peak RSS
  local label=$1 p=$2; shift 2
  local cmd=("$@")
  [ "$p" = 1 ] || cmd=(mpirun --allow-run-as-root --bind-to core -np "$p" "$@")
  $py - "$label" "$p" "$work/${label// /-}" "${cmd[@]}" <<'EOF'
import resource, subprocess, sys, time
label, p, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
t0 = time.monotonic()
with open(log + ".out", "w") as out, open(log + ".err", "w") as err:
    code = subprocess.run(cmd, stdout=out, stderr=err).returncode
wall = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label:<28} P={p}  wall {wall:7.1f} s  peak RSS (largest process) {rss:6.0f} MB" + ("" if code == 0 else f"  EXIT {code}"))
sys.exit(code)
EOF
}
ranks_of() {  # per-rank balance from a JSON file's "ranks" field
  $py - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])).get("ranks")
if r:
    total = sum(x["estimated_cost"] for x in r) or 1
    busy = [x["busy_seconds"] for x in r]
    for x in r:
        print(f"    rank {x['rank']} on {x['host']}: {x['units']} units, {100 * x['estimated_cost'] / total:.1f} % of the "
              f"estimated cost, busy {x['busy_seconds']:.1f} s")
    print(f"    busy time: max/mean {max(busy) / (sum(busy) / len(busy)):.3f}")
EOF
}
same() {  # same A B: JSON equal once timings are dropped
  $py - "$1" "$2" <<'EOF'
import json, sys
drop = {"seconds", "capture_seconds", "cluster_seconds", "ranks"}
def strip(v):
    if isinstance(v, dict): return {k: strip(x) for k, x in v.items() if k not in drop}
    if isinstance(v, list): return [strip(x) for x in v]
    return v
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
print("    files agree with one process's (timings aside)" if a == b else "    FILES DIFFER")
sys.exit(0 if a == b else 1)
EOF
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GB; $(mpirun --version | head -1)"
if [ "$do_track" = 1 ]; then
  run="$work/simple-cnn-30"
  if [ ! -f "$run/checkpoints/epoch-030.pt" ]; then
    "$bin" train --model simple-cnn --dataset fashion-mnist --train-size 2000 --val-size 2000 --epochs 30 \
      --label-noise 0.2 --seed 1 --out "$run" --quiet
  fi
  for p in $ranks; do
    rm -rf "$run/analysis" "$run/track.json" "$run/track.csv"
    timed "track 30 epochs" "$p" "$bin" track "$run" --split train --probe-size 1000 --threads 1 --quiet
    cp "$run/track.json" "$work/track-$p.json"
    ranks_of "$work/track-$p.json"
    [ "$p" = 1 ] || same "$work/track-1.json" "$work/track-$p.json"
  done
fi
if [ "$do_resnet" = 1 ]; then
  model="$work/resnet50.pt"
  [ -f "$model" ] || $py tests/models/export_torchscript.py resnet50 "$model"
  for p in $ranks; do
    rm -rf "$work/resnet50-$p"
    timed "analyze ResNet-50 N=1000" "$p" "$bin" analyze "$model" --dataset fashion-mnist --probe-size 1000 \
      --threads 1 --out "$work/resnet50-$p" --quiet
    ranks_of "$work/resnet50-$p/analysis.json"
    [ "$p" = 1 ] || same "$work/resnet50-1/analysis.json" "$work/resnet50-$p/analysis.json"
  done
fi
