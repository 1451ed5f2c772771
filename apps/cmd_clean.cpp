// filterscope clean: which training samples look mislabelled, by each label-noise detector, and
// (with label noise) how well each detector finds the replaced labels.
#include <cmath>
#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/experiments/label_noise.h"
#include "filterscope/experiments/retrain.h"
#include "filterscope/runs/layout.h"

namespace filterscope::cli {

namespace {
struct CleanArgs {
  std::string run_dir;
  CleanOptions clean;
  RetrainOptions retrain;
  bool run_retrain = false;
  RuntimeOptions runtime;  // --threads (confident learning's folds and the retraining train), --quiet
};

std::string fixed3(double v) {
  if (!std::isfinite(v)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", v);
  return text;
}

void print_clean(const CleanRecord& r) {
  for (const auto& ev : r.evaluations) {
    std::printf("\n%s epoch %lld: %lld samples (%s), %lld with a replaced label\n", ev.role.c_str(),
                static_cast<long long>(ev.epoch), static_cast<long long>(ev.samples), ev.evaluated_on.c_str(),
                static_cast<long long>(ev.replaced));
    std::printf("  %-22s %7s %7s %10s %8s\n", "detector", "AUROC", "AP", "precision", "recall");
    for (const auto& d : ev.detectors)
      std::printf("  %-22s %7s %7s %10s %8s\n", d.name.c_str(), fixed3(d.auroc).c_str(),
                  fixed3(d.average_precision).c_str(), fixed3(d.precision).c_str(), fixed3(d.recall).c_str());
  }
  std::printf("\nflagged at epoch %lld (top %lld of %lld training samples per detector): RUN/%s\n",
              static_cast<long long>(r.listed_epoch), static_cast<long long>(r.top),
              static_cast<long long>(r.training_samples), RunLayout::kCleanCsv);
}
void print_retrain(const RetrainRecord& r) {
  std::printf("\nretrained without the top %lld samples of %s (epoch %lld scores) against %lld random ones:\n",
              static_cast<long long>(r.k), r.detector.c_str(), static_cast<long long>(r.listed_epoch),
              static_cast<long long>(r.k));
  for (const auto& a : r.arms)
    std::printf("  %-16s %lld left out, %lld of them with a replaced label: %s\n", a.name.c_str(),
                static_cast<long long>(a.removed), static_cast<long long>(a.removed_replaced), a.run_dir.c_str());
  std::printf("  %-13s %6s %9s %16s %15s %9s %9s\n", "epoch", "", "original", "without flagged", "without random",
              "McNemar", "p (2-s)");
  for (const auto& e : r.epochs)
    std::printf("  %-13s %6lld %8.1f%% %15.1f%% %14.1f%% %4lld/%-4lld %9.3g\n", e.role.c_str(),
                static_cast<long long>(e.epoch), 100 * e.original_val_acc, 100 * e.flagged_val_acc,
                100 * e.random_val_acc, static_cast<long long>(e.flagged_vs_random.improved),
                static_cast<long long>(e.flagged_vs_random.worsened), e.p_two_sided);
  std::printf("  (McNemar: validation images right only without the flagged samples / right only without the random ones)\n");
}
}  // namespace

void register_clean(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<CleanArgs>();
  CLI::App* sub = app.add_subcommand(
      "clean",
      "List the training samples each label-noise detector flags: the training loss, the area under the margin "
      "(AUM), forgetting events, epochs misclassified, dataset cartography's confidence (all from RUN/samples/, "
      "recorded while training), confident learning (out-of-sample probabilities from --folds runs trained without "
      "each fold, RUN/folds/; its own flagged set by cleanlab's prune by noise rate) and filterscope's own "
      "small-cluster scores (from the epoch's analysis). With --label-noise the replaced labels "
      "are the ground truth, and each detector gets AUROC, average precision and precision/recall at the noise "
      "rate at the well-trained and overfit epochs of RUN/track.json. Writes RUN/clean.json and RUN/clean.csv "
      "(one row per training sample, with its scores and the detectors that flag it).");
  sub->add_option("run", args->run_dir, "run directory")->required();
  add_params(sub, args->clean, CleanOptions::params());
  sub->add_flag("--retrain", args->run_retrain,
                "then retrain the same seed without the --retrain-top samples --retrain-detector flags, and without as "
                "many random ones, and compare their validation predictions (RUN/retrain-DETECTOR/)");
  add_params(sub, args->retrain, RetrainOptions::params());
  add_runtime_flags(sub, args->runtime, {"threads", "quiet"});
  add_example(sub, "filterscope clean runs/study-simple-cnn-fashion-mnist-noise20/seed-1 --retrain --retrain-detector aum");
  sub->callback([&commands, args] {
    commands.action = [args] {
      apply_runtime(args->runtime);
      const CleanRecord r = clean_run(args->run_dir, args->clean, stderr_log("clean", args->runtime.quiet));
      print_clean(r);
      std::printf("wrote %s\n", RunLayout(args->run_dir).clean_json().string().c_str());
      if (args->run_retrain) {
        print_retrain(retrain_without_flagged(args->run_dir, args->retrain, stderr_log("clean", args->runtime.quiet)));
        std::printf("wrote %s\n", RunLayout(args->run_dir).retrain_json(args->retrain.detector).string().c_str());
      }
    };
  });
}

}  // namespace filterscope::cli
