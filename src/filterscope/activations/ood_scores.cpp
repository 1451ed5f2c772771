#include "filterscope/activations/ood_scores.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "filterscope/activations/patterns.h"
#include "filterscope/cluster/engine.h"
#include "filterscope/core/error.h"

namespace filterscope {

at::Tensor msp_score(const at::Tensor& logits, double temperature) {
  return std::get<0>(at::softmax(logits.to(at::kDouble) / temperature, 1).max(1));
}

at::Tensor max_logit_score(const at::Tensor& logits) { return std::get<0>(logits.to(at::kDouble).max(1)); }

at::Tensor energy_score(const at::Tensor& logits, double temperature) {
  return temperature * at::logsumexp(logits.to(at::kDouble) / temperature, 1);
}

ClassMoments::ClassMoments(int64_t num_classes, int64_t dim) {
  sum_ = at::zeros({num_classes, dim}, at::kDouble);
  count_ = at::zeros({num_classes}, at::kLong);
  outer_ = at::zeros({dim, dim}, at::kDouble);
}

void ClassMoments::add(const at::Tensor& features, const at::Tensor& labels) {
  const at::Tensor f = features.to(at::kCPU).to(at::kDouble);
  const at::Tensor l = labels.to(at::kCPU).to(at::kLong);
  sum_.index_add_(0, l, f);
  count_.index_add_(0, l, at::ones_like(l));
  outer_.addmm_(f.t(), f);
}

at::Tensor ClassMoments::means() const {
  const at::Tensor present = count_.gt(0).nonzero().view(-1);
  return sum_.index_select(0, present) / count_.index_select(0, present).to(at::kDouble).unsqueeze(1);
}

at::Tensor ClassMoments::covariance() const {
  const double n = static_cast<double>(count_.sum().item<int64_t>());
  FS_CHECK(n > 0, "no images to fit the class means and covariance on");
  // sum (f - mu_y)(f - mu_y)^T = sum f f^T - sum_c n_c mu_c mu_c^T
  const at::Tensor present = count_.gt(0).nonzero().view(-1);
  const at::Tensor sums = sum_.index_select(0, present);
  const at::Tensor counts = count_.index_select(0, present).to(at::kDouble).unsqueeze(1);
  const at::Tensor between = at::matmul((sums / counts).t(), sums);
  at::Tensor cov = (outer_ - between) / n;
  return (cov + cov.t()) / 2;
}

MahalanobisModel MahalanobisModel::fit(const ClassMoments& moments) {
  FS_CHECK(moments.class_sizes().defined() && moments.class_sizes().sum().item<int64_t>() > 0,
           "Mahalanobis: no training images");
  MahalanobisModel m;
  m.means = moments.means();
  m.precision = at::linalg_pinv(moments.covariance(), 1e-15, /*hermitian=*/true);
  return m;
}

at::Tensor MahalanobisModel::score(const at::Tensor& features) const {
  const at::Tensor f = features.to(at::kCPU).to(at::kDouble);
  // (f - mu)^T P (f - mu) = f P f - 2 f P mu + mu P mu, for every class at once.
  const at::Tensor fp = at::matmul(f, precision);
  const at::Tensor ff = (fp * f).sum(1, true);                          // [N, 1]
  const at::Tensor mp = at::matmul(means, precision);                   // [K, D]
  const at::Tensor mm = (mp * means).sum(1).unsqueeze(0);               // [1, K]
  const at::Tensor d = ff - 2 * at::matmul(fp, means.t()) + mm;         // [N, K]
  return -std::get<0>(d.min(1));
}

at::Tensor KnnModel::normalise(const at::Tensor& features) {
  const at::Tensor f = features.to(at::kFloat);
  return f / f.norm(2, {1}, true).clamp_min(1e-12);
}

at::Tensor KnnModel::score(const at::Tensor& features) const {
  FS_CHECK(bank.defined() && bank.size(0) >= k, "KNN: the bank holds ", bank.defined() ? bank.size(0) : 0,
           " training features, fewer than k = ", k);
  const at::Tensor q = normalise(features.to(at::kCPU));
  const int64_t n = q.size(0);
  at::Tensor out = at::empty({n}, at::kDouble);
  // Chunks of queries keep the [chunk, M] similarity matrix near 64 MB.
  const int64_t chunk = std::max<int64_t>(1, (16 << 20) / std::max<int64_t>(1, bank.size(0)));
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t count = std::min(chunk, n - start);
    const at::Tensor sim = at::matmul(q.narrow(0, start, count), bank.t());  // cosine similarities
    const at::Tensor kth = std::get<0>(sim.topk(k, 1, /*largest=*/true, /*sorted=*/true)).select(1, k - 1);
    // |a - b|^2 = 2 - 2 a.b for unit vectors.
    out.narrow(0, start, count).copy_(-(2 - 2 * kth.to(at::kDouble)).clamp_min(0).sqrt());
  }
  return out;
}

