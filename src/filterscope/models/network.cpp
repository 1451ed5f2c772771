#include "filterscope/models/network.h"

#include <algorithm>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/utils.h>

#include "filterscope/core/error.h"

namespace filterscope {

namespace nn = torch::nn;

const char* probe_kind_name(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::Conv: return "conv";
    case ProbeKind::ReLU: return "relu";
    case ProbeKind::MaxPool: return "maxpool";
    case ProbeKind::ReLU6: return "relu6";
    case ProbeKind::LeakyReLU: return "leaky_relu";
    case ProbeKind::SiLU: return "silu";
    case ProbeKind::GELU: return "gelu";
    case ProbeKind::Hardswish: return "hardswish";
    case ProbeKind::Hardsigmoid: return "hardsigmoid";
    case ProbeKind::Sigmoid: return "sigmoid";
    case ProbeKind::Tanh: return "tanh";
    case ProbeKind::AvgPool: return "avgpool";
    case ProbeKind::Linear: return "linear";
  }
  return "?";
}

const std::vector<std::string>& probe_kind_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (int k = 0; k <= static_cast<int>(ProbeKind::Linear); ++k) out.push_back(probe_kind_name(static_cast<ProbeKind>(k)));
    return out;
  }();
  return names;
}

const std::vector<std::string>& network_names() {
  static const std::vector<std::string> names = {"simple-cnn", "lenet5", "alexnet"};
  return names;
}

bool is_built_in_network(const std::string& name) {
  const auto& names = network_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

int64_t network_input_size(const std::string& name, int64_t image_size) {
  return name == "alexnet" ? 227 : image_size;
}

namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}
nn::MaxPool2d maxpool(int64_t kernel, int64_t stride) {
  return nn::MaxPool2d(nn::MaxPool2dOptions(kernel).stride(stride));
}

}  // namespace

