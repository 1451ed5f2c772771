// Running a network over a probe set and handing over its probe outputs layer by layer, within a
// memory budget: the feature maps of every layer of N images rarely fit at once (AlexNet's first
// convolution alone is 1.2 GB for 1,000 images).
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/data/dataset.h"
#include "filterscope/models/probed_model.h"

namespace filterscope {

struct CaptureOptions {
  int64_t batch_size = 250;       ///< images per forward pass (fewer when the memory budget asks)
  int64_t max_memory_mb = 2048;   ///< feature maps held at once, plus the forward pass's outputs and their analysis

  static const ParamTable<CaptureOptions>& params();
};

/// The part of --max-memory kept out of the feature maps: the forward pass's outputs of a batch
/// while maps are filled, then the analysis (PCA, clustering) of the maps a pass holds.
int64_t capture_reserve_bytes(const CaptureOptions& options);

/// Per-sample shape of each named probe's output for the network's input size: [C, H, W] for maps,
/// [units] for 2-D probes.
std::vector<std::vector<int64_t>> probe_shapes(ProbedModel& model, const std::vector<std::string>& probes);

/// A run of filters of one probe: a rank of a sharded analysis captures only its own.
struct ChannelRange {
  int64_t first = 0;
  int64_t count = -1;  ///< -1: every filter from `first` on
};

/// Filters first..first+count-1 of one probe, captured in one pass. A probe whose maps do not fit
/// the budget at once comes in several pieces, in filter order, in consecutive passes. A 2-D probe
/// ([N, units]) always comes whole.
struct CapturePiece {
  std::string probe;
  int64_t first = 0;
  int64_t count = 0;

  bool operator==(const CapturePiece& other) const {
    return probe == other.probe && first == other.first && count == other.count;
  }
};

struct CapturePlan {
  std::vector<std::vector<CapturePiece>> passes;  ///< forward order kept within and across passes
  int64_t batch_size = 0;                         ///< images per forward pass
};

/// Splits the probes (all their filters, or the given ranges) into passes whose maps for n images
/// fit --max-memory less its reserve, and picks the batch size whose forward outputs fit the
/// reserve. Throws Error naming the probe and the memory it needs when one filter's maps (a whole
/// 2-D probe) or one image's forward pass cannot fit: before any work starts.
CapturePlan plan_capture(ProbedModel& model, const std::vector<std::string>& probes, int64_t n,
                         const CaptureOptions& options, const std::vector<ChannelRange>& channels = {});

/// Runs the model (eval mode, no gradients, on its device) over the samples at `positions` of
/// `data` and calls consume(piece, maps) for each piece of the plan, maps [N, count, H, W] (or
/// [N, units] for a 2-D probe) float32 on the CPU, pass by pass. With `predictions`, also sets it
/// to the model's predicted class per sample (int64 [N], taken in the last pass, which reaches the
/// deepest probe anyway; undefined when the model's output is not [N, classes]). channels (empty,
/// or one per probe): capture only those filters of a map probe.
void capture_probes(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                    const at::Tensor& positions, const std::vector<std::string>& probes,
                    const CaptureOptions& options,
                    const std::function<void(const CapturePiece&, const at::Tensor&)>& consume,
                    at::Tensor* predictions = nullptr, const std::vector<ChannelRange>& channels = {});

/// Mean absolute activation of each filter: maps [N, C, H, W] -> [C] float64. Absolute values,
/// because convolution outputs are signed and a plain mean can cancel to zero. Each filter is summed
/// in one fixed order whatever the threads and whichever filters come with it, so that a rank
/// holding some of a layer's filters gets the bits one process gets.
at::Tensor mean_abs_activation(const at::Tensor& maps);

}  // namespace filterscope