at::Tensor pattern_divergence_score(const at::Tensor& significant, const at::Tensor& predicted,
                                    const at::Tensor& class_freq, double smoothing) {
  const at::Tensor s = significant.to(at::kCPU).to(at::kDouble) + smoothing;
  const at::Tensor p = s / s.sum(1, true);
  const at::Tensor f = class_freq.to(at::kDouble) + smoothing;
  const at::Tensor q = (f / f.sum(1, true)).index_select(0, predicted.to(at::kCPU).to(at::kLong));
  const at::Tensor kl = (p * (p.log() - q.log())).sum(1);
  return at::where(kl.isnan(), at::full_like(kl, -INFINITY), -kl);
}

FilterGmmModel FilterGmmModel::fit(const at::Tensor& maps, const PcaOptions& pca, const GmmOptions& gmm) {
  FS_CHECK(maps.dim() == 4, "the GMM detector needs feature maps [N, C, H, W]");
  const int64_t n = maps.size(0), c = maps.size(1);
  const at::Tensor x = maps.to(at::kCPU).to(at::kDouble).flatten(2).transpose(0, 1).contiguous();  // [C, N, D]
  FilterGmmModel m;
  m.map_mean = x.mean(1);
  const PcaResult projected = pca_2d(x, pca);
  const at::Tensor points = projected.points.to(at::kCPU);  // [C, N, 2]
  // The projection is P = Xc V with V orthonormal eigenvectors of Xc^T Xc (eigenvalues l_k =
  // |P_k|^2), so V = Xc^T P / l: the directions are recovered exactly from the points.
  const at::Tensor centred = x - m.map_mean.unsqueeze(1);
  const at::Tensor lambda = (points * points).sum(1, true);  // [C, 1, 2]
  m.components = at::matmul(centred.transpose(1, 2), points) / lambda.clamp_min(1e-300);
  const ClusterResult clusters = cluster_point_sets(points, gmm);
  const at::Tensor k_index = (clusters.best_k - gmm.kmin).clamp_min(0);  // [C]
  auto pick = [&](const at::Tensor& t) {
    std::vector<int64_t> shape = {c, 1};
    for (int64_t d = 2; d < t.dim(); ++d) shape.push_back(t.size(d));
    std::vector<int64_t> view = {c, 1};
    for (int64_t d = 2; d < t.dim(); ++d) view.push_back(1);
    return t.to(at::kCPU).gather(1, k_index.view(view).expand(shape)).squeeze(1);
  };
  m.weights = pick(clusters.fit.weights);
  m.means = pick(clusters.fit.means);
  m.covariances = pick(clusters.fit.covariances);
  m.usable = projected.status.to(at::kCPU).eq(static_cast<int64_t>(PcaStatus::Ok)).logical_and(clusters.best_k.gt(0));
  const int64_t d = x.size(2);
  if (d > 2) {
    const at::Tensor residual = centred - at::matmul(points, m.components.transpose(1, 2));  // [C, N, D]
    m.residual_var = (residual * residual).sum({1, 2}) / static_cast<double>(n * (d - 2));
    // A residual variance of (numerically) zero: the maps lie in the plane; a floor keeps the log finite.
    const at::Tensor total = (centred * centred).sum({1, 2}) / static_cast<double>(n * d);
    m.residual_var = at::maximum(m.residual_var, total * 1e-12 + 1e-300);
  } else {
    m.residual_var = at::zeros({c}, at::kDouble);
  }
  return m;
}

int64_t FilterGmmModel::usable_filters() const { return usable.sum().item<int64_t>(); }

at::Tensor FilterGmmModel::log_density(const at::Tensor& maps) const {
  at::Tensor out = plane_log_density(maps);
  const int64_t d = map_mean.size(1);
  if (d <= 2) return out;
  const at::Tensor x = maps.to(at::kCPU).to(at::kDouble).flatten(2).transpose(0, 1);  // [C, N, D]
  const at::Tensor centred = x - map_mean.unsqueeze(1);
  const at::Tensor z = at::matmul(centred, components);
  const at::Tensor r = centred - at::matmul(z, components.transpose(1, 2));
  const at::Tensor var = residual_var.unsqueeze(1);  // [C, 1]
  const at::Tensor residual = -0.5 * static_cast<double>(d - 2) * (2 * M_PI * var).log() - (r * r).sum(2) / (2 * var);
  return out + at::where(usable.unsqueeze(1), residual, at::zeros_like(residual)).t();
}

