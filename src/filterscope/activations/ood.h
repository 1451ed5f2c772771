// `filterscope ood`: out-of-distribution detectors side by side. The model's in-distribution
// images (its test split) against covariate-shifted copies, noise images, classes left out of
// training (--classes) and another dataset; every detector scores every image in one streaming
// pass per set, fitted on the model's training images first. Writes ood.json (OodRecord),
// ood_scores.csv (one row per image, a column per detector) and fit_indices.npy.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "filterscope/runs/model_passes.h"
#include "filterscope/activations/records.h"
#include "filterscope/core/params.h"
#include "filterscope/runs/model_source.h"

namespace filterscope {

struct OodOptions {
  std::string sets = "invert,blur,noise,rotate,contrast,uniform,gaussian,held-out";  ///< OOD sets (see params)
  int64_t ood_images = 0;        ///< images per OOD set; 0 = as many as in-distribution
  std::string ood_dataset = "none";  ///< another dataset as a semantic-shift set
  std::string ood_data_dir = ""; ///< its folder
  int64_t fit_images = 10000;    ///< training images the statistics are fitted on (seeded subset); 0 = all
  std::string detectors = "";    ///< comma-separated; "" = all
  double odin_temperature = 1000;
  double odin_epsilon = 0.0014;  ///< input perturbation, in the network's (normalised) input units
  double energy_temperature = 1;
  int64_t knn_k = 50;
  std::string features = "";     ///< the penultimate features' probe point; "" = the one before the last fully connected layer
  int64_t mahalanobis_layers = 4;  ///< the multi-layer Mahalanobis: the last this-many hidden layers (and the features)
  int64_t pattern_layers = 3;    ///< the activation-pattern detector: the last this-many hidden layers
  std::string reduce = "mean";   ///< a map channel's one value (patterns, Mahalanobis of maps)
  double kl_smoothing = 1e-6;    ///< smoothing of the activation-pattern divergence
  std::string gmm_layer = "";    ///< the GMM detector's probe point; "" = the last hidden layer with maps of at least 2x2
  int64_t gmm_images = 1000;     ///< training images its mixtures are fitted on (the analysis's probe-set size)

  static const ParamTable<OodOptions>& params();
};

/// Every detector's name, in the order of the CSV's columns.
const std::vector<std::string>& ood_detector_names();

struct OodRequest {
  OodOptions ood;
  EvalSetOptions set;
};

OodRecord run_ood(ModelSource& model, const OodRequest& request, const std::filesystem::path& out,
                  const std::function<void(const std::string&)>& log);

}  // namespace filterscope
