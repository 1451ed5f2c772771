#include "filterscope/runs/model_source.h"

#include <cstdio>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/text.h"
#include "filterscope/io/zip_archive.h"
#include "filterscope/models/torchscript.h"
#include "filterscope/train/checkpoint.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

// A checkpoint is a TorchScript archive too: ours carry an info record that a user's export lacks.
bool is_checkpoint_file(const fs::path& path) {
  try {
    read_checkpoint_info(path);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

const ParamTable<ModelSourceOptions>& ModelSourceOptions::params() {
  static const ParamTable<ModelSourceOptions> table = {
      {"epoch", &ModelSourceOptions::epoch, "run directory only: the checkpoint to use; 0 = the last",
       Bounds::closed(0, 1e6), {}, false},
      {"input-size", &ModelSourceOptions::input_size,
       "TorchScript only: side of the square model input (images are resized bicubically); 0 = the file's "
       "filterscope.json, else the images' own size",
       Bounds::closed(0, 4096), {}, false},
  };
  return table;
}

ModelSourceKind classify_model_path(const fs::path& path) {
  FS_CHECK(!path.empty(), "no model given: name a run directory, a checkpoint file or a TorchScript file");
  std::error_code ec;
  FS_CHECK(fs::exists(path, ec), path.string(), ": no such run directory or model file");
  if (fs::is_directory(path, ec)) return ModelSourceKind::RunDirectory;
  // A file in a run's checkpoints/ is a checkpoint: its errors say so, as they do through the run.
  if (RunLayout::of_checkpoint(path)) return ModelSourceKind::Checkpoint;
  FS_CHECK(is_torchscript_archive(path), path.string(),
           ": not a checkpoint or TorchScript file (PyTorch saves both as zip archives; this is none)");
  try {
    verify_zip_checksums(MappedFile(path).bytes(), path.string());
  } catch (const Error& e) {
    throw Error(detail::concat(path.string(), ": corrupt or truncated checkpoint or TorchScript file (",
                               without_prefix(e.what(), path.string()), ")"));
  }
  return is_checkpoint_file(path) ? ModelSourceKind::Checkpoint : ModelSourceKind::TorchScript;
}

fs::path ModelSource::default_analysis_dir() const {
  if (layout) return layout->analysis_dir(epoch);
  return file.stem().string() + "-analysis";
}

namespace {

// A checkpoint file as a model; `layout` is the run it sits in, when it does.
ModelSource checkpoint_model(const fs::path& file, const std::optional<RunLayout>& layout, const RunSettings& settings,
                             const c10::Device& device) {
  ModelSource s;
  s.kind = ModelSourceKind::Checkpoint;
  s.file = file;
  s.layout = layout;
  if (settings.train.model == "torchscript") {
    // A run the Python monitor wrote: its checkpoints are the user's model as TorchScript.
    FS_CHECK(layout.has_value(), file.string(), ": a monitored run's checkpoint is read inside its run directory");
    const RunRecord record = read_run_record(layout->root());
    const auto epoch = parse_epoch_name(file.filename().string(), ".pt");
    FS_CHECK(epoch.has_value(), file.string(), ": not a checkpoint name (epoch-NNN.pt)");
    s.model = load_torchscript_model(file, record.dataset.image_shape, device);
    s.epoch = *epoch;
    s.record.kind = "checkpoint";
    s.record.file = file.string();
    s.record.network = record.network.name;
    s.record.epoch = *epoch;
    s.record.run_dir = layout->root().string();
    s.record.description = s.model->description();
    return s;
  }
  CheckpointInfo info;
  Network network = load_checkpoint(file, nullptr, settings.train.model, &info);
  s.model = probed_network(network);
  s.model->to(device);
  s.epoch = info.epoch;
  s.record.kind = "checkpoint";
  s.record.file = file.string();
  s.record.network = info.network;
  s.record.epoch = info.epoch;
  if (layout) s.record.run_dir = layout->root().string();
  s.record.description = s.model->description();
  return s;
}

ModelSource open_checkpoint_file(const fs::path& file, const c10::Device& device) {
  if (auto layout = RunLayout::of_checkpoint(file)) {
    const RunSettings settings = read_run_settings(layout->root());
    ModelSource s = checkpoint_model(file, layout, settings, device);
    s.run = prepare_run(settings);
    return s;
  }
  // A checkpoint outside its run (copied, or a masked one written by `mask --save`): its settings say
  // which data it was trained on.
  const RunSettings settings = RunSettings::from_json(read_checkpoint_info(file).settings, file.string());
  ModelSource s = checkpoint_model(file, std::nullopt, settings, device);
  s.run = prepare_run(settings);
  return s;
}

ModelSource open_torchscript_file(const fs::path& file, const ModelSourceOptions& options, const c10::Device& device) {
  RunSettings settings;
  settings.data = options.data;
  settings.split = options.split;
  validate_params(settings.data, DataOptions::params());
  validate_params(settings.split, SplitOptions::params());
  const ExportInfo info = read_torchscript_info(file);
  ModelSource s;
  s.kind = ModelSourceKind::TorchScript;
  s.file = file;
  s.run = prepare_run(settings);
  const Dataset& train = s.run.data.train;
  const std::string json_name = file.string() + ": filterscope.json";
  FS_CHECK(!info.input_channels || *info.input_channels == train.channels(), json_name, ": \"input_size\" says ",
           info.input_channels.value_or(0), " channel(s); the dataset ", train.name, " has ", train.channels());
  int64_t side = options.input_size;
  if (side == 0 && info.input_side) side = *info.input_side;
  const int64_t resize = side == train.height() && side == train.width() ? 0 : side;
  if (!info.mean.empty()) {
    s.run.transform.mean = info.mean;
    s.run.transform.std = info.std;
    FS_CHECK(static_cast<int64_t>(s.run.transform.mean.size()) == train.channels(), json_name,
             ": gives normalisation for ", s.run.transform.mean.size(), " channel(s); the dataset ", train.name,
             " has ", train.channels());
    s.run.transform.resize = resize;
  } else {
    s.run.transform = fit_normalisation(train, resize);
    std::string stats;
    for (size_t c = 0; c < s.run.transform.mean.size(); ++c) {
      char pair[64];
      std::snprintf(pair, sizeof pair, "%s%.4g / %.4g", c ? ", " : "", s.run.transform.mean[c], s.run.transform.std[c]);
      stats += pair;
    }
    s.notes.push_back(file.filename().string() + " carries no filterscope.json with \"mean\" and \"std\": its inputs are normalised "
                      "by the mean / std per channel of " + train.name + " fitted here (" + stats + "); if the model was trained "
                      "on other statistics, give them in filterscope.json (README: TorchScript files)");
  }
  const std::vector<int64_t> shape = side > 0 ? std::vector<int64_t>{train.channels(), side, side}
                                              : std::vector<int64_t>{train.channels(), train.height(), train.width()};
  s.model = load_torchscript_model(file, shape, device);
  s.record.kind = "torchscript";
  s.record.file = file.string();
  s.record.description = s.model->description();
  s.record.input_shape = shape;
  return s;
}

}  // namespace

ModelSource open_run_checkpoint(const RunLayout& layout, int64_t epoch, const RunSettings& settings,
                                const c10::Device& device) {
  return checkpoint_model(layout.checkpoint(epoch), layout, settings, device);
}

ModelSource open_model_source(const ModelSourceOptions& options, const c10::Device& device) {
  const fs::path& path = options.path;
  const ModelSourceKind kind = classify_model_path(options.path);
  FS_CHECK(kind == ModelSourceKind::RunDirectory || options.epoch == 0, "--epoch needs a run directory; ",
           options.path.string(), " is a file");
  if (kind == ModelSourceKind::TorchScript) return open_torchscript_file(path, options, device);
  if (kind == ModelSourceKind::Checkpoint) return open_checkpoint_file(path, device);

  const RunLayout layout(path);
  FS_CHECK(layout.is_run(), options.path.string(), ": not a run directory (no run.json)");
  const RunSettings settings = read_run_settings(layout.root());
  const std::vector<int64_t> epochs = layout.checkpoint_epochs();
  FS_CHECK(!epochs.empty(), options.path.string(), ": the run has no checkpoints");
  const int64_t epoch = options.epoch == 0 ? epochs.back() : options.epoch;
  FS_CHECK(std::find(epochs.begin(), epochs.end(), epoch) != epochs.end(), options.path.string(),
           ": no checkpoint for epoch ", epoch, " (there are epochs ", epochs.front(), " to ", epochs.back(), ")");
  ModelSource s = open_run_checkpoint(layout, epoch, settings, device);
  s.kind = ModelSourceKind::RunDirectory;
  s.run = prepare_run(settings);
  return s;
}

}  // namespace filterscope
