// The signals read off per-sample gradients (signals/gradient_stats.h), one shared pass an epoch:
//   gsnr                the mean over parameters of the gradient signal-to-noise ratio
//                       mean(g)^2 / var(g) (Liu et al., ICLR 2020); it falls as training turns from
//                       what all samples share to what single samples need;
//   eb_criterion        1 - (M / D) sum_k mean_k^2 / var_k over the D parameters with a variance
//                       (Mahsereci et al. 2017): above 0, the gradient is indistinguishable from its
//                       own noise and the evidence says stop. Derived for plain gradient descent;
//                       other optimisers are reported as an unmet assumption;
//   gradient_disparity  the mean over pairs of batches of || g(batch a) - g(batch b) ||_2
//                       (Forouzesh & Thiran 2021); it rises once the batches' gradients pull apart.
#include <cmath>
#include <string>
#include <utility>

#include "filterscope/signals/signal_kinds.h"

namespace filterscope::signal_kinds {

namespace {

// Each parameter tensor's share of the flat statistics, for the per-tensor parts.
struct Element {
  double snr_sum = 0;
  int64_t counted = 0;
};

// Σ mean(g)²/var(g) over the parameters whose gradient varies, and how many they are: GSNR's
// numerator and the EB criterion's sum (a parameter with variance 0 is in neither).
std::pair<double, int64_t> snr_sum(const GradientStats& g) {
  double sum = 0;
  int64_t counted = 0;
  for (size_t j = 0; j < g.mean.size(); ++j) {
    if (!(g.variance[j] > 0)) continue;
    sum += g.mean[j] * g.mean[j] / g.variance[j];
    ++counted;
  }
  return {sum, counted};
}

class Gsnr : public TrainingSignal {
 public:
  SignalValue observe(const SignalEpoch& e) override {
    SignalValue v;
    if (e.gradients == nullptr || e.gradients->samples < 2) return v;
    const auto [sum, counted] = snr_sum(*e.gradients);
    if (counted > 0) v.value = sum / static_cast<double>(counted);
    return v;
  }
};

class EbCriterion : public TrainingSignal {
 public:
  SignalValue observe(const SignalEpoch& e) override {
    SignalValue v;
    if (e.gradients == nullptr || e.gradients->samples < 2) return v;
    const auto [sum, d] = snr_sum(*e.gradients);
    if (d > 0) v.value = 1.0 - static_cast<double>(e.gradients->samples) / static_cast<double>(d) * sum;
    return v;
  }
};

class GradientDisparity : public TrainingSignal {
 public:
  SignalValue observe(const SignalEpoch& e) override {
    SignalValue v;
    if (e.gradients == nullptr || e.gradients->disparities.empty()) return v;
    double sum = 0;
    for (double d : e.gradients->disparities) sum += d;
    v.value = sum / static_cast<double>(e.gradients->disparities.size());
    return v;
  }
};

}  // namespace

SignalInfo gsnr() {
  SignalInfo s;
  s.name = "gsnr";
  s.definition = "mean over parameters of mean(g)^2 / var(g), per-sample gradients of --signal-samples training samples";
  s.source = "Liu et al., Understanding Why Neural Networks Generalize Well Through GSNR of Parameters (ICLR 2020)";
  s.needs.gradients = true;
  s.rule = [](const SignalOptions& o) { return StopRuleOptions{StopRule::MaxWithPatience, o.window, o.patience, 0.0}; };
  s.make = [](const SignalOptions&) { return std::make_unique<Gsnr>(); };
  return s;
}

SignalInfo eb_criterion() {
  SignalInfo s;
  s.name = "eb_criterion";
  s.definition = "1 - (M/D) sum_k mean_k^2 / var_k over the D parameters with a gradient variance (M samples)";
  s.source = "Mahsereci, Balles, Lassner & Hennig, Early Stopping without a Validation Set (2017)";
  s.needs.gradients = true;
  s.rule = [](const SignalOptions& o) { return StopRuleOptions{StopRule::FirstAbove, o.window, o.patience, 0.0}; };
  s.make = [](const SignalOptions&) { return std::make_unique<EbCriterion>(); };
  s.assumption = [](const SignalRunInfo& run) -> std::string {
    if (run.optimizer.empty()) return "assumes plain gradient descent; the run's optimiser is unknown";
    if (run.optimizer != "sgd") return "assumes plain gradient descent; the run used " + run.optimizer;
    if (run.momentum != 0.0) return "assumes plain gradient descent; the run used SGD with momentum " + std::to_string(run.momentum);
    return "";
  };
  return s;
}

SignalInfo gradient_disparity() {
  SignalInfo s;
  s.name = "gradient_disparity";
  s.definition = "mean over pairs of --disparity-batch batches of || g(a) - g(b) ||_2, from the same per-sample gradients";
  s.source = "Forouzesh & Thiran, Disparity Between Batches as a Signal for Early Stopping (ECML PKDD 2021)";
  s.needs.gradients = true;
  s.rule = [](const SignalOptions& o) { return StopRuleOptions{StopRule::MinWithPatience, o.window, o.patience, 0.0}; };
  s.make = [](const SignalOptions&) { return std::make_unique<GradientDisparity>(); };
  return s;
}

}  // namespace filterscope::signal_kinds
