#include "filterscope/runs/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "filterscope/core/error.h"

namespace filterscope {

namespace {
// Average ranks (1-based) and, through tie_term, the sum of t^3 - t over groups of ties.
std::vector<double> ranks(const std::vector<double>& v, double* tie_term = nullptr) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  double ties = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) r[order[k]] = mean_rank;
    const double t = static_cast<double>(j - i + 1);
    ties += t * t * t - t;
    i = j + 1;
  }
  if (tie_term) *tie_term = ties;
  return r;
}

double log_choose(int64_t n, int64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

double ratio_or_nan(double a, double b) { return b > 0 ? a / b : NAN; }
}  // namespace

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  FS_CHECK(x.size() == y.size(), "spearman: sizes differ");
  if (x.size() < 3) return NAN;
  const auto rx = ranks(x), ry = ranks(y);
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n, my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx == 0 || syy == 0) return NAN;
  return sxy / std::sqrt(sxx * syy);
}

RankSumTest mann_whitney_greater(const std::vector<double>& x, const std::vector<double>& y) {
  RankSumTest t;
  if (x.empty() || y.empty()) {
    t.u = t.z = t.p_greater = NAN;
    return t;
  }
  std::vector<double> all(x);
  all.insert(all.end(), y.begin(), y.end());
  double tie_term = 0;
  const auto r = ranks(all, &tie_term);
  const double nx = static_cast<double>(x.size()), ny = static_cast<double>(y.size()), n = nx + ny;
  const double rank_sum_x = std::accumulate(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(x.size()), 0.0);
  t.u = rank_sum_x - nx * (nx + 1) / 2;
  const double mean = nx * ny / 2;
  const double var = nx * ny / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (!(var > 0)) {
    t.z = t.p_greater = NAN;
    return t;
  }
  t.z = (t.u - mean - 0.5) / std::sqrt(var);
  t.p_greater = 0.5 * std::erfc(t.z / std::sqrt(2.0));
  return t;
}

double hypergeometric_upper_tail(int64_t population, int64_t successes, int64_t draws, int64_t observed) {
  FS_CHECK(population >= 0 && successes >= 0 && draws >= 0 && successes <= population && draws <= population,
           "hypergeometric: bad arguments");
  const int64_t lo = std::max<int64_t>(observed, std::max<int64_t>(0, draws - (population - successes)));
  const int64_t hi = std::min(draws, successes);
  if (lo > hi) return observed <= 0 ? 1.0 : 0.0;
  const double log_total = log_choose(population, draws);
  double p = 0;
  for (int64_t i = lo; i <= hi; ++i)
    p += std::exp(log_choose(successes, i) + log_choose(population - successes, draws - i) - log_total);
  return std::min(1.0, p);
}

std::optional<Enrichment> label_noise_enrichment(const AnalysisRecord& analysis) {
  if (!analysis.probe_set.label_replaced) return std::nullopt;
  Enrichment e;
  e.probe_size = analysis.probe_set.size;
  e.replaced = static_cast<int64_t>(analysis.probe_set.label_replaced->size());
  for (const auto& o : analysis.outliers) {
    ++e.outliers;
    if (o.label_replaced.value_or(false)) ++e.replaced_outliers;
  }
  e.precision = ratio_or_nan(static_cast<double>(e.replaced_outliers), static_cast<double>(e.outliers));
  e.recall = ratio_or_nan(static_cast<double>(e.replaced_outliers), static_cast<double>(e.replaced));
  e.base_rate = ratio_or_nan(static_cast<double>(e.replaced), static_cast<double>(e.probe_size));
  e.ratio = ratio_or_nan(e.precision, e.base_rate);
  e.p_value = e.outliers > 0 ? hypergeometric_upper_tail(e.probe_size, e.replaced, e.outliers, e.replaced_outliers)
                             : NAN;
  return e;
}

}  // namespace filterscope
