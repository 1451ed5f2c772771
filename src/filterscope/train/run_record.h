// A run's settings and run.json as typed records, with their JSON: plain data (no tensors), so
// that the reader of run.json can be fuzzed without LibTorch (fuzz/).
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/data/options.h"

namespace filterscope {

/// How a network is trained.
struct TrainOptions {
  std::string model = "simple-cnn";  ///< network to build; "torchscript" in a monitored run's record (not a choice of train)
  std::string optimizer = "adam";    ///< adam or sgd ("other" in a monitored run's record)
  double lr = 1e-3;                  ///< learning rate
  double momentum = 0.9;             ///< sgd only
  double weight_decay = 0.0;         ///< L2 penalty
  int64_t batch_size = 32;           ///< images per step (Keras's default: 63 steps an epoch on 2,000 images)
  int64_t epochs = 30;               ///< epochs in all (a resumed run goes on up to this)
  int64_t seed = 0;                  ///< seed of initial weights, shuffling, dropout, label noise
  double label_noise = 0.0;          ///< share of training labels replaced by another class
  std::string exclude;               ///< file of dataset indices left out of training (after the noise draw)
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

/// Reads RUN/run.json; throws Error naming it when it is missing or malformed.
RunRecord read_run_record(const std::filesystem::path& run_dir);

/// Reads the settings of an existing run directory.
RunSettings read_run_settings(const std::filesystem::path& run_dir);

}  // namespace filterscope
