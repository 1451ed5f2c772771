#include "filterscope/experiments/confident_learning.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <numeric>

#include "filterscope/core/error.h"

namespace filterscope {

namespace {

constexpr double kComparison = 1e-6;          // cleanlab's FLOATING_POINT_COMPARISON
constexpr double kThresholdFloor = 2e-6;      // CONFIDENT_THRESHOLDS_LOWER_BOUND
constexpr double kTiny = 1e-100;              // TINY_VALUE: a zero row or total divides by this
constexpr double kMissingClassThreshold = 2;  // BIG_VALUE: a class nobody is labelled with counts nobody

// numpy's round: half to even.
double round_even(double v) { return std::nearbyint(v); }

// numpy's sum of a contiguous float64 array (pairwise_sum in its umath loops): eight running sums
// over blocks of up to 128 values, halves above that. cleanlab sums with numpy, and a near-tie in
// the rounding that follows goes the way these last bits say.
double numpy_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.0;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (size_t j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_sum(a, n2) + numpy_sum(a + n2, n - n2);
}
double numpy_sum(const std::vector<double>& v) { return numpy_sum(v.data(), v.size()); }

using Matrix = std::vector<std::vector<double>>;

std::vector<std::vector<int64_t>> round_rows(const Matrix& m) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& row : m) out.push_back(round_preserving_sum(row));
  return out;
}

}  // namespace

std::vector<int64_t> round_preserving_sum(const std::vector<double>& values) {
  FS_ASSERT(std::fegetround() == FE_TONEAREST);
  const size_t n = values.size();
  std::vector<double> ints(n);
  for (size_t i = 0; i < n; ++i) ints[i] = round_even(values[i]);
  const double target = round_even(numpy_sum(values));
  double int_sum = round_even(numpy_sum(ints));
  while (std::abs(int_sum - target) > kComparison) {
    const double diff = round_even(target - int_sum);
    const double increment = diff < 0 ? -1.0 : 1.0;
    const size_t changes = std::min(static_cast<size_t>(std::abs(diff)), n);
    // Ascending remainders in a stable order; reversed when values go up (the largest first).
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return values[a] - ints[a] < values[b] - ints[b]; });
    if (increment > 0) std::reverse(order.begin(), order.end());
    for (size_t c = 0; c < changes; ++c) ints[order[c]] += increment;
    int_sum = round_even(numpy_sum(ints));
  }
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(ints[i]);
  return out;
}

