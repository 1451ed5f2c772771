// Hypothesis 2 (paper, Table 3): outlier samples have larger gradients. On the well-trained and the
// overfit checkpoint, the mean absolute gradient of each sample's loss with respect to each layer's
// parameters, averaged over the outlier samples of that checkpoint's analysis and over the other
// (normal) probe samples.
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/runs/run_analyses.h"

namespace filterscope {

struct GradientOptions {
  int64_t well_trained_epoch = 0;  ///< 0 = the well-trained epoch of RUN/track.json
  int64_t overfit_epoch = 0;       ///< 0 = the overfit epoch of RUN/track.json

  static const ParamTable<GradientOptions>& params();
};

/// Per-sample gradient sizes of a model.
struct SampleGradients {
  std::vector<std::string> layers;  ///< modules that own parameters ("features.0", "classifier.1"), in order
  std::vector<int64_t> parameters;  ///< parameter count of each
  at::Tensor per_layer;             ///< [N, L] float64: mean |dloss/dtheta| over the layer's parameters
  at::Tensor overall;               ///< [N] float64: the same over all parameters
};

/// One backward pass per sample (eval mode: dropout off), cross-entropy against the sample's label
/// as stored in `samples` (for a training probe set, the label trained on), on the model's device.
/// Works on any model: a built-in network or a TorchScript file (its parameters take gradients for
/// the pass; channel masks set on the model apply).
SampleGradients per_sample_gradients(ProbedModel& model, const Dataset& samples, const InputTransform& transform);

/// Table 3 for one checkpoint: per layer and overall, the mean over outlier samples and over
/// normal samples and their ratio, with a one-sided rank-sum test on the overall values.
/// `outlier` marks probe samples ([N] bool). Means are NaN (null in JSON) where a group is empty;
/// role, epoch and note are left for the caller.
GradientTable gradient_table(const SampleGradients& gradients, const std::vector<bool>& outlier);

/// Runs both checkpoints (analysing them first when needed) and writes RUN/gradients.json and
/// RUN/gradients.csv (one row per sample and epoch). Returns gradients.json's record.
GradientsRecord gradient_study(RunAnalyses& analyses, const GradientOptions& options,
                              const std::function<void(const std::string&)>& log);

/// The same table for one model (a checkpoint file or a TorchScript export) with its analysis:
/// writes gradients.json and gradients.csv into out_dir, with one entry of role "model".
GradientsRecord model_gradients(ModelSource& source, ModelAnalysis& analysis, const std::filesystem::path& out_dir,
                               const std::function<void(const std::string&)>& log);

}  // namespace filterscope
