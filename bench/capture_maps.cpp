// Writes one probe point's feature maps for the first N validation images of a run as .npy, so
// that the clustering benchmark runs on real feature maps.
//   bench_capture_maps RUN_DIR EPOCH PROBE N OUT.npy
#include <ATen/ATen.h>
#include <torch/utils.h>

#include <cstdio>

#include "filterscope/core/error.h"
#include "filterscope/core/runtime.h"
#include "filterscope/io/npy.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/trainer.h"

using namespace filterscope;

int main(int argc, char** argv) {
  try {
    FS_CHECK(argc == 6, "usage: bench_capture_maps RUN_DIR EPOCH PROBE N OUT.npy");
    tune_allocator();
    configure_threads(0);
    const std::filesystem::path run_dir = argv[1];
    const PreparedRun run = prepare_run(read_run_settings(run_dir));
    Network net = load_checkpoint(checkpoint_path(run_dir, std::atoll(argv[2])));
    net->eval();
    torch::NoGradGuard no_grad;
    const int64_t n = std::min<int64_t>(std::atoll(argv[4]), run.data.val.size());
    at::Tensor x = make_input(run.data.val, run.transform, at::arange(n, at::kLong));
    at::Tensor maps = net->forward_probes(x, {argv[3]}).outputs.at(0).second.contiguous();
    write_npy(argv[5], maps);
    std::printf("%s: %s of %s, shape [%lld, %lld, %lld, %lld]\n", argv[5], argv[3], net->name().c_str(),
                static_cast<long long>(maps.size(0)), static_cast<long long>(maps.size(1)),
                static_cast<long long>(maps.size(2)), static_cast<long long>(maps.size(3)));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_capture_maps: %s\n", describe_exception(e).c_str());
    return 1;
  }
}
