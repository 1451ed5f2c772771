// The files `activations` and `ood` write, as typed records (format, to_json, from_json in one
// place): activations.json and ood.json. The arrays behind them are .npy files the records name.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/runs/analysis_record.h"

namespace filterscope {

/// One set of images a model was run on.
struct ImageSetRecord {
  std::string name;   ///< "in", "shift" (activations); "in", "invert", "mnist-json", ... (ood)
  std::string kind;   ///< in, covariate, semantic, noise
  std::string what;   ///< one line: where the images come from
  int64_t images = 0;
  std::vector<int64_t> class_sizes;  ///< labelled sets only
};

struct PatternLayerRecord {
  std::string name, kind;
  int64_t neurons = 0;
  bool map = false;  ///< a convolutional map (one value per channel by --reduce)
};

/// Sparsity of one layer's class-wise frequencies.
struct PatternSummary {
  std::string model, set, significance, layer;  ///< model: "model" or "against"; significance: s1 or s2
  double mean_frequency = 0;  ///< mean over classes and neurons: the share of neurons significant in an image
  double share_never = 0;     ///< neurons significant in no image of the set
  double share_rare = 0;      ///< neurons with frequency below 0.05, averaged over classes
  std::string frequencies_file, histogram_file;  ///< [classes, neurons] float64, [classes, 100] int64
};

/// Whether sparsity grows with depth: Spearman's rho of the layer position against its mean frequency.
struct DepthTrend {
  std::string model, set, significance;
  std::vector<double> mean_frequency;  ///< per layer, in forward order
  double spearman = 0;                 ///< NaN (null) with fewer than 3 layers or a constant series
  std::optional<bool> sparser_with_depth;
};

struct DivergenceRecord {
  std::string model, significance, layer;
  std::string pair;  ///< in-in, shift-shift, in-shift (KL(in_i || shift_j)), shift-in
  std::string file;  ///< [classes, classes] float64
  double mean_between_classes = 0;  ///< mean off the diagonal
  double mean_same_class = 0;       ///< mean of the diagonal: the same class in both sets; NaN (null) for in-in, shift-shift
};

struct InteractionRecord {
  std::string model, set, layer, input_layer;
  int64_t inputs = 0, outputs = 0;
  double threshold = 0;        ///< 1 / inputs
  double mean_frequency = 0;   ///< the share of a layer's interactions significant in an image
  std::string histogram_file;  ///< [classes, 100] int64: interactions per frequency bin
  std::optional<std::string> frequencies_file;  ///< [classes, outputs, inputs] float64, when not too large
};

struct ActivationsRecord {
  static constexpr const char* kFormat = "filterscope-activations/1";
  ModelRecord model;
  std::optional<ModelRecord> against;  ///< the second model (e.g. the untrained network)
  nlohmann::json settings;
  std::vector<std::string> class_names;
  std::vector<ImageSetRecord> sets;
  std::vector<PatternLayerRecord> layers;
  std::vector<PatternSummary> summaries;
  std::vector<DepthTrend> trends;
  std::vector<DivergenceRecord> divergences;
  std::vector<InteractionRecord> interactions;
  std::vector<std::string> notes;
  double seconds = 0;          ///< the whole computation
  double forward_seconds = 0;  ///< of which the model's forward passes (input preparation included)

  nlohmann::json to_json() const;
  static ActivationsRecord from_json(const nlohmann::json& json, const std::string& source);
};

/// One detector on one OOD set.
struct DetectorResult {
  std::string set;
  double auroc = 0, fpr95 = 0, aupr_in = 0, aupr_out = 0;
  std::vector<double> roc_fpr, roc_tpr;
};

struct DetectorRecord {
  std::string name;  ///< msp, max_logit, energy, odin, mahalanobis, mahalanobis_multi, knn, pattern, gmm
  std::string what;  ///< one line: the score and its settings
  std::vector<DetectorResult> sets;
  double seconds = 0;  ///< scoring time (fitting included)
};

struct OodRecord {
  static constexpr const char* kFormat = "filterscope-ood/1";
  ModelRecord model;
  nlohmann::json settings;
  ImageSetRecord in_distribution;
  ImageSetRecord fit;  ///< the training images the statistics were fitted on
  std::vector<ImageSetRecord> ood_sets;
  std::vector<DetectorRecord> detectors;
  std::string feature_layer;
  std::vector<std::string> mahalanobis_layers, pattern_layers;
  std::string gmm_layer;
  int64_t gmm_filters = 0;        ///< filters with a usable mixture
  int64_t gmm_layer_filters = 0;  ///< the layer's filters (the rest had maps that did not vary, or no fit)
  double in_accuracy = 0;   ///< accuracy on the in-distribution images
  std::vector<std::string> notes;
  double seconds = 0;          ///< the whole computation
  double forward_seconds = 0;  ///< of which the forward passes of fitting and scoring (ODIN's are its own)

  nlohmann::json to_json() const;
  static OodRecord from_json(const nlohmann::json& json, const std::string& source);
};

ActivationsRecord read_activations_record(const std::filesystem::path& file);
OodRecord read_ood_record(const std::filesystem::path& file);

}  // namespace filterscope
