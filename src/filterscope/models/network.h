// The paper's networks as one layer-list module, with named probe points, forward passes that
// return chosen probe outputs, and channel masking. Everything later stages need from a network
// goes through this interface.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>

#include <map>
#include <string>
#include <vector>

namespace filterscope {

/// What made a probe point's output: a convolution, an elementwise activation, a pooling, or a fully
/// connected layer. Each has a name that `--layers` selects it by (probe_kind_name).
enum class ProbeKind { Conv, ReLU, MaxPool, ReLU6, LeakyReLU, SiLU, GELU, Hardswish, Hardsigmoid, Sigmoid, Tanh,
                       AvgPool, Linear };
/// "conv", "relu", "maxpool", "relu6" (also hardtanh), "leaky_relu", "silu", "gelu", "hardswish",
/// "hardsigmoid", "sigmoid", "tanh", "avgpool" (also adaptive), "linear".
const char* probe_kind_name(ProbeKind kind);
/// Every kind's name, in the enum's order.
const std::vector<std::string>& probe_kind_names();

/// A layer output that the analyses can read.
struct ProbePoint {
  std::string name;        ///< module path, e.g. "features.3", "classifier.1"
  ProbeKind kind;
  int64_t layer_index;     ///< position among the model's probe points' layers (forward order)
  int64_t channels;        ///< filters (C) of a map, units of a 2-D output
  std::string owner_conv;  ///< the layer with weights whose channels or units these are: the convolution
                           ///< (itself for a conv), or for a 2-D probe the fully connected layer
  int64_t dims = 4;        ///< 4: [N, C, H, W] maps (the GMM analysis takes these); 2: [N, units]

  bool is_map() const { return dims == 4; }
};

/// Probe outputs of one forward pass, in forward order.
struct ProbeOutputs {
  at::Tensor logits;                           ///< [N, classes]; undefined if not asked for
  std::vector<std::pair<std::string, at::Tensor>> outputs;  ///< name -> [N, C, H, W] or [N, units]
};

/// The networks filterscope builds: `features` (conv/ReLU/pool layers, probe points with maps), an
/// optional adaptive average pool (`avgpool`, a probe point too), and a `classifier` after
/// flattening whose linear layers and ReLUs are 2-D probe points. Parameter names follow
/// torchvision's ("features.0.weight"), so exports from PyTorch line up.
class NetworkImpl : public torch::nn::Module {
 public:
  /// name: simple-cnn, lenet5 or alexnet; in_channels/num_classes from the dataset;
  /// input_size: side of the square input the network is built for.
  NetworkImpl(std::string name, int64_t in_channels, int64_t num_classes, int64_t input_size);

  /// x: [N, in_channels, input_size, input_size] float32 -> logits [N, num_classes].
  at::Tensor forward(const at::Tensor& x);

  /// Runs forward and keeps the outputs of the named probe points. Stops after the last wanted
  /// probe when logits are not needed. Throws Error for an unknown probe name. Autograd records
  /// the pass unless the caller holds a NoGradGuard.
  ProbeOutputs forward_probes(const at::Tensor& x, const std::vector<std::string>& probes,
                              bool need_logits = false);

  const std::vector<ProbePoint>& probe_points() const { return probes_; }
  const ProbePoint& probe(const std::string& name) const;

  /// Zeroes channels of a convolution's output (the filters' weights and bias stay as they are,
  /// so the checkpoint is unchanged): mask [C] float, 0 = masked, 1 = kept.
  void set_channel_mask(const std::string& conv_name, const at::Tensor& mask);
  void clear_channel_masks() { masks_.clear(); }

  const std::string& name() const { return name_; }
  int64_t in_channels() const { return in_channels_; }
  int64_t num_classes() const { return num_classes_; }
  int64_t input_size() const { return input_size_; }

 private:
  at::Tensor run_layer(int64_t index, const at::Tensor& x);
  at::Tensor run_classifier_layer(size_t index, const at::Tensor& x);
  at::Tensor head(const at::Tensor& features_out);

  std::string name_;
  int64_t in_channels_, num_classes_, input_size_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::AnyModule avgpool_;
  torch::nn::Sequential classifier_{nullptr};
  std::vector<ProbePoint> probes_;
  std::map<int64_t, at::Tensor> masks_;  // features index of a conv -> [1, C, 1, 1]
};
TORCH_MODULE(Network);

/// Names accepted by make_network.
const std::vector<std::string>& network_names();

/// Whether `name` is one of network_names() (a run `train` made, which filterscope can retrain).
bool is_built_in_network(const std::string& name);

/// The input side a network is meant for on a dataset of `image_size` pixels: AlexNet needs
/// 227 (the paper resizes bicubically); the small networks take the images as they are.
int64_t network_input_size(const std::string& name, int64_t image_size);

/// Builds a network; throws Error for an unknown name or an input too small for it.
Network make_network(const std::string& name, int64_t in_channels, int64_t num_classes,
                     int64_t input_size);

}  // namespace filterscope
