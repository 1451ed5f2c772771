// Gaussian mixtures with full 2x2 covariances, fitted by EM for many point sets and every K of a
// range at once. The algorithm is scikit-learn's GaussianMixture (init_params="kmeans": one
// k-means++/Lloyd run, then EM with tol on the mean log-likelihood), run in float64.
#pragma once
#include <ATen/core/Tensor.h>

#include "filterscope/core/params.h"

namespace filterscope {

struct GmmOptions {
  int64_t kmin = 2;               ///< smallest number of components tried
  int64_t kmax = 10;              ///< largest number of components tried
  int64_t max_iter = 100;         ///< EM iterations at most (scikit-learn's default)
  double tol = 1e-3;              ///< EM stops when the mean log-likelihood changes by less
  double reg_covar = 1e-6;        ///< added to the covariance diagonals, keeps them positive
  int64_t n_init = 1;             ///< initialisations per fit; the best lower bound wins
  int64_t kmeans_max_iter = 300;  ///< Lloyd iterations at most in the k-means initialisation
  double kmeans_tol = 1e-4;       ///< Lloyd stops when the centre shift falls under this x mean variance
  int64_t seed = 0;               ///< seed of the k-means++ draws (numpy RandomState semantics)
  int64_t max_batch_mb = 1024;    ///< memory for one batch of fits (tensor path); larger jobs are chunked

  static const ParamTable<GmmOptions>& params();
  static const std::vector<ParamRule<GmmOptions>>& rules();
  int64_t num_k() const { return kmax - kmin + 1; }
};

/// Fits for S point sets x Kn values of K (Kn = kmax - kmin + 1). Components k >= K of a fit are
/// padding: weight 0, mean and covariance 0.
struct GmmFit {
  at::Tensor weights;         ///< [S, Kn, kmax] float64
  at::Tensor means;           ///< [S, Kn, kmax, 2] float64
  at::Tensor covariances;     ///< [S, Kn, kmax, 2, 2] float64
  at::Tensor labels;          ///< [S, Kn, N] int64: most probable component of each point
  at::Tensor lower_bound;     ///< [S, Kn] float64: mean log-likelihood at the last E-step (sklearn's lower_bound_)
  at::Tensor log_likelihood;  ///< [S, Kn] float64: mean log-likelihood under the final parameters (sklearn's score)
  at::Tensor iterations;      ///< [S, Kn] int64: EM iterations run
  at::Tensor converged;       ///< [S, Kn] bool
  at::Tensor fitted;          ///< [S, Kn] bool: false where the fit was not run (N < K, or a skipped set)
};

/// Which implementation runs the fits. Both compute the same algorithm from the same random
/// draws; they differ only in floating-point order.
enum class GmmBackend {
  Auto,    ///< fused CPU kernel for CPU tensors, batched tensor program otherwise
  Fused,   ///< one pass over the points per EM iteration, threads over fits (CPU only)
  Tensor,  ///< batched tensor program (any device; what runs on CUDA)
};

/// points: [S, N, 2] float32/float64 on any device; skip: [S] bool (sets not to fit), optional.
/// Throws Error for invalid options or shapes.
GmmFit fit_gmm(const at::Tensor& points, const GmmOptions& options, const at::Tensor& skip = {},
               GmmBackend backend = GmmBackend::Auto);

namespace detail {
/// One flat batch of B fits: the unit both backends implement.
struct GmmBatch {
  at::Tensor points;   ///< [S, N, 2] float64, contiguous, each set centred
  at::Tensor set_of;   ///< [B] int64: the point set of each fit
  at::Tensor k_of;     ///< [B] int64: components of each fit
  at::Tensor first;    ///< [B] int64: index of the first k-means++ centre
  at::Tensor u_cand;   ///< [B, kmax - 1, trials] float64 in [0, 1): draws of the candidates
  at::Tensor kmeans_tol;  ///< [S] float64: absolute Lloyd tolerance of each set
  int64_t kmax = 0;
  GmmOptions options;
};
struct GmmBatchResult {
  at::Tensor weights;         ///< [B, kmax]
  at::Tensor means;           ///< [B, kmax, 2]
  at::Tensor covariances;     ///< [B, kmax, 3]: (s00, s01, s11)
  at::Tensor labels;          ///< [B, N] int64
  at::Tensor lower_bound;     ///< [B]
  at::Tensor log_likelihood;  ///< [B]
  at::Tensor iterations;      ///< [B] int64
  at::Tensor converged;       ///< [B] bool
};
/// k-means++ candidates per step, as scikit-learn: 2 + floor(ln K).
int64_t kmeans_trials(int64_t k);
GmmBatchResult fit_gmm_batch_fused(const GmmBatch& batch);
GmmBatchResult fit_gmm_batch_tensor(const GmmBatch& batch);
}  // namespace detail

}  // namespace filterscope
