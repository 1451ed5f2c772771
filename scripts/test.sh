#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test (GoogleTest through
# CTest, plus the scikit-learn agreement check).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
