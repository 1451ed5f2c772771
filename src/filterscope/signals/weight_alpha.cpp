// The heavy-tailed self-regularisation exponent (Martin & Mahoney; WeightWatcher's alpha): per
// convolution and linear layer, the power-law exponent of its weights' eigenvalue spectrum
// (signals/weight_spectrum.h), and their mean. WeightWatcher calls a layer with alpha < 2
// over-trained; the rule stops at the first epoch whose mean falls below 2.
#include "filterscope/core/error.h"
#include "filterscope/models/probed_model.h"
#include "filterscope/signals/signal_kinds.h"
#include "filterscope/signals/weight_spectrum.h"

namespace filterscope::signal_kinds {

namespace {
class WeightAlpha : public TrainingSignal {
 public:
  explicit WeightAlpha(int64_t min_evals) : min_evals_(min_evals) {}
  SignalValue observe(const SignalEpoch& e) override {
    SignalValue v;
    FS_ASSERT(e.model != nullptr, "weight_alpha needs the model");
    double sum = 0;
    int64_t layers = 0;
    for (const auto& [name, w] : e.model->named_parameters()) {
      if (w.dim() != 2 && w.dim() != 4) continue;
      const std::vector<double> evals = layer_eigenvalues(w);
      if (static_cast<int64_t>(evals.size()) < min_evals_) continue;
      const PowerLawFit fit = fit_power_law(evals);
      v.parts.emplace_back(name, fit.alpha);
      if (std::isfinite(fit.alpha)) {
        sum += fit.alpha;
        ++layers;
      }
    }
    if (layers > 0) v.value = sum / static_cast<double>(layers);
    return v;
  }

 private:
  int64_t min_evals_;
};
}  // namespace

SignalInfo weight_alpha() {
  SignalInfo s;
  s.name = "weight_alpha";
  s.definition = "mean over conv/linear layers with >= --alpha-min-evals eigenvalues of the power-law exponent of W^T W's spectrum";
  s.source = "Martin & Mahoney, Implicit Self-Regularization in Deep Neural Networks (JMLR 2021); WeightWatcher";
  s.needs.model = true;
  s.live = false;  // beaten by label_wave over the grid (docs/results.md): not in the default alarm
  s.rule = [](const SignalOptions& o) { return StopRuleOptions{StopRule::FirstBelow, o.window, o.patience, 2.0}; };
  s.make = [](const SignalOptions& o) { return std::make_unique<WeightAlpha>(o.alpha_min_evals); };
  return s;
}

}  // namespace filterscope::signal_kinds
