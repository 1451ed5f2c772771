// Epoch checkpoints: model, optimizer, epoch and the run's settings in one file, written atomically.
#pragma once
#include <torch/optim/optimizer.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "filterscope/models/network.h"

namespace filterscope {

/// What a checkpoint says about itself, readable without building the network.
struct CheckpointInfo {
  int64_t epoch = 0;
  std::string network;  ///< e.g. "simple-cnn"
  int64_t in_channels = 0, num_classes = 0, input_size = 0;
  nlohmann::json settings;  ///< the run's settings (run.json's "settings")
};

/// checkpoints/epoch-NNN.pt inside a run directory (RunLayout::checkpoint).
std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, int64_t epoch);

/// Writes model, optimizer (may be null) and info to `path` through a temp file and a rename.
void save_checkpoint(const std::filesystem::path& path, Network& network,
                     torch::optim::Optimizer* optimizer, const CheckpointInfo& info);

/// Reads only the info; throws Error naming the file when it is missing, corrupt or not ours.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

/// Builds the checkpoint's network and loads its weights (and the optimizer's state when given).
/// Throws Error naming the file when it does not fit `expected_network` (if not empty).
Network load_checkpoint(const std::filesystem::path& path, torch::optim::Optimizer* optimizer = nullptr,
                        const std::string& expected_network = "", CheckpointInfo* info = nullptr);

/// Loads weights into an existing network; throws Error when the checkpoint is of another network.
void load_checkpoint_into(const std::filesystem::path& path, Network& network,
                          torch::optim::Optimizer* optimizer, CheckpointInfo* info = nullptr);

/// Epochs that have a checkpoint file in run_dir/checkpoints, ascending.
std::vector<int64_t> list_checkpoint_epochs(const std::filesystem::path& run_dir);

}  // namespace filterscope
