// PCA to two dimensions for every filter of a layer at once: each filter's [N, D] matrix of
// flattened feature maps (N samples, D = H*W), centred and projected on its top two principal
// directions.
#pragma once
#include <ATen/core/Tensor.h>

#include "filterscope/core/params.h"

namespace filterscope {

struct PcaOptions {
  int64_t exact_max_dim = 200;  ///< min(N, D) up to which the smaller Gram/covariance side is eigendecomposed; above it, restarted block Krylov
  int64_t max_iter = 1000;     ///< products with the covariance at most
  double tol = 1e-9;           ///< iteration stops when both residuals |A v - l v| fall below tol x the top eigenvalue
  int64_t oversample = 2;      ///< extra vectors per Krylov block (block size 2 + oversample)
  int64_t krylov_steps = 8;    ///< blocks in the Krylov basis before a restart
  int64_t seed = 0;            ///< seed of the iterative start (filter i uses seed + i)
  int64_t max_batch_mb = 512;  ///< float64 working memory per chunk of filters

  static const ParamTable<PcaOptions>& params();
};

/// Why a filter's projection is degenerate.
enum class PcaStatus : int64_t {
  Ok = 0,
  Constant = 1,   ///< every sample gives the same feature map: points are all 0
  Rank1 = 2,      ///< the maps vary along one direction only: the second coordinate is 0
  NonFinite = 3,  ///< the maps hold NaN or Inf: points are all 0
};
const char* pca_status_text(PcaStatus status);

struct PcaResult {
  at::Tensor points;              ///< [C, N, 2] float64, same device as the input
  at::Tensor explained_variance;  ///< [C, 2] float64: eigenvalues / (N - 1), as scikit-learn
  at::Tensor status;              ///< [C] int64 (PcaStatus)
  at::Tensor iterations;          ///< [C] int64: products with the covariance (0 on the exact path)
};

/// maps: [C, N, D] float32/float64, any device. The sign of each coordinate is fixed so that the
/// sample farthest from the mean along it lies on the positive side (scikit-learn 1.2's svd_flip).
/// first_filter: the layer's index of maps[0], when maps are some of a layer's filters (a rank's
/// share): the iterative start of filter i is seeded by seed + first_filter + i either way.
PcaResult pca_2d(const at::Tensor& maps, const PcaOptions& options = {}, int64_t first_filter = 0);

/// Whether pca_2d reads float32 CPU maps of n samples of d values as they lie (rows contiguous)
/// rather than copying them to float64: the iterative route does, the exact route copies.
bool pca_reads_maps_in_place(int64_t n, int64_t d, const PcaOptions& options);

/// feature_maps: [N, C, H, W] as a layer produces them.
PcaResult pca_feature_maps(const at::Tensor& feature_maps, const PcaOptions& options = {}, int64_t first_filter = 0);

}  // namespace filterscope
