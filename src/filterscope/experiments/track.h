// Hypothesis 1 (paper, Fig. 4 and Table 2): anomaly filters rise with overfitting. Every epoch
// checkpoint of a run is analysed on one probe set; the anomaly counts and the continuous scores
// are set beside the training curves, a well-trained and an overfit epoch are compared, and rank
// correlations with the validation loss and the generalisation gap are reported.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filterscope/runs/run_analysis.h"
#include "filterscope/core/params.h"
#include "filterscope/runs/stats.h"

namespace filterscope {

struct TrackOptions {
  int64_t every = 1;                          ///< analyse every k-th epoch (the last always)
  std::string well_trained = "min-val-loss";  ///< rule for the well-trained epoch: min-val-loss or best-val-acc
  /// The ranks sharing the epochs (an MPI job): each analyses its epochs alone and writes them into
  /// the run; the root then reads them all and writes track.json. Alone: one process does all.
  Ranks ranks = Ranks::alone();

  static const ParamTable<TrackOptions>& params();
};

/// One epoch's row: training metrics and what its analysis found.
struct TrackEpoch {
  EpochMetrics metrics;
  int64_t anomaly_filters = 0;
  int64_t unbalanced = 0, high_ch = 0, active = 0;  ///< filters passing each criterion
  int64_t outlier_samples = 0;
  double mean_small_share = 0;  ///< mean over filters of the share of samples in small clusters
  std::map<std::string, int64_t> per_layer;  ///< anomaly filters per probe point
  std::optional<Enrichment> enrichment;      ///< outliers in replaced labels (training probe sets of noisy runs)
  bool reused = false;          ///< read from an earlier analysis with the same settings
};

/// Row of an epoch from its analysis.json.
TrackEpoch summarise_analysis(const AnalysisRecord& analysis, const EpochMetrics& metrics);

/// The epochs analysed: every k-th that has a checkpoint, and the last.
std::vector<int64_t> tracked_epochs(const std::vector<int64_t>& checkpoints, int64_t every);

/// Analyses (or reuses) every tracked epoch of run_dir and returns track.json's record; writes
/// track.json and track.csv into run_dir. `log` receives one line per epoch. Sharded: every rank
/// calls it; the root returns the record, the others an empty one.
TrackRecord track_run(const std::filesystem::path& run_dir, const ProbeSetOptions& probe,
                         const AnalyzeOptions& analyze, const TrackOptions& options, const ReuseOptions& reuse,
                         const c10::Device& device,
                         const std::function<void(const std::string&)>& log);

}  // namespace filterscope
