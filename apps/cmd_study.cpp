// filterscope study: several seeds' runs side by side, with a verdict per hypothesis across seeds.
#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/core/ranks.h"
#include "filterscope/experiments/seed_study.h"
#include "filterscope/report/html_report.h"

namespace filterscope::cli {

namespace {
struct SeedStudyArgs {
  std::vector<std::string> runs;
  std::string out;
  SeedStudyOptions study;
  bool quiet = false;
};
}  // namespace

void register_study(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<SeedStudyArgs>();
  CLI::App* sub = app.add_subcommand(
      "study",
      "Set several seeds' runs side by side (each a run directory with track, gradients, mask and clean done): per "
      "hypothesis the effect size of every seed, its median and range, a sign test across seeds and Fisher's "
      "combination of the per-seed tests, and a verdict by the rule in docs/results.md; per label-noise detector "
      "its AUROC across seeds. Writes OUT/study.json, OUT/study.md and OUT/study.html (a dot per seed, links to "
      "each seed's report).");
  sub->add_option("runs", args->runs, "run directories, one per seed")->required();
  sub->add_option("--out", args->out, "folder for study.json, study.md and study.html")->required();
  add_params(sub, args->study, SeedStudyOptions::params());
  sub->add_flag("--quiet", args->quiet, "no progress lines on stderr");
  add_example(sub, "filterscope study runs/study/seed-1 runs/study/seed-2 runs/study/seed-3 --out runs/study");
  sub->callback([&commands, args] {
    commands.action = [args] {
      // Reading the seeds' records takes well under a second: under mpirun the root does it alone
      // (the seeds' analyses are what ranks share, through `track`; scripts/study.sh --mpi).
      if (!Ranks::world().root()) return;
      std::vector<std::filesystem::path> runs(args->runs.begin(), args->runs.end());
      const StudyRecord s = seed_study(runs, args->out, args->study, stderr_log("study", args->quiet));
      std::printf("\n%s", study_markdown(s).c_str());
      for (const auto& h : s.hypotheses)
        std::printf("\nH%s  %s\n    %s: %s\n", h.id.c_str(), h.statement.c_str(), h.verdict.c_str(), h.reason.c_str());
      const std::filesystem::path page = write_study_page(s, args->out);
      std::printf("\nwrote %s/study.json, study.md and %s\n", args->out.c_str(), page.string().c_str());
    };
  });
}

}  // namespace filterscope::cli
