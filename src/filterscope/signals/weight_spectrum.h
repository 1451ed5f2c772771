// The heavy-tailed spectrum of a layer's weights (Martin & Mahoney), as WeightWatcher measures it:
// the eigenvalues of W^T W, a power law fitted to their tail, and its exponent alpha. Smaller alpha
// means a heavier tail; WeightWatcher reads alpha < 2 as a layer trained too far ("over-trained").
#pragma once
#include <ATen/core/Tensor.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace filterscope {

/// The eigenvalues (squared singular values) of a layer's weight as WeightWatcher takes them: a
/// linear layer's W [out, in] gives min(out, in) of them; a convolution's W [out, in, kh, kw] gives
/// those of each kernel position's [out, in] slice, kh * kw slices pooled into one spectrum.
/// Ascending, float64. Other shapes give none.
std::vector<double> layer_eigenvalues(const at::Tensor& weight);

struct PowerLawFit {
  double alpha = NAN;        ///< the exponent at the chosen xmin
  double xmin = NAN;         ///< start of the tail
  double ks_distance = NAN;  ///< Kolmogorov-Smirnov distance of the tail from the fitted law
  int64_t tail = 0;          ///< eigenvalues >= xmin
  int64_t eigenvalues = 0;
};

/// WeightWatcher's power-law fit (its WWFit, the default since it replaced the `powerlaw` package):
/// the sorted eigenvalues x_1 <= ... <= x_n; every x_i but the largest is a candidate xmin; at each,
/// the continuous maximum-likelihood exponent alpha_i = 1 + m / sum_{j>=i} ln(x_j / x_i) over the
/// m = n - i + 1 values of the tail, and D_i = max_j |1 - (x_j / x_i)^(1 - alpha_i) - (j - i) / m|
/// (D_i = 1 where alpha_i is not above 1). The candidate with the smallest D wins (the first on a
/// tie). Fewer than two values give NaN.
PowerLawFit fit_power_law(std::vector<double> eigenvalues);

}  // namespace filterscope
