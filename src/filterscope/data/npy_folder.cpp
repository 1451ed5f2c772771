// The npy dataset: arrays a user (or the Python monitor) saved with numpy.save.
#include <ATen/ATen.h>

#include <fstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/data/dataset.h"
#include "filterscope/io/npy.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

// The files of the format, in one place: the reader and the writer below use these.
fs::path images_file(const fs::path& dir, const char* split) { return dir / (std::string(split) + "-images.npy"); }
fs::path labels_file(const fs::path& dir, const char* split) { return dir / (std::string(split) + "-labels.npy"); }
fs::path classes_file(const fs::path& dir) { return dir / "classes.txt"; }

Dataset read_split(const fs::path& images_file, const fs::path& labels_file, const std::string& name) {
  FS_CHECK(fs::exists(labels_file), labels_file.string(), ": missing (the labels of ", images_file.string(), ")");
  at::Tensor images = read_npy(images_file);
  at::Tensor labels = read_npy(labels_file);
  FS_CHECK(images.dim() == 4, images_file.string(), ": images must be [N, C, H, W], got ", images.dim(), " dimensions");
  FS_CHECK(images.scalar_type() == at::kByte || images.scalar_type() == at::kFloat ||
               images.scalar_type() == at::kDouble,
           images_file.string(), ": images must be uint8 pixels or float32 network input, got ",
           npy_dtype_name(images.scalar_type()));
  FS_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), labels_file.string(), ": labels must be [",
           images.size(0), "], one per image");
  FS_CHECK(!labels.is_floating_point() && labels.scalar_type() != at::kBool, labels_file.string(),
           ": labels must be integers, got ", npy_dtype_name(labels.scalar_type()));
  if (images.scalar_type() == at::kDouble) images = images.to(at::kFloat);
  if (images.is_floating_point() && images.numel() > 0)
    FS_CHECK(at::isfinite(images).all().item<bool>(), images_file.string(), ": images hold NaN or infinite values");
  labels = labels.to(at::kLong).contiguous();
  if (labels.numel() > 0)
    FS_CHECK(labels.min().item<int64_t>() >= 0, labels_file.string(), ": a label is negative");
  Dataset d;
  d.name = name;
  d.images = images.contiguous();
  d.labels = labels;
  d.indices = at::arange(images.size(0), at::kLong);
  return d;
}

}  // namespace

DatasetSplits read_npy_folder(const fs::path& dir) {
  DatasetSplits s;
  const fs::path train = images_file(dir, "train");
  FS_CHECK(fs::exists(train), dir.string(), ": no train-images.npy (an npy dataset holds train-images.npy, "
                                            "train-labels.npy and optionally test-images.npy, test-labels.npy, classes.txt)");
  s.train = read_split(train, labels_file(dir, "train"), "npy/train");
  FS_CHECK(s.train.size() > 0, train.string(), ": no images");
  const fs::path test = images_file(dir, "test");
  if (fs::exists(test)) {
    s.test = read_split(test, labels_file(dir, "test"), "npy/test");
    FS_CHECK(s.test.size() == 0 || s.test.images.sizes().slice(1) == s.train.images.sizes().slice(1), test.string(),
             ": images of another shape than train-images.npy's");
    FS_CHECK(s.test.images.scalar_type() == s.train.images.scalar_type(), test.string(),
             ": another dtype than train-images.npy's");
  }
  int64_t classes = s.train.labels.max().item<int64_t>() + 1;
  if (s.test.size() > 0) classes = std::max(classes, s.test.labels.max().item<int64_t>() + 1);
  std::vector<std::string> names;
  if (fs::exists(classes_file(dir))) {
    std::ifstream in(classes_file(dir));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) names.push_back(line);
    FS_CHECK(static_cast<int64_t>(names.size()) >= classes, classes_file(dir).string(), ": names ", names.size(),
             " classes; the labels go up to ", classes - 1);
    classes = static_cast<int64_t>(names.size());
  } else {
    for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  }
  for (Dataset* d : {&s.train, &s.test}) {
    if (!d->images.defined()) continue;
    d->num_classes = classes;
    d->class_names = names;
  }
  return s;
}

void write_npy_folder(const fs::path& dir, const Dataset& train, const Dataset* test,
                      const std::vector<std::string>& class_names) {
  ensure_directory(dir);
  auto images = [](const Dataset& d) {
    return d.images.is_floating_point() ? d.images.to(at::kCPU, at::kFloat) : d.images.to(at::kCPU);
  };
  write_npy(images_file(dir, "train"), images(train));
  write_npy(labels_file(dir, "train"), train.labels.to(at::kCPU, at::kLong));
  if (test != nullptr) {
    write_npy(images_file(dir, "test"), images(*test));
    write_npy(labels_file(dir, "test"), test->labels.to(at::kCPU, at::kLong));
  } else {
    // No validation set: an empty test split (not none, which would hold images out of train).
    std::vector<int64_t> shape = train.images.sizes().vec();
    shape[0] = 0;
    write_npy(images_file(dir, "test"), at::empty(shape, images(train).options()));
    write_npy(labels_file(dir, "test"), at::empty({0}, at::kLong));
  }
  std::string names;
  for (const auto& n : class_names) names += n + "\n";
  write_file_atomic(classes_file(dir), names);
}

at::Tensor display_pixels(const at::Tensor& images) {
  if (!images.is_floating_point()) return images;
  const at::Tensor x = images.to(at::kDouble);
  const at::Tensor flat = x.flatten(1);
  const at::Tensor lo = std::get<0>(flat.min(1)).view({-1, 1, 1, 1});
  const at::Tensor hi = std::get<0>(flat.max(1)).view({-1, 1, 1, 1});
  return ((x - lo) / (hi - lo).clamp_min(1e-12) * 255).round().clamp(0, 255).to(at::kByte).contiguous();
}

}  // namespace filterscope
