// The verdict per hypothesis, computed from the experiments' files by fixed rules (docs/results.md
// states them): supported, not supported, inconclusive, or not run / not applicable.
#pragma once
#include <filesystem>
#include <optional>

#include "filterscope/runs/study_records.h"

namespace filterscope {

/// Thresholds of the rules.
struct VerdictRules {
  double min_rank_correlation = 0.3;  ///< H1: Spearman of the anomaly count with the train-val gap
  int64_t min_outliers = 5;           ///< H2: fewer outlier samples than this is inconclusive
  double max_p_value = 0.05;          ///< H2, H2b, H3: level of the one-sided test
  int64_t min_masked = 3;             ///< H3: fewer anomaly filters than this is inconclusive
};

/// Each argument is the record of track.json, gradients.json, mask.json, or nullopt when that
/// experiment has not been run. Returns one verdict per hypothesis with its statement, rule,
/// reason and the numbers used.
VerdictsRecord compute_verdicts(const std::optional<TrackRecord>& track,
                                const std::optional<GradientsRecord>& gradients, const std::optional<MaskRecord>& mask,
                                const VerdictRules& rules = {});

/// Reads what the run directory has, computes the verdicts and writes RUN/verdicts.json.
VerdictsRecord run_verdicts(const std::filesystem::path& run_dir, const VerdictRules& rules = {});

}  // namespace filterscope
