// Training runs: settings, the run directory (run.json, metrics.csv, checkpoints/), resume.
#pragma once
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "filterscope/data/dataset.h"
#include "filterscope/models/network.h"
#include "filterscope/models/probed_model.h"
#include "filterscope/train/run_record.h"
#include "filterscope/train/sample_log.h"

namespace filterscope {

/// A run's data after subsets and label noise, ready to train on.
struct PreparedRun {
  RunSettings settings;
  RunData data;                   ///< train labels carry the label noise
  InputTransform transform;       ///< normalisation fitted on the training subset
  at::Tensor noisy_positions;     ///< int64 [M]: positions in data.train whose label was replaced
  at::Tensor original_labels;     ///< int64 [M]: their labels before the replacement
};

/// Loads the dataset, draws the subsets and applies label noise, all from the seeds in `settings`.
PreparedRun prepare_run(const RunSettings& settings);

/// Leaves the samples with these dataset indices out of run.data.train (and out of the label-noise
/// record). Throws Error naming `source` for an index that is not a training sample.
void exclude_samples(PreparedRun& run, const std::vector<int64_t>& dataset_indices, const std::string& source);

/// Replaces a seeded share of `labels` by a different class. Returns the changed positions.
at::Tensor apply_label_noise(at::Tensor& labels, int64_t num_classes, double share, int64_t seed);

/// The record of a prepared run and its network.
RunRecord describe_run(const PreparedRun& run, const Network& network);

/// One row of metrics.csv.
struct EpochMetrics {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, seconds = 0;
};

/// What a training loop offers at the end of an epoch, once the epoch's files are written.
struct EpochEnd {
  const std::vector<EpochMetrics>* metrics = nullptr;  ///< every epoch so far, this one last
  const SampleEpoch* samples = nullptr;  ///< this epoch's per-sample records (null without the sample log)
  ProbedModel* model = nullptr;          ///< the network as it is now (its own parameters, not a copy)
};

struct TrainRunOptions {
  bool resume = false;    ///< go on from the last complete checkpoint in the run directory
  bool progress = true;   ///< progress bar / lines on stderr
  bool run_log = true;    ///< record RUN/run.sqlite (weights, validation outcomes, metrics)
  bool sample_log = true; ///< record RUN/samples/epoch-NNN.csv (each training sample's loss, margin, prediction)
  int64_t log_every = 0;  ///< steps between weight records within an epoch; 0 = four times an epoch
  /// Called after each epoch's checkpoint and metrics row are written (the live overfitting alarm
  /// listens here); its time is not part of the epoch's `seconds`.
  std::function<void(const EpochEnd&)> on_epoch_end;
};

/// Steps between weight records: `log_every`, or a quarter of an epoch (at least 1) for 0.
int64_t log_interval(int64_t log_every, int64_t steps_per_epoch);

struct TrainResult {
  std::vector<EpochMetrics> metrics;  ///< every epoch of the run, resumed ones included
  int64_t first_epoch_trained = 1;    ///< 1, or the epoch after the checkpoint resumed from
  double images_per_second = 0;       ///< training throughput of this session's epochs
};

/// Trains and writes run.json, metrics.csv and checkpoints/epoch-NNN.pt into run_dir.
/// With resume, settings must equal those in run_dir/run.json (callers read them from there).
TrainResult train_run(const PreparedRun& run, const std::filesystem::path& run_dir,
                      const TrainRunOptions& options);

/// Writes metrics.csv of a run directory atomically (the seconds column rounded to 4 digits).
void write_metrics(const std::filesystem::path& run_dir, const std::vector<EpochMetrics>& rows);

/// Reads metrics.csv of a run directory (empty when there is none).
std::vector<EpochMetrics> read_metrics(const std::filesystem::path& run_dir);

/// Loss and accuracy of a network on a dataset, in eval mode, without gradients.
struct Evaluation {
  double loss = 0, accuracy = 0;
  at::Tensor predictions;  ///< int64 [N]
  at::Tensor true_probs;   ///< float64 [N]: softmax probability of each sample's label
};
Evaluation evaluate(Network& network, const Dataset& data, const InputTransform& transform,
                    const c10::Device& device, int64_t batch_size = 500);

/// The same for any model (built-in or TorchScript), on its device, with its channel masks.
Evaluation evaluate(ProbedModel& model, const Dataset& data, const InputTransform& transform, int64_t batch_size = 500);

/// One epoch's per-sample records from the training pass's logits [N, classes] (float, any device)
/// and the labels trained on: the loss of each sample and the margin of its label over the strongest
/// other class, what AUM and forgetting events need, with no extra pass. `train` and the Python
/// monitor both write theirs with it.
SampleEpoch sample_epoch_from_logits(int64_t epoch, const at::Tensor& logits, const at::Tensor& labels,
                                     const at::Tensor& dataset_indices);

}  // namespace filterscope
