#include "filterscope/data/dataset.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "filterscope/core/error.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

at::Generator seeded_generator(int64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
}

std::vector<std::string> known_class_names(const std::string& dataset) {
  if (dataset == "fashion-mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (dataset == "cifar10")
    return {"airplane", "automobile", "bird", "cat", "deer",
            "dog",      "frog",       "horse", "ship", "truck"};
  return {};
}

fs::path find_idx_file(const fs::path& dir, const std::string& stem) {
  for (const char* suffix : {"", ".gz"}) {
    const fs::path candidate = dir / (stem + suffix);
    if (fs::exists(candidate)) return candidate;
  }
  throw Error(detail::concat(dir.string(), ": missing ", stem, " (or ", stem, ".gz)"));
}

// The dataset's files that exist. A missing one is an error unless `partial` (--partial-data) allows
// it: a partial download must not train silently on less data.
std::vector<fs::path> existing(const fs::path& dir, const std::vector<std::string>& names, bool partial,
                               const std::string& dataset) {
  std::vector<fs::path> out;
  std::string missing;
  for (const auto& n : names) {
    if (fs::exists(dir / n)) out.push_back(dir / n);
    else missing += (missing.empty() ? "" : ", ") + n;
  }
  FS_CHECK(missing.empty() || partial, dir.string(), ": ", dataset, " is incomplete: ", missing,
           " missing (pass --partial-data to use the files present)");
  return out;
}

}  // namespace

Dataset make_synthetic(int64_t size, int64_t seed, const std::string& name) {
  FS_CHECK(size > 0, "--synthetic-size must be > 0, got ", size);
  const int64_t side = 28;
  const int64_t classes = 10;
  at::Generator gen = seeded_generator(seed);
  at::Tensor labels = at::randint(classes, {size}, gen, at::kLong);
  // Each class is a bar through a class-specific point at a class-specific angle; shifts,
  // thickness and noise vary per sample so that the task is learnable but not trivial.
  at::Tensor angle = labels.to(at::kDouble) * (M_PI / classes) +
                     at::randn({size}, gen, at::kDouble) * 0.12;
  at::Tensor cx = 13.5 + (labels.remainder(3).to(at::kDouble) - 1) * 4 +
                  at::randn({size}, gen, at::kDouble) * 1.5;
  at::Tensor cy = 13.5 + (labels.remainder(4).to(at::kDouble) - 1.5) * 3 +
                  at::randn({size}, gen, at::kDouble) * 1.5;
  at::Tensor width = 1.2 + at::rand({size}, gen, at::kDouble) * 1.3;
  at::Tensor grid = at::arange(side, at::kDouble);
  at::Tensor ys = grid.view({1, side, 1});
  at::Tensor xs = grid.view({1, 1, side});
  // Distance of each pixel from the bar's line.
  at::Tensor dist = ((xs - cx.view({-1, 1, 1})) * at::sin(angle).view({-1, 1, 1}) -
                     (ys - cy.view({-1, 1, 1})) * at::cos(angle).view({-1, 1, 1}))
                        .abs();
  at::Tensor bar = at::exp(-(dist / width.view({-1, 1, 1})).pow(2));
  at::Tensor noise = at::randn({size, side, side}, gen, at::kDouble) * 0.25;
  at::Tensor pixels = ((bar * 0.9 + noise).clamp(0, 1) * 255).round().to(at::kByte);
  Dataset data;
  data.name = name;
  data.images = pixels.unsqueeze(1).contiguous();
  data.labels = labels;
  data.indices = at::arange(size, at::kLong);
  data.num_classes = classes;
  for (int64_t c = 0; c < classes; ++c) data.class_names.push_back("bar-" + std::to_string(c));
  return data;
}

