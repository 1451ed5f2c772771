// Stopping rules on a per-epoch curve: plain functions over numbers, shared by every training
// signal (signals/signal.h), the offline `overfit` and the live alarm during training. Each rule is
// causal: the epoch it names at epoch t depends on the curve up to t only, so the alarm that rings
// during training and the prediction made afterwards from the whole curve agree.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace filterscope {

/// How a signal's stopping epoch follows from its curve.
enum class StopRule {
  MinWithPatience,  ///< the best (lowest) smoothed value, once it has not improved for `patience` epochs
  MaxWithPatience,  ///< the same for the highest value
  FirstAbove,       ///< the first epoch whose smoothed value exceeds `threshold`
  FirstBelow,       ///< the first epoch whose smoothed value falls below `threshold`
  Plateau,          ///< the first epoch e whose smoothed value fell by less than `threshold` x its value p epochs before
};

/// "min-with-patience", ...: the rule's name in overfit.json and the docs.
std::string stop_rule_name(StopRule rule);

struct StopRuleOptions {
  StopRule rule = StopRule::MinWithPatience;
  int64_t window = 3;      ///< trailing moving average over this many epochs (1 = none)
  int64_t patience = 5;    ///< epochs without improvement (or the plateau's span)
  double threshold = 0.0;  ///< FirstAbove/FirstBelow: the level; Plateau: the relative fall
};

/// The trailing moving average: value e is the mean of the finite values among e-window+1..e
/// (NaN when none is finite). Epochs are positions in `curve`.
std::vector<double> trailing_average(const std::vector<double>& curve, int64_t window);

/// What a rule says of a curve (one value per epoch, epoch = position + 1; NaN where the signal
/// has no value, e.g. Label Wave at epoch 1).
struct StopDecision {
  bool fired = false;         ///< the rule's condition was met within the curve
  int64_t fired_at = 0;       ///< the epoch at which it was met (what a live alarm prints); 0 when not fired
  int64_t predicted = 0;      ///< the epoch to stop at (best epoch or the first crossing); see decide_stop
  std::vector<double> smoothed;
};

/// Applies the rule. When it never fires, `predicted` is the epoch a user would keep at the end of
/// the run: the best smoothed value for the patience rules, the last epoch for the others; 0 when
/// the curve has no finite value.
StopDecision decide_stop(const std::vector<double>& curve, const StopRuleOptions& options);

}  // namespace filterscope
