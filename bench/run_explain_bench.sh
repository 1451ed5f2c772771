#!/usr/bin/env bash
# The visualize/hierarchy benchmark of bench/RESULTS.md on simple-cnn (the OOD benchmark's run,
# trained on 10,000 Fashion-MNIST images): activation maximisation of the 10 class logits x 512
# steps, Grad-CAM of 1,000 images, the hierarchy over 10,000 images; filterscope's commands
# against bench/explain_python.py (PyTorch eager) in the same run.
#   bash bench/run_explain_bench.sh [RUN_DIR] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-build/bench-data/ood-run}
threads=${2:-2}
out=build/bench-data/explain
mkdir -p "$out"
if [ ! -f "$run/metrics.csv" ]; then
  ./build/filterscope train --dataset fashion-mnist --train-size 10000 --val-size 2000 --epochs 5 --quiet --out "$run"
fi
measure() {  # name command...: wall seconds and peak RSS into $out/name.time
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/$name.time" "$@" > "$out/$name.log"
  read -r s kb < "$out/$name.time"
  echo "$name: ${s} s, peak RSS $((kb / 1024)) MB"
}
measure maximisation ./build/filterscope visualize "$run" --parts am --steps 512 --threads "$threads" --quiet --out "$out/am"
measure gradcam ./build/filterscope visualize "$run" --parts gradcam --images 1000 --gradcam-images 1000 \
  --threads "$threads" --quiet --out "$out/gradcam"
measure hierarchy ./build/filterscope hierarchy "$run" --images 10000 --threads "$threads" --quiet --out "$out/hierarchy"
measure python /usr/bin/python3 bench/explain_python.py "$run" --threads "$threads"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
t = {n: float(open(f"{d}/{n}.time").read().split()[0]) for n in ("maximisation", "gradcam", "hierarchy", "python")}
py = json.loads(open(f"{d}/python.log").read().strip().splitlines()[-1])
am = json.load(open(f"{d}/am/visualize.json"))["maximisation"]["class_success_rate"]
for part in ("maximisation", "gradcam", "hierarchy"):
    print(f"{part}: filterscope {t[part]:.2f} s (whole command), Python {py['seconds'][part]:.2f} s (the part alone, "
          f"after {py['seconds']['load']:.1f} s of start-up and loading); ratio {py['seconds'][part] / t[part]:.2f}x")
print(f"class objectives predicted as their class afterwards: filterscope {am:.0%}, Python {py['class_success_rate']:.0%}")
PY
