#include "filterscope/core/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "filterscope/core/error.h"

namespace filterscope {

namespace {

double log_choose(int64_t n, int64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

// P(X = i) for X ~ Binomial(n, 1/2), i in [lo, hi], summed. Up to n = 1000 the terms come from the
// exact recurrence C(n, i+1) = C(n, i) (n - i) / (i + 1) (2^-1000 is still a normal double); beyond,
// from lgamma.
double binomial_half_sum(int64_t n, int64_t lo, int64_t hi) {
  lo = std::max<int64_t>(lo, 0);
  hi = std::min(hi, n);
  if (lo > hi) return 0.0;
  double p = 0;
  if (n <= 1000) {
    double term = std::ldexp(1.0, -static_cast<int>(n));
    for (int64_t i = 0; i <= hi; ++i) {
      if (i >= lo) p += term;
      term = term * static_cast<double>(n - i) / static_cast<double>(i + 1);
    }
  } else {
    const double log_half_n = static_cast<double>(n) * std::log(0.5);
    for (int64_t i = lo; i <= hi; ++i) p += std::exp(log_choose(n, i) + log_half_n);
  }
  return std::min(1.0, p);
}

// P(X <= k) for X ~ Binomial(n, 1/2).
double binomial_half_cdf(int64_t n, int64_t k) {
  if (k < 0) return 0.0;
  if (k >= n) return 1.0;
  return binomial_half_sum(n, 0, k);
}

// Items ordered by descending score (ties by index), and the end of each run of equal scores:
// the distinct thresholds of a ranking.
struct Ranking {
  std::vector<int64_t> order;
  std::vector<size_t> group_ends;  ///< one past the last item of each group of equal scores
};

Ranking rank_descending(const std::vector<double>& scores) {
  for (double s : scores) FS_CHECK(!std::isnan(s), "a detection score is NaN");
  Ranking r;
  r.order.resize(scores.size());
  std::iota(r.order.begin(), r.order.end(), 0);
  std::stable_sort(r.order.begin(), r.order.end(),
                   [&](int64_t a, int64_t b) { return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)]; });
  for (size_t i = 0; i < r.order.size(); ++i)
    if (i + 1 == r.order.size() ||
        scores[static_cast<size_t>(r.order[i + 1])] != scores[static_cast<size_t>(r.order[i])])
      r.group_ends.push_back(i + 1);
  return r;
}

int64_t count_marked(const std::vector<bool>& marked) {
  return static_cast<int64_t>(std::count(marked.begin(), marked.end(), true));
}

}  // namespace

double binomial_half_upper_tail(int64_t n, int64_t k) {
  FS_CHECK(n >= 0, "binomial test: negative count ", n);
  if (k <= 0) return 1.0;
  if (k > n) return 0.0;
  return binomial_half_sum(n, k, n);
}

McNemarTest mcnemar_exact(int64_t improved, int64_t worsened) {
  FS_CHECK(improved >= 0 && worsened >= 0, "McNemar test: negative counts");
  McNemarTest t;
  t.improved = improved;
  t.worsened = worsened;
  const int64_t n = improved + worsened;
  t.p_improved = binomial_half_upper_tail(n, improved);
  t.p_worsened = binomial_half_upper_tail(n, worsened);
  t.p_two_sided = std::min(1.0, 2.0 * binomial_half_cdf(n, std::min(improved, worsened)));
  return t;
}

double sign_test_greater(int64_t positive, int64_t negative) {
  FS_CHECK(positive >= 0 && negative >= 0, "sign test: negative counts");
  return binomial_half_upper_tail(positive + negative, positive);
}

double fisher_combined_p(const std::vector<double>& p_values) {
  double statistic = 0;
  int64_t k = 0;
  for (double p : p_values) {
    if (!std::isfinite(p)) continue;
    FS_CHECK(p >= 0 && p <= 1, "Fisher's method: p-value ", p, " is outside [0, 1]");
    if (p == 0) return 0.0;
    statistic += -2.0 * std::log(p);
    ++k;
  }
  if (k == 0) return NAN;
  // The chi-square survival function with 2k degrees of freedom has a closed form.
  const double half = statistic / 2;
  double term = 1, sum = 1;
  for (int64_t i = 1; i < k; ++i) {
    term *= half / static_cast<double>(i);
    sum += term;
  }
  return std::min(1.0, std::exp(-half) * sum);
}

