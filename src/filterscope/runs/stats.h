// The statistics behind the experiments' verdicts: rank correlation, a rank-sum test, and the
// enrichment of outlier samples in replaced (noisy) training labels.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "filterscope/io/json.h"
#include "filterscope/runs/analysis_record.h"
#include "filterscope/runs/study_records.h"

namespace filterscope {

/// Spearman's rank correlation (average ranks for ties); NaN when either side is constant or
/// there are fewer than 3 pairs.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

/// Mann-Whitney U test of "x tends to be larger than y": U of x, the normal approximation's z
/// (tie and continuity corrected, as scipy's method="asymptotic") and the one-sided p-value.
/// p is NaN when either side is empty or every value is tied.
struct RankSumTest {
  double u = 0, z = 0, p_greater = 0;
};
RankSumTest mann_whitney_greater(const std::vector<double>& x, const std::vector<double>& y);

/// P(X >= observed) for X hypergeometric: `draws` taken without replacement from `population`
/// items of which `successes` are marked.
double hypergeometric_upper_tail(int64_t population, int64_t successes, int64_t draws, int64_t observed);

/// The Enrichment (runs/study_records.h) of an analysis of training samples; nullopt when the probe set records no
/// replaced labels (validation probe set, or an analysis written before they were recorded).
/// Values that are undefined (no outliers, no replaced labels) are NaN and written as null.
std::optional<Enrichment> label_noise_enrichment(const AnalysisRecord& analysis);

}  // namespace filterscope
