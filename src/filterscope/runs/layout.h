// The layout of a run directory, in one place: every file name and folder of a run is spelled here
// and nowhere else. A leaf module (std only), so that every stage that reads or writes part of a run
// (training writes checkpoints, the experiments write their tables) asks it for the path.
//
//   RUN/run.json                  settings, dataset indices, label noise, network
//   RUN/metrics.csv               one row per epoch
//   RUN/checkpoints/epoch-NNN.pt  model + optimizer + settings
//   RUN/analysis/epoch-NNN/       analysis.json, filters.csv, outliers.csv, projections/
//   RUN/track.json, track.csv     anomaly counts per epoch (hypothesis 1)
//   RUN/gradients.json, .csv      Table 3 (hypothesis 2)
//   RUN/mask.json, .csv           Tables 4-6 (hypothesis 3)
//   RUN/verdicts.json             a verdict per hypothesis
//   RUN/samples/epoch-NNN.csv     every training sample's loss, margin and outcome in that epoch's training passes
//   RUN/clean.json, clean.csv     the label-noise detectors compared, and the samples each flags
//   RUN/folds/fold-K/             confident learning's K-fold runs (each a run without its fold)
//   RUN/folds/probabilities/epoch-NNN.npy  out-of-sample probabilities of every training sample
//   RUN/overfit.json, overfit.csv the training signals per epoch and their stopping epochs
//   RUN/data/                     a monitored run's own data (tensors a Python loop trained on)
//   RUN/report.html               the page
//   RUN/run.sqlite                the run log of the explorer (runs/run_log.h)
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace filterscope {

/// "epoch-007" (at least three digits; epoch 1000 is "epoch-1000").
std::string epoch_name(int64_t epoch);

/// The epoch of a name made by epoch_name (with `suffix`, e.g. ".pt"); nullopt for other names.
std::optional<int64_t> parse_epoch_name(const std::string& name, const std::string& suffix = "");

/// Paths inside one run directory. Holds the directory as the user gave it (records quote it), so
/// a relative directory stays relative.
class RunLayout {
 public:
  explicit RunLayout(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }

  std::filesystem::path run_json() const { return root_ / "run.json"; }
  std::filesystem::path metrics_csv() const { return root_ / "metrics.csv"; }
  std::filesystem::path checkpoints_dir() const { return root_ / "checkpoints"; }
  std::filesystem::path checkpoint(int64_t epoch) const;
  std::filesystem::path analyses_dir() const { return root_ / "analysis"; }
  std::filesystem::path analysis_dir(int64_t epoch) const;
  std::filesystem::path analysis_json(int64_t epoch) const { return analysis_dir(epoch) / kAnalysisJson; }
  std::filesystem::path track_json() const { return root_ / "track.json"; }
  std::filesystem::path track_csv() const { return root_ / "track.csv"; }
  std::filesystem::path gradients_json() const { return root_ / kGradientsJson; }
  std::filesystem::path gradients_csv() const { return root_ / kGradientsCsv; }
  std::filesystem::path mask_json() const { return root_ / kMaskJson; }
  std::filesystem::path mask_csv() const { return root_ / kMaskCsv; }
  std::filesystem::path verdicts_json() const { return root_ / "verdicts.json"; }
  std::filesystem::path samples_dir() const { return root_ / "samples"; }
  std::filesystem::path sample_epoch_csv(int64_t epoch) const;
  std::filesystem::path clean_json() const { return root_ / kCleanJson; }
  std::filesystem::path clean_csv() const { return root_ / kCleanCsv; }
  std::filesystem::path report_html() const { return root_ / "report.html"; }
  std::filesystem::path overfit_json() const { return root_ / "overfit.json"; }
  std::filesystem::path overfit_csv() const { return root_ / "overfit.csv"; }
  /// `clean --retrain`: the run retrained without a detector's flagged samples and without random ones.
  std::filesystem::path retrain_dir(const std::string& detector) const { return root_ / ("retrain-" + detector); }
  std::filesystem::path retrain_arm(const std::string& detector, const std::string& arm) const {
    return retrain_dir(detector) / arm;
  }
  std::filesystem::path retrain_removed(const std::string& detector, const std::string& arm) const {
    return retrain_arm(detector, arm) / "removed.txt";
  }
  std::filesystem::path retrain_json(const std::string& detector) const { return retrain_dir(detector) / "retrain.json"; }
  /// Confident learning's cross-validation: a run per fold, trained without that fold's samples.
  std::filesystem::path folds_dir() const { return root_ / "folds"; }
  std::filesystem::path fold_run(int64_t fold, int64_t folds) const;
  /// The dataset indices a fold's run leaves out (its --exclude file).
  std::filesystem::path fold_held_out(int64_t fold, int64_t folds) const;
  /// The held-out probabilities [N, classes] float64 of every training position at `epoch`.
  std::filesystem::path fold_probabilities(int64_t epoch, int64_t folds) const;
  /// The data a monitored (Python) run was trained on, in the npy dataset layout (data/options.h).
  std::filesystem::path data_dir() const { return root_ / "data"; }
  std::filesystem::path run_log() const { return root_ / "run.sqlite"; }

  /// Whether root holds a run.json.
  bool is_run() const;

  /// Trained epochs (1, 2, ...) with a checkpoint file, ascending. The initial weights (epoch 0,
  /// written before training starts) are not among them: no study treats them as a trained epoch.
  std::vector<int64_t> checkpoint_epochs() const;

  /// The network at initialisation, RUN/checkpoints/epoch-000.pt (what `activations` compares the
  /// trained network with); runs trained before filterscope kept it have none.
  std::filesystem::path initial_checkpoint() const { return checkpoint(0); }

  /// Epochs with an analysis.json, ascending.
  std::vector<int64_t> analysed_epochs() const;

  /// The run directory a checkpoint file belongs to (RUN for RUN/checkpoints/epoch-NNN.pt), or
  /// nullopt when the file does not sit in a run's checkpoints folder. Relative paths are made
  /// absolute against the working directory first.
  static std::optional<RunLayout> of_checkpoint(const std::filesystem::path& checkpoint_file);

  /// Names of the files inside an analysis folder.
  static constexpr const char* kAnalysisJson = "analysis.json";
  static constexpr const char* kFiltersCsv = "filters.csv";
  static constexpr const char* kOutliersCsv = "outliers.csv";
  static constexpr const char* kProjectionsDir = "projections";
  /// The tables of one model outside a run study go beside its analysis, under the same names.
  static constexpr const char* kGradientsJson = "gradients.json";
  static constexpr const char* kGradientsCsv = "gradients.csv";
  static constexpr const char* kMaskJson = "mask.json";
  static constexpr const char* kMaskCsv = "mask.csv";
  static constexpr const char* kCleanJson = "clean.json";
  static constexpr const char* kCleanCsv = "clean.csv";

 private:
  std::filesystem::path root_;
};

/// The folder of a command on one model (ood, activations, visualize, hierarchy): inside the model's
/// analysis folder (RUN/analysis/epoch-NNN/ for a run's checkpoint, "<file stem>-analysis" beside a
/// file) unless --out says otherwise.
inline std::filesystem::path command_folder(const std::filesystem::path& analysis_dir, const std::string& command) {
  return analysis_dir / command;
}

/// Where `train` puts a run without --out: runs/MODEL-DATASET-sSEED.
std::filesystem::path default_run_dir(const std::string& model, const std::string& dataset, int64_t seed);

/// The files each command writes into its folder: spelled here, asked for by the features and pages.
namespace ood_files {
inline constexpr const char* kJson = "ood.json";
inline constexpr const char* kScoresCsv = "ood_scores.csv";
inline constexpr const char* kFitIndices = "fit_indices.npy";
inline constexpr const char* kPage = "ood.html";
/// The GMM detector's fitted model, one array per FilterGmmModel field (map_mean.npy, components.npy,
/// residual_var.npy, weights.npy, means.npy, covariances.npy, usable.npy): to score other images with
/// it, and for tests/activations/check_ood_reference.py to recompute the score.
inline constexpr const char* kGmmModelDir = "gmm_model";
}  // namespace ood_files

namespace activations_files {
inline constexpr const char* kJson = "activations.json";
inline constexpr const char* kPage = "activations.html";
/// An array of the activations folder, relative to it: [against/]GROUP/STEM[SUFFIX].npy, GROUP one
/// of frequencies, histograms, interactions, kl (what activations.json names).
std::string array(const std::string& prefix, const std::string& group, const std::string& stem, const std::string& suffix);
}  // namespace activations_files

namespace visualize_files {
inline constexpr const char* kJson = "visualize.json";
inline constexpr const char* kPage = "visualize.html";
inline constexpr const char* kAmImages = "am_images.npy";
inline constexpr const char* kAmStart = "am_start.npy";
inline constexpr const char* kAmGrid = "am_grid.png";
inline constexpr const char* kFoolStart = "fool_start.npy";
inline constexpr const char* kFoolImages = "fool_images.npy";
inline constexpr const char* kFoolDifference = "fool_difference.npy";
inline constexpr const char* kFoolGrid = "fool.png";
inline constexpr const char* kGradcam = "gradcam.npy";
inline constexpr const char* kGradcamGrid = "gradcam.png";
inline constexpr const char* kTopGrid = "top_images.png";
}  // namespace visualize_files

namespace hierarchy_files {
inline constexpr const char* kJson = "hierarchy.json";
inline constexpr const char* kPage = "hierarchy.html";
inline constexpr const char* kRepresentatives = "representatives.npy";
inline constexpr const char* kDistances = "distances.npy";
/// tree-CLASS.json
std::string tree(int64_t class_index);
}  // namespace hierarchy_files

/// `filterscope study OUT` and `filterscope grid OUT`.
namespace study_files {
inline constexpr const char* kJson = "study.json";
inline constexpr const char* kMarkdown = "study.md";
inline constexpr const char* kPage = "study.html";
}  // namespace study_files
namespace grid_files {
inline constexpr const char* kJson = "overfit-study.json";
inline constexpr const char* kMarkdown = "overfit-study.md";
inline constexpr const char* kCsv = "overfit-study.csv";
/// OUT/runs/NETWORK-DATASET-nPCT/seed-S
std::filesystem::path run(const std::filesystem::path& out, const std::string& network, const std::string& dataset,
                          const std::string& noise_percent, int64_t seed);
}  // namespace grid_files

}  // namespace filterscope
