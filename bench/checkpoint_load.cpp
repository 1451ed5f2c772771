// What verifying a checkpoint's CRC-32s costs on load (docs/hardening.md): the check alone, LibTorch's
// load alone (the path before the check existed), and load_checkpoint (both), each the median of
// several runs with the file in the page cache.
//
//   bench_checkpoint_load CHECKPOINT [REPEATS]
#include <torch/serialize/input-archive.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/io/zip_archive.h"
#include "filterscope/train/checkpoint.h"

using namespace filterscope;

namespace {
double median_ms(int repeats, const std::function<void()>& f) {
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_checkpoint_load CHECKPOINT [REPEATS]\n");
    return 2;
  }
  try {
    const std::string path = argv[1];
    const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    const CheckpointInfo info = read_checkpoint_info(path);  // also warms the page cache
    const double bytes = static_cast<double>(read_file(path).size());
    const double verify = median_ms(repeats, [&] { verify_zip_checksums(MappedFile(path).bytes(), path); });
    const double libtorch = median_ms(repeats, [&] {
      torch::serialize::InputArchive archive, model;
      archive.load_from(path);
      archive.read("model", model);
      Network net = make_network(info.network, info.in_channels, info.num_classes, info.input_size);
      net->load(model);
    });
    const double whole = median_ms(repeats, [&] { load_checkpoint(path); });
    std::printf("checkpoint %s: %.0f MB, %s\n", path.c_str(), bytes / 1e6, info.network.c_str());
    std::printf("map + verify CRC-32s   %8.1f ms  (%.2f GB/s)\n", verify, bytes / 1e6 / verify);
    std::printf("LibTorch load alone    %8.1f ms\n", libtorch);
    std::printf("load_checkpoint        %8.1f ms  (%.2fx LibTorch's load alone)\n", whole, whole / libtorch);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_checkpoint_load: error: %s\n", describe_exception(e).c_str());
    return 1;
  }
}
