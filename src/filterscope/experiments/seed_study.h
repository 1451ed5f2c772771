// A study over several seeds: each seed is its own run directory (own initial weights, shuffling,
// label-noise draw and probe set) with the experiments done (track, gradients, mask, clean). This
// module sets the runs side by side: per hypothesis an effect size per seed, its median and range,
// a sign test across seeds on the direction and Fisher's combination of the per-seed tests, and a
// verdict by the rule below (docs/results.md states it); per label-noise detector its AUROC across
// seeds.
//
// The across-seed rule: "supported" when the one-sided sign test on the seeds' directions (ties
// dropped) gives p <= alpha and, where the seeds have their own tests, Fisher's combination of
// them gives p <= alpha; "not supported" when at most half of the untied seeds point the
// hypothesised way; "inconclusive" otherwise. With 5 seeds "supported" needs all 5 (2^-5 = 0.031).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/experiments/verdicts.h"
#include "filterscope/runs/study_records.h"

namespace filterscope {

struct SeedStudyOptions {
  double alpha = 0.05;  ///< level of the sign test and of Fisher's combined test

  static const ParamTable<SeedStudyOptions>& params();
};

/// The across-seed rule in words.
std::string seed_study_rule(double alpha);

/// One hypothesis across seeds from its per-seed outcomes, by the rule above.
HypothesisAcrossSeeds hypothesis_across_seeds(const std::string& id, const std::string& statement,
                                              const std::string& effect, std::vector<SeedOutcome> seeds, double alpha);

/// Reads each run's track.json, gradients.json, mask.json and clean.json (those present) and
/// aggregates them. Throws Error naming a run that is not a run directory, or when two runs share a seed.
StudyRecord aggregate_seeds(const std::vector<std::filesystem::path>& runs, const SeedStudyOptions& options,
                            const VerdictRules& rules = {});

/// The study's tables as Markdown (the form docs/results.md quotes).
std::string study_markdown(const StudyRecord& study);

/// aggregate_seeds, then writes OUT/study.json and OUT/study.md.
StudyRecord seed_study(const std::vector<std::filesystem::path>& runs, const std::filesystem::path& out_dir,
                       const SeedStudyOptions& options, const std::function<void(const std::string&)>& log);

}  // namespace filterscope
