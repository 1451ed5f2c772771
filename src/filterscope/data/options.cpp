#include "filterscope/data/options.h"

#include "filterscope/io/json.h"

namespace filterscope {

const ParamTable<DataOptions>& DataOptions::params() {
  static const ParamTable<DataOptions> table = {
      {"dataset", &DataOptions::dataset, "dataset to read", {},
       {"fashion-mnist", "mnist", "mnist-json", "cifar10", "cifar100", "folder", "npy", "synthetic"}},
      {"data-dir", &DataOptions::data_dir,
       "folder holding the dataset's files (IDX, CIFAR binary, class sub-folders, or the npy dataset's "
       "train-images.npy, train-labels.npy, test-*.npy and classes.txt); empty = "
       "/usr/share/datasets/fashion-mnist for fashion-mnist"},
      {"classes", &DataOptions::classes,
       "keep only these classes, relabelled 0.. in the order given: numbers and ranges, e.g. 0-7 or 3,1,4 "
       "(the rest can serve as out-of-distribution data); empty = all"},
      {"synthetic-size", &DataOptions::synthetic_size,
       "synthetic dataset only: samples generated, train and test together", Bounds::closed(20, 1e7)},
      {"synthetic-seed", &DataOptions::synthetic_seed, "synthetic dataset only: generator seed",
       Bounds::at_least(0)},
      {"partial-data", &DataOptions::partial_data,
       "cifar10/cifar100 only: train on the batch files present when some are missing (a partial "
       "download); without it a missing file is an error"},
  };
  return table;
}

const ParamTable<SplitOptions>& SplitOptions::params() {
  static const ParamTable<SplitOptions> table = {
      {"train-size", &SplitOptions::train_size,
       "training samples, a seeded subset of the train split; 0 = all", Bounds::at_least(0)},
      {"val-size", &SplitOptions::val_size,
       "validation samples, a seeded subset of the test split (held out of train when the dataset "
       "has no test split); 0 = all available",
       Bounds::at_least(0)},
      {"split-seed", &SplitOptions::split_seed, "seed of the train and validation subset draws",
       Bounds::at_least(0)},
  };
  return table;
}

nlohmann::json InputTransform::to_json() const {
  return {{"mean", mean}, {"std", std}, {"resize", resize}};
}

InputTransform InputTransform::from_json(const nlohmann::json& json) {
  InputTransform t;
  t.mean = json.at("mean").get<std::vector<double>>();
  t.std = json.at("std").get<std::vector<double>>();
  t.resize = json_whole(json.at("resize"));
  return t;
}

}  // namespace filterscope
