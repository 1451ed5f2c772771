#include "filterscope/cluster/engine.h"

#include <ATen/ATen.h>

#include <limits>

#include "filterscope/cluster/calinski_harabasz.h"
#include "filterscope/core/error.h"

namespace filterscope {

ClusterResult cluster_point_sets(const at::Tensor& points, const GmmOptions& options,
                                 GmmBackend backend) {
  GmmFit fit = fit_gmm(points, options, {}, backend);
  const int64_t n_sets = points.size(0), n = points.size(1), kn = options.num_k(), kmax = options.kmax;
  const at::Tensor x = points.to(at::kDouble).cpu();

  ClusterResult out;
  out.k_values = at::arange(options.kmin, options.kmax + 1, at::kLong);
  // CH on the points' device, one K at a time, so no [S, Kn, N, 2] copy of the points is made.
  const at::Tensor xd = points.to(at::kDouble);
  std::vector<at::Tensor> scores, defined, n_labels;
  for (int64_t j = 0; j < kn; ++j) {
    const CalinskiHarabasz c = calinski_harabasz(xd, fit.labels.select(1, j).to(points.device()), kmax);
    scores.push_back(c.score.cpu());
    defined.push_back(c.defined.cpu());
    n_labels.push_back(c.n_labels.cpu());
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const at::Tensor score = at::stack(scores, 1);
  out.ch = at::where(fit.fitted.logical_and(at::stack(defined, 1)), score, at::full_like(score, nan));
  out.n_clusters = at::where(fit.fitted, at::stack(n_labels, 1), at::zeros({n_sets, kn}, at::kLong));

  out.best_k = at::zeros({n_sets}, at::kLong);
  out.best_ch = at::full({n_sets}, nan, at::kDouble);
  out.labels = at::full({n_sets, n}, -1, at::kLong);
  out.sizes = at::zeros({n_sets, kmax}, at::kLong);
  out.notes.assign(static_cast<size_t>(n_sets), "");
  const at::Tensor finite = at::isfinite(x).all(2).all(1);
  const at::Tensor clean = at::where(at::isfinite(x), x, at::zeros_like(x));
  const at::Tensor spread = (clean.amax(1) - clean.amin(1)).amax(1);
  auto ch_a = out.ch.accessor<double, 2>();
  for (int64_t s = 0; s < n_sets; ++s) {
    // Highest CH; strict comparison keeps the smaller K on ties.
    int64_t best = -1;
    for (int64_t j = 0; j < kn; ++j) {
      if (std::isnan(ch_a[s][j])) continue;
      if (best < 0 || ch_a[s][j] > ch_a[s][best]) best = j;
    }
    if (best < 0) {
      if (!finite[s].item<bool>())
        out.notes[static_cast<size_t>(s)] = "points contain NaN or Inf";
      else if (spread[s].item<double>() == 0)
        out.notes[static_cast<size_t>(s)] = "all points identical";
      else if (n < options.kmin + 1)
        out.notes[static_cast<size_t>(s)] = "too few points: CH needs 2..N-1 clusters, N = " + std::to_string(n);
      else
        out.notes[static_cast<size_t>(s)] = "no K gave 2..N-1 non-empty clusters";
      continue;
    }
    out.best_k[s] = options.kmin + best;
    out.best_ch[s] = ch_a[s][best];
    const at::Tensor labels = fit.labels[s][best];
    out.labels[s].copy_(labels);
    out.sizes[s].copy_(at::bincount(labels, {}, kmax));
  }
  out.fit = std::move(fit);
  return out;
}

}  // namespace filterscope
