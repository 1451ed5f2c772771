#include "filterscope/cluster/cluster_files.h"

#include <ATen/ATen.h>

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/io/json.h"
#include "filterscope/io/npy.h"

namespace filterscope {

at::Tensor read_point_sets(const std::string& path) {
  at::Tensor points = read_npy(path);
  FS_CHECK(points.scalar_type() == at::kFloat || points.scalar_type() == at::kDouble, path,
           ": dtype ", npy_dtype_name(points.scalar_type()), " is not supported; points must be float32 (<f4) or float64 (<f8)");
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

nlohmann::json cluster_result_json(const ClusterResult& r, const GmmOptions& o, const std::string& input,
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
      ch_by_k[std::to_string(kk)] = json_number(ch[s][j]);
      fits.push_back({{"k", kk},
                      {"fitted", fitted[s][j]},
                      {"ch", json_number(ch[s][j])},
                      {"non_empty_clusters", ncl[s][j]},
                      {"log_likelihood", json_number(fitted[s][j] ? ll[s][j] : NAN)},
                      {"lower_bound", json_number(fitted[s][j] ? lb[s][j] : NAN)},
                      {"iterations", iters[s][j]},
                      {"converged", conv[s][j]}});
    }
    nlohmann::json set = {{"index", s},
                          {"k", k > 0 ? nlohmann::json(k) : nlohmann::json(nullptr)},
                          {"ch", json_number(r.best_ch[s].item<double>())},
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

}  // namespace filterscope
