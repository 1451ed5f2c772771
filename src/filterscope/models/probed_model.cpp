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

namespace {
class NetworkModel : public ProbedModel {
 public:
  explicit NetworkModel(Network network) : network_(std::move(network)) {}

  const std::vector<ProbePoint>& probe_points() const override { return network_->probe_points(); }

  ProbeOutputs forward_probes(const at::Tensor& x, const std::vector<std::string>& probes,
                              bool need_logits) override {
    torch::NoGradGuard no_grad;
    const bool was_training = network_->is_training();
    network_->eval();
    ProbeOutputs out = network_->forward_probes(x, probes, need_logits);
    network_->train(was_training);
    return out;
  }

  std::vector<int64_t> input_shape() const override {
    return {network_->in_channels(), network_->input_size(), network_->input_size()};
  }
  c10::Device device() const override { return network_->parameters().front().device(); }
  void to(const c10::Device& device) override { network_->to(device); }
  std::string description() const override { return network_->name() + " (built-in)"; }

 private:
  Network network_;
};
}  // namespace

std::unique_ptr<ProbedModel> probed_network(Network network) {
  return std::make_unique<NetworkModel>(std::move(network));
}

}  // namespace filterscope
