// The batched tensor backend: every fit of a batch advances together as [fits, N, K] tensor
// operations, padding components k >= K with masks, and fits leave the batch once they converge.
// It runs wherever the tensors are (this is the CUDA path) and computes the algorithm of
// gmm_fused.cpp from the same random draws.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "filterscope/cluster/gmm.h"
#include "filterscope/core/error.h"

namespace filterscope::detail {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Squared distances [B, N, K] of points [B, N, 2] to centres [B, K, 2].
at::Tensor squared_distances(const at::Tensor& x, const at::Tensor& centres) {
  at::Tensor dx = x.select(2, 0).unsqueeze(2) - centres.select(2, 0).unsqueeze(1);
  at::Tensor dy = x.select(2, 1).unsqueeze(2) - centres.select(2, 1).unsqueeze(1);
  return dx * dx + dy * dy;
}

// Per-component sums over points of w [B, N, K] times f [B, N, F] -> [B, K, F].
at::Tensor weighted_sums(const at::Tensor& w, const at::Tensor& f) { return at::bmm(w.transpose(1, 2), f); }

struct Params {
  at::Tensor weights;  // [B, K]
  at::Tensor means;    // [B, K, 2]
  at::Tensor covs;     // [B, K, 3]
};

// Log densities plus log weights [B, N, K]; padded components are -inf.
at::Tensor weighted_log_prob(const at::Tensor& x, const Params& p, const at::Tensor& kmask) {
  at::Tensor a = p.covs.select(2, 0), b = p.covs.select(2, 1), d = p.covs.select(2, 2);
  at::Tensor det = a * d - b * b;
  // Rounding can leave det <= 0; like the fused backend, drop the correlation then.
  at::Tensor bad = det.le(0);
  b = at::where(bad, at::zeros_like(b), b);
  det = at::where(bad, a * d, det);
  // Padding components get an identity covariance so the arithmetic stays finite.
  det = at::where(kmask, det, at::ones_like(det));
  at::Tensor ia = at::where(kmask, d / det, at::ones_like(det)).unsqueeze(1);
  at::Tensor ib = at::where(kmask, -b / det, at::zeros_like(det)).unsqueeze(1);
  at::Tensor ic = at::where(kmask, a / det, at::ones_like(det)).unsqueeze(1);
  at::Tensor c = (at::log(at::where(kmask, p.weights, at::ones_like(det))) - kLog2Pi - 0.5 * at::log(det))
                     .unsqueeze(1);
  at::Tensor dx = x.select(2, 0).unsqueeze(2) - p.means.select(2, 0).unsqueeze(1);
  at::Tensor dy = x.select(2, 1).unsqueeze(2) - p.means.select(2, 1).unsqueeze(1);
  at::Tensor lp = c - 0.5 * (ia * dx * dx + 2.0 * ib * dx * dy + ic * dy * dy);
  return lp.masked_fill(kmask.logical_not().unsqueeze(1), -kInf);
}

// M-step from responsibilities [B, N, K] (zero on padding), with 10 eps on the masses.
Params m_step(const at::Tensor& x, const at::Tensor& moments, const at::Tensor& resp,
              const at::Tensor& kmask, double reg) {
  at::Tensor r = resp.sum(1);                                          // [B, K]
  at::Tensor sxy = weighted_sums(resp, x);                             // [B, K, 2]
  at::Tensor second = weighted_sums(resp, moments);                    // [B, K, 3]
  at::Tensor nk = (r + 10 * kEps) * kmask;
  Params p;
  p.weights = nk / nk.sum(1, true);
  at::Tensor safe_nk = at::where(kmask, nk, at::ones_like(nk));
  at::Tensor sx = sxy.select(2, 0), sy = sxy.select(2, 1);
  at::Tensor mx = sx / safe_nk, my = sy / safe_nk;
  p.means = at::stack({mx, my}, 2) * kmask.unsqueeze(2);
  at::Tensor c00 = (second.select(2, 0) - 2 * mx * sx + mx * mx * r) / safe_nk + reg;
  at::Tensor c01 = (second.select(2, 1) - mx * sy - my * sx + mx * my * r) / safe_nk;
  at::Tensor c11 = (second.select(2, 2) - 2 * my * sy + my * my * r) / safe_nk + reg;
  p.covs = at::stack({c00, c01, c11}, 2) * kmask.unsqueeze(2);
  return p;
}

}  // namespace

