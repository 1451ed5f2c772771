#!/usr/bin/env bash
# The main job: installs what is missing, builds, then runs the paper's three experiments on
# Fashion-MNIST (scripts/study.sh): simple-cnn trained on 2,000 images with 20 % label noise for
# 30 epochs, every epoch analysed, gradients, masking, and a verdict per hypothesis.
# Arguments go to scripts/study.sh (--quick, --model lenet5, --out DIR). Running it again resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh filterscope   # the one binary the study runs (the tests build the rest)
exec bash scripts/study.sh "$@"