double auroc(const std::vector<double>& scores, const std::vector<bool>& marked) {
  FS_CHECK(scores.size() == marked.size(), "AUROC: ", scores.size(), " scores for ", marked.size(), " items");
  const int64_t positives = count_marked(marked);
  const int64_t negatives = static_cast<int64_t>(marked.size()) - positives;
  if (positives == 0 || negatives == 0) return NAN;
  const Ranking r = rank_descending(scores);
  // Each positive beats the negatives scored below it and half of those tied with it.
  double wins = 0;
  int64_t negatives_above = 0;
  size_t i = 0;
  for (size_t end : r.group_ends) {
    int64_t group_pos = 0, group_neg = 0;
    for (; i < end; ++i) (marked[static_cast<size_t>(r.order[i])] ? group_pos : group_neg) += 1;
    const int64_t below = negatives - negatives_above - group_neg;
    wins += static_cast<double>(group_pos) * (static_cast<double>(below) + 0.5 * static_cast<double>(group_neg));
    negatives_above += group_neg;
  }
  return wins / (static_cast<double>(positives) * static_cast<double>(negatives));
}

double average_precision(const std::vector<double>& scores, const std::vector<bool>& marked) {
  FS_CHECK(scores.size() == marked.size(), "average precision: ", scores.size(), " scores for ", marked.size(), " items");
  const int64_t positives = count_marked(marked);
  if (positives == 0) return NAN;
  const Ranking r = rank_descending(scores);
  double ap = 0, previous_recall = 0;
  int64_t hits = 0;
  size_t i = 0;
  for (size_t end : r.group_ends) {
    for (; i < end; ++i) hits += marked[static_cast<size_t>(r.order[i])] ? 1 : 0;
    const double recall = static_cast<double>(hits) / static_cast<double>(positives);
    const double precision = static_cast<double>(hits) / static_cast<double>(end);
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
  }
  return ap;
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<bool>& marked) {
  FS_CHECK(scores.size() == marked.size(), "ROC curve: ", scores.size(), " scores for ", marked.size(), " items");
  const int64_t positives = count_marked(marked);
  const int64_t negatives = static_cast<int64_t>(marked.size()) - positives;
  RocCurve c;
  c.false_positive_rate.push_back(0);
  c.true_positive_rate.push_back(0);
  const Ranking r = rank_descending(scores);
  int64_t tp = 0, fp = 0;
  size_t i = 0;
  for (size_t end : r.group_ends) {
    for (; i < end; ++i) (marked[static_cast<size_t>(r.order[i])] ? tp : fp) += 1;
    c.false_positive_rate.push_back(negatives > 0 ? static_cast<double>(fp) / static_cast<double>(negatives) : NAN);
    c.true_positive_rate.push_back(positives > 0 ? static_cast<double>(tp) / static_cast<double>(positives) : NAN);
  }
  return c;
}

std::vector<int64_t> top_k(const std::vector<double>& scores, int64_t k) {
  Ranking r = rank_descending(scores);
  r.order.resize(static_cast<size_t>(std::clamp<int64_t>(k, 0, static_cast<int64_t>(r.order.size()))));
  return r.order;
}

PrecisionRecall precision_recall_at(const std::vector<double>& scores, const std::vector<bool>& marked, int64_t k) {
  FS_CHECK(scores.size() == marked.size(), "precision at k: ", scores.size(), " scores for ", marked.size(), " items");
  PrecisionRecall out;
  const std::vector<int64_t> flagged = top_k(scores, k);
  out.flagged = static_cast<int64_t>(flagged.size());
  for (int64_t i : flagged) out.hits += marked[static_cast<size_t>(i)] ? 1 : 0;
  const int64_t positives = count_marked(marked);
  out.precision = out.flagged > 0 ? static_cast<double>(out.hits) / static_cast<double>(out.flagged) : NAN;
  out.recall = positives > 0 ? static_cast<double>(out.hits) / static_cast<double>(positives) : NAN;
  return out;
}

double median(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }), values.end());
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace filterscope
