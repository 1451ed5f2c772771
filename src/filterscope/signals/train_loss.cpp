// The naive baseline: the training loss, and the epoch its fall levels off.
#include "filterscope/signals/signal_kinds.h"

namespace filterscope::signal_kinds {

namespace {
class TrainLoss : public TrainingSignal {
 public:
  SignalValue observe(const SignalEpoch& e) override {
    SignalValue v;
    v.value = e.train_loss;
    return v;
  }
};
}  // namespace

SignalInfo train_loss() {
  SignalInfo s;
  s.name = "train_loss";
  s.definition = "the epoch's mean training-pass loss (metrics.csv)";
  s.source = "baseline";
  s.live = false;  // beaten by label_wave over the grid (docs/results.md): not in the default alarm
  s.rule = [](const SignalOptions& o) { return StopRuleOptions{StopRule::Plateau, o.window, o.patience, o.plateau}; };
  s.make = [](const SignalOptions&) { return std::make_unique<TrainLoss>(); };
  return s;
}

}  // namespace filterscope::signal_kinds
