// filterscope activations: class-wise activation patterns, their sparsity by depth, the
// divergences between classes and sets, and neuron-weight interactions (Khaitan, sections 3-7).
#include <cmath>
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/activations/activations.h"
#include "filterscope/report/pattern_pages.h"
#include "filterscope/runs/layout.h"

namespace filterscope::cli {

namespace {

struct ActivationsArgs {
  std::string model;
  ModelSourceOptions source;
  ActivationsRequest request;
  std::string against;
  int64_t against_epoch = -1;
  std::string out;
  RuntimeOptions runtime;
};

std::string number(double v, const char* format = "%.3f") {
  if (!std::isfinite(v)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

void print_activations(const ActivationsRecord& r) {
  std::printf("\nmean share of neurons significant per image (S1 active / S2 above a gap):\n");
  std::printf("  %-8s %-22s %-10s %8s %8s %9s\n", "model", "layer", "set", "S1", "S2", "S1 never");
  for (const auto& s : r.summaries) {
    if (s.significance != "s1") continue;
    double s2 = NAN;
    for (const auto& t : r.summaries)
      if (t.model == s.model && t.set == s.set && t.layer == s.layer && t.significance == "s2") s2 = t.mean_frequency;
    std::printf("  %-8s %-22s %-10s %8s %8s %9s\n", s.model.c_str(), s.layer.c_str(), s.set.c_str(),
                number(s.mean_frequency).c_str(), number(s2).c_str(), number(s.share_never).c_str());
  }
  std::printf("\nsparsity by depth (Spearman's rho of layer position against mean frequency):\n");
  for (const auto& t : r.trends)
    std::printf("  %-8s %-6s %s  rho %s  %s\n", t.model.c_str(), t.set.c_str(), t.significance.c_str(),
                number(t.spearman, "%+.2f").c_str(),
                !t.sparser_with_depth ? "(undetermined)" : *t.sparser_with_depth ? "sparser with depth" : "not sparser with depth");
  if (!r.divergences.empty()) {
    std::printf("\nKL divergences (S1): mean between classes / mean same class:\n");
    for (const auto& d : r.divergences)
      if (d.significance == "s1")
        std::printf("  %-8s %-22s %-12s %10s %10s\n", d.model.c_str(), d.layer.c_str(), d.pair.c_str(),
                    number(d.mean_between_classes, "%.4g").c_str(), number(d.mean_same_class, "%.4g").c_str());
  }
  if (!r.interactions.empty()) {
    std::printf("\nneuron-weight interactions: mean share significant per image:\n");
    for (const auto& i : r.interactions)
      std::printf("  %-8s %-22s %-10s %lldx%lld  %s\n", i.model.c_str(), i.layer.c_str(), i.set.c_str(),
                  static_cast<long long>(i.outputs), static_cast<long long>(i.inputs), number(i.mean_frequency).c_str());
  }
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
}

}  // namespace

void register_activations(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<ActivationsArgs>();
  CLI::App* sub = app.add_subcommand(
      "activations",
      "Class-wise activation patterns (Khaitan, sections 3-7): for every hidden layer, neuron and class, the share "
      "of the class's images in which the neuron is significant (S1: active; S2: above a gap of --epsilon), their "
      "histograms and sparsity by depth, KL divergences between classes on the in-distribution images and a "
      "covariate-shifted copy (--shift), and the significant neuron-weight interactions of fully connected layers. "
      "--against-epoch 0 sets the trained network beside its initial weights. Writes activations.json, "
      "frequencies/, histograms/, kl/, interactions/ and activations.html.");
  add_model_flags(sub, args->model, args->source);
  add_params(sub, args->request.patterns, PatternOptions::params());
  add_params(sub, args->request.set, EvalSetOptions::params());
  sub->add_option("--against", args->against,
                  "a second model (checkpoint or TorchScript file of the same network) set beside the first");
  sub->add_option("--against-epoch", args->against_epoch,
                  "run directory only: another epoch of the same run as the second model; 0 = the initial weights")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--out", args->out,
                  "folder of the results; default RUN/analysis/epoch-NNN/activations, or <model stem>-analysis/activations");
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope activations runs/fmnist --against-epoch 0 --shift blur");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      const c10::Device device = apply_runtime(args->runtime);
      const ModelSourceKind kind = check_model_flags(sub, args->model);
      FS_CHECK(args->against.empty() || args->against_epoch < 0, "--against and --against-epoch: give one of them");
      FS_CHECK(args->against_epoch < 0 || kind == ModelSourceKind::RunDirectory, "--against-epoch needs a run directory; ",
               args->model, " is a file (use --against FILE)");
      ModelSourceOptions options = args->source;
      options.path = args->model;
      ModelSource source = open_model_source(options, device);
      std::unique_ptr<ModelSource> against;
      if (args->against_epoch >= 0) {
        const RunLayout layout(args->model);
        FS_CHECK(std::filesystem::exists(layout.checkpoint(args->against_epoch)), "--against-epoch ",
                 args->against_epoch, ": ", args->model, " has no ", layout.checkpoint(args->against_epoch).string(),
                 args->against_epoch == 0 ? " (runs trained before filterscope kept the initial weights have none)" : "");
        against = std::make_unique<ModelSource>(
            open_run_checkpoint(layout, args->against_epoch, source.run.settings, device));
      } else if (!args->against.empty()) {
        ModelSourceOptions other = args->source;
        other.path = args->against;
        other.epoch = 0;
        against = std::make_unique<ModelSource>(open_model_source(other, device));
      }
      const std::filesystem::path out =
          args->out.empty() ? command_folder(source.default_analysis_dir(), "activations") : std::filesystem::path(args->out);
      const ActivationsRecord record =
          run_activations(source, against.get(), args->request, out, stderr_log("activations", args->runtime.quiet));
      const std::filesystem::path page = write_activations_page(record, out);
      print_activations(record);
      std::printf("\nwrote %s (activations.json, frequencies/, histograms/, kl/%s) and %s\n", out.string().c_str(),
                  record.interactions.empty() ? "" : ", interactions/", page.filename().string().c_str());
    };
  });
}

}  // namespace filterscope::cli
