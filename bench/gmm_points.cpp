// Times the Gaussian-mixture stage alone on point sets.
//   [DEVICE=cuda] [THREADS=n] bench_gmm_points POINTS.npy [repeats] [backend: fused|tensor] [name=value ...]
// POINTS.npy: [S, N, 2]. name=value sets a GMM option by its flag name (e.g. kmeans-max-iter=5).
#include <ATen/ATen.h>

#include <torch/cuda.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "filterscope/cluster/gmm.h"
#include "filterscope/core/error.h"
#include "filterscope/core/runtime.h"
#include "filterscope/io/npy.h"

using namespace filterscope;

int main(int argc, char** argv) {
  try {
    FS_CHECK(argc >= 2, "usage: bench_gmm_points POINTS.npy [repeats] [fused|tensor] [name=value ...]");
    tune_allocator();
    configure_threads(std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 0);
    const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
    const std::string backend = argc > 3 ? argv[3] : "fused";
    GmmOptions options;
    nlohmann::json settings = params_to_json(options, GmmOptions::params());
    for (int i = 4; i < argc; ++i) {
      const std::string arg = argv[i];
      const auto eq = arg.find('=');
      FS_CHECK(eq != std::string::npos, "expected name=value, got ", arg);
      const std::string name = arg.substr(0, eq);
      FS_CHECK(settings.contains(name), "unknown option ", name);
      settings[name] = settings[name].is_number_integer() ? nlohmann::json(std::stoll(arg.substr(eq + 1)))
                                                          : nlohmann::json(std::stod(arg.substr(eq + 1)));
    }
    params_from_json(options, settings, GmmOptions::params(), "arguments");
    const c10::Device device = parse_device(std::getenv("DEVICE") ? std::getenv("DEVICE") : "cpu");
    const at::Tensor points = read_npy(argv[1]).to(device);
    std::vector<double> times;
    GmmFit fit;
    for (int r = 0; r < repeats; ++r) {
      if (device.is_cuda()) torch::cuda::synchronize();
      const auto t0 = std::chrono::steady_clock::now();
      fit = fit_gmm(points, options, {}, backend == "tensor" ? GmmBackend::Tensor : GmmBackend::Fused);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    nlohmann::json out = {{"points", argv[1]},
                          {"shape", points.sizes().vec()},
                          {"backend", backend},
                          {"device", device.str()},
                          {"settings", settings},
                          {"median_seconds", times[times.size() / 2]},
                          {"mean_em_iterations", fit.iterations.to(at::kDouble).mean().item<double>()},
                          {"mean_log_likelihood", fit.log_likelihood.mean().item<double>()}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gmm_points: %s\n", describe_exception(e).c_str());
    return 1;
  }
}