namespace {
DatasetSplits load_all_classes(const DataOptions& options) {
  DatasetSplits splits;
  const std::string& name = options.dataset;
  if (name == "synthetic") {
    Dataset all = make_synthetic(options.synthetic_size, options.synthetic_seed);
    // A fixed sixth of the samples is the test split.
    const int64_t n_test = std::max<int64_t>(1, options.synthetic_size / 6);
    const int64_t n_train = options.synthetic_size - n_test;
    splits.train = subset(all, at::arange(n_train, at::kLong), "synthetic/train");
    splits.test = subset(all, at::arange(n_train, options.synthetic_size, at::kLong), "synthetic/test");
    splits.train.indices = at::arange(n_train, at::kLong);
    splits.test.indices = at::arange(n_test, at::kLong);
    return splits;
  }
  fs::path dir = options.data_dir;
  if (dir.empty()) {
    FS_CHECK_USAGE(name == "fashion-mnist", "--data-dir is required for --dataset ", name);
    dir = kFashionMnistDir;
    FS_CHECK(fs::is_directory(dir), dir.string(),
             ": not found; install Debian's dataset-fashion-mnist (scripts/setup.sh does) or pass "
             "--data-dir");
  }
  FS_CHECK(fs::is_directory(dir), "--data-dir ", dir.string(), ": not a folder");
  if (name == "fashion-mnist" || name == "mnist") {
    splits.train = read_idx(find_idx_file(dir, "train-images-idx3-ubyte"),
                            find_idx_file(dir, "train-labels-idx1-ubyte"), name + "/train");
    splits.test = read_idx(find_idx_file(dir, "t10k-images-idx3-ubyte"),
                           find_idx_file(dir, "t10k-labels-idx1-ubyte"), name + "/test");
  } else if (name == "mnist-json") {
    splits.train = read_mnist_json(dir, name + "/train");
  } else if (name == "npy") {
    return read_npy_folder(dir);
  } else if (name == "cifar10") {
    auto train_files = existing(dir, {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                      "data_batch_4.bin", "data_batch_5.bin"}, options.partial_data, "CIFAR-10");
    FS_CHECK(!train_files.empty(), dir.string(), ": no CIFAR-10 data_batch_N.bin files");
    splits.train = read_cifar_binary(train_files, false, name + "/train");
    auto test_files = existing(dir, {"test_batch.bin"}, options.partial_data, "CIFAR-10");
    if (!test_files.empty()) splits.test = read_cifar_binary(test_files, false, name + "/test");
  } else if (name == "cifar100") {
    auto train_files = existing(dir, {"train.bin"}, options.partial_data, "CIFAR-100");
    FS_CHECK(!train_files.empty(), dir.string(), ": no CIFAR-100 train.bin");
    splits.train = read_cifar_binary(train_files, true, name + "/train");
    auto test_files = existing(dir, {"test.bin"}, options.partial_data, "CIFAR-100");
    if (!test_files.empty()) splits.test = read_cifar_binary(test_files, true, name + "/test");
  } else if (name == "folder") {
    // Either train/ and test/ sub-folders (each with class folders) or class folders directly.
    if (fs::is_directory(dir / "train")) {
      splits.train = read_image_folder(dir / "train", "folder/train");
      if (fs::is_directory(dir / "test")) {
        splits.test = read_image_folder(dir / "test", "folder/test");
        FS_CHECK(splits.test.class_names == splits.train.class_names, (dir / "test").string(),
                 ": class folders differ from those of ", (dir / "train").string());
      }
    } else {
      splits.train = read_image_folder(dir, "folder/train");
    }
  } else {
    throw Error(detail::concat("--dataset: unknown dataset \"", name, "\""));
  }
  const auto names = known_class_names(name);
  if (!names.empty()) {
    splits.train.class_names = names;
    if (splits.test.size() > 0) splits.test.class_names = names;
  }
  return splits;
}
}  // namespace

DatasetSplits load_dataset(const DataOptions& options) {
  validate_params(options, DataOptions::params());
  // The last dataset read is kept: a command that opens a model (which reads its run's data) and
  // then draws more images from the same dataset decodes the files once. Nothing writes into a
  // loaded dataset's tensors (subsets, shifts and label noise make new ones).
  static std::mutex mutex;
  static std::string last_key;
  static DatasetSplits last;
  const std::string key = options.dataset + "\n" + options.data_dir + "\n" + std::to_string(options.synthetic_size) +
                          "\n" + std::to_string(options.synthetic_seed);
  DatasetSplits splits;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (key == last_key) {
      splits = last;
    } else {
      splits = load_all_classes(options);
      last = splits;
      last_key = key;
    }
  }
  if (options.classes.empty()) return splits;
  const std::vector<int64_t> keep = parse_class_list(options.classes, splits.train.num_classes, options.dataset);
  splits.train = select_classes(splits.train, keep);
  if (splits.test.size() > 0) splits.test = select_classes(splits.test, keep);
  return splits;
}

