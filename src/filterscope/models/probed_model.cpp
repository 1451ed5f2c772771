#include "filterscope/models/probed_model.h"

#include <torch/nn/module.h>
#include <torch/utils.h>

#include "filterscope/core/error.h"

namespace filterscope {

const ProbePoint& ProbedModel::probe(const std::string& name) const {
  for (const auto& p : probe_points())
    if (p.name == name) return p;
  std::string list;
  for (const auto& p : probe_points()) list += (list.empty() ? "" : ", ") + p.name;
  throw Error(detail::concat(description(), " has no probe point \"", name, "\" (it has ", list, ")"));
}

at::Tensor ProbedModel::checked_mask(const std::string& conv, const at::Tensor& mask) const {
  const ProbePoint& p = probe(conv);
  FS_CHECK(p.kind == ProbeKind::Conv, "can only mask a convolution's channels; ", conv, " is a ",
           probe_kind_name(p.kind), p.owner_conv.empty() ? std::string() : " (mask " + p.owner_conv + " instead)");
  FS_CHECK(mask.dim() == 1 && mask.size(0) == p.channels, "mask for ", conv, " must have ", p.channels,
           " entries, got shape ", mask.sizes());
  return mask.to(at::kFloat).view({1, p.channels, 1, 1});
}

void zero_filter(ProbedModel& model, const std::string& conv, int64_t channel) {
  const ProbePoint& p = model.probe(conv);
  FS_CHECK(p.kind == ProbeKind::Conv && channel >= 0 && channel < p.channels, "no filter ", channel, " in ", conv);
  torch::NoGradGuard no_grad;
  bool found = false;
  for (auto& [name, value] : model.named_parameters()) {
    if (name == conv + ".weight" || name == conv + ".bias") {
      value.select(0, channel).zero_();
      found = found || name == conv + ".weight";
    }
  }
  FS_CHECK(found, model.description(), ": no parameter ", conv, ".weight to zero");
}

namespace {
class NetworkModel : public ProbedModel {
 public:
  explicit NetworkModel(Network network) : network_(std::move(network)) {}

  const std::vector<ProbePoint>& probe_points() const override { return network_->probe_points(); }

  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const override {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& item : network_->named_parameters()) out.emplace_back(item.key(), item.value());
    return out;
  }

  void set_channel_mask(const std::string& conv, const at::Tensor& mask) override {
    checked_mask(conv, mask);
    network_->set_channel_mask(conv, mask);
  }
  void clear_channel_masks() override { network_->clear_channel_masks(); }
  std::optional<Network> built_in() const override { return network_; }

  std::vector<int64_t> input_shape() const override {
    return {network_->in_channels(), network_->input_size(), network_->input_size()};
  }
  c10::Device device() const override { return network_->parameters().front().device(); }
  void to(const c10::Device& device) override { network_->to(device); }
  std::string description() const override { return network_->name() + " (built-in)"; }

 protected:
  ProbeOutputs run_probes(const at::Tensor& x, const std::vector<std::string>& probes, bool need_logits,
                          bool with_grad) override {
    at::AutoGradMode grad_mode(with_grad);
    const bool was_training = network_->is_training();
    network_->eval();
    ProbeOutputs out = network_->forward_probes(x, probes, need_logits);
    network_->train(was_training);
    return out;
  }

 private:
  Network network_;
};
}  // namespace

std::unique_ptr<ProbedModel> probed_network(Network network) {
  return std::make_unique<NetworkModel>(std::move(network));
}

}  // namespace filterscope
