#!/usr/bin/env bash
# The main job: installs what is missing, builds, and trains simple-cnn on a 2,000-image
# Fashion-MNIST subset for 30 epochs (long enough to overfit), then prints the run directory.
# Running it again resumes the same run (or reports it complete).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
run=runs/main-simple-cnn-fashion-mnist
args=(--model simple-cnn --dataset fashion-mnist --train-size 2000 --epochs 30 --out "$run")
if [ -f "$run/run.json" ]; then
  ./build/filterscope train --resume --out "$run" --epochs 30
else
  ./build/filterscope train "${args[@]}"
fi