at::Tensor FilterGmmModel::plane_log_density(const at::Tensor& maps) const {
  const at::Tensor x = maps.to(at::kCPU).to(at::kDouble).flatten(2).transpose(0, 1);  // [C, N, D]
  const at::Tensor z = at::matmul(x - map_mean.unsqueeze(1), components);            // [C, N, 2]
  // Bivariate normal densities of every point under every component: [C, N, K].
  const at::Tensor s00 = covariances.select(2, 0).select(2, 0), s01 = covariances.select(2, 0).select(2, 1),
                   s11 = covariances.select(2, 1).select(2, 1);  // [C, K]
  const at::Tensor det = s00 * s11 - s01 * s01;
  const at::Tensor ok = weights.gt(0).logical_and(det.gt(0));
  const at::Tensor safe_det = at::where(ok, det, at::ones_like(det));
  const at::Tensor dx = z.select(2, 0).unsqueeze(2) - means.select(2, 0).unsqueeze(1);  // [C, N, K]
  const at::Tensor dy = z.select(2, 1).unsqueeze(2) - means.select(2, 1).unsqueeze(1);
  const at::Tensor quad = (s11.unsqueeze(1) * dx * dx - 2 * s01.unsqueeze(1) * dx * dy + s00.unsqueeze(1) * dy * dy) /
                          safe_det.unsqueeze(1);
  const at::Tensor log_w = at::where(ok, weights.clamp_min(1e-300).log(), at::full_like(weights, -INFINITY));
  const at::Tensor comp = log_w.unsqueeze(1) - std::log(2 * M_PI) - 0.5 * safe_det.log().unsqueeze(1) - 0.5 * quad;
  at::Tensor per_filter = at::logsumexp(comp, 2);  // [C, N]
  per_filter = at::where(usable.unsqueeze(1), per_filter, at::zeros_like(per_filter));
  return per_filter.t().contiguous();
}

namespace {

// Distinct-threshold points of the ROC and PR curves: scores sorted from the top, cumulative
// positives and negatives at the last position of every run of equal scores.
struct Curve {
  std::vector<double> tp, fp;
};

Curve cumulative(const at::Tensor& pos, const at::Tensor& neg) {
  const at::Tensor scores = at::cat({pos.to(at::kCPU).to(at::kDouble), neg.to(at::kCPU).to(at::kDouble)});
  const at::Tensor is_pos = at::cat({at::ones({pos.numel()}, at::kDouble), at::zeros({neg.numel()}, at::kDouble)});
  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, 0, /*descending=*/true));
  const at::Tensor s = scores.index_select(0, order).contiguous();
  const at::Tensor y = is_pos.index_select(0, order).contiguous();
  const double* sp = s.data_ptr<double>();
  const double* yp = y.data_ptr<double>();
  Curve c;
  double tp = 0, fp = 0;
  const int64_t n = s.numel();
  for (int64_t i = 0; i < n; ++i) {
    (yp[i] > 0 ? tp : fp) += 1;
    if (i + 1 == n || sp[i + 1] != sp[i]) {
      c.tp.push_back(tp);
      c.fp.push_back(fp);
    }
  }
  return c;
}

double average_precision(const Curve& c) {
  const double total = c.tp.empty() ? 0 : c.tp.back();
  double ap = 0, prev_recall = 0;
  for (size_t i = 0; i < c.tp.size(); ++i) {
    const double recall = c.tp[i] / total;
    const double precision = c.tp[i] / (c.tp[i] + c.fp[i]);
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
  }
  return ap;
}

}  // namespace

DetectionMetrics detection_metrics(const at::Tensor& id_scores, const at::Tensor& ood_scores, int64_t max_points) {
  FS_CHECK(id_scores.numel() > 0 && ood_scores.numel() > 0,
           "detection metrics need in-distribution and OOD scores (got ", id_scores.numel(), " and ",
           ood_scores.numel(), ")");
  // A NaN score (a degenerate input) ranks as the least in-distribution.
  auto clean = [](const at::Tensor& t) {
    const at::Tensor d = t.to(at::kCPU).to(at::kDouble);
    return at::where(d.isnan(), at::full_like(d, -INFINITY), d);
  };
  const at::Tensor id = clean(id_scores), ood = clean(ood_scores);
  DetectionMetrics m;
  const Curve in = cumulative(id, ood);
  const double p = static_cast<double>(id.numel()), n = static_cast<double>(ood.numel());
  std::vector<double> fpr = {0}, tpr = {0};
  for (size_t i = 0; i < in.tp.size(); ++i) {
    tpr.push_back(in.tp[i] / p);
    fpr.push_back(in.fp[i] / n);
  }
  m.auroc = 0;
  for (size_t i = 1; i < fpr.size(); ++i) m.auroc += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2;
  m.fpr95 = 1;
  for (size_t i = 0; i < tpr.size(); ++i)
    if (tpr[i] >= 0.95) {
      m.fpr95 = fpr[i];
      break;
    }
  m.aupr_in = average_precision(in);
  m.aupr_out = average_precision(cumulative(-ood, -id));
  // The curve for pictures: evenly spaced points of the full curve, both ends kept.
  const size_t total = fpr.size();
  const size_t keep = std::min<size_t>(total, static_cast<size_t>(std::max<int64_t>(2, max_points)));
  for (size_t j = 0; j < keep; ++j) {
    const size_t i = keep == 1 ? 0 : j * (total - 1) / (keep - 1);
    m.roc_fpr.push_back(fpr[i]);
    m.roc_tpr.push_back(tpr[i]);
  }
  return m;
}

}  // namespace filterscope
