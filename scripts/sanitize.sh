#!/usr/bin/env bash
# The whole library and every LibTorch-side test under AddressSanitizer and UndefinedBehaviorSanitizer
# (GCC), into build-asan/. The fuzz harnesses (scripts/fuzz.sh) cover the byte-level parsers with
# clang; this covers the rest: training, capture, clustering, the commands, the explorer.
#
#   bash scripts/sanitize.sh [CTEST-ARGS...]     e.g. -R 'Train|Analyze' to run some tests
#
# The GoogleTest cases and the scripted checks that drive the `filterscope` binary run; the Python
# package's tests do not (its module would need the sanitizer runtime preloaded into Python).
# LeakSanitizer is off: LibTorch, OpenMP and OpenBLAS keep allocations alive until exit by design
# (thread pools, the CPU allocator's caches), which it would report from libraries not built here.
# Any ASan or UBSan finding stops the process with a report (-fno-sanitize-recover) and fails its test.
# Figures of the last run: docs/hardening.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-asan
# UBSan's vptr check is off: it needs the typeinfo of every polymorphic class it meets, and Debian's
# LibTorch does not export some (the link fails on `typeinfo for c10::DynamicType`).
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}" CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
if [ ! -f "$out/build.ninja" ]; then
  cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_UNITY_BUILD=ON \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DFILTERSCOPE_BUILD_PYTHON=OFF >&2
fi
cmake --build "$out" --target filterscope filterscope_tests filterscope_test_models >&2
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$out"
# Not here: the Python package (not built), the fuzz harnesses (their own sanitized build), the
# layering check (no code runs).
ctest --output-on-failure --timeout 1800 -E '^(python\.|fuzz\.|layers\.)' --output-junit asan-results.xml "$@"
