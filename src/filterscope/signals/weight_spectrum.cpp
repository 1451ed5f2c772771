#include "filterscope/signals/weight_spectrum.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace filterscope {

std::vector<double> layer_eigenvalues(const at::Tensor& weight) {
  if (weight.dim() != 2 && weight.dim() != 4) return {};
  const at::Tensor w = weight.detach().to(at::kCPU, at::kDouble);
  std::vector<double> out;
  auto add = [&](const at::Tensor& slice) {
    const at::Tensor s = at::linalg_svdvals(slice);
    const at::Tensor e = (s * s).contiguous();
    out.insert(out.end(), e.data_ptr<double>(), e.data_ptr<double>() + e.numel());
  };
  if (w.dim() == 2) {
    add(w);
  } else {
    for (int64_t i = 0; i < w.size(2); ++i)
      for (int64_t j = 0; j < w.size(3); ++j) add(w.select(3, j).select(2, i));
  }
  std::sort(out.begin(), out.end());
  return out;
}

PowerLawFit fit_power_law(std::vector<double> x) {
  PowerLawFit fit;
  std::sort(x.begin(), x.end());
  const size_t n = x.size();
  fit.eigenvalues = static_cast<int64_t>(n);
  if (n < 2) return fit;
  std::vector<double> logs(n);
  for (size_t i = 0; i < n; ++i) logs[i] = std::log(x[i]);
  // Suffix sums of the logs, added from the largest down in one fixed order.
  std::vector<double> suffix(n + 1, 0.0);
  for (size_t i = n; i-- > 0;) suffix[i] = suffix[i + 1] + logs[i];
  double best_d = INFINITY;
  for (size_t i = 0; i + 1 < n; ++i) {
    const double m = static_cast<double>(n - i);
    const double alpha = 1.0 + m / (suffix[i] - m * logs[i]);
    double d = 1.0;
    if (alpha > 1.0) {
      d = 0.0;
      for (size_t j = i; j < n; ++j) {
        const double theory = 1.0 - std::pow(x[j] / x[i], 1.0 - alpha);
        const double empirical = static_cast<double>(j - i) / m;
        d = std::max(d, std::abs(theory - empirical));
      }
    }
    if (d < best_d) {
      best_d = d;
      fit.alpha = alpha;
      fit.xmin = x[i];
      fit.ks_distance = d;
      fit.tail = static_cast<int64_t>(n - i);
    }
  }
  return fit;
}

}  // namespace filterscope
