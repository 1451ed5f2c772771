// What the analysis needs from a model, whatever it is: its probe points, a forward pass that
// returns chosen probe outputs (and logits), its input shape and device. Built-in networks and
// TorchScript files both provide it.
#pragma once
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "filterscope/models/network.h"

namespace filterscope {

class ProbedModel {
 public:
  virtual ~ProbedModel() = default;

  /// Every convolution, ReLU and max-pool output, in forward order.
  virtual const std::vector<ProbePoint>& probe_points() const = 0;

  /// Runs the model (eval mode, no gradients) on x [N, C, H, W] and returns the named probe
  /// outputs in forward order, plus the logits when asked for (undefined if the model's output is
  /// not an [N, classes] tensor).
  virtual ProbeOutputs forward_probes(const at::Tensor& x, const std::vector<std::string>& probes,
                                      bool need_logits) = 0;

  /// [C, H, W] of one input image.
  virtual std::vector<int64_t> input_shape() const = 0;
  virtual c10::Device device() const = 0;
  virtual void to(const c10::Device& device) = 0;
  /// One line for reports: "simple-cnn (built-in)", "resnet.pt (TorchScript)".
  virtual std::string description() const = 0;

  /// The probe called `name`; throws Error listing the model's probe points otherwise.
  const ProbePoint& probe(const std::string& name) const;
};

/// A built-in network as a ProbedModel (shares the network; masks set on it apply).
std::unique_ptr<ProbedModel> probed_network(Network network);

}  // namespace filterscope
