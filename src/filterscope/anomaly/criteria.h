// The paper's anomaly criteria (section 3.4) applied to one layer's clustering, with the
// continuous score behind each criterion, so that "no anomaly filter" can be read as "how far
// from one".
//   (1) unbalanced: more than alpha * K of the filter's clusters are small (1 to lambda points);
//   (2) CH above beta times the layer's mean CH;
//   (3) mean |activation| at least theta times the layer's mean.
// lambda scales with the probe set: lambda = max(1, round(small_cluster * N)).
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

#include "filterscope/cluster/engine.h"
#include "filterscope/core/params.h"

namespace filterscope {

struct AnomalyOptions {
  // Defaults from the calibration in docs/anomaly.md (bench/calibrate_criteria.py).
  double small_cluster = 0.02;  ///< lambda as a share of the probe set: a cluster of at most this share of N points is small
  double alpha = 0.0;           ///< criterion 1: more than alpha * K small clusters (0: at least one)
  double beta = 1.0;            ///< criterion 2: CH above beta x the layer mean
  double theta = 0.5;           ///< criterion 3: mean |activation| at least theta x the layer mean

  static const ParamTable<AnomalyOptions>& params();
  /// lambda for a probe set of n samples.
  int64_t lambda(int64_t n) const;
};

/// Per filter (C of them) of one layer.
struct LayerCriteria {
  int64_t lambda = 0;
  double mean_ch = 0;          ///< over filters with a defined CH (NaN if none)
  double mean_activation = 0;  ///< over all filters
  at::Tensor small_clusters;   ///< [C] int64: clusters with 1..lambda points at the chosen K
  at::Tensor small_share;      ///< [C] float64: share of samples in small clusters
  at::Tensor smallest_share;   ///< [C] float64: smallest non-empty cluster / N (NaN without K)
  at::Tensor unbalance;        ///< [C] float64: small_clusters - alpha * K; criterion 1 holds when > 0
  at::Tensor ch_ratio;         ///< [C] float64: CH / layer mean CH (NaN without K)
  at::Tensor activation_ratio; ///< [C] float64: mean |activation| / layer mean
  at::Tensor unbalanced;       ///< [C] bool: criterion 1
  at::Tensor high_ch;          ///< [C] bool: criterion 2
  at::Tensor active;           ///< [C] bool: criterion 3
  at::Tensor anomaly;          ///< [C] bool: all three
  at::Tensor small_member;     ///< [C, N] bool: sample n lies in a small cluster of filter c
};

/// clusters: the engine's result for the layer's C filters on N samples; mean_activation: [C].
LayerCriteria apply_criteria(const ClusterResult& clusters, const at::Tensor& mean_activation,
                             const AnomalyOptions& options);

/// One line on how close the layer's filters come to a criterion nobody passes, e.g.
/// "no filter passes criterion 1 (unbalanced); the closest, filter 17, has 1 small cluster of K = 6
/// (needs more than 1.2)". Empty when some filter passes it. criterion: 1, 2 or 3.
std::string closest_miss(const LayerCriteria& layer, const ClusterResult& clusters,
                         const AnomalyOptions& options, int criterion);

}  // namespace filterscope
