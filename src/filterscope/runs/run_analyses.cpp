#include "filterscope/runs/run_analyses.h"
#include "filterscope/runs/layout.h"

#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/train/checkpoint.h"

namespace filterscope {

namespace fs = std::filesystem;

RunAnalyses::RunAnalyses(fs::path run_dir, ProbeSetOptions probe, AnalyzeOptions analyze, c10::Device device,
                         bool reanalyse)
    : run_dir_(std::move(run_dir)),
      probe_options_(std::move(probe)),
      analyze_(std::move(analyze)),
      device_(device),
      reanalyse_(reanalyse) {
  settings_ = read_run_settings(run_dir_);
  checkpoints_ = list_checkpoint_epochs(run_dir_);
  FS_CHECK(!checkpoints_.empty(), run_dir_.string(), ": the run has no checkpoints (train it first)");
  metrics_ = read_metrics(run_dir_);
  request_ = analysis_request_json(analyze_, probe_options_);
}

EpochMetrics RunAnalyses::metrics(int64_t epoch) const {
  for (const auto& m : metrics_)
    if (m.epoch == epoch) return m;
  throw Error(detail::concat(run_dir_.string(), ": metrics.csv has no row for epoch ", epoch));
}

void RunAnalyses::require_checkpoint(int64_t epoch) const {
  if (std::find(checkpoints_.begin(), checkpoints_.end(), epoch) != checkpoints_.end()) return;
  std::ostringstream have;
  have << checkpoints_.front();
  if (checkpoints_.size() > 1) have << " to " << checkpoints_.back();
  throw Error(detail::concat(run_dir_.string(), ": no checkpoint for epoch ", epoch, " (",
                             checkpoint_path(run_dir_, epoch).string(), " is missing; the run has epochs ",
                             have.str(), ", ", checkpoints_.size(), " checkpoint(s))"));
}

bool RunAnalyses::reusable(int64_t epoch) const {
  return analysis_reusable(RunLayout(run_dir_).analysis_json(epoch), request_, reanalyse_);
}

const PreparedRun& RunAnalyses::run() {
  if (!run_) run_ = prepare_run(settings_);
  return *run_;
}

const ProbeSet& RunAnalyses::probe() {
  if (!probe_) probe_ = draw_probe_set(run(), probe_options_);
  return *probe_;
}

AnalysisRecord RunAnalyses::analysis(int64_t epoch, bool* reused) {
  require_checkpoint(epoch);
  const fs::path dir = RunLayout(run_dir_).analysis_dir(epoch);
  const bool reuse = reusable(epoch);
  if (reused) *reused = reuse;
  if (reuse) return read_analysis_record(dir / RunLayout::kAnalysisJson);
  ModelSource opened = open_checkpoint(epoch);
  return analyze_and_write(*opened.model, run(), probe(), probe_options_, analyze_, opened.record, dir);
}

ModelSource RunAnalyses::open_checkpoint(int64_t epoch) const {
  require_checkpoint(epoch);
  return open_run_checkpoint(RunLayout(run_dir_), epoch, settings_, device_);
}

StudyEpochs study_epochs(const fs::path& run_dir, int64_t well_trained, int64_t overfit) {
  StudyEpochs epochs{well_trained, overfit};
  if (well_trained > 0 && overfit > 0) return epochs;
  const std::optional<TrackRecord> track = read_track_record(RunLayout(run_dir).track_json());
  FS_CHECK(track.has_value(), run_dir.string(),
           ": no track.json, which names the well-trained and overfit epochs; run `filterscope track ",
           run_dir.string(), "` first, or give the epochs");
  if (epochs.well_trained <= 0) epochs.well_trained = track->well_trained.epoch;
  if (epochs.overfit <= 0) epochs.overfit = track->overfit.epoch;
  return epochs;
}

}  // namespace filterscope
