#!/usr/bin/env bash
# On the lent GPU machine (see bench/RESULTS.md): builds against the PyTorch wheel's CUDA LibTorch,
# runs the test suite (the CUDA tests included), then times the clustering stage at the paper's
# GPU scale. Dependencies that machine lacks come from .dev/ (headers, static zlib, GoogleTest
# sources), made by bench/make_dev_bundle.sh from this machine's Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
nvidia-smi -L
cmake -S . -B /tmp/fs-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$PWD/.dev" -DFILTERSCOPE_GTEST_SOURCE="$PWD/.dev/googletest" \
  -DZLIB_INCLUDE_DIR="$PWD/.dev/include" -DZLIB_LIBRARY="$PWD/.dev/lib/libz.a" \
  -DCMAKE_CXX_FLAGS="-I$PWD/.dev/include" > "$out/cmake.log" 2>&1 || { tail -40 "$out/cmake.log"; exit 1; }
cmake --build /tmp/fs-gpu -j"$(nproc)" --target all benchmarks > "$out/build.log" 2>&1 || { grep -m8 -B2 -A8 'error' "$out/build.log"; exit 1; }
echo "== runtime libraries"
ldd /tmp/fs-gpu/filterscope | grep -E 'gomp|torch_cpu|c10.so' || true
/tmp/fs-gpu/filterscope --version || echo "filterscope --version failed: $?"
echo "== tests (CPU ones, then the CUDA ones)"
for filter in '-Cuda*' 'Cuda*'; do
  (stdbuf -oL -eL /tmp/fs-gpu/tests/filterscope_tests --gtest_filter="$filter" 2>&1 | grep -E '^\[ +(RUN|OK|FAILED|PASSED|SKIPPED) +\]|Failure|error' | tail -60) || true
done
if [ -f build/bench-data/maps.npy ]; then
  echo "== layer workload (C=64, N=1000) on the GPU and on this machine's CPU"
  /tmp/fs-gpu/bench/bench_cluster_layer build/bench-data/maps.npy 5 cuda | tee "$out/gpu_layer.json"
  /tmp/fs-gpu/bench/bench_cluster_layer build/bench-data/maps.npy 5 cpu | tee "$out/cpu_layer.json"
fi
echo "== GMM + CH, C=1376 point sets, N=10000"
python3 -c "
import numpy as np
r = np.random.default_rng(0)
pts = r.standard_t(3, size=(1376, 10000, 2)) * np.array([3.0, 1.0])
np.save('/tmp/pts_1376.npy', pts)"
# One batch holds every fit: an 80 GB card needs no chunking at this size.
DEVICE=cuda /tmp/fs-gpu/bench/bench_gmm_points /tmp/pts_1376.npy 3 tensor max-batch-mb=40000 | tee "$out/gpu_gmm.json"
if [ -z "${GPU_ONLY:-}" ]; then
  /tmp/fs-gpu/bench/bench_gmm_points /tmp/pts_1376.npy 1 fused | tee "$out/cpu_gmm.json"
  python3 bench/sklearn_points.py /tmp/pts_1376.npy --sets 16 | tee "$out/sklearn_gmm.json"
fi
