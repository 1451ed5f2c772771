#!/usr/bin/env bash
# The clustering benchmark of bench/RESULTS.md: real feature maps of simple-cnn (the main job's
# run), one layer of 64 filters over N = 1,000 validation images, filterscope's engine against
# a Python loop over scikit-learn on the same .npy file, in the same run.
#   bash bench/run_cluster_bench.sh [RUN_DIR] [EPOCH] [PROBE]
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/main-simple-cnn-fashion-mnist}
epoch=${2:-30}
probe=${3:-features.3}
out=build/bench-data
mkdir -p "$out"
./build/bench/bench_capture_maps "$run" "$epoch" "$probe" 1000 "$out/maps.npy"
echo "filterscope (median of 5):"
./build/bench/bench_cluster_layer "$out/maps.npy" 5 | tee "$out/filterscope.json"
echo "scikit-learn loop (one run):"
/usr/bin/python3 bench/sklearn_layer.py "$out/maps.npy" | tee "$out/sklearn.json"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
ours = json.load(open(f"{d}/filterscope.json"))
ref = json.load(open(f"{d}/sklearn.json"))
same = sum(a == b for a, b in zip(ours["chosen_k"], ref["chosen_k"]))
print(f"filterscope {ours['total_seconds']:.3f} s (PCA {ours['pca_seconds']:.3f}, GMM+CH {ours['gmm_ch_seconds']:.3f}); "
      f"scikit-learn {ref['seconds']:.2f} s; ratio {ref['seconds'] / ours['total_seconds']:.1f}x; "
      f"same K for {same}/{len(ref['chosen_k'])} filters")
PY
