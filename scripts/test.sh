#!/usr/bin/env bash
# The test command: installs what is missing, checks the layering, builds, and runs every test
# (GoogleTest through CTest, the scikit-learn and PyTorch reference checks, the browser test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The layering rule (docs/architecture.md) first: it needs no build and fails in a second.
python3 scripts/check_layers.py
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