std::vector<int64_t> parse_class_list(const std::string& text, int64_t num_classes, const std::string& dataset) {
  std::vector<int64_t> keep;
  if (text.empty()) {
    for (int64_t c = 0; c < num_classes; ++c) keep.push_back(c);
    return keep;
  }
  const std::string range = num_classes > 0 ? "0-" + std::to_string(num_classes - 1) : "none";
  auto number = [&](const std::string& item) {
    FS_CHECK(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos, "--classes \"", text,
             "\": \"", item, "\" is not a class number (", dataset, " has classes ", range, ")");
    FS_CHECK(item.size() < 10 && std::stoll(item) < num_classes, "--classes \"", text, "\": ", dataset,
             " has no class ", item, " (it has classes ", range, ")");
    return static_cast<int64_t>(std::stoll(item));
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(start, comma - start);
    const size_t dash = item.find('-');
    if (dash == std::string::npos) {
      keep.push_back(number(item));
    } else {
      const int64_t lo = number(item.substr(0, dash)), hi = number(item.substr(dash + 1));
      FS_CHECK(lo <= hi, "--classes \"", text, "\": the range ", item, " is empty");
      for (int64_t c = lo; c <= hi; ++c) keep.push_back(c);
    }
    start = comma + 1;
  }
  std::vector<int64_t> sorted = keep;
  std::sort(sorted.begin(), sorted.end());
  const auto repeat = std::adjacent_find(sorted.begin(), sorted.end());
  FS_CHECK(repeat == sorted.end(), "--classes \"", text, "\" names class ", repeat == sorted.end() ? 0 : *repeat,
           " twice");
  FS_CHECK(keep.size() >= 1, "--classes \"", text, "\" keeps no class");
  return keep;
}

Dataset select_classes(const Dataset& data, const std::vector<int64_t>& keep) {
  at::Tensor new_label = at::full({std::max<int64_t>(data.num_classes, 1)}, -1, at::kLong);
  std::vector<std::string> names;
  for (size_t i = 0; i < keep.size(); ++i) {
    FS_CHECK(keep[i] >= 0 && keep[i] < data.num_classes, data.name, " has no class ", keep[i]);
    new_label[keep[i]] = static_cast<int64_t>(i);
    names.push_back(keep[i] < static_cast<int64_t>(data.class_names.size()) ? data.class_names[keep[i]]
                                                                             : std::to_string(keep[i]));
  }
  const at::Tensor mapped = new_label.index_select(0, data.labels);
  const at::Tensor positions = mapped.ge(0).nonzero().view(-1);
  FS_CHECK(positions.numel() > 0, data.name, ": no images of the classes kept by --classes");
  Dataset out = subset(data, positions, data.name);
  out.labels = mapped.index_select(0, positions).contiguous();
  out.num_classes = static_cast<int64_t>(keep.size());
  out.class_names = names;
  return out;
}

std::vector<int64_t> other_classes(const std::vector<int64_t>& keep, int64_t num_classes) {
  std::vector<int64_t> rest;
  for (int64_t c = 0; c < num_classes; ++c)
    if (std::find(keep.begin(), keep.end(), c) == keep.end()) rest.push_back(c);
  return rest;
}

Dataset subset(const Dataset& data, const at::Tensor& positions, const std::string& name) {
  Dataset out;
  out.name = name;
  out.images = data.images.index_select(0, positions).contiguous();
  out.labels = data.labels.index_select(0, positions).contiguous();
  out.indices = data.indices.index_select(0, positions).contiguous();
  out.num_classes = data.num_classes;
  out.class_names = data.class_names;
  return out;
}

at::Tensor choose_positions(int64_t n, int64_t count, int64_t seed) {
  if (count == 0 || count == n) return at::arange(n, at::kLong);
  at::Generator gen = seeded_generator(seed);
  return std::get<0>(at::randperm(n, gen, at::kLong).narrow(0, 0, count).sort());
}

