// Label Wave (Yuan, Feng & Liu, ICLR 2025): the number of training samples whose prediction changed
// since the epoch before. It falls while the network learns the clean patterns, and its first
// minimum comes before the network starts to fit the mislabelled samples. The predictions are the
// training pass's (RUN/samples/), so the signal costs no extra pass.
#include "filterscope/core/error.h"
#include "filterscope/signals/signal_kinds.h"
#include "filterscope/train/sample_log.h"

namespace filterscope::signal_kinds {

namespace {
class LabelWave : public TrainingSignal {
 public:
  SignalValue observe(const SignalEpoch& e) override {
    SignalValue v;
    if (e.samples == nullptr || e.previous == nullptr) return v;  // no change to count at epoch 1
    FS_CHECK(e.samples->size() == e.previous->size(), "label_wave: epochs ", e.epoch - 1, " and ", e.epoch,
             " recorded ", e.previous->size(), " and ", e.samples->size(), " training samples");
    int64_t changes = 0;
    for (size_t i = 0; i < e.samples->size(); ++i) changes += e.samples->prediction[i] != e.previous->prediction[i];
    v.value = static_cast<double>(changes);
    return v;
  }
};
}  // namespace

SignalInfo label_wave() {
  SignalInfo s;
  s.name = "label_wave";
  s.definition = "training samples whose training-pass prediction differs from the epoch before (prediction changes)";
  s.source = "Yuan, Feng & Liu, Early Stopping Against Label Noise Without Validation Data (ICLR 2025)";
  s.needs.samples = true;
  s.live = true;  // the grid's winner, at no cost (docs/results.md): the live alarm's default set
  s.rule = [](const SignalOptions& o) { return StopRuleOptions{StopRule::MinWithPatience, o.window, o.patience, 0.0}; };
  s.make = [](const SignalOptions&) { return std::make_unique<LabelWave>(); };
  return s;
}

}  // namespace filterscope::signal_kinds
