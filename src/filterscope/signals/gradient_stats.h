// Per-sample gradients of the training loss on a fixed subsample of training images, reduced to
// what GSNR, the evidence-based criterion and gradient disparity need: each parameter element's
// mean and variance over the samples, and the distances between the mean gradients of consecutive
// batches. The model runs in eval mode (dropout off, batch norm on its running statistics), so a
// checkpoint gives the same numbers during training and afterwards.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "filterscope/data/dataset.h"
#include "filterscope/signals/signal.h"

namespace filterscope {

class ProbedModel;

/// The subsample: network inputs and labels of `positions` (training positions, ascending).
struct GradientSubsample {
  std::vector<int64_t> positions;
  at::Tensor inputs;  ///< float32 [M, C, H, W], normalised
  at::Tensor labels;  ///< int64 [M]
};

/// A seeded choice of min(count, N) training positions (the same for every epoch of a run).
GradientSubsample draw_gradient_subsample(const Dataset& train, const InputTransform& transform, int64_t count,
                                          int64_t seed);

/// One backward pass per sample (batch of one), accumulated in float64 in sample order (Welford's
/// update), so the numbers do not depend on batching. Disparity pairs are samples [2kB, (2k+1)B) and
/// [(2k+1)B, (2k+2)B) for batch size B; an incomplete last pair is left out.
GradientStats gradient_stats(ProbedModel& model, const GradientSubsample& subsample, int64_t disparity_batch);

}  // namespace filterscope
