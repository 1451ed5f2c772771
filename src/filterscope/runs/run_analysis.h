// Analysing a checkpoint of a training run (or any model fed from a run's data) end to end: the
// probe set, the analysis, the files. Shared by `analyze`, `track`, `gradients` and `mask`.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "filterscope/anomaly/analyze.h"
#include "filterscope/runs/analysis_files.h"
#include "filterscope/runs/model_source.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

/// Which samples a model is probed with.
struct ProbeSetOptions {
  std::string split = "val";  ///< val or train
  int64_t size = 1000;        ///< N
  int64_t seed = 0;           ///< seed of the draw from the split

  static const ParamTable<ProbeSetOptions>& params();
};

struct ProbeSet {
  Dataset samples;       ///< the N probe samples
  at::Tensor positions;  ///< [N] int64: their positions in the split
  at::Tensor noisy;      ///< [N] bool: training label replaced (train split only; undefined otherwise)
  std::string split_name;
};

/// Draws the probe set; throws Error when the split is smaller than N or the options are invalid.
ProbeSet draw_probe_set(const PreparedRun& run, const ProbeSetOptions& options);

/// What analysis.json records as "settings" and "probe_set" options: equal JSON means the same
/// analysis would be made again.
nlohmann::json analysis_request_json(const AnalyzeOptions& options, const ProbeSetOptions& probe);

/// Analyses `model` on the probe set; the files' contents in memory (nothing written). Alone only
/// (options.ranks must be alone).
AnalysisFiles analyze_in_memory(ProbedModel& model, const PreparedRun& run, const ProbeSet& probe,
                                const ProbeSetOptions& probe_options, const AnalyzeOptions& options,
                                const ModelRecord& model_record);

/// Analyses `model` on the probe set and writes analysis.json, filters.csv, outliers.csv (and the
/// projections when options.keep_points) into out. Returns the record written to analysis.json.
/// Sharded (options.ranks): every rank calls it; the root writes and returns the record, the
/// others an empty one.
AnalysisRecord analyze_and_write(ProbedModel& model, const PreparedRun& run, const ProbeSet& probe,
                                 const ProbeSetOptions& probe_options, const AnalyzeOptions& options,
                                 const ModelRecord& model_record, const std::filesystem::path& out);

/// What to do with an analysis made earlier with other settings.
struct ReuseOptions {
  bool reanalyse = false;  ///< make it again (default: stop with an error naming the file)

  static const ParamTable<ReuseOptions>& params();
};

/// Whether the analysis.json at `file` can be reused for `request` (analysis_request_json): false
/// when there is none. One that was made with other settings, or is unreadable, stops with an Error
/// naming the file, unless reanalyse (then it is made again).
bool analysis_reusable(const std::filesystem::path& file, const nlohmann::json& request, bool reanalyse);
/// Which settings of two analysis requests differ, as flags: "--probe-size 200 there, 300 now, ...".
std::string request_difference(const nlohmann::json& recorded, const nlohmann::json& requested);

/// The analysis of one model (a checkpoint file or a TorchScript export) on its probe set.
struct ModelAnalysis {
  ProbeSetOptions probe_options;
  AnalyzeOptions options;
  ProbeSet probe;
  AnalysisRecord record;  ///< analysis.json's content
  bool reused = false;  ///< an analysis.json made earlier with the same settings was read
  std::filesystem::path dir;
};

/// Analyses `source` (or reuses the analysis in `dir` made with the same settings) and writes the
/// files into `dir`.
ModelAnalysis analyse_model_source(ModelSource& source, const ProbeSetOptions& probe, const AnalyzeOptions& options,
                                   const std::filesystem::path& dir, bool reanalyse);

}  // namespace filterscope
