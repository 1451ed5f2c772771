#include "filterscope/train/weight_log.h"

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "filterscope/core/error.h"

namespace filterscope {

NamedWeights weighted_layers(Network& network) {
  NamedWeights out;
  for (const auto& item : network->named_modules("", false)) {
    if (auto* conv = item.value()->as<torch::nn::Conv2dImpl>()) out.emplace_back(item.key(), conv->weight);
    else if (auto* fc = item.value()->as<torch::nn::LinearImpl>()) out.emplace_back(item.key(), fc->weight);
  }
  return out;
}

NamedWeights weighted_layers(const std::vector<std::pair<std::string, at::Tensor>>& named_parameters) {
  NamedWeights out;
  const std::string suffix = ".weight";
  for (const auto& [name, p] : named_parameters) {
    if (p.dim() != 4 && p.dim() != 2) continue;
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    out.emplace_back(name.substr(0, name.size() - suffix.size()), p);
  }
  return out;
}

namespace {

std::vector<double> to_doubles(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::vector<int64_t> to_int64s(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU, at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}
}  // namespace

std::vector<LogLayer> weight_log_layers(const NamedWeights& layers) {
  std::vector<LogLayer> out;
  for (const auto& [name, w] : layers)
    out.push_back({name, w.dim() == 4 ? "conv" : "linear", w.size(0), w.numel() / std::max<int64_t>(1, w.size(0))});
  return out;
}

std::vector<LogLayer> weight_log_layers(Network& network) { return weight_log_layers(weighted_layers(network)); }

RunLogSetup run_log_setup(Network& network, const Dataset& val, int64_t steps_per_epoch, int64_t log_every,
                          const std::string& source) {
  return run_log_setup(weighted_layers(network), val, steps_per_epoch, log_every, source);
}

RunLogSetup run_log_setup(const NamedWeights& layers, const Dataset& val, int64_t steps_per_epoch, int64_t log_every,
                          const std::string& source) {
  RunLogSetup setup;
  setup.layers = weight_log_layers(layers);
  setup.val_dataset_indices = to_int64s(val.indices);
  setup.val_labels = to_int64s(val.labels);
  setup.class_names = val.class_names;
  setup.steps_per_epoch = steps_per_epoch;
  setup.log_every = log_every;
  setup.source = source;
  return setup;
}

EpochOutcomes epoch_outcomes(int64_t epoch, const Evaluation& validation) {
  EpochOutcomes o;
  o.epoch = epoch;
  o.predicted = to_int64s(validation.predictions);
  o.true_prob = to_doubles(validation.true_probs);
  return o;
}

WeightStatsRecorder::WeightStatsRecorder(Network& network) : WeightStatsRecorder(weighted_layers(network)) {}

WeightStatsRecorder::WeightStatsRecorder(const NamedWeights& layers) {
  for (const auto& [name, w] : layers) {
    weights_.push_back(w);
    previous_.push_back(w.detach().clone());
  }
}

std::vector<LayerWeightStats> WeightStatsRecorder::record() {
  at::NoGradGuard no_grad;
  std::vector<LayerWeightStats> out;
  out.reserve(weights_.size());
  for (size_t i = 0; i < weights_.size(); ++i) {
    const at::Tensor w = weights_[i].detach().flatten(1);
    const at::Tensor prev = previous_[i].flatten(1);
    // All five numbers of all units in one tensor and one device-to-host copy.
    const at::Tensor stats = at::stack({w.norm(2, {1}), w.mean(1), w.std(1, /*unbiased=*/false), (w - prev).norm(2, {1})}, 1);
    const std::vector<double> v = to_doubles(stats);
    LayerWeightStats s;
    s.units.resize(static_cast<size_t>(w.size(0)));
    for (size_t u = 0; u < s.units.size(); ++u) s.units[u] = {v[4 * u], v[4 * u + 1], v[4 * u + 2], v[4 * u + 3]};
    const at::Tensor flat = w.reshape(-1).to(at::kFloat);
    s.hist_lo = flat.min().item<double>();
    s.hist_hi = flat.max().item<double>();
    const double hi = s.hist_hi > s.hist_lo ? s.hist_hi : s.hist_lo + 1e-12;
    const at::Tensor counts = at::histc(flat, kWeightHistogramBins, s.hist_lo, hi).to(at::kCPU, at::kLong).contiguous();
    s.hist_counts.assign(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel());
    previous_[i].copy_(weights_[i].detach());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace filterscope
