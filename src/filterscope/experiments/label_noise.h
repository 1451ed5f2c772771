// Which training samples are behind the overfitting: label-noise detectors side by side. Each
// detector gives every training sample a score (higher = more likely mislabelled):
//   loss                  the training loss at the epoch
//   aum                   minus the area under the margin over epochs 1..e (Pleiss et al. 2020)
//   forgetting            forgetting events in epochs 1..e, never-learned samples highest (Toneva et al. 2019)
//   misclassified_epochs  epochs 1..e in which the training pass got it wrong
//   gmm_filters           filterscope: the filters whose small clusters hold the sample, each weighted by
//                         -log of the share of probe samples in its small clusters (rarer counts more)
//   gmm_anomaly_filters   filterscope: the anomaly filters whose small clusters hold the sample
//   gmm_outlier           filterscope's outlier flag (1 or 0)
// The first four come from RUN/samples/ (recorded by training at no extra pass); the gmm ones from
// the epoch's analysis and so only for its probe samples. With label noise the replaced labels are
// the ground truth: `clean` reports AUROC, average precision and precision/recall at the noise rate
// at the well-trained and the overfit epoch, and lists the samples each detector flags.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/runs/analysis_record.h"
#include "filterscope/runs/study_records.h"
#include "filterscope/train/sample_log.h"

namespace filterscope {

struct CleanOptions {
  int64_t epoch = 0;  ///< epoch whose scores rank the flagged samples; 0 = the well-trained epoch of RUN/track.json
  int64_t top = 0;    ///< samples each detector flags; 0 = as many as replaced labels (5 % without label noise)

  static const ParamTable<CleanOptions>& params();
};

/// The detectors in the order of every table, with their definitions.
const std::vector<NoiseDetectorInfo>& label_noise_detectors();

/// Every detector's score for every training position at `epoch` (history holds epochs 1..epoch or
/// more). Scores a detector cannot give (the gmm ones outside the probe set, or without an
/// analysis) are NaN. One vector per detector, in label_noise_detectors() order.
std::vector<std::vector<double>> detector_scores(const std::vector<SampleEpoch>& history, int64_t epoch,
                                                 const AnalysisRecord* analysis);

/// The detectors compared on the samples where every detector has a score, against `replaced`
/// (per training position).
NoiseDetectorEvaluation evaluate_detectors(const std::vector<std::vector<double>>& scores, const std::vector<bool>& replaced,
                                      const std::string& role, int64_t epoch);

/// Reads the run (run.json, samples/, track.json and the analyses of the chosen epochs when they
/// exist), writes RUN/clean.json and RUN/clean.csv (one row per training sample: its scores at the
/// listed epoch and the detectors that flag it) and returns the record.
CleanRecord clean_run(const std::filesystem::path& run_dir, const CleanOptions& options,
                      const std::function<void(const std::string&)>& log);

}  // namespace filterscope
