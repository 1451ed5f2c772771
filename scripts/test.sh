#!/usr/bin/env bash
# The test command: installs what is missing, checks the layering, builds, and runs every test
# (GoogleTest through CTest, the scikit-learn, PyTorch and NumPy reference checks, the Python package
# and its notebook, the browser tests). A skipped test fails the run, unless the machine cannot run
# it (the CUDA tests without a GPU); the skipped ones are listed with their reasons.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The layering rule (docs/architecture.md) first: it needs no build and fails in a second.
python3 scripts/check_layers.py
bash scripts/build.sh
cd build
rc=0
ctest --output-on-failure --timeout 900 --output-junit ctest-results.xml "$@" || rc=$?
/usr/bin/python3 ../scripts/check_skips.py ctest-results.xml || rc=1
exit $rc
