// filterscope cluster: .npy point sets -> GMM for every K, CH, chosen K -> JSON.
#include <ATen/ATen.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/cluster/cluster_files.h"
#include "filterscope/core/files.h"
#include "filterscope/core/runtime.h"
#include "filterscope/io/npy.h"

namespace filterscope::cli {

namespace {

// The flags only this command has.
struct ClusterCommandOptions {
  std::string out;             ///< JSON output
  std::string labels_out;      ///< labels at the chosen K as .npy
  std::string all_labels_out;  ///< labels of every fit as .npy
  std::string backend = "auto";

  static const ParamTable<ClusterCommandOptions>& params() {
    static const ParamTable<ClusterCommandOptions> table = {
        {"out", &ClusterCommandOptions::out, "JSON output; empty = the input's name with .clusters.json"},
        {"labels-out", &ClusterCommandOptions::labels_out,
         "also write the labels at the chosen K as .npy ([F, N] int64, -1 where none)"},
        {"all-labels-out", &ClusterCommandOptions::all_labels_out,
         "also write the labels of every fit as .npy ([F, kmax-kmin+1, N] int64)"},
        {"backend", &ClusterCommandOptions::backend, "auto (fused kernel on CPU, tensor program on CUDA), fused or tensor",
         {}, {"auto", "fused", "tensor"}},
    };
    return table;
  }
};

struct ClusterArgs {
  GmmOptions gmm;
  std::string input;
  ClusterCommandOptions command;
  RuntimeOptions runtime;
};

}  // namespace

void register_cluster(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<ClusterArgs>();
  CLI::App* sub = app.add_subcommand(
      "cluster",
      "Cluster 2-D point sets from a NumPy .npy file ([N, 2] or [F, N, 2], float32/float64, C "
      "order): a Gaussian mixture for every K in [kmin, kmax], the Calinski-Harabasz index of "
      "each, and the K with the highest index. Writes JSON.");
  sub->add_option("input", args->input, "the .npy file of points")->required();
  add_params(sub, args->command, ClusterCommandOptions::params());
  add_params(sub, args->gmm, GmmOptions::params());
  add_runtime_flags(sub, args->runtime, {"device", "threads"});
  add_example(sub, "filterscope cluster points.npy --kmin 2 --kmax 10 --labels-out labels.npy");
  sub->callback([&commands, args] {
    commands.action = [args] {
      validate_params(args->gmm, GmmOptions::params());
      validate_params(args->command, ClusterCommandOptions::params());
      const c10::Device device = apply_runtime(args->runtime);
      const std::string& backend_name = args->command.backend;
      FS_CHECK(!(backend_name == "fused" && device.is_cuda()), "--backend fused runs on CPU only");
      const at::Tensor points = read_point_sets(args->input);
      const GmmBackend backend = backend_name == "fused"    ? GmmBackend::Fused
                                 : backend_name == "tensor" ? GmmBackend::Tensor
                                                            : GmmBackend::Auto;
      const ClusterResult result = cluster_point_sets(points.to(device), args->gmm, backend);
      std::string out = args->command.out;
      if (out.empty()) out = std::filesystem::path(args->input).replace_extension(".clusters.json").string();
      write_file_atomic(out, cluster_result_json(result, args->gmm, args->input, points).dump() + "\n");
      if (!args->command.labels_out.empty()) write_npy(args->command.labels_out, result.labels);
      if (!args->command.all_labels_out.empty()) write_npy(args->command.all_labels_out, result.fit.labels);
      int64_t chosen = 0;
      for (const auto& note : result.notes) chosen += note.empty() ? 1 : 0;
      std::printf("clustered %lld set(s) of %lld points; K chosen for %lld; wrote %s\n",
                  static_cast<long long>(points.size(0)), static_cast<long long>(points.size(1)),
                  static_cast<long long>(chosen), out.c_str());
      // The answer itself on the console: K (and CH) of one set; how often each K won over many.
      const at::Tensor best_k = result.best_k.to(at::kCPU), best_ch = result.best_ch.to(at::kCPU);
      if (best_k.numel() == 1 && best_k.item<int64_t>() > 0) {
        std::printf("  K = %lld (Calinski-Harabasz %.6g)\n", static_cast<long long>(best_k.item<int64_t>()),
                    best_ch.item<double>());
      } else if (best_k.numel() > 1) {
        std::map<int64_t, int64_t> wins;
        for (int64_t s = 0; s < best_k.numel(); ++s)
          if (best_k[s].item<int64_t>() > 0) ++wins[best_k[s].item<int64_t>()];
        std::string line;
        for (const auto& [k, n] : wins) line += (line.empty() ? "" : ", ") + std::string("K=") + std::to_string(k) + ": " + std::to_string(n);
        if (!line.empty()) std::printf("  sets per chosen K: %s\n", line.c_str());
      }
      for (size_t s = 0; s < result.notes.size(); ++s)
        if (!result.notes[s].empty()) std::printf("  set %zu: %s\n", s, result.notes[s].c_str());
    };
  });
}

}  // namespace filterscope::cli
