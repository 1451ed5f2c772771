// filterscope analyze: a trained model + a probe set -> anomaly filters and outlier samples.
#include <ATen/ATen.h>

#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/core/runtime.h"

namespace filterscope::cli {

namespace {

// The flags only this command has.
struct AnalyzeCommandOptions {
  std::string out;               ///< output folder
  bool save_projections = false; ///< also write the 2-D projections
  int64_t top = 10;              ///< outlier samples listed in the summary
  bool list_layers = false;      ///< print the probe points and stop

  static const ParamTable<AnalyzeCommandOptions>& params() {
    static const ParamTable<AnalyzeCommandOptions> table = {
        {"out", &AnalyzeCommandOptions::out,
         "output folder; empty = RUN/analysis/epoch-NNN for a run's checkpoint, <model stem>-analysis otherwise"},
        {"save-projections", &AnalyzeCommandOptions::save_projections,
         "also write projections/LAYER.points.npy [C,N,2] and LAYER.labels.npy [C,N]"},
        {"top", &AnalyzeCommandOptions::top, "outlier samples listed in the summary", Bounds::closed(0, 1e9)},
        {"list-layers", &AnalyzeCommandOptions::list_layers,
         "print the model's probe points (the names --layers takes here and in activations, ood, visualize) and stop"},
    };
    return table;
  }
};

struct AnalyzeArgs {
  std::string model;
  ModelSourceOptions source;
  ProbeSetOptions probe;
  AnalyzeOptions analyze;
  AnalyzeCommandOptions command;
  RuntimeOptions runtime;
};

// The probe points --layers can name: a table, forward order.
void print_probe_points(const ProbedModel& model) {
  std::printf("%-28s %-12s %9s %s\n", "probe point", "kind", "channels", "weights of");
  for (const ProbePoint& p : model.probe_points())
    std::printf("%-28s %-12s %9lld %s\n", p.name.c_str(), probe_kind_name(p.kind), static_cast<long long>(p.channels),
                p.owner_conv.c_str());
  std::printf("\n--layers takes these names, kinds (conv, relu, maxpool, ...) or all; the maps' analyses read the "
              "4-D ones (%s)\n", "[N, C, H, W]");
}

void print_summary(const AnalysisRecord& a, const AnalyzeArgs& args, const std::string& out) {
  std::printf("analysed %s on %lld samples of %s: %zu probe points, %lld filters (capture %.1f s, PCA + clustering %.1f s)\n",
              a.model.description.c_str(), static_cast<long long>(a.probe_set.size), a.probe_set.split_name.c_str(),
              a.layers.size(), static_cast<long long>(a.filters), a.capture_seconds, a.cluster_seconds);
  std::printf("\n%-22s %-8s %7s %9s %6s | %10s %7s %6s | %7s\n", "probe point", "kind", "filters", "mean CH", "lambda",
              "unbalanced", "high CH", "active", "anomaly");
  for (const auto& l : a.layers) {
    std::printf("%-22s %-8s %7lld %9.1f %6lld | %10lld %7lld %6lld | %7lld\n", l.name.c_str(), l.kind.c_str(),
                static_cast<long long>(l.shape[0]), l.mean_ch, static_cast<long long>(l.lambda),
                static_cast<long long>(l.unbalanced), static_cast<long long>(l.high_ch),
                static_cast<long long>(l.active), static_cast<long long>(l.anomaly_count));
  }
  if (a.anomaly_filters == 0) {
    std::printf("\nno anomaly filter in any probe point. How close they come:\n");
    for (const auto& l : a.layers) {
      for (const auto& miss : l.closest_misses) std::printf("  %s: %s\n", l.name.c_str(), miss.c_str());
      if (l.closest_misses.empty())
        std::printf("  %s: every criterion is met by some filter, but never all three by one (%lld unbalanced with high CH)\n",
                    l.name.c_str(), static_cast<long long>(l.unbalanced_and_high_ch));
    }
  } else {
    std::printf("\n%lld anomaly filter(s); %zu outlier sample(s). Top outliers:\n", static_cast<long long>(a.anomaly_filters),
                a.outliers.size());
    std::printf("  %-13s %-6s %-10s %s\n", "dataset index", "label", "prediction", "anomaly filters");
    int64_t shown = 0;
    for (const auto& o : a.outliers) {
      if (shown++ >= args.command.top) break;
      std::string filters;
      for (const auto& f : o.filters) filters += (filters.empty() ? "" : " ") + f;
      if (filters.size() > 60) filters = filters.substr(0, 57) + "...";
      std::printf("  %-13lld %-6lld %-10s %s\n", static_cast<long long>(o.dataset_index), static_cast<long long>(o.label),
                  o.prediction ? std::to_string(*o.prediction).c_str() : "-", filters.c_str());
    }
  }
  if (!a.ranks.empty()) {
    double total = 0;
    for (const auto& r : a.ranks) total += r.estimated_cost;
    std::printf("\nshared by %zu ranks:\n", a.ranks.size());
    for (const auto& r : a.ranks)
      std::printf("  rank %d on %s: %lld filters (%.0f%% of the estimated cost), busy %.2f s\n", r.rank, r.host.c_str(),
                  static_cast<long long>(r.units), total > 0 ? 100 * r.estimated_cost / total : 0.0, r.busy_seconds);
  }
  std::printf("\nwrote %s (analysis.json, filters.csv, outliers.csv%s)\n", out.c_str(),
              args.command.save_projections ? ", projections/" : "");
}

}  // namespace

void register_analyze(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* sub = app.add_subcommand(
      "analyze",
      "Find the anomaly filters of a trained model and the samples behind them. MODEL is a run "
      "directory of `filterscope train` (its last checkpoint, or --epoch), one of its checkpoint "
      "files, or a TorchScript file exported from PyTorch (then the dataset flags say what to "
      "feed it). Writes analysis.json, filters.csv and outliers.csv.");
  add_model_flags(sub, args->model, args->source);
  add_analysis_flags(sub, args->analyze, args->probe);
  add_params(sub, args->command, AnalyzeCommandOptions::params());
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope analyze model.pt --dataset fashion-mnist --probe-size 500 --out model-analysis");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      const c10::Device device = apply_runtime(args->runtime);
      validate_params(args->command, AnalyzeCommandOptions::params());
      validate_analysis_flags(args->analyze, args->probe);
      check_model_flags(sub, args->model);
      ModelSourceOptions options = args->source;
      options.path = args->model;
      // Listing layers needs the input's shape only: no subset sizes to satisfy.
      if (args->command.list_layers) options.split.train_size = options.split.val_size = 0;
      ModelSource source = open_model_source(options, device);
      if (args->command.list_layers) {
        print_probe_points(*source.model);
        return;
      }
      const ProbeSet probe = draw_probe_set(source.run, args->probe);
      AnalyzeOptions analyze = args->analyze;
      analyze.keep_points = args->command.save_projections;
      // Under mpirun the ranks share the filters; the root shows the progress and writes the files.
      analyze.ranks = Ranks::world();
      analyze.progress = !args->runtime.quiet && analyze.ranks.root();
      const std::string out = args->command.out.empty() ? source.default_analysis_dir().string() : args->command.out;
      const AnalysisRecord record =
          analyze_and_write(*source.model, source.run, probe, args->probe, analyze, source.record, out);
      if (analyze.ranks.root()) {
        print_summary(record, *args, out);
        for (const auto& n : source.notes) std::printf("note: %s\n", n.c_str());
      }
    };
  });
}

}  // namespace filterscope::cli
