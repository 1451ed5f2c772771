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
  std::string device = "cpu";
  int64_t threads = 0;
  bool quiet = false;
};

std::string rho(const nlohmann::json& v) {
  if (v.is_null()) return "  n/a";
  char text[16];
  std::snprintf(text, sizeof text, "%+.2f", v.get<double>());
  return text;
}

void print_track(const nlohmann::json& t) {
  std::printf("\n%5s %9s %8s %8s %8s | %7s %10s %7s %8s\n", "epoch", "train acc", "val loss", "val acc", "gap",
              "anomaly", "unbalanced", "high CH", "outliers");
  for (const auto& e : t["epochs"]) {
    const double gap = e["train_acc"].get<double>() - e["val_acc"].get<double>();
    std::printf("%5lld %8.1f%% %8.4f %7.1f%% %7.1f%% | %7lld %10lld %7lld %8lld\n",
                static_cast<long long>(e["epoch"].get<int64_t>()), 100 * e["train_acc"].get<double>(),
                e["val_loss"].get<double>(), 100 * e["val_acc"].get<double>(), 100 * gap,
                static_cast<long long>(e["anomaly_filters"].get<int64_t>()),
                static_cast<long long>(e["unbalanced_filters"].get<int64_t>()),
                static_cast<long long>(e["high_ch_filters"].get<int64_t>()),
                static_cast<long long>(e["outlier_samples"].get<int64_t>()));
  }
  const auto& w = t["well_trained"];
  const auto& o = t["overfit"];
  std::printf("\nwell-trained epoch %lld (%s): val acc %.1f%%, %lld anomaly filter(s)\n",
              static_cast<long long>(w["epoch"].get<int64_t>()), t["rules"]["well_trained"].get<std::string>().c_str(),
              100 * w["val_acc"].get<double>(), static_cast<long long>(w["anomaly_filters"].get<int64_t>()));
  std::printf("overfit epoch %lld (%s): val acc %.1f%%%s, %lld anomaly filter(s)\n",
              static_cast<long long>(o["epoch"].get<int64_t>()), t["rules"]["overfit"].get<std::string>().c_str(),
              100 * o["val_acc"].get<double>(),
              t["val_acc_dropped"].get<bool>() ? "" : " (validation accuracy did not drop)",
              static_cast<long long>(o["anomaly_filters"].get<int64_t>()));
  std::printf("\nper probe point (Table 2):\n");
  for (const auto& [layer, count] : w["per_layer"].items())
    std::printf("  %-20s %4lld -> %4lld\n", layer.c_str(), static_cast<long long>(count.get<int64_t>()),
                static_cast<long long>(o["per_layer"][layer].get<int64_t>()));
  std::printf("\nSpearman rank correlation across epochs    with val loss   with train-val accuracy gap\n");
  for (const auto& [name, c] : t["spearman"].items())
    std::printf("  %-40s %5s %20s\n", name.c_str(), rho(c["val_loss"]).c_str(), rho(c["generalisation_gap"]).c_str());
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
  sub->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--threads", args->threads, "CPU threads; 0 = all cores")->capture_default_str();
  sub->add_flag("--quiet", args->quiet, "no progress output");
  sub->callback([&commands, args] {
    commands.action = [args] {
      configure_threads(args->threads);
      const c10::Device device = parse_device(args->device);
      validate_analysis_flags(args->analyze);
      validate_params(args->track, TrackOptions::params());
      AnalyzeOptions analyze = args->analyze;
      analyze.progress = false;
      const nlohmann::json t =
          track_run(args->run_dir, args->probe, analyze, args->track, device, stderr_log("track", args->quiet));
      print_track(t);
      std::printf("\nwrote %s/track.json and track.csv\n", args->run_dir.c_str());
    };
  });
}

}  // namespace filterscope::cli
