// The clustering engine's front door for point sets: GMM for every K, Calinski-Harabasz per fit,
// and the choice of K (highest CH, the smaller K on ties).
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "filterscope/cluster/gmm.h"

namespace filterscope {

struct ClusterResult {
  at::Tensor k_values;    ///< [Kn] int64: the K tried, kmin..kmax
  at::Tensor ch;          ///< [S, Kn] float64: CH of each fit's labels; NaN where undefined or not fitted
  at::Tensor n_clusters;  ///< [S, Kn] int64: non-empty clusters of each fit
  at::Tensor best_k;      ///< [S] int64: the chosen K; 0 where no K has a defined CH
  at::Tensor best_ch;     ///< [S] float64: CH at the chosen K; NaN where none
  at::Tensor labels;      ///< [S, N] int64: clusters at the chosen K; -1 where none
  at::Tensor sizes;       ///< [S, kmax] int64: points per cluster at the chosen K
  GmmFit fit;             ///< every fit, for diagnostics
  std::vector<std::string> notes;  ///< per set: empty, or why no K was chosen
};

/// points: [S, N, 2] float32/float64 on any device. Sets with NaN/Inf, or whose points all
/// coincide, get no K and a note; they do not stop the others.
ClusterResult cluster_point_sets(const at::Tensor& points, const GmmOptions& options,
                                 GmmBackend backend = GmmBackend::Auto);

}  // namespace filterscope
