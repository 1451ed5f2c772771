// The Calinski-Harabasz index with scikit-learn's semantics (calinski_harabasz_score), for many
// labelled point sets at once.
#pragma once
#include <ATen/core/Tensor.h>

namespace filterscope {

struct CalinskiHarabasz {
  at::Tensor score;     ///< [B] float64; NaN where undefined
  at::Tensor defined;   ///< [B] bool: 2 <= non-empty clusters <= N - 1 (scikit-learn raises otherwise)
  at::Tensor n_labels;  ///< [B] int64: non-empty clusters (labels are re-encoded, gaps do not count)
};

/// points: [B, N, D] float; labels: [B, N] int64 in [0, num_labels). Any device.
/// Within-cluster dispersion 0 gives 1.0, as scikit-learn.
CalinskiHarabasz calinski_harabasz(const at::Tensor& points, const at::Tensor& labels,
                                   int64_t num_labels);

}  // namespace filterscope
