// filterscope verdict: one verdict per hypothesis from the run's experiment files.
#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/experiments/verdicts.h"
#include "filterscope/runs/layout.h"

namespace filterscope::cli {

namespace {
void print_verdicts(const VerdictsRecord& v) {
  std::printf("\nVerdicts (rules: docs/results.md)\n");
  for (const auto& h : v.hypotheses)
    std::printf("\n  H%s  %s\n      %s: %s\n", h.id.c_str(), h.statement.c_str(), h.verdict.c_str(), h.reason.c_str());
}

}  // namespace

void register_verdict(CLI::App& app, Commands& commands) {
  auto run_dir = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "verdict",
      "Compute a verdict per hypothesis (supported, not supported, inconclusive) from RUN/track.json, "
      "RUN/gradients.json and RUN/mask.json by the rules in docs/results.md; parts not yet run are reported "
      "as such. Writes RUN/verdicts.json.");
  sub->add_option("run", *run_dir, "run directory")->required();
  add_example(sub, "filterscope verdict runs/study-simple-cnn-fashion-mnist-noise20");
  sub->callback([&commands, run_dir] {
    commands.action = [run_dir] {
      const VerdictsRecord v = run_verdicts(*run_dir);
      print_verdicts(v);
      std::printf("\nwrote %s\n", RunLayout(*run_dir).verdicts_json().string().c_str());
    };
  });
}

}  // namespace filterscope::cli