NetworkImpl::NetworkImpl(std::string name, int64_t in_channels, int64_t num_classes,
                         int64_t input_size)
    : name_(std::move(name)),
      in_channels_(in_channels),
      num_classes_(num_classes),
      input_size_(input_size) {
  FS_CHECK(in_channels > 0 && num_classes > 1 && input_size > 0, "network ", name_,
           ": invalid shape (", in_channels, " channels, ", num_classes, " classes, input ",
           input_size, ")");
  features_ = nn::Sequential();
  classifier_ = nn::Sequential();
  int64_t hidden = 0;
  if (name_ == "simple-cnn") {
    // Three 3x3 convolutions (32, 64, 64 filters) with ReLU, max-pooling after the first two.
    features_->push_back(conv(in_channels, 32, 3));
    features_->push_back(nn::ReLU());
    features_->push_back(maxpool(2, 2));
    features_->push_back(conv(32, 64, 3));
    features_->push_back(nn::ReLU());
    features_->push_back(maxpool(2, 2));
    features_->push_back(conv(64, 64, 3));
    features_->push_back(nn::ReLU());
    hidden = 64;
  } else if (name_ == "lenet5") {
    // LeNet-5 with ReLU and max-pooling; the first convolution pads by 2 so that 28x28 inputs get
    // the 32x32 geometry of the original.
    features_->push_back(conv(in_channels, 6, 5, 1, 2));
    features_->push_back(nn::ReLU());
    features_->push_back(maxpool(2, 2));
    features_->push_back(conv(6, 16, 5));
    features_->push_back(nn::ReLU());
    features_->push_back(maxpool(2, 2));
  } else if (name_ == "alexnet") {
    // torchvision's layout.
    features_->push_back(conv(in_channels, 64, 11, 4, 2));
    features_->push_back(nn::ReLU());
    features_->push_back(maxpool(3, 2));
    features_->push_back(conv(64, 192, 5, 1, 2));
    features_->push_back(nn::ReLU());
    features_->push_back(maxpool(3, 2));
    features_->push_back(conv(192, 384, 3, 1, 1));
    features_->push_back(nn::ReLU());
    features_->push_back(conv(384, 256, 3, 1, 1));
    features_->push_back(nn::ReLU());
    features_->push_back(conv(256, 256, 3, 1, 1));
    features_->push_back(nn::ReLU());
    features_->push_back(maxpool(3, 2));
    avgpool_ = nn::AnyModule(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({6, 6})));
  } else {
    std::string list;
    for (const auto& n : network_names()) list += (list.empty() ? "" : ", ") + n;
    throw Error(detail::concat("--model: unknown network \"", name_, "\" (known: ", list, ")"));
  }
  register_module("features", features_);

  // Probe points and the flattened size, from one dry run at the intended input size.
  at::Tensor x = torch::zeros({1, in_channels, input_size, input_size});
  {
    torch::NoGradGuard no_grad;
    std::string owner;
    for (size_t i = 0; i < features_->size(); ++i) {
      const auto& layer = features_[i];
      try {
        x = run_layer(static_cast<int64_t>(i), x);
      } catch (const std::exception&) {
        throw Error(detail::concat("network ", name_, ": input of ", input_size, "x", input_size,
                                   " is too small (it vanishes at features.", i, ")"));
      }
      ProbePoint p;
      p.name = "features." + std::to_string(i);
      p.layer_index = static_cast<int64_t>(i);
      p.channels = x.size(1);
      if (layer->as<nn::Conv2d>()) {
        p.kind = ProbeKind::Conv;
        owner = p.name;
      } else {
        p.kind = layer->as<nn::ReLU>() ? ProbeKind::ReLU : ProbeKind::MaxPool;
      }
      p.owner_conv = owner;
      probes_.push_back(p);
    }
    if (!avgpool_.is_empty()) {
      x = avgpool_.forward(x);
      probes_.push_back({"avgpool", ProbeKind::AvgPool, static_cast<int64_t>(features_->size()), x.size(1), owner, 4});
    }
  }
  const int64_t flat = x.numel();
  if (name_ == "simple-cnn") {
    classifier_->push_back(nn::Linear(flat, hidden));
    classifier_->push_back(nn::ReLU());
    classifier_->push_back(nn::Linear(hidden, num_classes));
  } else if (name_ == "lenet5") {
    classifier_->push_back(nn::Linear(flat, 120));
    classifier_->push_back(nn::ReLU());
    classifier_->push_back(nn::Linear(120, 84));
    classifier_->push_back(nn::ReLU());
    classifier_->push_back(nn::Linear(84, num_classes));
  } else {
    classifier_->push_back(nn::Dropout(0.5));
    classifier_->push_back(nn::Linear(flat, 4096));
    classifier_->push_back(nn::ReLU());
    classifier_->push_back(nn::Dropout(0.5));
    classifier_->push_back(nn::Linear(4096, 4096));
    classifier_->push_back(nn::ReLU());
    classifier_->push_back(nn::Linear(4096, num_classes));
  }
  register_module("classifier", classifier_);

  // The classifier's linear layers and ReLUs are 2-D probe points [N, units] (dropout is not).
  std::string owner;
  for (size_t j = 0; j < classifier_->size(); ++j) {
    const auto& layer = classifier_[j];
    ProbePoint p;
    p.name = "classifier." + std::to_string(j);
    p.layer_index = static_cast<int64_t>(features_->size() + 1 + j);
    p.dims = 2;
    if (auto* linear = layer->as<nn::Linear>()) {
      p.kind = ProbeKind::Linear;
      p.channels = linear->options.out_features();
      owner = p.name;
    } else if (layer->as<nn::ReLU>()) {
      p.kind = ProbeKind::ReLU;
      p.channels = probes_.back().channels;
    } else {
      continue;
    }
    p.owner_conv = owner;
    probes_.push_back(p);
  }
}

