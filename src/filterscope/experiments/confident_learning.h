// Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) on out-of-sample predicted
// probabilities, with cleanlab's semantics (cleanlab.count.compute_confident_joint,
// calibrate_confident_joint and cleanlab.filter.find_label_issues with filter_by =
// "prune_by_noise_rate"):
//   1. per class j the threshold t_j = mean of p_j(x) over the samples labelled j;
//   2. a sample counts for class j when p_j(x) >= t_j - 1e-6; with several such classes the argmax of
//      p(x) over all classes, with none it is not counted; C[given][true] counts them, and every
//      diagonal entry is at least 1;
//   3. calibration: each row scaled to the count of its given label, then the whole to N, rounded
//      preserving row totals;
//   4. pruning: the matrix transposed, every class kept with at least one sample
//      (_keep_at_least_n_per_class), rounded again; for each given label k and other class j, the
//      prune count [j][k] samples labelled k with the largest margin p_j(x) - p_k(x) are flagged;
//   5. a sample whose predicted class (argmax) is its given label is never flagged.
// Ties (equal margins, equal rounding remainders) are broken by position, in a stable order;
// cleanlab's numpy sorts leave them unspecified. Plain numbers, no tensors.
#pragma once
#include <cstdint>
#include <vector>

namespace filterscope {

struct ConfidentLearningResult {
  std::vector<double> thresholds;                        ///< t_j per class
  std::vector<std::vector<int64_t>> confident_joint;     ///< [given][true], before calibration
  std::vector<std::vector<int64_t>> calibrated_joint;    ///< [given][true], rows sum to the label counts
  std::vector<std::vector<int64_t>> prune_counts;        ///< [true][given]: samples to prune per off-diagonal
  std::vector<bool> label_issue;                         ///< per sample: flagged
  std::vector<double> self_confidence;                   ///< p_given(x): the ranking score (low = likely wrong)
};

/// `probabilities` is [N, K] row-major; `labels` the given labels in [0, K). Throws Error for a size
/// mismatch, a label out of range, or a probability that is not finite.
ConfidentLearningResult confident_learning(const std::vector<int64_t>& labels, const std::vector<double>& probabilities,
                                           int64_t classes);

/// cleanlab's round_preserving_sum: each value rounded (half to even), then the values with the
/// largest remainders moved up (or the smallest down) until the rounded sum equals the rounded sum.
std::vector<int64_t> round_preserving_sum(const std::vector<double>& values);

}  // namespace filterscope
