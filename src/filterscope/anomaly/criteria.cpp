#include "filterscope/anomaly/criteria.h"

#include <ATen/ATen.h>

#include <cmath>
#include <sstream>

#include "filterscope/core/error.h"

namespace filterscope {

const ParamTable<AnomalyOptions>& AnomalyOptions::params() {
  static const ParamTable<AnomalyOptions> table = {
      {"small-cluster", &AnomalyOptions::small_cluster,
       "lambda as a share of the probe set: clusters of at most max(1, round(this x N)) points are small",
       Bounds{0.0, 0.5, true, false}},
      {"alpha", &AnomalyOptions::alpha, "criterion 1: a filter is unbalanced with more than alpha x K small clusters",
       Bounds::closed(0, 1)},
      {"beta", &AnomalyOptions::beta, "criterion 2: CH above beta x the layer's mean CH", Bounds::at_least(0)},
      {"theta", &AnomalyOptions::theta,
       "criterion 3: mean |activation| at least theta x the layer's mean |activation|", Bounds::at_least(0)},
  };
  return table;
}

int64_t AnomalyOptions::lambda(int64_t n) const {
  return std::max<int64_t>(1, std::llround(small_cluster * static_cast<double>(n)));
}

LayerCriteria apply_criteria(const ClusterResult& clusters, const at::Tensor& mean_activation,
                             const AnomalyOptions& options) {
  validate_params(options, AnomalyOptions::params());
  const int64_t c = clusters.best_k.size(0), n = clusters.labels.size(1);
  FS_CHECK(mean_activation.dim() == 1 && mean_activation.size(0) == c, "mean activation must have ", c,
           " entries, got shape ", mean_activation.sizes());
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  LayerCriteria r;
  r.lambda = options.lambda(n);
  const at::Tensor k = clusters.best_k.cpu();
  const at::Tensor has_k = k.gt(0);
  const at::Tensor sizes = clusters.sizes.cpu();                      // [C, kmax]
  const at::Tensor small = sizes.ge(1).logical_and(sizes.le(r.lambda));  // [C, kmax]
  r.small_clusters = small.sum(1);
  const double nn = static_cast<double>(n);
  r.small_share = (sizes * small).sum(1).to(at::kDouble) / nn;
  const at::Tensor nonempty = sizes.where(sizes.ge(1), at::full_like(sizes, n + 1));
  r.smallest_share = at::where(has_k, std::get<0>(nonempty.min(1)).to(at::kDouble) / nn,
                               at::full({c}, NAN, f64));
  // A margin rather than a ratio: alpha = 0 ("at least one small cluster") stays finite.
  r.unbalance = at::where(has_k, r.small_clusters.to(at::kDouble) - options.alpha * k.to(at::kDouble),
                          at::full({c}, NAN, f64));
  r.unbalanced = has_k.logical_and(r.unbalance.gt(0));

  const at::Tensor ch = clusters.best_ch.cpu();
  const at::Tensor defined = at::isfinite(ch);
  const int64_t n_defined = defined.sum().item<int64_t>();
  r.mean_ch = n_defined > 0 ? ch.masked_select(defined).mean().item<double>() : NAN;
  r.ch_ratio = ch / r.mean_ch;
  r.high_ch = defined.logical_and(r.ch_ratio.gt(options.beta));

  const at::Tensor act = mean_activation.cpu().to(at::kDouble);
  r.mean_activation = act.mean().item<double>();
  r.activation_ratio = r.mean_activation > 0 ? act / r.mean_activation : at::zeros({c}, f64);
  r.active = at::isfinite(act).logical_and(r.activation_ratio.ge(options.theta)).logical_and(act.gt(0));

  r.anomaly = r.unbalanced.logical_and(r.high_ch).logical_and(r.active);
  // Members of small clusters: the label of each sample, looked up in its filter's small flags.
  const at::Tensor labels = clusters.labels.cpu();  // [C, N], -1 without K
  const at::Tensor safe = labels.clamp_min(0);
  r.small_member = at::gather(small, 1, safe).logical_and(labels.ge(0));
  return r;
}

std::string closest_miss(const LayerCriteria& layer, const ClusterResult& clusters,
                         const AnomalyOptions& options, int criterion) {
  const at::Tensor pass = criterion == 1 ? layer.unbalanced : criterion == 2 ? layer.high_ch : layer.active;
  if (pass.any().item<bool>() || pass.numel() == 0) return "";
  const at::Tensor score = criterion == 1 ? layer.unbalance : criterion == 2 ? layer.ch_ratio : layer.activation_ratio;
  const at::Tensor finite = at::isfinite(score);
  std::ostringstream out;
  const char* names[] = {"", "1 (unbalanced)", "2 (high CH)", "3 (active)"};
  out << "no filter passes criterion " << names[criterion];
  if (!finite.any().item<bool>()) return out.str() + "; no filter has a score for it";
  at::Tensor ranked = score.masked_fill(finite.logical_not(), -INFINITY);
  // Criterion 1 often finds no small cluster at all: then the filter whose smallest cluster is
  // smallest is the closest.
  if (criterion == 1 && layer.small_clusters.max().item<int64_t>() == 0)
    ranked = at::nan_to_num(layer.smallest_share, 2.0).neg();
  const int64_t best = ranked.argmax().item<int64_t>();
  out << "; the closest, filter " << best << ", ";
  out.precision(3);
  if (criterion == 1) {
    const int64_t k = clusters.best_k[best].item<int64_t>();
    const at::Tensor sizes = clusters.sizes[best].narrow(0, 0, k);
    const int64_t smallest = sizes.masked_fill(sizes.lt(1), INT64_MAX).min().item<int64_t>();
    out << "has " << layer.small_clusters[best].item<int64_t>() << " small cluster(s) of K = " << k
        << " (needs more than " << options.alpha * static_cast<double>(k) << "; its smallest cluster holds "
        << smallest << " points, lambda = " << layer.lambda << ")";
  } else if (criterion == 2) {
    out << "has CH " << score[best].item<double>() << " x the layer mean (needs more than " << options.beta << ")";
  } else {
    out << "has mean |activation| " << score[best].item<double>() << " x the layer mean (needs at least "
        << options.theta << ")";
  }
  return out.str();
}

}  // namespace filterscope
