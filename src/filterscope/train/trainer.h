// Training runs: settings, the run directory (run.json, metrics.csv, checkpoints/), resume.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "filterscope/data/dataset.h"
#include "filterscope/models/network.h"
#include "filterscope/models/probed_model.h"

namespace filterscope {

/// How a network is trained.
struct TrainOptions {
  std::string model = "simple-cnn";  ///< network to build
  std::string optimizer = "adam";    ///< adam or sgd
  double lr = 1e-3;                  ///< learning rate
  double momentum = 0.9;             ///< sgd only
  double weight_decay = 0.0;         ///< L2 penalty
  int64_t batch_size = 32;           ///< images per step (Keras's default: 63 steps an epoch on 2,000 images)
  int64_t epochs = 30;               ///< epochs in all (a resumed run goes on up to this)
  int64_t seed = 0;                  ///< seed of initial weights, shuffling, dropout, label noise
  double label_noise = 0.0;          ///< share of training labels replaced by another class
  int64_t input_size = 0;            ///< side of the network input; 0 = the network's own (227 for alexnet)
  int64_t threads = 0;               ///< CPU threads; 0 = all cores
  std::string device = "cpu";        ///< cpu, cuda or cuda:N

  static const ParamTable<TrainOptions>& params();
};

/// Everything that decides a run's outcome; stored in run.json.
struct RunSettings {
  DataOptions data;
  SplitOptions split;
  TrainOptions train;

  nlohmann::json to_json() const;
  static RunSettings from_json(const nlohmann::json& json, const std::string& source);
};

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

/// Replaces a seeded share of `labels` by a different class. Returns the changed positions.
at::Tensor apply_label_noise(at::Tensor& labels, int64_t num_classes, double share, int64_t seed);

/// run.json as a typed record: the settings, the dataset (indices of every sample), the label
/// noise (which samples, from which label to which), and the network.
struct RunRecord {
  RunSettings settings;
  struct Data {
    std::string name;
    int64_t num_classes = 0;
    std::vector<std::string> class_names;
    std::vector<int64_t> image_shape;  ///< [C, H, W]
    InputTransform normalisation;
    std::string train_split, val_split;
    std::vector<int64_t> train_indices, val_indices;  ///< positions in the source splits
  } dataset;
  struct Noise {
    double share = 0;
    int64_t count = 0;
    std::vector<int64_t> dataset_indices, original_labels, new_labels;
  } label_noise;
  struct Probe {
    std::string name, kind, owner_conv;
    int64_t channels = 0;
  };
  struct Net {
    std::string name;
    int64_t in_channels = 0, num_classes = 0, input_size = 0, parameters = 0;
    std::vector<Probe> probe_points;  ///< the probe points with maps (the GMM analysis's)
  } network;

  nlohmann::json to_json() const;
  static RunRecord from_json(const nlohmann::json& json, const std::string& source);
};

/// The record of a prepared run and its network.
RunRecord describe_run(const PreparedRun& run, const Network& network);

/// Reads RUN/run.json; throws Error naming it when it is missing or malformed.
RunRecord read_run_record(const std::filesystem::path& run_dir);

/// One row of metrics.csv.
struct EpochMetrics {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, seconds = 0;
};

struct TrainRunOptions {
  bool resume = false;    ///< go on from the last complete checkpoint in the run directory
  bool progress = true;   ///< progress bar / lines on stderr
  bool run_log = true;    ///< record RUN/run.sqlite (weights, validation outcomes, metrics)
  int64_t log_every = 0;  ///< steps between weight records within an epoch; 0 = four times an epoch
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

/// Reads the settings of an existing run directory.
RunSettings read_run_settings(const std::filesystem::path& run_dir);

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

}  // namespace filterscope
