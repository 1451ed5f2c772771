// Filling a run log from what a run directory already holds: the weights and validation outcomes
// of every checkpoint (runs trained before the log existed, or with --no-run-log), and what
// `track` found (track.json and the analyses it names).
#pragma once
#include <filesystem>
#include <functional>
#include <string>

#include "filterscope/runs/run_log.h"
#include "filterscope/runs/study_records.h"

namespace filterscope {

struct RecordLogOptions {
  bool replace = false;  ///< overwrite an existing RUN/run.sqlite
  std::string device = "cpu";
};

struct RecordLogResult {
  std::filesystem::path file;
  int64_t epochs = 0, layers = 0, units = 0, images = 0;
  bool track = false;
};

/// Writes RUN/run.sqlite from the run's checkpoints (one weight record per epoch, the initial
/// weights at iteration 0 where kept), metrics.csv, the validation outcomes of each checkpoint, and
/// track.json when present. Written to a temporary file and renamed: a killed import leaves nothing.
RecordLogResult record_run_log(const std::filesystem::path& run_dir, const RecordLogOptions& options,
                               const std::function<void(const std::string&)>& log = {});

/// The log's view of a track record: per epoch, per probe point, the anomaly filters (by their
/// layer with weights) and the outlier samples, read from the analyses track.json rests on.
LogTrack log_track_of(const std::filesystem::path& run_dir, const TrackRecord& track);

}  // namespace filterscope
