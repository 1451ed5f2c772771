// filterscope gradients: per-sample gradients of outlier and normal samples (hypothesis 2, Table 3).
#include <cmath>
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/experiments/gradients.h"

namespace filterscope::cli {

namespace {
struct GradientsArgs {
  StudyArgs study;
  GradientOptions gradients;
};

std::string cell(double v, const char* format) {
  if (!std::isfinite(v)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

void print_table(const GradientsRecord& g) {
  for (const auto& e : g.epochs) {
    const std::string what =
        e.role == "model" ? (g.model ? g.model->description : std::string("the model"))
                          : (e.role == "overfit" ? "overfit" : "well-trained") + std::string(" epoch ") + std::to_string(e.epoch);
    std::printf("\n%s: %lld outlier and %lld normal samples (Table 3)\n", what.c_str(),
                static_cast<long long>(e.outlier_samples), static_cast<long long>(e.normal_samples));
    if (e.note) {
      std::printf("  %s\n", e.note->c_str());
      continue;
    }
    std::printf("  %-16s %10s %14s %14s %7s\n", "layer", "parameters", "outliers", "normal", "ratio");
    auto row = [](const std::string& name, const std::string& params, const GradientMeans& r) {
      std::printf("  %-16s %10s %14s %14s %7s\n", name.c_str(), params.c_str(), cell(r.outlier_mean, "%.4e").c_str(),
                  cell(r.normal_mean, "%.4e").c_str(), cell(r.ratio, "%.2f").c_str());
    };
    for (const auto& l : e.layers) row(l.name, std::to_string(l.parameters), l);
    row("overall", "", e.overall);
    std::printf("  one-sided Mann-Whitney (outliers larger): p = %s\n", cell(e.p_greater, "%.3g").c_str());
  }
}
}  // namespace

void register_gradients(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<GradientsArgs>();
  CLI::App* sub = app.add_subcommand(
      "gradients",
      "Per-sample gradients of the loss, averaged over the outlier samples of the model's analysis and over the "
      "other probe samples, per layer and overall (the paper's hypothesis 2, Table 3). For a run directory: on "
      "the well-trained and the overfit checkpoint (from RUN/track.json unless given), analysing epochs not yet "
      "analysed, writing RUN/gradients.json and RUN/gradients.csv. For one checkpoint or TorchScript file: on "
      "that model, writing gradients.json and .csv beside its analysis (--out).");
  add_study_flags(sub, args->study);
  add_params(sub, args->gradients, GradientOptions::params());
  add_example(sub, "filterscope gradients runs/study-simple-cnn-fashion-mnist-noise20 --split train --probe-size 1000");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      validate_params(args->gradients, GradientOptions::params());
      const auto log = stderr_log("gradients", args->study.runtime.quiet);
      run_study_command(
          sub, args->study, GradientOptions::params(),
          [&](RunAnalyses& analyses) {
            print_table(gradient_study(analyses, args->gradients, log));
            return RunLayout(analyses.run_dir()).gradients_json();
          },
          [&](OpenedModel& m) {
            print_table(model_gradients(m.source, m.analysis, m.out, log));
            return m.out / RunLayout::kGradientsJson;
          });
    };
  });
}

}  // namespace filterscope::cli
