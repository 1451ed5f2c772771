// What `activations` and `ood` share: which images a model is evaluated on, which of its probe
// points are hidden layers or its penultimate features, and one streaming pass over a dataset.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/data/dataset.h"
#include "filterscope/models/probed_model.h"
#include "filterscope/runs/model_source.h"

namespace filterscope {

/// The in-distribution images.
struct EvalSetOptions {
  int64_t images = 0;    ///< a seeded subset of the dataset's test split; 0 = the model's validation set
  int64_t set_seed = 0;  ///< seed of that subset and of every shifted or noise set made from it
  int64_t batch_size = 256;  ///< images per forward pass

  static const ParamTable<EvalSetOptions>& params();
};

/// The model's in-distribution evaluation images (its classes, its dataset's test split).
Dataset in_distribution_images(const ModelSource& source, const EvalSetOptions& options);

/// The model's training images (its run's training subset, or the TorchScript model's), a seeded
/// subset of `count` of them (0 = all).
Dataset training_images(const ModelSource& source, int64_t count, int64_t seed);

/// Throws Error naming `what` when the images of `data`, after the model's input transform, do not
/// have the shape the model takes.
void check_input_shape(const ProbedModel& model, const Dataset& data, const InputTransform& transform,
                       const std::string& what);

/// Probe points whose output is an elementwise activation (relu, relu6, leaky_relu, silu, gelu,
/// hardswish, hardsigmoid, sigmoid, tanh): the paper's hidden-layer outputs x_k = phi(f_k(...)).
/// A model without any gets every probe point but the last fully connected one.
std::vector<std::string> hidden_layers(const ProbedModel& model);

/// The penultimate features: the probe point just before the last fully connected layer when the
/// model ends in one, else the last probe point.
std::string feature_layer(const ProbedModel& model);

/// The names in a comma-separated --layers text (checked against the model), or `fallback` when
/// the text is empty. Throws Error listing the probe points for an unknown name.
std::vector<std::string> chosen_layers(const ProbedModel& model, const std::string& text, const std::string& flag,
                                       const std::vector<std::string>& fallback);

/// Runs the model over every image of `data` in batches (eval mode, no gradients) and calls
/// visit(start, labels, outputs) with the probes' outputs (on the CPU) and, when asked, the logits.
/// Adds the time spent in the model's forward passes to *forward_seconds when given.
void for_each_batch(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                    const std::vector<std::string>& probes, bool need_logits, int64_t batch_size,
                    const std::function<void(int64_t start, const at::Tensor& labels, const ProbeOutputs& out)>& visit,
                    double* forward_seconds = nullptr);

}  // namespace filterscope
