// The registry of training signals: the one list `overfit`, the live alarm, the docs and the help
// texts read. A new signal is a file in signals/ with its factory declared in signal_kinds.h and one
// line here.
#include <algorithm>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"
#include "filterscope/signals/signal_kinds.h"

namespace filterscope {

const ParamTable<SignalOptions>& SignalOptions::params() {
  static const ParamTable<SignalOptions> table = {
      {"signals", &SignalOptions::signals,
       "training signals: comma-separated names, \"all\", \"live\" (the live alarm's default set) or, for `train` "
       "and the Python monitor, \"none\" (no live alarm); `filterscope overfit --help` lists the names"},
      {"signal-samples", &SignalOptions::signal_samples,
       "training samples whose per-sample gradients gsnr, eb_criterion and gradient_disparity use each epoch "
       "(a seeded subsample, the same every epoch)",
       Bounds::closed(2, 1e7)},
      {"signal-seed", &SignalOptions::signal_seed, "seed of that subsample", Bounds::closed(0, 1e15)},
      {"window", &SignalOptions::window,
       "epochs of the trailing moving average each curve is smoothed with before its stopping rule (1 = none)",
       Bounds::closed(1, 1000)},
      {"patience", &SignalOptions::patience,
       "epochs without a better smoothed value before a patience rule fires (and the span of the training-loss "
       "plateau)",
       Bounds::closed(1, 1000)},
      {"disparity-batch", &SignalOptions::disparity_batch,
       "gradient_disparity: size of each batch of a pair (pairs are consecutive batches of the subsample)",
       Bounds::closed(1, 1e6)},
      {"plateau", &SignalOptions::plateau,
       "train_loss: a fall over --patience epochs smaller than this share of the loss counts as a plateau",
       Bounds::closed(0, 1)},
      {"alpha-min-evals", &SignalOptions::alpha_min_evals,
       "weight_alpha: layers whose spectrum has fewer eigenvalues are left out (WeightWatcher's min_evals)",
       Bounds::closed(2, 1e9)},
  };
  return table;
}

const std::vector<SignalInfo>& training_signals() {
  static const std::vector<SignalInfo> registry = {
      signal_kinds::anomaly_count(),      signal_kinds::small_cluster_share(), signal_kinds::label_wave(),
      signal_kinds::gsnr(),               signal_kinds::eb_criterion(),        signal_kinds::gradient_disparity(),
      signal_kinds::weight_alpha(),       signal_kinds::train_loss(),
  };
  return registry;
}

SignalOptions live_alarm_defaults() {
  SignalOptions o;
  o.signals = "live";
  return o;
}

std::string training_signal_names() {
  std::string out;
  for (const auto& s : training_signals()) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

std::vector<const SignalInfo*> select_signals(const std::string& list, const std::string& flag) {
  std::vector<const SignalInfo*> out;
  const auto& all = training_signals();
  if (list == "all") {
    for (const auto& s : all) out.push_back(&s);
    return out;
  }
  if (list == "live") {
    for (const auto& s : all)
      if (s.live) out.push_back(&s);
    return out;
  }
  std::vector<bool> chosen(all.size(), false);
  bool any = false;
  for (const std::string& name : split_list(list)) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const SignalInfo& s) { return s.name == name; });
    FS_CHECK_USAGE(it != all.end(), flag, ": unknown signal '", printable(name, 60), "' (one of ",
                   training_signal_names(), ", or all, live)");
    chosen[static_cast<size_t>(it - all.begin())] = true;
    any = true;
  }
  FS_CHECK_USAGE(any, flag, ": no signal named (one of ", training_signal_names(), ", or all, live)");
  for (size_t i = 0; i < all.size(); ++i)
    if (chosen[i]) out.push_back(&all[i]);
  return out;
}

std::string describe_rule(const StopRuleOptions& r) {
  std::ostringstream out;
  const std::string smoothing =
      r.window > 1 ? " of the " + std::to_string(r.window) + "-epoch trailing average" : "";
  switch (r.rule) {
    case StopRule::MinWithPatience:
      out << "the lowest value" << smoothing << ", once " << r.patience << " epochs pass without a lower one";
      break;
    case StopRule::MaxWithPatience:
      out << "the highest value" << smoothing << ", once " << r.patience << " epochs pass without a higher one";
      break;
    case StopRule::FirstAbove:
      out << "the first epoch whose value" << smoothing << " exceeds " << r.threshold;
      break;
    case StopRule::FirstBelow:
      out << "the first epoch whose value" << smoothing << " falls below " << r.threshold;
      break;
    case StopRule::Plateau:
      out << "the first epoch at which the value" << smoothing << " fell by less than " << 100 * r.threshold
          << " % over the last " << r.patience << " epochs";
      break;
  }
  return out.str();
}

}  // namespace filterscope
