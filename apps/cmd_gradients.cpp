// filterscope gradients: per-sample gradients of outlier and normal samples (hypothesis 2, Table 3).
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/experiments/gradients.h"

namespace filterscope::cli {

namespace {
struct GradientsArgs {
  RunStudyArgs run;
  GradientOptions gradients;
};

std::string cell(const nlohmann::json& v, const char* format) {
  if (v.is_null()) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, format, v.get<double>());
  return text;
}

void print_table(const nlohmann::json& g) {
  for (const auto& e : g["epochs"]) {
    std::printf("\n%s epoch %lld: %lld outlier and %lld normal samples (Table 3)\n",
                e["role"] == "overfit" ? "overfit" : "well-trained", static_cast<long long>(e["epoch"].get<int64_t>()),
                static_cast<long long>(e["outlier_samples"].get<int64_t>()),
                static_cast<long long>(e["normal_samples"].get<int64_t>()));
    if (e.contains("note")) {
      std::printf("  %s\n", e["note"].get<std::string>().c_str());
      continue;
    }
    std::printf("  %-16s %10s %14s %14s %7s\n", "layer", "parameters", "outliers", "normal", "ratio");
    auto row = [](const std::string& name, const std::string& params, const nlohmann::json& r) {
      std::printf("  %-16s %10s %14s %14s %7s\n", name.c_str(), params.c_str(),
                  cell(r["outlier_mean"], "%.4e").c_str(), cell(r["normal_mean"], "%.4e").c_str(),
                  cell(r["ratio"], "%.2f").c_str());
    };
    for (const auto& l : e["layers"]) row(l["name"].get<std::string>(), std::to_string(l["parameters"].get<int64_t>()), l);
    row("overall", "", e["overall"]);
    std::printf("  one-sided Mann-Whitney (outliers larger): p = %s\n",
                cell(e["overall"]["mann_whitney"]["p_greater"], "%.3g").c_str());
  }
}
}  // namespace

void register_gradients(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<GradientsArgs>();
  CLI::App* sub = app.add_subcommand(
      "gradients",
      "Per-sample gradients of the loss on the well-trained and the overfit checkpoint, averaged over the "
      "outlier samples of each checkpoint's analysis and over the other probe samples, per layer and overall "
      "(the paper's hypothesis 2, Table 3). The epochs come from RUN/track.json unless given; epochs not yet "
      "analysed are analysed with the analysis flags. Writes RUN/gradients.json and RUN/gradients.csv.");
  add_run_study_flags(sub, args->run);
  add_params(sub, args->gradients, GradientOptions::params());
  sub->callback([&commands, args] {
    commands.action = [args] {
      validate_params(args->gradients, GradientOptions::params());
      RunAnalyses analyses = open_run_study(args->run);
      const nlohmann::json g = gradient_study(analyses, args->gradients, stderr_log("gradients", args->run.quiet));
      print_table(g);
      std::printf("\nwrote %s/gradients.json and gradients.csv\n", args->run.run_dir.c_str());
    };
  });
}

}  // namespace filterscope::cli
