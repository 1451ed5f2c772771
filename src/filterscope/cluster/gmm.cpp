#include "filterscope/cluster/gmm.h"

#include <ATen/ATen.h>

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/core/numpy_random.h"

namespace filterscope {

const ParamTable<GmmOptions>& GmmOptions::params() {
  static const ParamTable<GmmOptions> table = {
      {"kmin", &GmmOptions::kmin, "smallest number of clusters K tried", Bounds::closed(1, 16)},
      {"kmax", &GmmOptions::kmax, "largest number of clusters K tried", Bounds::closed(1, 16)},
      {"max-iter", &GmmOptions::max_iter, "EM iterations at most per fit", Bounds::closed(1, 1e6)},
      {"tol", &GmmOptions::tol, "EM stops when the mean log-likelihood changes by less than this",
       Bounds::positive()},
      {"reg-covar", &GmmOptions::reg_covar, "added to each covariance diagonal",
       Bounds::at_least(0)},
      {"n-init", &GmmOptions::n_init, "k-means initialisations per fit; the best lower bound wins",
       Bounds::closed(1, 1000)},
      {"kmeans-max-iter", &GmmOptions::kmeans_max_iter,
       "Lloyd iterations at most in the k-means initialisation", Bounds::closed(1, 1e6)},
      {"kmeans-tol", &GmmOptions::kmeans_tol,
       "Lloyd stops when the squared centre shift is at most this times the mean variance",
       Bounds::at_least(0)},
      {"seed", &GmmOptions::seed, "seed of the k-means++ draws: the same numbers numpy.random.RandomState(seed) draws for scikit-learn",
       Bounds::closed(0, 4294967295.0)},
      {"max-batch-mb", &GmmOptions::max_batch_mb,
       "memory for one batch of fits on the tensor (CUDA) path; larger jobs run in chunks",
       Bounds::closed(16, 1e7)},
  };
  return table;
}

const std::vector<ParamRule<GmmOptions>>& GmmOptions::rules() {
  static const std::vector<ParamRule<GmmOptions>> rules = {
      {"kmin <= kmax",
       [](const GmmOptions& o) {
         return o.kmin <= o.kmax ? std::string()
                                 : ::filterscope::detail::concat("--kmin (", o.kmin, ") must not exceed --kmax (", o.kmax, ")");
       }},
  };
  return rules;
}

namespace detail {
int64_t kmeans_trials(int64_t k) {
  return 2 + static_cast<int64_t>(std::floor(std::log(static_cast<double>(k))));
}
}  // namespace detail

GmmFit fit_gmm(const at::Tensor& points, const GmmOptions& options, const at::Tensor& skip,
               GmmBackend backend) {
  validate_params(options, GmmOptions::params());
  FS_CHECK(points.dim() == 3 && points.size(2) == 2, "points must have shape [S, N, 2], got ",
           points.sizes());
  FS_CHECK(points.scalar_type() == at::kFloat || points.scalar_type() == at::kDouble,
           "points must be float32 or float64, got ", points.scalar_type());
  FS_CHECK(points.size(1) >= 1, "point sets are empty");
  const auto device = points.device();
  if (backend == GmmBackend::Auto) backend = device.is_cpu() ? GmmBackend::Fused : GmmBackend::Tensor;
  FS_CHECK(backend != GmmBackend::Fused || device.is_cpu(), "the fused GMM backend runs on CPU only");

  const int64_t n_sets = points.size(0), n = points.size(1);
  const int64_t kn = options.num_k(), kmax = options.kmax, inits = options.n_init;
  const auto cpu_f64 = at::TensorOptions().dtype(at::kDouble);

  // EM works on centred points (the likelihood does not move); means get the offset back.
  at::Tensor x = points.to(at::kDouble);
  const at::Tensor finite = at::isfinite(x).all(2).all(1).cpu();
  x = at::where(at::isfinite(x), x, at::zeros_like(x));
  const at::Tensor centre = x.mean(1, true);
  x = (x - centre).contiguous();
  // scikit-learn's k-means tolerance: tol times the mean per-feature variance.
  const at::Tensor kmeans_tol = (x.var(1, /*unbiased=*/false).mean(1) * options.kmeans_tol).contiguous();

  // Every random draw is made here, on the CPU, in one fixed order: both backends and every
  // device see the same numbers. Each (set, K) fit draws from its own RandomState(seed) in
  // scikit-learn's order (per initialisation: randint(N) for the first k-means++ centre, then
  // 2 + ln K uniforms per further centre), so GaussianMixture(random_state=seed) on the same
  // points starts from the same centres.
  const int64_t trials = detail::kmeans_trials(kmax);
  const int64_t cand_rows = std::max<int64_t>(kmax - 1, 1);
  at::Tensor first_draw = at::zeros({n_sets, kn, inits}, at::kLong);
  at::Tensor u_cand = at::zeros({n_sets, kn, inits, cand_rows, trials}, cpu_f64);
  {
    auto first_a = first_draw.accessor<int64_t, 3>();
    auto cand_a = u_cand.accessor<double, 5>();
    for (int64_t s = 0; s < n_sets; ++s) {
      for (int64_t ki = 0; ki < kn; ++ki) {
        const int64_t k = options.kmin + ki;
        NumpyRandomState random(static_cast<uint32_t>(options.seed));
        for (int64_t i = 0; i < inits; ++i) {
          first_a[s][ki][i] = random.randint(n);
          for (int64_t c = 1; c < k; ++c)
            for (int64_t t = 0; t < detail::kmeans_trials(k); ++t)
              cand_a[s][ki][i][c - 1][t] = random.uniform();
        }
      }
    }
  }

  // The fits that run: K <= N and the set neither skipped nor non-finite.
  at::Tensor runnable = finite.clone();
  if (skip.defined()) {
    FS_CHECK(skip.dim() == 1 && skip.size(0) == n_sets, "skip must have shape [S]");
    runnable = runnable.logical_and(skip.cpu().to(at::kBool).logical_not());
  }
  const at::Tensor ks = at::arange(options.kmin, options.kmax + 1, at::kLong);
  at::Tensor fitted = runnable.unsqueeze(1).logical_and(ks.le(n).unsqueeze(0));  // [S, Kn]
  const at::Tensor flat_ok = fitted.unsqueeze(2).expand({n_sets, kn, inits}).reshape(-1);
  const at::Tensor run_ids = flat_ok.nonzero().squeeze(1);  // into S * Kn * inits
  const int64_t total = n_sets * kn * inits;

  detail::GmmBatchResult all;
  all.weights = at::zeros({total, kmax}, cpu_f64);
  all.means = at::zeros({total, kmax, 2}, cpu_f64);
  all.covariances = at::zeros({total, kmax, 3}, cpu_f64);
  all.labels = at::zeros({total, n}, at::kLong);
  all.lower_bound = at::full({total}, -std::numeric_limits<double>::infinity(), cpu_f64);
  all.log_likelihood = at::full({total}, -std::numeric_limits<double>::infinity(), cpu_f64);
  all.iterations = at::zeros({total}, at::kLong);
  all.converged = at::zeros({total}, at::kBool);

  // The tensor backend holds about a dozen [fits, N, kmax] float64 temporaries at once.
  const int64_t per_fit = std::max<int64_t>(1, n * kmax * 8 * 12);
  const int64_t chunk = backend == GmmBackend::Fused
                            ? std::max<int64_t>(1, run_ids.numel())
                            : std::max<int64_t>(1, options.max_batch_mb * (int64_t{1} << 20) / per_fit);
  const at::Tensor set_all = (at::arange(total, at::kLong).div(kn * inits, "floor"));
  const at::Tensor k_all = ks.repeat_interleave(inits).repeat({n_sets});
  for (int64_t start = 0; start < run_ids.numel(); start += chunk) {
    const at::Tensor ids = run_ids.narrow(0, start, std::min(chunk, run_ids.numel() - start));
    detail::GmmBatch batch;
    batch.points = x;
    batch.set_of = set_all.index_select(0, ids);
    batch.k_of = k_all.index_select(0, ids);
    batch.first = first_draw.reshape(-1).index_select(0, ids);
    batch.u_cand = u_cand.reshape({total, u_cand.size(3), trials}).index_select(0, ids);
    batch.kmeans_tol = kmeans_tol;
    batch.kmax = kmax;
    batch.options = options;
    const detail::GmmBatchResult part = backend == GmmBackend::Fused
                                            ? detail::fit_gmm_batch_fused(batch)
                                            : detail::fit_gmm_batch_tensor(batch);
    all.weights.index_copy_(0, ids, part.weights.cpu());
    all.means.index_copy_(0, ids, part.means.cpu());
    all.covariances.index_copy_(0, ids, part.covariances.cpu());
    all.labels.index_copy_(0, ids, part.labels.cpu());
    all.lower_bound.index_copy_(0, ids, part.lower_bound.cpu());
    all.log_likelihood.index_copy_(0, ids, part.log_likelihood.cpu());
    all.iterations.index_copy_(0, ids, part.iterations.cpu());
    all.converged.index_copy_(0, ids, part.converged.cpu());
  }

  // Best of the initialisations by lower bound (the first on ties, as scikit-learn).
  const at::Tensor pick = all.lower_bound.view({n_sets, kn, inits}).argmax(2);  // [S, Kn]
  const at::Tensor flat_pick =
      (at::arange(n_sets * kn, at::kLong) * inits + pick.reshape(-1));
  auto take = [&](const at::Tensor& t) {
    std::vector<int64_t> shape = {n_sets, kn};
    for (int64_t d = 1; d < t.dim(); ++d) shape.push_back(t.size(d));
    return t.index_select(0, flat_pick).reshape(shape);
  };
  GmmFit fit;
  fit.weights = take(all.weights);
  fit.means = take(all.means) + (centre.cpu().view({n_sets, 1, 1, 2}) *
                                 fit.weights.gt(0).unsqueeze(3));
  const at::Tensor c = take(all.covariances);
  fit.covariances = at::stack({c.select(3, 0), c.select(3, 1), c.select(3, 1), c.select(3, 2)}, 3)
                        .view({n_sets, kn, kmax, 2, 2});
  fit.labels = take(all.labels);
  fit.lower_bound = take(all.lower_bound);
  fit.log_likelihood = take(all.log_likelihood);
  fit.iterations = take(all.iterations);
  fit.converged = take(all.converged);
  fit.fitted = fitted;
  return fit;
}

}  // namespace filterscope