RunData make_run_data(const DatasetSplits& splits, const SplitOptions& options) {
  validate_params(options, SplitOptions::params());
  const Dataset& source = splits.train;
  FS_CHECK(source.size() > 1, source.name, ": too few samples to draw training and validation sets from");
  RunData out;
  // A test split of 0 images (an npy folder with empty test arrays) means: no validation set.
  if (splits.test.size() > 0 || splits.test.images.defined()) {
    FS_CHECK(options.train_size <= source.size(), "--train-size ", options.train_size,
             " exceeds the ", source.size(), " samples of ", source.name);
    FS_CHECK(options.val_size <= splits.test.size(), "--val-size ", options.val_size,
             " exceeds the ", splits.test.size(), " samples of ", splits.test.name);
    out.train = subset(source, choose_positions(source.size(), options.train_size, options.split_seed),
                       source.name);
    out.val = subset(splits.test,
                     choose_positions(splits.test.size(), options.val_size, options.split_seed + 1),
                     splits.test.name);
  } else {
    // No test split: validation samples are held out of train first, so changing --train-size
    // never moves a sample between the two sets.
    const int64_t n = source.size();
    const int64_t val = options.val_size == 0 ? n / 5 : options.val_size;
    FS_CHECK(val < n, "--val-size ", val, " leaves no training samples out of the ", n, " of ",
             source.name);
    const int64_t train = options.train_size == 0 ? n - val : options.train_size;
    FS_CHECK(train + val <= n, "--train-size ", train, " plus --val-size ", val, " exceed the ", n,
             " samples of ", source.name);
    at::Generator gen = seeded_generator(options.split_seed);
    at::Tensor perm = at::randperm(n, gen, at::kLong);
    out.val = subset(source, std::get<0>(perm.narrow(0, 0, val).sort()), source.name + ":val");
    out.train = subset(source, std::get<0>(perm.narrow(0, val, train).sort()), source.name);
  }
  return out;
}

InputTransform fit_normalisation(const Dataset& data, int64_t resize) {
  FS_CHECK(data.size() > 0, data.name, ": cannot normalise an empty dataset");
  if (data.images.is_floating_point()) {
    InputTransform identity;
    identity.resize = resize;
    identity.mean.assign(static_cast<size_t>(data.channels()), 0.0);
    identity.std.assign(static_cast<size_t>(data.channels()), 1.0);
    return identity;
  }
  at::Tensor pixels = data.images.to(at::kDouble).div_(255.0);
  InputTransform t;
  t.resize = resize;
  for (int64_t c = 0; c < data.channels(); ++c) {
    at::Tensor channel = pixels.select(1, c);
    t.mean.push_back(channel.mean().item<double>());
    // A constant channel would divide by zero: it is left unscaled.
    const double sd = channel.std().item<double>();
    t.std.push_back(sd > 1e-8 ? sd : 1.0);
  }
  return t;
}

at::Tensor make_input(const Dataset& data, const InputTransform& transform,
                      const at::Tensor& positions) {
  at::Tensor images = positions.defined() ? data.images.index_select(0, positions) : data.images;
  const int64_t channels = images.size(1);
  FS_ASSERT(static_cast<int64_t>(transform.mean.size()) == channels, "normalisation has ",
            transform.mean.size(), " channels, images have ", channels);
  at::Tensor mean = at::tensor(transform.mean, at::kFloat).view({1, channels, 1, 1});
  at::Tensor std = at::tensor(transform.std, at::kFloat).view({1, channels, 1, 1});
  // 8-bit pixels go to [0, 1] first; float images are network input already.
  at::Tensor x = images.is_floating_point() ? images.to(at::kFloat).sub(mean).div_(std)
                                            : images.to(at::kFloat).div_(255.0f).sub_(mean).div_(std);
  if (transform.resize > 0 && (x.size(2) != transform.resize || x.size(3) != transform.resize)) {
    x = at::upsample_bicubic2d(x, {transform.resize, transform.resize}, /*align_corners=*/false);
  }
  return x.contiguous();
}

}  // namespace filterscope
