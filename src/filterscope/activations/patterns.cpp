#include "filterscope/activations/patterns.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "filterscope/core/error.h"

namespace filterscope {

MapReduce parse_map_reduce(const std::string& name) {
  if (name == "mean") return MapReduce::Mean;
  if (name == "max") return MapReduce::Max;
  throw Error(detail::concat("--reduce: unknown reduction \"", name, "\" (mean or max)"));
}

at::Tensor neuron_values(const at::Tensor& output, MapReduce reduce) {
  at::Tensor x = output.to(at::kFloat);
  if (x.dim() == 2) return x;
  FS_CHECK(x.dim() >= 3, "neuron values need [N, C, ...] or [N, U], got ", x.dim(), " dimensions");
  x = x.flatten(2);
  return reduce == MapReduce::Mean ? x.mean(2) : std::get<0>(x.max(2));
}

at::Tensor significant_active(const at::Tensor& values) { return values.gt(0); }

at::Tensor significant_above_gap(const at::Tensor& values, double epsilon) {
  FS_CHECK(epsilon > 1, "the S2 ratio epsilon must exceed 1, got ", epsilon);
  const int64_t units = values.size(1);
  if (units < 2) return at::zeros_like(values, at::kBool);
  const at::Tensor v = values.to(at::kDouble);
  const at::Tensor sorted = std::get<0>(v.sort(1, /*descending=*/true));  // [N, U]
  const at::Tensor upper = sorted.narrow(1, 0, units - 1);
  const at::Tensor lower = sorted.narrow(1, 1, units - 1);
  // A gap at rank j: both values positive and their ratio above epsilon.
  const at::Tensor gap = lower.gt(0).logical_and(upper.gt(lower * epsilon));  // [N, U-1]
  // The lowest gap is the last true position; the value there is the threshold.
  const at::Tensor positions = at::arange(units - 1, v.options().dtype(at::kLong)).expand_as(gap);
  const at::Tensor last = at::where(gap, positions, at::full_like(positions, -1)).amax(1);  // [N]
  const at::Tensor has_gap = last.ge(0);
  const at::Tensor threshold = upper.gather(1, last.clamp_min(0).unsqueeze(1)).squeeze(1);
  const at::Tensor t = at::where(has_gap, threshold, at::full_like(threshold, INFINITY));
  return v.ge(t.unsqueeze(1)).logical_and(v.gt(0));
}

at::Tensor significant_interactions(const at::Tensor& x, const at::Tensor& weight) {
  FS_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1), "interactions need x [N, I] and W [O, I]");
  const int64_t inputs = weight.size(1);
  const at::Tensor terms = (weight.to(at::kFloat).unsqueeze(0) * x.to(at::kFloat).unsqueeze(1)).abs_();  // [N, O, I]
  const at::Tensor total = terms.sum(2, true);
  // share > 1/I  <=>  |t| * I > total, and an all-zero row (total 0) has no significant term.
  return terms.mul(static_cast<double>(inputs)).gt(total).logical_and(total.gt(0));
}

ClassCounts::ClassCounts(int64_t num_classes, std::vector<int64_t> shape) {
  std::vector<int64_t> full = {num_classes};
  full.insert(full.end(), shape.begin(), shape.end());
  counts_ = at::zeros(full, at::kFloat);
  sizes_ = at::zeros({num_classes}, at::kLong);
}

namespace {
at::Tensor one_hot_t(const at::Tensor& labels, int64_t k) {  // [K, N] float
  return at::one_hot(labels, k).t().to(at::kFloat);
}
}  // namespace

void ClassCounts::add(const at::Tensor& significant, const at::Tensor& labels) {
  FS_ASSERT(defined(), "ClassCounts used before it was sized");
  const at::Tensor l = labels.to(at::kCPU).to(at::kLong);
  const int64_t k = counts_.size(0);
  counts_.view({k, -1}).addmm_(one_hot_t(l, k), significant.to(at::kCPU).to(at::kFloat).reshape({l.size(0), -1}));
  sizes_.index_add_(0, l, at::ones_like(l));
}

void ClassCounts::add_interactions(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& labels) {
  FS_ASSERT(defined(), "ClassCounts used before it was sized");
  const int64_t n = x.size(0), outputs = weight.size(0), inputs = weight.size(1);
  const at::Tensor ax = x.to(at::kFloat).abs(), aw = weight.to(at::kFloat).abs();
  const at::Tensor total = at::matmul(ax, aw.t());  // [N, O]: sum_j |w_ij x_j|
  // |w_ij x_j| * I - total_i > 0, in place in one [N, O, I] buffer; an all-zero row gives 0 - 0.
  at::Tensor t = at::mul(ax.unsqueeze(1), aw.unsqueeze(0));
  t.mul_(static_cast<double>(inputs)).sub_(total.unsqueeze(2)).gt_(0);
  const at::Tensor l = labels.to(at::kCPU).to(at::kLong);
  const int64_t k = counts_.size(0);
  counts_.view({k, -1}).addmm_(one_hot_t(l, k), t.view({n, outputs * inputs}));
  sizes_.index_add_(0, l, at::ones_like(l));
}

at::Tensor ClassCounts::frequencies() const {
  std::vector<int64_t> view(static_cast<size_t>(counts_.dim()), 1);
  view[0] = sizes_.size(0);
  const at::Tensor n = sizes_.to(at::kDouble).view(view);
  return at::where(n.gt(0), counts_.to(at::kDouble) / n.clamp_min(1), at::full_like(n, NAN).expand_as(counts_));
}

at::Tensor frequency_histograms(const at::Tensor& frequencies, int64_t bins) {
  const int64_t k = frequencies.size(0);
  const at::Tensor f = frequencies.to(at::kDouble).reshape({k, -1});
  at::Tensor bin = (f * static_cast<double>(bins)).floor().clamp(0, bins - 1).to(at::kLong);
  const at::Tensor valid = f.isnan().logical_not().to(at::kLong);
  at::Tensor hist = at::zeros({k, bins}, at::kLong);
  hist.scatter_add_(1, bin.masked_fill(valid.eq(0), 0), valid);
  return hist;
}

at::Tensor kl_divergences(const at::Tensor& p_freq, const at::Tensor& q_freq, double smoothing) {
  FS_CHECK(smoothing > 0, "the KL smoothing must be positive, got ", smoothing);
  FS_CHECK(p_freq.size(1) == q_freq.size(1), "KL divergences need patterns over the same neurons");
  auto distribution = [&](const at::Tensor& f) {
    const at::Tensor s = f.to(at::kDouble) + smoothing;
    return s / s.sum(1, true);
  };
  const at::Tensor p = distribution(p_freq), q = distribution(q_freq);
  // KL(p_i || q_j) = sum_u p_iu log p_iu - sum_u p_iu log q_ju.
  const at::Tensor entropy_term = (p * p.log()).sum(1, true);  // [K1, 1]
  // KL >= 0; rounding can leave -1e-16 where the distributions agree.
  return (entropy_term - at::matmul(p, q.log().t())).clamp_min(0);  // NaN rows stay NaN
}

}  // namespace filterscope
