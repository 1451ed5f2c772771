// Epoch checkpoints: model, optimizer, epoch and the run's settings in one file, written atomically.
// Every load first checks the zip archive's CRC-32 of each record (io/zip_archive.h): LibTorch's
// reader does not, and a damaged weight would otherwise load silently.
#pragma once
#include <torch/optim/optimizer.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "filterscope/models/network.h"
#include "filterscope/train/checkpoint_info.h"

namespace filterscope {

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
