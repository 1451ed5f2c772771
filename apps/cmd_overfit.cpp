// filterscope overfit: when did the run start to overfit, by every training signal, beside the
// oracle (the lowest validation loss) where the run has a validation set.
#include <cmath>
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/core/runtime.h"
#include "filterscope/core/text.h"
#include "filterscope/signals/overfit.h"

namespace filterscope::cli {

namespace {
struct OverfitArgs {
  std::string run_dir;
  SignalOptions signals;
  ProbeSetOptions probe;
  AnalyzeOptions analyze;
  ReuseOptions reuse;
  RuntimeOptions runtime;
};

void print_overfit(const OverfitRecord& r) {
  if (r.oracle_epoch)
    std::printf("\noracle (lowest validation loss): epoch %lld, val acc %s\n", static_cast<long long>(*r.oracle_epoch),
                percent(r.oracle_val_acc).c_str());
  else
    std::printf("\nthe run has no validation set: each signal's stopping epoch, with nothing to score it against\n");
  std::printf("\n%-20s %9s %6s %13s %9s %9s  %s\n", "signal", "stop at", "fired", "val acc there", "acc lost",
              "cost/epoch", "rule");
  for (const auto& s : r.signals) {
    char cost[32] = "n/a";
    if (std::isfinite(s.cost_share)) std::snprintf(cost, sizeof cost, "%.1f%%", 100 * s.cost_share);
    std::printf("%-20s %9lld %6s %13s %9s %9s  %s\n", s.name.c_str(), static_cast<long long>(s.predicted_epoch),
                s.fired ? "yes" : "no", percent(s.val_acc_at_predicted).c_str(), percent(s.val_acc_lost).c_str(), cost,
                s.rule_text.c_str());
    if (!s.assumption.empty()) std::printf("%-20s   note: %s\n", "", s.assumption.c_str());
  }
}
}  // namespace

void register_overfit(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<OverfitArgs>();
  args->probe.split = "train";
  CLI::App* sub = app.add_subcommand(
      "overfit",
      "When did the run start to overfit? Every training signal (computed from training data and the model only: " +
          training_signal_names() +
          ") per epoch, the epoch its stopping rule names, and, where the run has a validation set, the oracle "
          "(lowest validation loss) and the validation accuracy lost by stopping there instead. The anomaly signals "
          "read the run's analyses of a training probe set (as `track --split train` leaves them) or make them. "
          "Writes RUN/overfit.json, RUN/overfit.csv and the signal tables of RUN/run.sqlite.");
  sub->add_option("run", args->run_dir, "run directory (of `filterscope train` or the Python monitor)")->required();
  add_params(sub, args->signals, SignalOptions::params());
  add_analysis_flags(sub, args->analyze, args->probe);
  add_params(sub, args->reuse, ReuseOptions::params());
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope overfit runs/study-simple-cnn-fashion-mnist-noise20/seed-1 --signals label_wave,gsnr");
  sub->callback([&commands, args] {
    commands.action = [args] {
      const c10::Device device = apply_runtime(args->runtime);
      validate_analysis_flags(args->analyze, args->probe);
      select_signals(args->signals.signals);  // an unknown name stops before any work
      OverfitRunOptions options;
      options.signals = args->signals;
      options.probe = args->probe;
      options.analyze = args->analyze;
      options.analyze.progress = false;
      options.reanalyse = args->reuse.reanalyse;
      options.device = device;
      const OverfitRecord r = overfit_run(args->run_dir, options, stderr_log("overfit", args->runtime.quiet));
      print_overfit(r);
      std::printf("\nwrote %s and overfit.csv\n", RunLayout(args->run_dir).overfit_json().string().c_str());
    };
  });
}

}  // namespace filterscope::cli
