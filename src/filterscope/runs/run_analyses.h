// The analyses of a training run's epoch checkpoints, as the experiments use them: one probe set for
// every epoch, an existing analysis reused when it was made with the requested settings, a clear
// stop when it was not. Shared by `track`, `gradients` and `mask`.
#pragma once
#include <c10/core/Device.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "filterscope/io/json.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/model_source.h"
#include "filterscope/runs/run_analysis.h"
#include "filterscope/runs/study_records.h"

namespace filterscope {

class RunAnalyses {
 public:
  /// Reads the run's settings, checkpoints and metrics; throws Error naming run_dir when it is not
  /// a run directory or has no checkpoints. reanalyse: redo analyses made with other settings
  /// instead of stopping.
  RunAnalyses(std::filesystem::path run_dir, ProbeSetOptions probe, AnalyzeOptions analyze, c10::Device device,
              bool reanalyse);

  const std::filesystem::path& run_dir() const { return run_dir_; }
  const RunSettings& settings() const { return settings_; }
  const std::vector<int64_t>& checkpoints() const { return checkpoints_; }
  const ProbeSetOptions& probe_options() const { return probe_options_; }
  const AnalyzeOptions& analyze_options() const { return analyze_; }
  const c10::Device& device() const { return device_; }

  /// The metrics.csv row of an epoch; throws Error when there is none.
  EpochMetrics metrics(int64_t epoch) const;

  /// Throws Error naming the run when there is no checkpoint for `epoch`.
  void require_checkpoint(int64_t epoch) const;

  /// Whether epoch's analysis.json exists and was made with the requested settings. Throws Error
  /// naming the file when it exists with other settings (or is unreadable), unless reanalyse.
  bool reusable(int64_t epoch) const;

  /// The epoch's analysis: the existing one when reusable, else made now and written to
  /// RUN/analysis/epoch-NNN/. reused (optional) says which.
  AnalysisRecord analysis(int64_t epoch, bool* reused = nullptr);

  /// The checkpoint of `epoch` as a model on the device (no data prepared: run() has it).
  ModelSource open_checkpoint(int64_t epoch) const;

  /// The run's data and the probe set, made on first use (the same for every epoch).
  const PreparedRun& run();
  const ProbeSet& probe();

 private:
  std::filesystem::path run_dir_;
  ProbeSetOptions probe_options_;
  AnalyzeOptions analyze_;
  c10::Device device_;
  bool reanalyse_;
  RunSettings settings_;
  std::vector<int64_t> checkpoints_;
  std::vector<EpochMetrics> metrics_;
  nlohmann::json request_;
  std::optional<PreparedRun> run_;
  std::optional<ProbeSet> probe_;
};

/// The well-trained and overfit epochs `filterscope track` chose (from RUN/track.json). An epoch
/// given (> 0) is taken as it is; a 0 is read from track.json, with an Error saying to run track
/// first when there is none.
struct StudyEpochs {
  int64_t well_trained = 0, overfit = 0;
};
StudyEpochs study_epochs(const std::filesystem::path& run_dir, int64_t well_trained, int64_t overfit);

}  // namespace filterscope
