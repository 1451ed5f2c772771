#include <ATen/ATen.h>

#include <cstring>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/data/dataset.h"
#include "filterscope/data/decode.h"
#include "filterscope/io/gzip.h"

namespace filterscope {

namespace {
// One path serves gzipped and raw IDX files.
std::string read_maybe_gzipped(const std::filesystem::path& path) {
  FS_CHECK(std::filesystem::exists(path), path.string(), ": no such file");
  return maybe_gunzip(read_file(path), path.string());
}
}  // namespace

Dataset read_idx(const std::filesystem::path& images_file, const std::filesystem::path& labels_file,
                 const std::string& name, int64_t num_classes) {
  const std::string image_bytes = read_maybe_gzipped(images_file);
  const std::string label_bytes = read_maybe_gzipped(labels_file);
  const IdxArray images = parse_idx_images(image_bytes, images_file.string());
  const IdxArray labels = parse_idx_labels(label_bytes, labels_file.string());
  FS_CHECK(images.count == labels.count, images_file.string(), " holds ", images.count, " images but ",
           labels_file.string(), " holds ", labels.count, " labels");
  const int64_t n = images.count;

  Dataset data;
  data.name = name;
  data.images = at::empty({n, 1, images.rows, images.cols}, at::kByte);
  std::memcpy(data.images.data_ptr(), images.data.data(), images.data.size());
  at::Tensor raw_labels = at::empty({n}, at::kByte);
  std::memcpy(raw_labels.data_ptr(), labels.data.data(), labels.data.size());
  data.labels = raw_labels.to(at::kLong);
  const int64_t max_label = data.labels.max().item<int64_t>();
  FS_CHECK(max_label < num_classes, labels_file.string(), ": label ", max_label,
           " out of range (expected 0..", num_classes - 1, ")");
  data.indices = at::arange(n, at::kLong);
  data.num_classes = num_classes;
  for (int64_t c = 0; c < num_classes; ++c) data.class_names.push_back(std::to_string(c));
  return data;
}

}  // namespace filterscope
