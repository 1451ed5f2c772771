// filterscope grid: the training signals and label-noise detectors measured over a grid of runs
// (networks x datasets x label noise x seeds), dealt over the ranks of an MPI job.
#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/pipeline/overfit_grid.h"

namespace filterscope::cli {

namespace {
struct GridArgs {
  std::string out;
  GridOptions grid;
  bool quiet = false;
};
}  // namespace

void register_grid(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<GridArgs>();
  CLI::App* sub = app.add_subcommand(
      "grid",
      "Measure every training signal and label-noise detector over a grid of runs: each run is trained, its signals "
      "computed (`overfit`), its detectors compared (`clean`, with confident learning's folds) and, at the largest "
      "noise, retrained without the chosen detectors' flagged samples. Under mpirun the runs are dealt over the ranks "
      "(files as one process's). Resumes. Writes OUT/runs/, OUT/overfit-study.json, .md and .csv.");
  sub->add_option("out", args->out, "folder of the grid's runs and summary")->required();
  add_params(sub, args->grid, GridOptions::params());
  sub->add_flag("--quiet", args->quiet, "no progress lines on stderr");
  add_example(sub, "mpirun -np 2 filterscope grid runs/overfit-study --seeds 3 --noise 0,0.2,0.4");
  sub->callback([&commands, args] {
    commands.action = [args] {
      GridOptions grid = args->grid;
      grid.ranks = Ranks::world();
      const nlohmann::json summary = run_overfit_grid(args->out, grid, stderr_log("grid", args->quiet));
      if (!grid.ranks.root()) return;
      std::printf("%s", overfit_grid_markdown(summary).c_str());
      std::printf("\nwrote %s/overfit-study.json, .md and .csv\n", args->out.c_str());
    };
  });
}

}  // namespace filterscope::cli
