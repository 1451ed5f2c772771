// filterscope track: every epoch checkpoint of a run analysed on one probe set (hypothesis 1).
#include <cmath>
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/core/runtime.h"
#include "filterscope/experiments/track.h"

namespace filterscope::cli {

namespace {
struct TrackArgs {
  std::string run_dir;
  ProbeSetOptions probe;
  AnalyzeOptions analyze;
  TrackOptions track;
  ReuseOptions reuse;
  RuntimeOptions runtime;
};

std::string rho(double v) {
  if (!std::isfinite(v)) return "  n/a";
  char text[16];
  std::snprintf(text, sizeof text, "%+.2f", v);
  return text;
}

void print_track(const TrackRecord& t) {
  std::printf("\n%5s %9s %8s %8s %8s | %7s %10s %7s %8s\n", "epoch", "train acc", "val loss", "val acc", "gap",
              "anomaly", "unbalanced", "high CH", "outliers");
  for (const auto& e : t.epochs) {
    std::printf("%5lld %8.1f%% %8.4f %7.1f%% %7.1f%% | %7lld %10lld %7lld %8lld\n", static_cast<long long>(e.epoch),
                100 * e.train_acc, e.val_loss, 100 * e.val_acc, 100 * (e.train_acc - e.val_acc),
                static_cast<long long>(e.anomaly_filters), static_cast<long long>(e.unbalanced_filters),
                static_cast<long long>(e.high_ch_filters), static_cast<long long>(e.outlier_samples));
  }
  const auto& w = t.well_trained;
  const auto& o = t.overfit;
  std::printf("\nwell-trained epoch %lld (%s): val acc %.1f%%, %lld anomaly filter(s)\n", static_cast<long long>(w.epoch),
              t.well_trained_rule.c_str(), 100 * w.val_acc, static_cast<long long>(w.anomaly_filters));
  std::printf("overfit epoch %lld (%s): val acc %.1f%%%s, %lld anomaly filter(s)\n", static_cast<long long>(o.epoch),
              t.overfit_rule.c_str(), 100 * o.val_acc,
              t.val_acc_dropped ? "" : " (validation accuracy did not drop)", static_cast<long long>(o.anomaly_filters));
  std::printf("\nper probe point (Table 2):\n");
  for (const auto& [layer, count] : w.per_layer) {
    const auto it = o.per_layer.find(layer);
    std::printf("  %-20s %4lld -> %4lld\n", layer.c_str(), static_cast<long long>(count),
                static_cast<long long>(it == o.per_layer.end() ? 0 : it->second));
  }
  std::printf("\nSpearman rank correlation across epochs    with val loss   with train-val accuracy gap\n");
  for (const auto& [name, c] : t.spearman)
    std::printf("  %-40s %5s %20s\n", name.c_str(), rho(c.val_loss).c_str(), rho(c.generalisation_gap).c_str());
}
}  // namespace

void register_track(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<TrackArgs>();
  CLI::App* sub = app.add_subcommand(
      "track",
      "Analyse every epoch checkpoint of a run on one probe set and set the anomaly-filter counts "
      "beside the training curves (the paper's hypothesis 1). Writes RUN/analysis/epoch-NNN/ per "
      "epoch, RUN/track.json and RUN/track.csv; epochs already analysed with the same settings are reused.");
  sub->add_option("run", args->run_dir, "run directory of `filterscope train`")->required();
  add_params(sub, args->track, TrackOptions::params());
  add_analysis_flags(sub, args->analyze, args->probe);
  add_params(sub, args->reuse, ReuseOptions::params());
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope track runs/study-simple-cnn-fashion-mnist-noise20 --split train --probe-size 1000");
  sub->callback([&commands, args] {
    commands.action = [args] {
      const c10::Device device = apply_runtime(args->runtime);
      validate_analysis_flags(args->analyze, args->probe);
      validate_params(args->track, TrackOptions::params());
      AnalyzeOptions analyze = args->analyze;
      analyze.progress = false;
      // Under mpirun the ranks share the epochs; the root writes track.json and prints.
      TrackOptions track = args->track;
      track.ranks = Ranks::world();
      const TrackRecord t = track_run(args->run_dir, args->probe, analyze, track, args->reuse, device,
                                         stderr_log("track", args->runtime.quiet));
      if (!track.ranks.root()) return;
      print_track(t);
      if (!t.ranks.empty()) {
        std::printf("\nepochs shared by %zu ranks:\n", t.ranks.size());
        for (const auto& r : t.ranks)
          std::printf("  rank %d on %s: %lld epoch(s) analysed, busy %.2f s\n", r.rank, r.host.c_str(),
                      static_cast<long long>(r.units), r.busy_seconds);
      }
      std::printf("\nwrote %s and track.csv\n", RunLayout(args->run_dir).track_json().string().c_str());
    };
  });
}

}  // namespace filterscope::cli
