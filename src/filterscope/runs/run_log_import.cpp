#include "filterscope/runs/run_log_import.h"

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/core/runtime.h"
#include "filterscope/io/json.h"
#include "filterscope/runs/layout.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/trainer.h"
#include "filterscope/train/weight_log.h"

namespace filterscope {

namespace fs = std::filesystem;

LogTrack log_track_of(const fs::path& run_dir, const TrackRecord& track) {
  const RunLayout layout(run_dir);
  LogTrack out;
  for (const TrackEpochRecord& e : track.epochs) {
    out.epochs.push_back({e.epoch, e.anomaly_filters, e.outlier_samples});
    const fs::path file = layout.analysis_json(e.epoch);
    if (!fs::exists(file)) continue;
    const AnalysisRecord a = read_analysis_record(file);
    if (out.split.empty()) out.split = a.probe_set.split;
    for (const LayerRecord& l : a.layers) {
      const std::string layer = l.owner_conv.empty() ? l.name : l.owner_conv;
      out.layers.push_back({e.epoch, l.name, layer, l.anomaly_count, static_cast<int64_t>(l.filters.size())});
      for (const FilterRecord& f : l.filters)
        if (f.anomaly) out.filters.push_back({e.epoch, l.name, layer, f.filter});
    }
    for (const OutlierRecord& o : a.outliers)
      out.outliers.push_back({e.epoch, o.dataset_index, o.label, o.prediction.value_or(-1),
                              static_cast<int64_t>(o.filters.size()),
                              o.label_replaced ? static_cast<int64_t>(*o.label_replaced) : int64_t{-1}});
  }
  return out;
}

RecordLogResult record_run_log(const fs::path& run_dir, const RecordLogOptions& options,
                               const std::function<void(const std::string&)>& log) {
  const RunLayout layout(run_dir);
  FS_CHECK(layout.is_run(), run_dir.string(), ": not a run directory (no run.json)");
  const fs::path target = layout.run_log();
  FS_CHECK(options.replace || !fs::exists(target), target.string(),
           ": already exists (train records it as it goes); pass --replace to rebuild it from the checkpoints");
  const std::vector<int64_t> epochs = layout.checkpoint_epochs();
  FS_CHECK(!epochs.empty(), run_dir.string(), ": no checkpoints to record");
  const RunSettings settings = read_run_settings(run_dir);
  const PreparedRun run = prepare_run(settings);
  const c10::Device device = parse_device(options.device);
  const std::vector<EpochMetrics> metrics = read_metrics(run_dir);

  CheckpointInfo info;
  const fs::path first = fs::exists(layout.initial_checkpoint()) ? layout.initial_checkpoint() : layout.checkpoint(epochs.front());
  Network network = load_checkpoint(first, nullptr, settings.train.model, &info);
  network->to(device);
  network->eval();

  const int64_t steps_per_epoch = (run.data.train.size() + settings.train.batch_size - 1) / settings.train.batch_size;
  // One record an epoch: checkpoints are all there is.
  const RunLogSetup setup = run_log_setup(network, run.data.val, steps_per_epoch, steps_per_epoch, "record");

  RecordLogResult result;
  result.file = target;
  result.epochs = static_cast<int64_t>(epochs.size());
  result.layers = static_cast<int64_t>(setup.layers.size());
  for (const auto& l : setup.layers) result.units += l.units;
  result.images = static_cast<int64_t>(setup.val_labels.size());

  const fs::path temp = target.string() + ".partial";
  fs::remove(temp);
  fs::remove(temp.string() + "-wal");
  fs::remove(temp.string() + "-shm");
  try {
    RunLogWriter writer(temp, setup, 0);
    WeightStatsRecorder recorder(network);
    if (first == layout.initial_checkpoint()) {
      WeightRecord initial;
      initial.epoch_end = true;
      initial.layers = recorder.record();
      writer.add_record(initial);
    }
    for (int64_t epoch : epochs) {
      load_checkpoint_into(layout.checkpoint(epoch), network, nullptr);
      WeightRecord r;
      r.iteration = epoch * setup.steps_per_epoch;
      r.epoch = static_cast<double>(epoch);
      r.epoch_end = true;
      r.layers = recorder.record();
      LogEpochMetrics m;
      m.epoch = epoch;
      m.iteration = r.iteration;
      for (const EpochMetrics& row : metrics)
        if (row.epoch == epoch) {
          m.train_loss = r.train_loss = row.train_loss;
          m.train_acc = r.train_acc = row.train_acc;
          m.val_loss = row.val_loss;
          m.val_acc = row.val_acc;
          m.seconds = row.seconds;
        }
      writer.add_record(r);
      const Evaluation v = evaluate(network, run.data.val, run.transform, device);
      if (!std::isfinite(m.val_loss)) m.val_loss = v.loss, m.val_acc = v.accuracy;
      writer.add_epoch(m, epoch_outcomes(epoch, v));
      if (log) log("recorded epoch " + std::to_string(epoch) + "/" + std::to_string(epochs.back()));
    }
    writer.close();
    if (fs::exists(layout.track_json())) {
      const TrackRecord track = TrackRecord::from_json(read_json_file(layout.track_json()), layout.track_json().string());
      write_track_to_log(temp, log_track_of(run_dir, track));
      result.track = true;
    }
  } catch (...) {
    fs::remove(temp);
    fs::remove(temp.string() + "-wal");
    fs::remove(temp.string() + "-shm");
    throw;
  }
  // A stale write-ahead log of an earlier file must not be applied to the new one.
  fs::remove(target.string() + "-wal");
  fs::remove(target.string() + "-shm");
  fs::rename(temp, target);
  return result;
}

}  // namespace filterscope
