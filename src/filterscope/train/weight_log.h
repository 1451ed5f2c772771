// What the run log (runs/run_log.h) records about a network's weights: the layers with weights
// (every convolution and fully connected layer) and, per record, each unit's L2 norm, mean, standard
// deviation and change since the previous record, plus a histogram per layer. Used by `train` while
// it trains and by `record` on a finished run's checkpoints.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "filterscope/models/network.h"
#include "filterscope/runs/run_log.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

/// Bins of each layer's weight histogram.
inline constexpr int64_t kWeightHistogramBins = 40;

/// A layer's name and its weight: 4-D for a convolution, 2-D for a fully connected layer.
using NamedWeights = std::vector<std::pair<std::string, at::Tensor>>;

/// The network's convolutions and fully connected layers, in module order.
NamedWeights weighted_layers(Network& network);
/// The same for any model, from its parameters: each "<module>.weight" of 4 or 2 dimensions,
/// named by its module.
NamedWeights weighted_layers(const std::vector<std::pair<std::string, at::Tensor>>& named_parameters);

std::vector<LogLayer> weight_log_layers(Network& network);
std::vector<LogLayer> weight_log_layers(const NamedWeights& layers);

/// What a log of `network` trained with validation set `val` is about: its layers with weights, the
/// validation images in order, the class names, and the record interval.
RunLogSetup run_log_setup(Network& network, const Dataset& val, int64_t steps_per_epoch, int64_t log_every,
                          const std::string& source);
RunLogSetup run_log_setup(const NamedWeights& layers, const Dataset& val, int64_t steps_per_epoch, int64_t log_every,
                          const std::string& source);

/// An epoch's validation outcomes for the log, from the evaluation of the validation set.
EpochOutcomes epoch_outcomes(int64_t epoch, const Evaluation& validation);

/// Keeps the weights of the previous record (on the network's device) to measure each unit's change.
class WeightStatsRecorder {
 public:
  /// Snapshots the network's current weights as the previous record.
  explicit WeightStatsRecorder(Network& network);
  /// The same for any model's weighted layers (the tensors are the model's own).
  explicit WeightStatsRecorder(const NamedWeights& layers);
  /// Statistics of the current weights against the previous record's; then they become the previous record.
  std::vector<LayerWeightStats> record();

 private:
  std::vector<at::Tensor> weights_;   ///< the live parameters
  std::vector<at::Tensor> previous_;  ///< their copies at the previous record
};

}  // namespace filterscope
