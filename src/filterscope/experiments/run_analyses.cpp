#include "filterscope/experiments/run_analyses.h"

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
  const fs::path file = analysis_dir(run_dir_, epoch) / "analysis.json";
  if (!fs::exists(file)) return false;
  nlohmann::json existing;
  try {
    existing = nlohmann::json::parse(read_file(file));
    if (recorded_request(existing) == request_) return true;
  } catch (const nlohmann::json::exception&) {
    FS_CHECK(reanalyse_, file.string(), ": not a valid analysis.json (use --reanalyse to redo it)");
    return false;
  }
  FS_CHECK(reanalyse_, file.string(), " was made with other settings than requested (",
           recorded_request(existing).dump(), " vs ", request_.dump(),
           "); use the same flags, or --reanalyse to redo it");
  return false;
}

const PreparedRun& RunAnalyses::run() {
  if (!run_) run_ = prepare_run(settings_);
  return *run_;
}

const ProbeSet& RunAnalyses::probe() {
  if (!probe_) probe_ = draw_probe_set(run(), probe_options_);
  return *probe_;
}

nlohmann::json RunAnalyses::analysis(int64_t epoch, bool* reused) {
  require_checkpoint(epoch);
  const fs::path dir = analysis_dir(run_dir_, epoch);
  const bool reuse = reusable(epoch);
  if (reused) *reused = reuse;
  if (reuse) return read_json_file(dir / "analysis.json");
  CheckpointModel opened = open_checkpoint_model(run_dir_, checkpoint_path(run_dir_, epoch), settings_, device_);
  return analyze_and_write(*opened.model, run(), probe(), probe_options_, analyze_, opened.model_json, dir);
}

StudyEpochs study_epochs(const fs::path& run_dir, int64_t well_trained, int64_t overfit) {
  StudyEpochs epochs{well_trained, overfit};
  if (well_trained > 0 && overfit > 0) return epochs;
  const fs::path file = run_dir / "track.json";
  FS_CHECK(fs::exists(file), run_dir.string(),
           ": no track.json, which names the well-trained and overfit epochs; run `filterscope track ",
           run_dir.string(), "` first, or give the epochs");
  const nlohmann::json track = read_json_file(file);
  try {
    if (epochs.well_trained <= 0) epochs.well_trained = track.at("well_trained").at("epoch").get<int64_t>();
    if (epochs.overfit <= 0) epochs.overfit = track.at("overfit").at("epoch").get<int64_t>();
  } catch (const nlohmann::json::exception&) {
    throw Error(detail::concat(file.string(), ": no well_trained/overfit epoch in it (written by another version?)"));
  }
  return epochs;
}

nlohmann::json read_json_file(const fs::path& path) {
  FS_CHECK(fs::exists(path), path.string(), ": no such file");
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(path.string(), ": not valid JSON (", e.what(), ")"));
  }
}

nlohmann::json read_json_file_if_exists(const fs::path& path) {
  return fs::exists(path) ? read_json_file(path) : nlohmann::json(nullptr);
}

}  // namespace filterscope
