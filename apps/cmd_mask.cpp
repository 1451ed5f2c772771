// filterscope mask: masking anomaly filters against random filters (hypothesis 3, Tables 4-6).
#include <cmath>
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/core/text.h"
#include "filterscope/experiments/mask.h"

namespace filterscope::cli {

namespace {
struct MaskArgs {
  StudyArgs study;
  MaskOptions mask;
};

void print_mask(const MaskRecord& m) {
  const std::string what = m.epoch ? "epoch " + std::to_string(*m.epoch) : "the model";
  std::printf("\n%s: train acc %s, val acc %s before masking\n", what.c_str(), percent(m.before.train_acc).c_str(),
              percent(m.before.val_acc).c_str());
  if (m.note || !m.all_at_once) {
    std::printf("%s\n", m.note.value_or("nothing was masked").c_str());
    return;
  }
  std::printf("\neach anomaly filter masked alone (Table 4):\n  %-22s %10s %10s\n", "filter", "train acc", "val acc");
  for (const auto& f : m.one_at_a_time)
    std::printf("  %-22s %10s %10s\n", (f.conv + ":" + std::to_string(f.channel)).c_str(), percent(f.train_acc).c_str(),
                percent(f.val_acc).c_str());
  std::printf("\n%-34s %16s %16s\n", "", "train acc down", "val acc up");
  std::printf("%-34s %16s %16s\n", "anomaly filters (Table 4)", percent(m.share_train_down).c_str(),
              percent(m.share_val_up).c_str());
  std::printf("%-34s %9s +- %-5s %9s +- %-5s\n",
              ("random filters, " + std::to_string(m.baseline_seeds.size()) + " seeds (Table 5)").c_str(),
              percent(m.baseline_share_train_down.mean).c_str(), percent(m.baseline_share_train_down.sd).c_str(),
              percent(m.baseline_share_val_up.mean).c_str(), percent(m.baseline_share_val_up.sd).c_str());
  std::printf("\npaired tests (McNemar exact, one-sided, alpha %g): val acc up in %lld of %lld anomaly filters, "
              "%lld of %lld random ones (Fisher p %.3g); train acc down in %lld and %lld (p %.3g)\n",
              m.alpha, static_cast<long long>(m.val_up_significant), static_cast<long long>(m.anomaly_filters),
              static_cast<long long>(m.baseline_val_up_significant), static_cast<long long>(m.baseline_filters),
              m.val_up_enrichment_p, static_cast<long long>(m.train_down_significant),
              static_cast<long long>(m.baseline_train_down_significant), m.train_down_enrichment_p);
  const AllAtOnce& a = *m.all_at_once;
  std::printf("\nall anomaly filters at once: train acc %s, val acc %s\n", percent(a.train_acc).c_str(),
              percent(a.val_acc).c_str());
  std::printf("outlier samples' predictions (Table 6, %s): right->right %lld, right->wrong %lld, wrong->right %lld, "
              "wrong->wrong %lld\n",
              a.labels.c_str(), static_cast<long long>(a.right_to_right), static_cast<long long>(a.right_to_wrong),
              static_cast<long long>(a.wrong_to_right), static_cast<long long>(a.wrong_to_wrong));
  if (m.saved) std::printf("masked network written to %s\n", m.saved->c_str());
}
}  // namespace

void register_mask(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<MaskArgs>();
  CLI::App* sub = app.add_subcommand(
      "mask",
      "Mask the anomaly filters of a model one at a time, then as many random filters of the same convolutions "
      "over several seeds, then all anomaly filters at once, and report train and validation accuracy (the "
      "paper's hypothesis 3, Tables 4-6). For a run directory: on the overfit checkpoint (RUN/track.json) or "
      "--epoch, writing RUN/mask.json and RUN/mask.csv. For one checkpoint or TorchScript file: on that model, "
      "writing mask.json and .csv beside its analysis (--out). The model file is never changed.");
  add_study_flags(sub, args->study);
  add_params(sub, args->mask, MaskOptions::params());
  add_example(sub, "filterscope mask model.pt --dataset fashion-mnist --val-size 2000 --save masked.pt");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      validate_params(args->mask, MaskOptions::params());
      const auto log = stderr_log("mask", args->study.runtime.quiet);
      run_study_command(
          sub, args->study, MaskOptions::params(),
          [&](RunAnalyses& analyses) {
            print_mask(mask_study(analyses, args->mask, log));
            return RunLayout(analyses.run_dir()).mask_json();
          },
          [&](OpenedModel& m) {
            print_mask(model_mask(m.source, m.analysis, args->mask, m.out, log));
            return m.out / RunLayout::kMaskJson;
          });
    };
  });
}

}  // namespace filterscope::cli