ConfidentLearningResult confident_learning(const std::vector<int64_t>& labels, const std::vector<double>& p,
                                           int64_t classes) {
  FS_CHECK(classes >= 2, "confident learning needs at least two classes, got ", classes);
  const size_t n = labels.size();
  const size_t k = static_cast<size_t>(classes);
  FS_CHECK(p.size() == n * k, "confident learning: ", p.size(), " probabilities for ", n, " samples of ", classes,
           " classes");
  for (size_t i = 0; i < n; ++i)
    FS_CHECK(labels[i] >= 0 && labels[i] < classes, "confident learning: label ", labels[i], " of sample ", i,
             " is not among the ", classes, " classes");
  for (double v : p) FS_CHECK(std::isfinite(v), "confident learning: a probability is not finite");
  auto prob = [&](size_t i, size_t j) { return p[i * k + j]; };

  ConfidentLearningResult r;
  // 1. Per-class thresholds: the mean self-confidence of the samples labelled with the class.
  std::vector<int64_t> label_counts(k, 0);
  std::vector<double> self_sum(k, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const size_t y = static_cast<size_t>(labels[i]);
    ++label_counts[y];
    self_sum[y] += prob(i, y);
  }
  r.thresholds.resize(k);
  for (size_t j = 0; j < k; ++j)
    r.thresholds[j] = std::max(label_counts[j] > 0 ? self_sum[j] / static_cast<double>(label_counts[j])
                                                   : kMissingClassThreshold,
                               kThresholdFloor);

  // 2. The confident joint C[given][true].
  r.confident_joint.assign(k, std::vector<int64_t>(k, 0));
  for (size_t i = 0; i < n; ++i) {
    size_t confident = 0, first = k, argmax = 0;
    for (size_t j = 0; j < k; ++j) {
      if (prob(i, j) >= r.thresholds[j] - kComparison) {
        ++confident;
        if (first == k) first = j;
      }
      if (prob(i, j) > prob(i, argmax)) argmax = j;
    }
    if (confident == 0) continue;
    const size_t guess = confident > 1 ? argmax : first;
    ++r.confident_joint[static_cast<size_t>(labels[i])][guess];
  }
  for (size_t j = 0; j < k; ++j) r.confident_joint[j][j] = std::max<int64_t>(r.confident_joint[j][j], 1);

  // 3. Calibration: rows to the label counts, the whole to N.
  Matrix cal(k, std::vector<double>(k, 0.0));
  double total = 0;
  for (size_t g = 0; g < k; ++g) {
    double row = 0;
    for (size_t t = 0; t < k; ++t) row += static_cast<double>(r.confident_joint[g][t]);
    for (size_t t = 0; t < k; ++t)
      cal[g][t] = static_cast<double>(r.confident_joint[g][t]) / std::max(row, kTiny) *
                  static_cast<double>(label_counts[g]);
  }
  {
    std::vector<double> flat;  // the matrix in C order, as numpy sums it
    for (const auto& row : cal) flat.insert(flat.end(), row.begin(), row.end());
    total = numpy_sum(flat);
  }
  const double samples = static_cast<double>(n);
  for (auto& row : cal)
    for (double& v : row) v = v / std::max(total, kTiny) * samples;
  r.calibrated_joint = round_rows(cal);

  // 4. Prune counts: the transpose, each class keeping at least one sample.
  Matrix m(k, std::vector<double>(k, 0.0));
  for (size_t a = 0; a < k; ++a)
    for (size_t b = 0; b < k; ++b) m[a][b] = static_cast<double>(r.calibrated_joint[b][a]);
  for (size_t col = 0; col < k; ++col) {
    const double diag = m[col][col];
    const double raised = std::max(diag, 1.0);
    const double diff = raised - diag;
    int64_t nonzero = 0;
    for (size_t row = 0; row < k; ++row) nonzero += m[row][col] != 0.0;
    const double spread = std::max(static_cast<double>(nonzero) - 1.0, 1.0);
    for (size_t row = 0; row < k; ++row) {
      double v = m[row][col] - diff / spread;
      if (v < 0) v = 0;
      m[row][col] = row == col ? raised : v;
    }
  }
  for (auto& row : m)
    for (double& v : row) v = std::trunc(v);  // _reduce_prune_counts' astype(int)
  r.prune_counts = round_rows(m);

  // The per-class pruning, by the largest margin p_j - p_k among the samples labelled k.
  r.label_issue.assign(n, false);
  for (size_t cls = 0; cls < k; ++cls) {
    std::vector<size_t> members;
    for (size_t i = 0; i < n; ++i)
      if (static_cast<size_t>(labels[i]) == cls) members.push_back(i);
    if (members.size() <= 1) continue;  // min_examples_per_class
    for (size_t j = 0; j < k; ++j) {
      const int64_t prune = r.prune_counts[j][cls];
      if (j == cls || prune <= 0) continue;
      std::vector<size_t> order(members.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return -(prob(members[a], j) - prob(members[a], cls)) < -(prob(members[b], j) - prob(members[b], cls));
      });
      for (size_t c = 0; c < order.size() && static_cast<int64_t>(c) < prune; ++c) r.label_issue[members[order[c]]] = true;
    }
  }
  // 5. The model agrees with the given label: not an issue.
  r.self_confidence.resize(n);
  for (size_t i = 0; i < n; ++i) {
    size_t argmax = 0;
    for (size_t j = 1; j < k; ++j)
      if (prob(i, j) > prob(i, argmax)) argmax = j;
    if (argmax == static_cast<size_t>(labels[i])) r.label_issue[i] = false;
    r.self_confidence[i] = prob(i, static_cast<size_t>(labels[i]));
  }
  return r;
}

}  // namespace filterscope