at::Tensor NetworkImpl::run_layer(int64_t index, const at::Tensor& x) {
  const auto& layer = features_[static_cast<size_t>(index)];
  if (auto* c = layer->as<nn::Conv2d>()) {
    at::Tensor y = c->forward(x);
    auto mask = masks_.find(index);
    if (mask != masks_.end()) y = y * mask->second.to(y.device(), y.scalar_type());
    return y;
  }
  if (auto* r = layer->as<nn::ReLU>()) return r->forward(x);
  return layer->as<nn::MaxPool2d>()->forward(x);
}

at::Tensor NetworkImpl::run_classifier_layer(size_t index, const at::Tensor& x) {
  const auto& layer = classifier_[index];
  if (auto* l = layer->as<nn::Linear>()) return l->forward(x);
  if (auto* r = layer->as<nn::ReLU>()) return r->forward(x);
  return layer->as<nn::Dropout>()->forward(x);
}

at::Tensor NetworkImpl::head(const at::Tensor& features_out) {
  at::Tensor x = avgpool_.is_empty() ? features_out : avgpool_.forward(features_out);
  return classifier_->forward(x.flatten(1));
}

at::Tensor NetworkImpl::forward(const at::Tensor& x) {
  at::Tensor y = x;
  for (size_t i = 0; i < features_->size(); ++i) y = run_layer(static_cast<int64_t>(i), y);
  return head(y);
}

const ProbePoint& NetworkImpl::probe(const std::string& name) const {
  for (const auto& p : probes_)
    if (p.name == name) return p;
  std::string list;
  for (const auto& p : probes_) list += (list.empty() ? "" : ", ") + p.name;
  throw Error(detail::concat("network ", name_, " has no probe point \"", name, "\" (it has ", list,
                             ")"));
}

ProbeOutputs NetworkImpl::forward_probes(const at::Tensor& x, const std::vector<std::string>& probes,
                                         bool need_logits) {
  // Layer positions: features 0..F-1, the average pool F, the classifier's layers F+1...
  const int64_t f = static_cast<int64_t>(features_->size());
  const int64_t layers = f + 1 + static_cast<int64_t>(classifier_->size());
  std::vector<const ProbePoint*> wanted(static_cast<size_t>(layers), nullptr);
  int64_t last = -1;
  for (const auto& name : probes) {
    const ProbePoint& p = probe(name);
    wanted[static_cast<size_t>(p.layer_index)] = &p;
    last = std::max(last, p.layer_index);
  }
  ProbeOutputs out;
  auto keep = [&](int64_t position, const at::Tensor& y) {
    if (wanted[static_cast<size_t>(position)]) out.outputs.emplace_back(wanted[static_cast<size_t>(position)]->name, y);
  };
  const int64_t stop = need_logits ? layers - 1 : last;
  at::Tensor y = x;
  for (int64_t i = 0; i < f && i <= stop; ++i) {
    y = run_layer(i, y);
    keep(i, y);
  }
  if (stop >= f) {
    if (!avgpool_.is_empty()) y = avgpool_.forward(y);
    keep(f, y);
    y = y.flatten(1);
    for (int64_t j = 0; f + 1 + j <= stop; ++j) {
      y = run_classifier_layer(static_cast<size_t>(j), y);
      keep(f + 1 + j, y);
    }
    if (need_logits) out.logits = y;
  }
  return out;
}

void NetworkImpl::set_channel_mask(const std::string& conv_name, const at::Tensor& mask) {
  const ProbePoint& p = probe(conv_name);
  FS_CHECK(p.kind == ProbeKind::Conv, "can only mask a convolution's channels; ", conv_name, " is a ",
           probe_kind_name(p.kind), " (mask ", p.owner_conv, " instead)");
  FS_CHECK(mask.dim() == 1 && mask.size(0) == p.channels, "mask for ", conv_name, " must have ",
           p.channels, " entries, got shape ", mask.sizes());
  masks_[p.layer_index] = mask.to(at::kFloat).view({1, p.channels, 1, 1});
}

Network make_network(const std::string& name, int64_t in_channels, int64_t num_classes,
                     int64_t input_size) {
  return Network(name, in_channels, num_classes, input_size);
}

}  // namespace filterscope
