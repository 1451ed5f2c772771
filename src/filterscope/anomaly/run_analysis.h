// Analysing a checkpoint of a training run (or any model fed from a run's data) end to end: the
// probe set, the analysis, the files. Shared by `analyze` and `track`.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "filterscope/anomaly/analyze.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

struct ProbeSetOptions {
  std::string split = "val";  ///< val or train
  int64_t size = 1000;        ///< N
  int64_t seed = 0;           ///< seed of the draw from the split
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

/// The recorded request of an existing analysis.json (same shape as analysis_request_json).
nlohmann::json recorded_request(const nlohmann::json& analysis);

/// Analyses `model` on the probe set and writes analysis.json, filters.csv, outliers.csv (and the
/// projections when options.keep_points) into out. Returns the content of analysis.json.
nlohmann::json analyze_and_write(ProbedModel& model, const PreparedRun& run, const ProbeSet& probe,
                                 const ProbeSetOptions& probe_options, const AnalyzeOptions& options,
                                 const nlohmann::json& model_json, const std::filesystem::path& out);

/// A checkpoint of a run as a model on `device`, with the description analysis.json records.
struct CheckpointModel {
  std::unique_ptr<ProbedModel> model;
  nlohmann::json model_json;
  int64_t epoch = 0;
};
CheckpointModel open_checkpoint_model(const std::filesystem::path& run_dir, const std::filesystem::path& file,
                                      const RunSettings& settings, const c10::Device& device);

/// RUN/analysis/epoch-NNN.
std::filesystem::path analysis_dir(const std::filesystem::path& run_dir, int64_t epoch);

}  // namespace filterscope
