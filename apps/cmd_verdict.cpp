// filterscope verdict: one verdict per hypothesis from the run's experiment files.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "filterscope/experiments/verdicts.h"

namespace filterscope::cli {

void print_verdicts(const nlohmann::json& v) {
  std::printf("\nVerdicts (rules: docs/results.md)\n");
  for (const auto& h : v["hypotheses"]) {
    std::printf("\n  H%s  %s\n      %s: %s\n", h["id"].get<std::string>().c_str(),
                h["statement"].get<std::string>().c_str(), h["verdict"].get<std::string>().c_str(),
                h["reason"].get<std::string>().c_str());
  }
}

void register_verdict(CLI::App& app, Commands& commands) {
  auto run_dir = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "verdict",
      "Compute a verdict per hypothesis (supported, not supported, inconclusive) from RUN/track.json, "
      "RUN/gradients.json and RUN/mask.json by the rules in docs/results.md; parts not yet run are reported "
      "as such. Writes RUN/verdicts.json.");
  sub->add_option("run", *run_dir, "run directory")->required();
  sub->callback([&commands, run_dir] {
    commands.action = [run_dir] {
      const nlohmann::json v = run_verdicts(*run_dir);
      print_verdicts(v);
      std::printf("\nwrote %s/verdicts.json\n", run_dir->c_str());
    };
  });
}

}  // namespace filterscope::cli
