#!/usr/bin/env bash
# Builds .dev/, what bench/gpu_check.sh needs on the GPU machine that it cannot install there:
# header-only libraries, a static zlib and GoogleTest's sources, copied from this machine's Debian
# packages (scripts/setup.sh installs them). .dev/ must be ignored by git (.git/info/exclude) and
# named in the device tool's `carry`.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .dev
mkdir -p .dev/include/stb .dev/lib .dev/share/cmake
cp -r /usr/include/nlohmann /usr/include/CLI .dev/include/
cp /usr/include/stb/stb_image.h /usr/include/stb/stb_image_write.h .dev/include/stb/
cp /usr/include/zlib.h /usr/include/zconf.h .dev/include/
cp /usr/lib/x86_64-linux-gnu/libz.a .dev/lib/
cp -r /usr/share/cmake/nlohmann_json .dev/share/cmake/
cp -r /usr/src/googletest .dev/googletest
grep -qx '/.dev/' .git/info/exclude 2>/dev/null || echo '/.dev/' >> .git/info/exclude
du -sh .dev
