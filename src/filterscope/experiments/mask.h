// Hypothesis 3 (paper, Tables 4-6): masking anomaly filters improves generalisation. On the overfit
// checkpoint each anomaly filter is masked alone (its convolution's output channel zeroed), then as
// many random filters of the same convolutions over several seeds as the baseline, then all anomaly
// filters at once, following how each outlier sample's prediction moves. The checkpoint file is
// never changed; --save writes the masked network to a new one.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/runs/run_analyses.h"

namespace filterscope {

struct MaskOptions {
  int64_t epoch = 0;           ///< checkpoint to mask; 0 = the overfit epoch of RUN/track.json
  int64_t baseline_seeds = 5;  ///< random-filter baselines (Table 5)
  int64_t baseline_seed = 0;   ///< seed of the first baseline; the others follow it
  std::string save;            ///< write the network with every anomaly filter masked to this checkpoint
  double paired_alpha = 0.05;  ///< level of McNemar's exact test that a filter's masking changed accuracy

  static const ParamTable<MaskOptions>& params();
};

/// A filter to mask: an output channel of a convolution, with the probe points whose analysis
/// flagged it (a filter flagged at its conv, ReLU and pool outputs is one unit).
struct MaskUnit {
  std::string conv;
  int64_t channel = 0;
  std::vector<std::string> flagged_at;
};

/// The anomaly filters of an analysis.json as units, ordered by convolution and channel.
std::vector<MaskUnit> anomaly_units(const AnalysisRecord& analysis);

/// Do anomaly filters pass the paired test more often than random ones? Fisher's exact test on the
/// 2x2 table (anomaly / random x passing / not), one-sided: the p-value of at least
/// `anomaly_passing` passing among `anomaly` filters drawn from all of them.
double paired_test_enrichment_p(int64_t anomaly, int64_t anomaly_passing, int64_t random, int64_t random_passing);

/// The random baseline for one seed: per convolution, as many filters as `anomalies` has there,
/// drawn without replacement from that convolution's other filters (fewer when it has too few).
std::vector<MaskUnit> random_units(const std::vector<MaskUnit>& anomalies, const ProbedModel& model, int64_t seed);

/// Masks `units` on the model (replacing any masks it had).
void apply_masks(ProbedModel& model, const std::vector<MaskUnit>& units);

/// Zeroes the masked filters' weights and biases, so that the model computes the masked outputs
/// without masks (exact for the paper's networks, which have no normalisation after a convolution).
void bake_masks(ProbedModel& model, const std::vector<MaskUnit>& units);

/// Runs the experiment on the chosen checkpoint (analysing it first when needed) and writes
/// RUN/mask.json and RUN/mask.csv (one row per masked filter). Returns mask.json's record.
MaskRecord mask_study(RunAnalyses& analyses, const MaskOptions& options,
                          const std::function<void(const std::string&)>& log);

/// The same experiment on one model (a checkpoint file or a TorchScript export) with its analysis:
/// writes mask.json and mask.csv into out_dir. options.epoch must be 0. --save writes a checkpoint
/// for a checkpoint and a TorchScript file for a TorchScript model.
MaskRecord model_mask(ModelSource& source, const ModelAnalysis& analysis, const MaskOptions& options,
                          const std::filesystem::path& out_dir, const std::function<void(const std::string&)>& log);

}  // namespace filterscope