GmmBatchResult fit_gmm_batch_tensor(const GmmBatch& batch) {
  const GmmOptions& o = batch.options;
  const auto device = batch.points.device();
  const auto f64 = at::TensorOptions().dtype(at::kDouble).device(device);
  const int64_t n = batch.points.size(1);
  const int64_t kmax = batch.kmax;
  const at::Tensor set_of = batch.set_of.to(device);
  const at::Tensor k_of = batch.k_of.to(device);
  const int64_t fits = set_of.size(0);
  const at::Tensor x = batch.points.index_select(0, set_of);  // [B, N, 2]
  const at::Tensor kmask = at::arange(kmax, k_of.options()).unsqueeze(0).lt(k_of.unsqueeze(1));
  const at::Tensor all = at::arange(fits, k_of.options());

  // k-means++ with greedy candidate trials.
  at::Tensor centres = at::zeros({fits, kmax, 2}, f64);
  {
    at::Tensor first = batch.first.to(device);
    at::Tensor c0 = x.index({all, first});  // [B, 2]
    centres.select(1, 0).copy_(c0);
    at::Tensor closest = squared_distances(x, c0.unsqueeze(1)).squeeze(2);  // [B, N]
    at::Tensor pot = closest.sum(1);
    const at::Tensor u_cand = batch.u_cand.to(device);
    const int64_t tmax = u_cand.size(2);
    const at::Tensor trials = 2 + at::log(k_of.to(at::kDouble)).floor().to(at::kLong);  // [B]
    const at::Tensor trial_ok = at::arange(tmax, k_of.options()).unsqueeze(0).lt(trials.unsqueeze(1));
    for (int64_t c = 1; c < kmax; ++c) {
      at::Tensor targets = u_cand.select(1, c - 1) * pot.unsqueeze(1);            // [B, T]
      at::Tensor ids = at::searchsorted(at::cumsum(closest, 1), targets).clamp_max(n - 1);
      at::Tensor cand = at::gather(x, 1, ids.unsqueeze(2).expand({fits, tmax, 2}));  // [B, T, 2]
      at::Tensor dist = squared_distances(x, cand).transpose(1, 2);              // [B, T, N]
      at::Tensor merged = at::minimum(closest.unsqueeze(1), dist);
      at::Tensor cand_pot = merged.sum(2).masked_fill(trial_ok.logical_not(), kInf);
      at::Tensor best = cand_pot.argmin(1);                                      // [B]
      at::Tensor active = k_of.gt(c);
      at::Tensor chosen = cand.index({all, best});
      centres.select(1, c).copy_(at::where(active.unsqueeze(1), chosen, centres.select(1, c)));
      closest = at::where(active.unsqueeze(1), merged.index({all, best}), closest);
      pot = at::where(active, cand_pot.index({all, best}), pot);
    }
  }

  // Lloyd: each fit stops on unchanged labels or a small total centre shift, and leaves the batch
  // then (a few fits on heavy-tailed data run for hundreds of iterations; the rest must not wait).
  const at::Tensor tol = batch.kmeans_tol.to(device).index_select(0, set_of);
  auto assign = [](const at::Tensor& px, const at::Tensor& ctr, const at::Tensor& mask) {
    return squared_distances(px, ctr).masked_fill(mask.logical_not().unsqueeze(1), kInf).argmin(2);
  };
  {
    at::Tensor active = all;
    at::Tensor ax = x, actr = centres, amask = kmask, atol = tol;
    at::Tensor labels_old = at::full({fits, n}, -1, k_of.options());
    for (int64_t it = 0; it < o.kmeans_max_iter && active.numel() > 0; ++it) {
      const int64_t a = active.numel();
      at::Tensor labels = assign(ax, actr, amask);
      at::Tensor changed = labels.ne(labels_old).any(1);
      at::Tensor onehot = at::zeros({a, n, kmax}, f64).scatter_(2, labels.unsqueeze(2), 1.0);
      at::Tensor counts = onehot.sum(1);
      at::Tensor sums = weighted_sums(onehot, ax);
      at::Tensor fresh = at::where(counts.gt(0).unsqueeze(2), sums / counts.clamp_min(1).unsqueeze(2), actr);
      at::Tensor shift = (fresh - actr).pow(2).sum({1, 2});
      actr = fresh;
      labels_old = labels;
      centres.index_copy_(0, active, actr);
      at::Tensor keep = changed.logical_and(shift.gt(atol)).nonzero().squeeze(1);
      if (keep.numel() < a) {
        active = active.index_select(0, keep);
        ax = ax.index_select(0, keep);
        actr = actr.index_select(0, keep);
        amask = amask.index_select(0, keep);
        atol = atol.index_select(0, keep);
        labels_old = labels_old.index_select(0, keep);
      }
    }
  }
  const at::Tensor km_labels = assign(x, centres, kmask);

  // Initial parameters from the hard assignment (means, then spreads about them).
  const at::Tensor moments =
      at::stack({x.select(2, 0) * x.select(2, 0), x.select(2, 0) * x.select(2, 1), x.select(2, 1) * x.select(2, 1)}, 2);
  Params p;
  {
    at::Tensor resp = at::zeros({fits, n, kmax}, f64).scatter_(2, km_labels.unsqueeze(2), 1.0);
    at::Tensor nk = (resp.sum(1) + 10 * kEps) * kmask;
    p.weights = nk / nk.sum(1, true);
    at::Tensor safe_nk = at::where(kmask, nk, at::ones_like(nk));
    p.means = weighted_sums(resp, x) / safe_nk.unsqueeze(2);
    at::Tensor dx = x.select(2, 0).unsqueeze(2) - p.means.select(2, 0).unsqueeze(1);
    at::Tensor dy = x.select(2, 1).unsqueeze(2) - p.means.select(2, 1).unsqueeze(1);
    at::Tensor c00 = (resp * dx * dx).sum(1) / safe_nk + o.reg_covar;
    at::Tensor c01 = (resp * dx * dy).sum(1) / safe_nk;
    at::Tensor c11 = (resp * dy * dy).sum(1) / safe_nk + o.reg_covar;
    p.covs = at::stack({c00, c01, c11}, 2) * kmask.unsqueeze(2);
  }

  // EM; converged fits leave the active set.
  GmmBatchResult out;
  out.weights = p.weights.clone();
  out.means = p.means.clone();
  out.covariances = p.covs.clone();
  out.lower_bound = at::full({fits}, -kInf, f64);
  out.iterations = at::zeros({fits}, k_of.options());
  out.converged = at::zeros({fits}, k_of.options().dtype(at::kBool));
  at::Tensor active = all;
  Params cur = p;
  at::Tensor ax = x, amoments = moments, amask = kmask;
  at::Tensor lower = at::full({fits}, -kInf, f64);
  for (int64_t it = 1; it <= o.max_iter && active.numel() > 0; ++it) {
    at::Tensor previous = lower;
    at::Tensor lp = weighted_log_prob(ax, cur, amask);
    at::Tensor top = std::get<0>(lp.max(2, true));
    at::Tensor e = at::exp(lp - top);
    at::Tensor s = e.sum(2, true);
    lower = (top + at::log(s)).squeeze(2).mean(1);
    cur = m_step(ax, amoments, e / s, amask, o.reg_covar);
    at::Tensor finished = (lower - previous).abs().lt(o.tol);
    out.iterations.index_fill_(0, active, it);
    out.weights.index_copy_(0, active, cur.weights);
    out.means.index_copy_(0, active, cur.means);
    out.covariances.index_copy_(0, active, cur.covs);
    out.lower_bound.index_copy_(0, active, lower);
    out.converged.index_copy_(0, active, finished);
    at::Tensor keep = finished.logical_not().nonzero().squeeze(1);
    if (keep.numel() < active.numel()) {
      active = active.index_select(0, keep);
      ax = ax.index_select(0, keep);
      amoments = amoments.index_select(0, keep);
      amask = amask.index_select(0, keep);
      lower = lower.index_select(0, keep);
      cur = {cur.weights.index_select(0, keep), cur.means.index_select(0, keep), cur.covs.index_select(0, keep)};
    }
  }

  // Labels and the mean log-likelihood under the final parameters.
  Params final_params{out.weights, out.means, out.covariances};
  at::Tensor lp = weighted_log_prob(x, final_params, kmask);
  out.labels = lp.argmax(2);
  out.log_likelihood = at::logsumexp(lp, 2).mean(1);
  return out;
}

}  // namespace filterscope::detail
