// What a model argument on the command line is, resolved in one place: a run directory of
// `filterscope train` (its last checkpoint, or a chosen epoch), one checkpoint file (inside a run or
// copied out of one: the checkpoint carries its run's settings), or a TorchScript file exported from
// PyTorch (then the dataset options say what data it sees, and its extra file filterscope.json may
// give the input size and normalisation). Relative paths are resolved against the working directory
// once, here, so they work from anywhere.
#pragma once
#include <c10/core/Device.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/models/probed_model.h"
#include "filterscope/runs/analysis_record.h"
#include "filterscope/runs/layout.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

enum class ModelSourceKind { RunDirectory, Checkpoint, TorchScript };

/// What the path is, without loading it; throws Error naming the path when it does not exist.
ModelSourceKind classify_model_path(const std::filesystem::path& path);

/// Where a model comes from and, for a TorchScript file, what data it sees.
struct ModelSourceOptions {
  std::filesystem::path path;  ///< run directory, checkpoint file or TorchScript file
  int64_t epoch = 0;           ///< run directory only: the checkpoint; 0 = the last one
  int64_t input_size = 0;      ///< TorchScript only: side of the square input; 0 = filterscope.json, else the images'
  DataOptions data;            ///< TorchScript only: the dataset fed to the model
  SplitOptions split;          ///< TorchScript only: its training and validation subsets

  /// epoch and input-size (the path is the positional argument; data and split have their tables).
  static const ParamTable<ModelSourceOptions>& params();
};

/// A model ready to probe, with the data and normalisation it is evaluated on.
struct ModelSource {
  ModelSourceKind kind = ModelSourceKind::RunDirectory;
  std::unique_ptr<ProbedModel> model;
  PreparedRun run;                  ///< the data (train/val), normalisation, label noise
  std::filesystem::path file;       ///< the checkpoint or TorchScript file, absolute
  std::optional<RunLayout> layout;  ///< the run the checkpoint belongs to, when it sits in one
  int64_t epoch = 0;                ///< the checkpoint's epoch; 0 for TorchScript
  ModelRecord record;               ///< how records describe the model (kind, file, description, ...)
  /// What a user should know about how the model is fed (e.g. normalisation fitted here, not given by
  /// the file): the commands copy these into their records' notes and print them.
  std::vector<std::string> notes;

  /// Where the model's analysis (and the tables of `gradients` and `mask` on it) go by default:
  /// RUN/analysis/epoch-NNN for a run's checkpoint, else "<file stem>-analysis" in the working
  /// directory.
  std::filesystem::path default_analysis_dir() const;
};

/// Opens the model on `device`. Throws Error naming the path or the option for a missing file, an
/// epoch without checkpoint, or a file that is neither a checkpoint nor TorchScript.
ModelSource open_model_source(const ModelSourceOptions& options, const c10::Device& device);

/// The checkpoint of a run as a model on `device`, with its record description.
ModelSource open_run_checkpoint(const RunLayout& layout, int64_t epoch, const RunSettings& settings,
                                const c10::Device& device);

}  // namespace filterscope
