#include "filterscope/cluster/calinski_harabasz.h"

#include <ATen/ATen.h>

#include <limits>

#include "filterscope/core/error.h"

namespace filterscope {

CalinskiHarabasz calinski_harabasz(const at::Tensor& points, const at::Tensor& labels,
                                   int64_t num_labels) {
  FS_CHECK(points.dim() == 3, "points must have shape [B, N, D], got ", points.sizes());
  FS_CHECK(labels.dim() == 2 && labels.size(0) == points.size(0) && labels.size(1) == points.size(1),
           "labels must have shape [B, N] matching points ", points.sizes(), ", got ", labels.sizes());
  FS_CHECK(num_labels >= 1, "num_labels must be >= 1");
  const at::Tensor x = points.to(at::kDouble);
  const at::Tensor l = labels.to(at::kLong);
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2);
  const auto f64 = x.options();

  at::Tensor counts = at::zeros({b, num_labels}, f64).scatter_add_(1, l, at::ones({b, n}, f64));
  at::Tensor sums = at::zeros({b, num_labels, d}, f64)
                        .scatter_add_(1, l.unsqueeze(2).expand({b, n, d}), x);
  at::Tensor centroids = sums / counts.clamp_min(1).unsqueeze(2);
  at::Tensor mean = x.mean(1, true);  // [B, 1, D]
  at::Tensor extra = (counts * (centroids - mean).pow(2).sum(2)).sum(1);
  at::Tensor own = at::gather(centroids, 1, l.unsqueeze(2).expand({b, n, d}));
  at::Tensor intra = (x - own).pow(2).sum({1, 2});

  CalinskiHarabasz out;
  out.n_labels = counts.gt(0).sum(1);
  const at::Tensor k = out.n_labels.to(at::kDouble);
  out.defined = out.n_labels.ge(2).logical_and(out.n_labels.le(n - 1));
  at::Tensor score = at::where(intra.eq(0), at::ones_like(intra),
                               extra * (n - k) / (intra * (k - 1.0)));
  out.score = at::where(out.defined, score,
                        at::full_like(score, std::numeric_limits<double>::quiet_NaN()));
  return out;
}

}  // namespace filterscope
