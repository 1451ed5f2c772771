// What the analysis needs from a model, whatever it is: its probe points, a forward pass that
// returns chosen probe outputs (and logits), its input shape and device. Built-in networks and
// TorchScript files both provide it.
#pragma once
#include <c10/core/Device.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/models/network.h"

namespace filterscope {

class ProbedModel {
 public:
  virtual ~ProbedModel() = default;

  /// Every convolution, activation, pooling and fully connected output, in forward order.
  virtual const std::vector<ProbePoint>& probe_points() const = 0;

  /// Runs the model (eval mode, no gradients) on x [N, C, H, W] and returns the named probe
  /// outputs in forward order, plus the logits when asked for (undefined if the model's output is
  /// not an [N, classes] tensor). Channel masks apply.
  ProbeOutputs forward_probes(const at::Tensor& x, const std::vector<std::string>& probes, bool need_logits) {
    return run_probes(x, probes, need_logits, false);
  }

  /// The same pass in eval mode with autograd recording it: gradients reach the input (when it
  /// requires them) and the parameters. What Grad-CAM, activation maximisation and per-sample
  /// gradients build on.
  ProbeOutputs forward_probes_with_grad(const at::Tensor& x, const std::vector<std::string>& probes,
                                        bool need_logits) {
    return run_probes(x, probes, need_logits, true);
  }

  /// The parameters by module path ("features.0.weight", "layer1.0.conv1.weight"), in registration
  /// order; the tensors are the model's own (changing them changes the model).
  virtual std::vector<std::pair<std::string, at::Tensor>> named_parameters() const = 0;

  /// Multiplies a convolution's output channels by mask [C] (0 = filter masked, 1 = kept) in every
  /// later forward pass; the weights are not changed. Throws Error for a probe that is not a
  /// convolution or a mask of the wrong size.
  virtual void set_channel_mask(const std::string& conv, const at::Tensor& mask) = 0;
  virtual void clear_channel_masks() = 0;

  /// The built-in network behind the model, when it is one (checkpoints are written from it).
  virtual std::optional<Network> built_in() const { return std::nullopt; }

  /// [C, H, W] of one input image.
  virtual std::vector<int64_t> input_shape() const = 0;
  virtual c10::Device device() const = 0;
  virtual void to(const c10::Device& device) = 0;
  /// One line for reports: "simple-cnn (built-in)", "resnet.pt (TorchScript)".
  virtual std::string description() const = 0;

  /// The probe called `name`; throws Error listing the model's probe points otherwise.
  const ProbePoint& probe(const std::string& name) const;

 protected:
  virtual ProbeOutputs run_probes(const at::Tensor& x, const std::vector<std::string>& probes, bool need_logits,
                                  bool with_grad) = 0;

  /// The [1, C, 1, 1] float multiplier of a mask for `conv`, after checking both.
  at::Tensor checked_mask(const std::string& conv, const at::Tensor& mask) const;
};

/// Zeroes the weights and bias of filter `channel` of convolution `conv` (its parameters
/// "<conv>.weight" and "<conv>.bias"), so that the filter outputs zero without a mask. Exact only
/// where no normalisation follows the convolution (the paper's networks); with batch norm after
/// it, the channel becomes the norm's constant.
void zero_filter(ProbedModel& model, const std::string& conv, int64_t channel);

/// A built-in network as a ProbedModel (shares the network; masks set on it apply).
std::unique_ptr<ProbedModel> probed_network(Network network);

}  // namespace filterscope
