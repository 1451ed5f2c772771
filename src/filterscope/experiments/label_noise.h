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
//   confident_learning    1 - the out-of-sample probability of the given label from K-fold
//                         cross-validation (Northcutt et al. 2021); its own flagged set is
//                         cleanlab's prune-by-noise-rate (experiments/confident_learning.h)
//   cartography           1 - the mean probability of the given label over epochs 1..e (dataset
//                         cartography's confidence, Swayamdipta et al. 2020; its variability beside it)
// loss, aum, forgetting, misclassified_epochs and cartography come from RUN/samples/ (recorded by
// training at no extra pass); the gmm ones from the epoch's analysis and so only for its probe
// samples; confident_learning from K models trained without one fold each (RUN/folds/).
// The detectors form one registry (noise_detectors()): `clean`, the study and the report loop over
// it. A new detector is a scoring function and one entry there. With label noise the replaced labels are
// the ground truth: `clean` reports AUROC, average precision and precision/recall at the noise rate
// at the well-trained and the overfit epoch, and lists the samples each detector flags.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
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
  int64_t folds = 4;  ///< confident learning's cross-validation folds; 0 = leave confident learning out

  static const ParamTable<CleanOptions>& params();
};

/// What a detector reads at one epoch.
struct NoiseEvidence {
  const std::vector<SampleEpoch>* history = nullptr;  ///< epochs 1..epoch (or more) of RUN/samples/
  int64_t epoch = 0;
  const AnalysisRecord* analysis = nullptr;  ///< the epoch's analysis of a training probe set, or null
  const std::vector<double>* held_out = nullptr;  ///< [N, classes] out-of-sample probabilities, or null
  int64_t classes = 0;
};

/// A label-noise detector: its definition and its score of every training position (higher = more
/// likely mislabelled; NaN where it gives none).
struct NoiseDetector {
  NoiseDetectorInfo info;
  bool needs_folds = false;  ///< reads NoiseEvidence::held_out
  std::function<std::vector<double>(const NoiseEvidence&)> score;
};

/// The registry, in the order of every table.
const std::vector<NoiseDetector>& noise_detectors();

/// The detectors' definitions, in registry order.
const std::vector<NoiseDetectorInfo>& label_noise_detectors();

/// Every detector's score for every training position at `evidence.epoch`. Scores a detector cannot
/// give (the gmm ones outside the probe set or without an analysis, confident learning without
/// held-out probabilities) are NaN. One vector per detector, in registry order.
std::vector<std::vector<double>> detector_scores(const NoiseEvidence& evidence);
/// The same without held-out probabilities.
std::vector<std::vector<double>> detector_scores(const std::vector<SampleEpoch>& history, int64_t epoch,
                                                 const AnalysisRecord* analysis);

/// Dataset cartography (Swayamdipta et al. 2020) over epochs 1..epoch: per training position the
/// mean and the standard deviation (population, as the paper's code) of the probability the
/// training pass gave its label, exp(-loss).
struct Cartography {
  std::vector<double> confidence, variability;
};
Cartography cartography(const std::vector<SampleEpoch>& history, int64_t epoch);

/// The detectors compared on the samples where every detector has a score, against `replaced`
/// (per training position). A detector that needs an analysis or folds and scores no sample is left
/// out (and does not narrow the samples).
NoiseDetectorEvaluation evaluate_detectors(const std::vector<std::vector<double>>& scores, const std::vector<bool>& replaced,
                                      const std::string& role, int64_t epoch);

/// Out-of-sample probabilities [N, classes] (row-major, float64) of every training position at each
/// of `epochs`, by `folds`-fold cross-validation: the training positions dealt into stratified
/// folds (seeded by the run's seed), one run per fold trained with the run's settings without that
/// fold (RUN/folds/kK/fold-F/, resumable), each fold's samples scored by its run's checkpoint at
/// the epoch. Cached in RUN/folds/kK/probabilities/epoch-NNN.npy. Throws Error for a run that
/// `train` did not make (a monitored one cannot be retrained here).
std::map<int64_t, std::vector<double>> held_out_probabilities(const std::filesystem::path& run_dir, int64_t folds,
                                                              const std::vector<int64_t>& epochs,
                                                              const std::function<void(const std::string&)>& log);

/// Reads the run (run.json, samples/, track.json and the analyses of the chosen epochs when they
/// exist), trains the confident-learning folds (unless --folds 0), writes RUN/clean.json and RUN/clean.csv (one row per training sample: its scores at the
/// listed epoch and the detectors that flag it) and returns the record.
CleanRecord clean_run(const std::filesystem::path& run_dir, const CleanOptions& options,
                      const std::function<void(const std::string&)>& log);

}  // namespace filterscope
