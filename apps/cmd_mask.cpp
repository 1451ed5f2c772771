// filterscope mask: masking anomaly filters against random filters (hypothesis 3, Tables 4-6).
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/experiments/mask.h"

namespace filterscope::cli {

namespace {
struct MaskArgs {
  RunStudyArgs run;
  MaskOptions mask;
};

std::string percent(const nlohmann::json& v) {
  if (v.is_null()) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", 100 * v.get<double>());
  return text;
}

void print_mask(const nlohmann::json& m) {
  std::printf("\nepoch %lld: train acc %s, val acc %s before masking\n", static_cast<long long>(m["epoch"].get<int64_t>()),
              percent(m["before"]["train_acc"]).c_str(), percent(m["before"]["val_acc"]).c_str());
  if (m.contains("note")) {
    std::printf("%s\n", m["note"].get<std::string>().c_str());
    return;
  }
  std::printf("\neach anomaly filter masked alone (Table 4):\n  %-22s %10s %10s\n", "filter", "train acc", "val acc");
  for (const auto& f : m["one_at_a_time"]["filters"])
    std::printf("  %-22s %10s %10s\n", (f["conv"].get<std::string>() + ":" + std::to_string(f["channel"].get<int64_t>())).c_str(),
                percent(f["train_acc"]).c_str(), percent(f["val_acc"]).c_str());
  const auto& b = m["random_baseline"];
  std::printf("\n%-34s %16s %16s\n", "", "train acc down", "val acc up");
  std::printf("%-34s %16s %16s\n", "anomaly filters (Table 4)", percent(m["one_at_a_time"]["share_train_down"]).c_str(),
              percent(m["one_at_a_time"]["share_val_up"]).c_str());
  std::printf("%-34s %9s +- %-5s %9s +- %-5s\n",
              ("random filters, " + std::to_string(b["seeds"].size()) + " seeds (Table 5)").c_str(),
              percent(b["share_train_down"]["mean"]).c_str(), percent(b["share_train_down"]["sd"]).c_str(),
              percent(b["share_val_up"]["mean"]).c_str(), percent(b["share_val_up"]["sd"]).c_str());
  const auto& a = m["all_at_once"];
  std::printf("\nall anomaly filters at once: train acc %s, val acc %s\n", percent(a["train_acc"]).c_str(),
              percent(a["val_acc"]).c_str());
  std::printf("outlier samples' predictions (Table 6, %s): right->right %lld, right->wrong %lld, wrong->right %lld, "
              "wrong->wrong %lld\n",
              a["labels"].get<std::string>().c_str(), static_cast<long long>(a["right_to_right"].get<int64_t>()),
              static_cast<long long>(a["right_to_wrong"].get<int64_t>()),
              static_cast<long long>(a["wrong_to_right"].get<int64_t>()),
              static_cast<long long>(a["wrong_to_wrong"].get<int64_t>()));
  if (m.contains("saved")) std::printf("masked network written to %s\n", m["saved"].get<std::string>().c_str());
}
}  // namespace

void register_mask(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<MaskArgs>();
  CLI::App* sub = app.add_subcommand(
      "mask",
      "Mask the anomaly filters of the overfit checkpoint one at a time, then as many random filters of the "
      "same convolutions over several seeds, then all anomaly filters at once, and report train and validation "
      "accuracy (the paper's hypothesis 3, Tables 4-6). The checkpoint is never changed. Writes RUN/mask.json "
      "and RUN/mask.csv.");
  add_run_study_flags(sub, args->run);
  add_params(sub, args->mask, MaskOptions::params());
  sub->callback([&commands, args] {
    commands.action = [args] {
      validate_params(args->mask, MaskOptions::params());
      RunAnalyses analyses = open_run_study(args->run);
      const nlohmann::json m = mask_study(analyses, args->mask, stderr_log("mask", args->run.quiet));
      print_mask(m);
      std::printf("\nwrote %s/mask.json and mask.csv\n", args->run.run_dir.c_str());
    };
  });
}

}  // namespace filterscope::cli
