// Times the clustering engine on one layer's feature maps: PCA to 2-D for every filter, then the
// Gaussian mixtures for every K with CH and the choice of K. bench/cluster_layer.py runs it beside
// the Python reference (scikit-learn in a loop) on the same .npy file.
//
//   bench_cluster_layer MAPS.npy [repeats] [device] [backend]
//   MAPS.npy: [N, C, H, W] float32 feature maps. Prints one JSON line.
#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "filterscope/cluster/engine.h"
#include "filterscope/cluster/pca.h"
#include "filterscope/core/error.h"
#include "filterscope/core/runtime.h"
#include "filterscope/io/npy.h"

using namespace filterscope;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
void sync(const c10::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}
}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::fprintf(stderr, "usage: %s MAPS.npy [repeats] [device] [backend: auto|fused|tensor]\n", argv[0]);
      return 2;
    }
    const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
    const c10::Device device = parse_device(argc > 3 ? argv[3] : "cpu");
    const std::string backend_name = argc > 4 ? argv[4] : "auto";
    const GmmBackend backend = backend_name == "fused"    ? GmmBackend::Fused
                               : backend_name == "tensor" ? GmmBackend::Tensor
                                                          : GmmBackend::Auto;
    PcaOptions pca_options;
    if (argc > 5) pca_options.exact_max_dim = std::atoll(argv[5]);
    if (std::getenv("FILTERSCOPE_NO_MALLOC_TUNING") == nullptr) tune_allocator();
    const int threads = configure_threads(0);
    at::Tensor maps = read_npy(argv[1]);
    FS_CHECK(maps.dim() == 4, argv[1], ": expected [N, C, H, W]");
    maps = maps.to(device);
    std::vector<double> pca_s, gmm_s, total_s;
    ClusterResult result;
    PcaResult pca;
    for (int r = 0; r < repeats; ++r) {
      sync(device);
      auto t0 = std::chrono::steady_clock::now();
      pca = pca_feature_maps(maps, pca_options);
      sync(device);
      const double t_pca = seconds_since(t0);
      auto t1 = std::chrono::steady_clock::now();
      result = cluster_point_sets(pca.points, GmmOptions{}, backend);
      sync(device);
      gmm_s.push_back(seconds_since(t1));
      pca_s.push_back(t_pca);
      total_s.push_back(seconds_since(t0));
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    nlohmann::json out = {
        {"maps", argv[1]},
        {"shape", maps.sizes().vec()},
        {"device", device.str()},
        {"backend", backend_name},
        {"threads", threads},
        {"repeats", repeats},
        {"pca_seconds", median(pca_s)},
        {"gmm_ch_seconds", median(gmm_s)},
        {"total_seconds", median(total_s)},
        {"pca_exact_max_dim", pca_options.exact_max_dim},
        {"mean_pca_iterations", pca.iterations.to(at::kDouble).mean().item<double>()},
        {"mean_em_iterations", result.fit.iterations.to(at::kDouble).mean().item<double>()},
        {"chosen_k", std::vector<int64_t>(result.best_k.data_ptr<int64_t>(),
                                          result.best_k.data_ptr<int64_t>() + result.best_k.numel())},
    };
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cluster_layer: %s\n", describe_exception(e).c_str());
    return 1;
  }
}
