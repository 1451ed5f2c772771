#!/usr/bin/env bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer: builds the library, the
# command and the tests with GCC's -fsanitize=address,undefined into build-asan/ and runs CTest
# there (everything but the fuzz smoke run, which scripts/fuzz.sh sanitizes itself).
#
#   bash scripts/sanitize.sh [CTEST_ARGS...]      e.g. -R Hardening, or -E reference
#
# LibTorch itself is not instrumented; leaks inside it are suppressed (scripts/lsan.supp) so that a
# report points at filterscope's code. Not part of CI: it takes about an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
if [ ! -f build-asan/CMakeCache.txt ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFILTERSCOPE_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
cmake --build build-asan
cd build-asan
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$(pwd)/../scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --output-on-failure --timeout 3600 -E '^fuzz\.' "$@"
