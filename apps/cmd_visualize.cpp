// filterscope visualize: activation maximisation, pixel fooling, Grad-CAM, top images and
// out-of-sample predictions (Dai, section 2).
#include <cmath>
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/explain/explain_runs.h"
#include "filterscope/report/explain_pages.h"

namespace filterscope::cli {

namespace {

struct VisualizeArgs {
  std::string model;
  ModelSourceOptions source;
  VisualizeRequest request;
  std::string out;
  RuntimeOptions runtime;
};

void print_visualize(const VisualizeRecord& r) {
  auto name = [&](int64_t c) { return c >= 0 && c < static_cast<int64_t>(r.class_names.size()) ? r.class_names[c] : std::to_string(c); };
  if (r.maximisation) {
    const MaximiseResult& m = *r.maximisation;
    std::printf("\nactivation maximisation (objective before -> after, prediction before -> after):\n");
    for (size_t i = 0; i < m.before.size(); ++i)
      std::printf("  %-32s seed %-3lld %10.3f -> %-10.3f %s -> %s\n", r.objectives[static_cast<size_t>(m.objective[i])].c_str(),
                  static_cast<long long>(m.seed[i]), m.before[i], m.after[i], name(m.prediction_before[i]).c_str(),
                  name(m.prediction_after[i]).c_str());
    if (r.class_success_rate)
      std::printf("  class objectives predicted as their class afterwards: %.0f%%\n", 100 * *r.class_success_rate);
  }
  if (r.fooling) {
    const FoolResult& f = *r.fooling;
    int64_t flipped = 0;
    double steps = 0;
    for (int64_t s : f.steps)
      if (s >= 0) {
        ++flipped;
        steps += static_cast<double>(s);
      }
    std::printf("\npixel fooling %s -> %s: %lld of %zu images flipped%s\n", name(f.from).c_str(), name(f.to).c_str(),
                static_cast<long long>(flipped), f.steps.size(),
                flipped ? (", after " + std::to_string(static_cast<int64_t>(std::lround(steps / flipped))) + " steps on average").c_str() : "");
  }
  if (r.gradcam) std::printf("\nGrad-CAM at %s on %lld images\n", r.gradcam->layer.c_str(), static_cast<long long>(r.gradcam->cam.size(0)));
  if (r.top) std::printf("top images of %zu channels of %s\n", r.top->channels.size(), r.top->layer.c_str());
  if (r.out_of_sample) {
    std::printf("\nout-of-sample predictions (share predicted as each class):\n  %-28s", "");
    for (const auto& c : r.class_names) std::printf(" %8.8s", c.c_str());
    std::printf("\n");
    for (size_t i = 0; i < r.out_of_sample->rows.size(); ++i) {
      std::printf("  %-28.28s", r.out_of_sample->rows[i].c_str());
      for (double v : r.out_of_sample->shares[i]) std::printf(" %7.1f%%", 100 * v);
      std::printf("\n");
    }
  }
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
}

}  // namespace

void register_visualize(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<VisualizeArgs>();
  CLI::App* sub = app.add_subcommand(
      "visualize",
      "What a model's units, channels, layers and classes respond to (Dai, section 2): activation maximisation of "
      "--objective (default: every class's logit) with the paper's regularisers, pixel fooling from one class to "
      "another (--fool FROM:TO), Grad-CAM, the images that most activate a layer's channels with the histogram of "
      "their activations, and the classes predicted for images of classes the model never saw (--classes) and for "
      "noise. Writes visualize.json, .npy arrays, PNG grids and visualize.html.");
  add_model_flags(sub, args->model, args->source);
  sub->add_option("--objective", args->request.objectives,
                  "what to maximise, repeatable: logit:C, prob:C, layer:PROBE, channel:PROBE:C, unit:PROBE:C:H:W, and "
                  "weighted sums such as logit:3+0.5*channel:features.3:17 (classes by number or name); default: "
                  "every class's logit");
  add_params(sub, args->request.maximise, MaximiseOptions::params());
  add_params(sub, args->request.fool, FoolOptions::params());
  add_params(sub, args->request.visualize, VisualizeOptions::params());
  add_params(sub, args->request.set, EvalSetOptions::params());
  sub->add_option("--out", args->out,
                  "folder of the results; default RUN/analysis/epoch-NNN/visualize, or <model stem>-analysis/visualize");
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope visualize runs/fmnist --objective logit:Sneaker --tv-weight 0.05 --fool Coat:Shirt");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      auto [source, out] = open_command_model(sub, args->model, args->source, apply_runtime(args->runtime), args->out,
                                              "visualize");
      const VisualizeRecord record = run_visualize(source, args->request, out, stderr_log("visualize", args->runtime.quiet));
      const std::filesystem::path page = write_visualize_page(record, out);
      print_visualize(record);
      std::printf("\nwrote %s (visualize.json, .npy, .png) and %s\n", out.string().c_str(), page.filename().string().c_str());
    };
  });
}

}  // namespace filterscope::cli
