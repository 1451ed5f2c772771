// Where a dataset comes from, how a run splits it and how images become network input: plain
// settings (no tensors), so that run.json's reader can be fuzzed without LibTorch.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filterscope/core/params.h"

namespace filterscope {

/// Where to read a dataset from.
struct DataOptions {
  std::string dataset = "fashion-mnist";  ///< fashion-mnist, mnist, mnist-json, cifar10, cifar100, folder, synthetic
  std::string data_dir = "";              ///< folder of the files; "" = the Debian package's for fashion-mnist
  std::string classes = "";               ///< classes kept, relabelled in the order given ("0-7", "3,1,4"); "" = all
  int64_t synthetic_size = 3000;          ///< synthetic only: samples generated (train + test)
  int64_t synthetic_seed = 7;             ///< synthetic only: seed of the generator
  bool partial_data = false;              ///< cifar only: use the batch files present when some are missing

  static const ParamTable<DataOptions>& params();
};

/// How a run draws its training and validation sets.
struct SplitOptions {
  int64_t train_size = 0;  ///< training samples drawn (seeded) from the train split; 0 = all
  int64_t val_size = 2000;  ///< validation samples: from the test split when there is one, else held out of train; 0 = all available
  int64_t split_seed = 0;   ///< seed of the subset draws

  static const ParamTable<SplitOptions>& params();
};

/// The default folder of Debian's dataset-fashion-mnist package.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Per-channel normalisation and an optional resize, applied when images become network input.
struct InputTransform {
  std::vector<double> mean;  ///< per channel, on the [0, 1] pixel scale
  std::vector<double> std;   ///< per channel, > 0
  int64_t resize = 0;        ///< side of the square input the network needs; 0 = keep the size

  nlohmann::json to_json() const;
  static InputTransform from_json(const nlohmann::json& json);
};

}  // namespace filterscope
