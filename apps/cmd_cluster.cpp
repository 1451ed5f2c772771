// filterscope cluster: .npy point sets -> GMM for every K, CH, chosen K -> JSON.
#include <ATen/ATen.h>

#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/cluster/engine.h"
#include "filterscope/core/files.h"
#include "filterscope/core/runtime.h"
#include "filterscope/report/npy.h"

namespace filterscope::cli {

namespace {

struct ClusterArgs {
  GmmOptions gmm;
  std::string input;
  std::string out;
  std::string labels_out;
  std::string all_labels_out;
  std::string device = "cpu";
  std::string backend = "auto";
  int64_t threads = 0;
};

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

at::Tensor read_points(const std::string& path) {
  at::Tensor points = read_npy(path);
  FS_CHECK(points.scalar_type() == at::kFloat || points.scalar_type() == at::kDouble, path,
           ": dtype ", points.scalar_type(), " is not supported; points must be float32 or float64");
  FS_CHECK((points.dim() == 2 || points.dim() == 3) && points.size(-1) == 2, path,
           ": shape ", points.sizes(), " is not [N, 2] or [F, N, 2]");
  if (points.dim() == 2) points = points.unsqueeze(0);
  FS_CHECK(points.size(1) >= 1, path, ": no points");
  const at::Tensor bad = at::isfinite(points).all(2).logical_not().nonzero();
  if (bad.size(0) > 0) {
    throw Error(detail::concat(path, ": contains NaN or Inf (first at set ", bad[0][0].item<int64_t>(),
                               ", point ", bad[0][1].item<int64_t>(), ")"));
  }
  return points;
}

nlohmann::json result_json(const ClusterResult& r, const GmmOptions& o, const std::string& input,
                           const at::Tensor& points) {
  const int64_t n_sets = points.size(0), kn = o.num_k();
  nlohmann::json sets = nlohmann::json::array();
  auto ll = r.fit.log_likelihood.accessor<double, 2>();
  auto lb = r.fit.lower_bound.accessor<double, 2>();
  auto iters = r.fit.iterations.accessor<int64_t, 2>();
  auto conv = r.fit.converged.accessor<bool, 2>();
  auto fitted = r.fit.fitted.accessor<bool, 2>();
  auto ch = r.ch.accessor<double, 2>();
  auto ncl = r.n_clusters.accessor<int64_t, 2>();
  for (int64_t s = 0; s < n_sets; ++s) {
    const int64_t k = r.best_k[s].item<int64_t>();
    nlohmann::json fits = nlohmann::json::array();
    nlohmann::json ch_by_k = nlohmann::json::object();
    for (int64_t j = 0; j < kn; ++j) {
      const int64_t kk = o.kmin + j;
      ch_by_k[std::to_string(kk)] = number_or_null(ch[s][j]);
      fits.push_back({{"k", kk},
                      {"fitted", fitted[s][j]},
                      {"ch", number_or_null(ch[s][j])},
                      {"non_empty_clusters", ncl[s][j]},
                      {"log_likelihood", number_or_null(fitted[s][j] ? ll[s][j] : NAN)},
                      {"lower_bound", number_or_null(fitted[s][j] ? lb[s][j] : NAN)},
                      {"iterations", iters[s][j]},
                      {"converged", conv[s][j]}});
    }
    nlohmann::json set = {{"index", s},
                          {"k", k > 0 ? nlohmann::json(k) : nlohmann::json(nullptr)},
                          {"ch", number_or_null(r.best_ch[s].item<double>())},
                          {"note", r.notes[static_cast<size_t>(s)]},
                          {"ch_by_k", ch_by_k}};
    if (k > 0) {
      const at::Tensor labels = r.labels[s].contiguous();
      const at::Tensor sizes = r.sizes[s].narrow(0, 0, k).contiguous();
      set["labels"] = std::vector<int64_t>(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + labels.numel());
      set["sizes"] = std::vector<int64_t>(sizes.data_ptr<int64_t>(), sizes.data_ptr<int64_t>() + sizes.numel());
      const int64_t j = k - o.kmin;
      set["log_likelihood"] = ll[s][j];
      set["iterations"] = iters[s][j];
      set["converged"] = conv[s][j];
    }
    set["fits"] = fits;
    sets.push_back(set);
  }
  return {{"format", "filterscope-cluster-1"},
          {"input", input},
          {"shape", {points.size(0), points.size(1), 2}},
          {"settings", params_to_json(o, GmmOptions::params())},
          {"sets", sets}};
}

}  // namespace

void register_cluster(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<ClusterArgs>();
  CLI::App* sub = app.add_subcommand(
      "cluster",
      "Cluster 2-D point sets from a NumPy .npy file ([N, 2] or [F, N, 2], float32/float64, C "
      "order): a Gaussian mixture for every K in [kmin, kmax], the Calinski-Harabasz index of "
      "each, and the K with the highest index. Writes JSON.");
  sub->add_option("--input,input", args->input, "the .npy file of points")->required();
  sub->add_option("--out", args->out, "JSON output; default: the input's name with .clusters.json");
  sub->add_option("--labels-out", args->labels_out,
                  "also write the labels at the chosen K as .npy ([F, N] int64, -1 where none)");
  sub->add_option("--all-labels-out", args->all_labels_out,
                  "also write the labels of every fit as .npy ([F, kmax-kmin+1, N] int64)");
  add_params(sub, args->gmm, GmmOptions::params());
  sub->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--backend", args->backend,
                  "auto (fused kernel on CPU, tensor program on CUDA), fused or tensor")
      ->capture_default_str();
  sub->add_option("--threads", args->threads, "CPU threads; 0 = all cores")->capture_default_str();
  sub->callback([&commands, args] {
    commands.action = [args] {
      validate_params(args->gmm, GmmOptions::params());
      FS_CHECK(args->gmm.kmin <= args->gmm.kmax, "--kmin (", args->gmm.kmin,
               ") must not exceed --kmax (", args->gmm.kmax, ")");
      FS_CHECK(args->backend == "auto" || args->backend == "fused" || args->backend == "tensor",
               "--backend must be auto, fused or tensor, got \"", args->backend, "\"");
      configure_threads(args->threads);
      const c10::Device device = parse_device(args->device);
      FS_CHECK(!(args->backend == "fused" && device.is_cuda()), "--backend fused runs on CPU only");
      const at::Tensor points = read_points(args->input);
      const GmmBackend backend = args->backend == "fused"    ? GmmBackend::Fused
                                 : args->backend == "tensor" ? GmmBackend::Tensor
                                                             : GmmBackend::Auto;
      const ClusterResult result = cluster_point_sets(points.to(device), args->gmm, backend);
      std::string out = args->out;
      if (out.empty()) out = std::filesystem::path(args->input).replace_extension(".clusters.json").string();
      write_file_atomic(out, result_json(result, args->gmm, args->input, points).dump() + "\n");
      if (!args->labels_out.empty()) write_npy(args->labels_out, result.labels);
      if (!args->all_labels_out.empty()) write_npy(args->all_labels_out, result.fit.labels);
      int64_t chosen = 0;
      for (const auto& note : result.notes) chosen += note.empty() ? 1 : 0;
      std::printf("clustered %lld set(s) of %lld points; K chosen for %lld; wrote %s\n",
                  static_cast<long long>(points.size(0)), static_cast<long long>(points.size(1)),
                  static_cast<long long>(chosen), out.c_str());
      for (size_t s = 0; s < result.notes.size(); ++s)
        if (!result.notes[s].empty()) std::printf("  set %zu: %s\n", s, result.notes[s].c_str());
    };
  });
}

}  // namespace filterscope::cli
