// Exact tests and detection scores on plain numbers (no tensors): the binomial tests behind the
// paired and the across-seed verdicts, Fisher's combination of p-values, and how well a score
// finds marked items (AUROC, average precision, precision and recall at k). Each matches the
// scipy / scikit-learn function named beside it; tests/core/test_statistics.cpp checks them on
// values computed there.
#pragma once
#include <cstdint>
#include <vector>

namespace filterscope {

/// P(X >= k) for X ~ Binomial(n, 1/2) (scipy.stats.binom.sf(k - 1, n, 0.5)); 1 for k <= 0.
double binomial_half_upper_tail(int64_t n, int64_t k);

/// McNemar's exact test on paired right/wrong outcomes of the same items before and after a change.
/// Only the discordant pairs count: `improved` went wrong -> right, `worsened` right -> wrong.
struct McNemarTest {
  int64_t improved = 0, worsened = 0;
  double p_improved = 1;   ///< one-sided: more improved than chance, P(X >= improved), X ~ Bin(n, 1/2)
  double p_worsened = 1;   ///< one-sided: more worsened than chance
  double p_two_sided = 1;  ///< min(1, 2 P(X <= min(b, c))): statsmodels' mcnemar(exact=True)
};
McNemarTest mcnemar_exact(int64_t improved, int64_t worsened);

/// The one-sided sign test across seeds: `positive` seeds show the effect in the hypothesised
/// direction, `negative` the other way (ties are dropped before). P(X >= positive), X ~ Bin(n, 1/2)
/// (scipy.stats.binomtest(positive, positive + negative, alternative="greater")); 1 with no seeds.
double sign_test_greater(int64_t positive, int64_t negative);

/// Fisher's method: -2 sum(log p) against chi-square with 2k degrees of freedom
/// (scipy.stats.combine_pvalues(p, method="fisher")). Non-finite p-values are skipped; NaN when none is left.
double fisher_combined_p(const std::vector<double>& p_values);

/// The area under the ROC curve of `scores` for items with `marked` true (higher score = more
/// likely marked), ties counted half (sklearn.metrics.roc_auc_score). NaN when one class is empty.
double auroc(const std::vector<double>& scores, const std::vector<bool>& marked);

/// Average precision (sklearn.metrics.average_precision_score): sum over distinct thresholds of
/// (recall step) x precision. NaN when nothing is marked.
double average_precision(const std::vector<double>& scores, const std::vector<bool>& marked);

/// The ROC curve at every distinct threshold, (0, 0) first (sklearn.metrics.roc_curve with
/// drop_intermediate=False).
struct RocCurve {
  std::vector<double> false_positive_rate, true_positive_rate;
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<bool>& marked);

/// The `k` items with the highest scores (ties broken by the lower index, so the choice is
/// deterministic), in that order.
std::vector<int64_t> top_k(const std::vector<double>& scores, int64_t k);

/// Precision and recall when the top `k` items by score are flagged.
struct PrecisionRecall {
  int64_t flagged = 0, hits = 0;
  double precision = 0, recall = 0;
};
PrecisionRecall precision_recall_at(const std::vector<double>& scores, const std::vector<bool>& marked, int64_t k);

/// Median (mean of the two middle values for an even count), NaN when empty. Non-finite values are skipped.
double median(std::vector<double> values);

}  // namespace filterscope
