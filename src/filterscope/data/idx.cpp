#include <ATen/ATen.h>
#include <zlib.h>

#include <cstring>

#include "filterscope/core/error.h"
#include "filterscope/data/dataset.h"

namespace filterscope {

namespace {

// gzread reads plain files as they are, so one path serves gzipped and raw IDX files.
std::string read_maybe_gzipped(const std::filesystem::path& path) {
  FS_CHECK(std::filesystem::exists(path), path.string(), ": no such file");
  gzFile file = gzopen(path.c_str(), "rb");
  FS_CHECK(file != nullptr, path.string(), ": cannot open");
  std::string out;
  char buffer[1 << 16];
  while (true) {
    const int n = gzread(file, buffer, sizeof buffer);
    if (n < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw Error(detail::concat(path.string(), ": corrupt gzip data (", message, ")"));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  gzclose(file);
  return out;
}

uint32_t big_endian_u32(const std::string& bytes, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

Dataset read_idx(const std::filesystem::path& images_file, const std::filesystem::path& labels_file,
                 const std::string& name, int64_t num_classes) {
  const std::string images = read_maybe_gzipped(images_file);
  const std::string labels = read_maybe_gzipped(labels_file);
  FS_CHECK(images.size() >= 16, images_file.string(), ": truncated IDX header");
  FS_CHECK(big_endian_u32(images, 0) == 0x00000803, images_file.string(),
           ": wrong magic number 0x", std::hex, big_endian_u32(images, 0),
           " (expected 0x00000803, unsigned bytes in 3 dimensions)");
  FS_CHECK(labels.size() >= 8, labels_file.string(), ": truncated IDX header");
  FS_CHECK(big_endian_u32(labels, 0) == 0x00000801, labels_file.string(),
           ": wrong magic number 0x", std::hex, big_endian_u32(labels, 0),
           " (expected 0x00000801, unsigned bytes in 1 dimension)");
  const int64_t n = big_endian_u32(images, 4);
  const int64_t rows = big_endian_u32(images, 8);
  const int64_t cols = big_endian_u32(images, 12);
  const int64_t n_labels = big_endian_u32(labels, 4);
  FS_CHECK(n > 0 && rows > 0 && cols > 0, images_file.string(), ": empty image set (", n, "x", rows,
           "x", cols, ")");
  FS_CHECK(n == n_labels, images_file.string(), " holds ", n, " images but ", labels_file.string(),
           " holds ", n_labels, " labels");
  const size_t image_bytes = static_cast<size_t>(n * rows * cols);
  FS_CHECK(images.size() >= 16 + image_bytes, images_file.string(), ": truncated: header says ", n,
           " images of ", rows, "x", cols, " (", image_bytes, " bytes), file has ",
           images.size() - 16);
  FS_CHECK(labels.size() >= 8 + static_cast<size_t>(n), labels_file.string(),
           ": truncated: header says ", n, " labels, file has ", labels.size() - 8);

  Dataset data;
  data.name = name;
  data.images = at::empty({n, 1, rows, cols}, at::kByte);
  std::memcpy(data.images.data_ptr(), images.data() + 16, image_bytes);
  at::Tensor raw_labels = at::empty({n}, at::kByte);
  std::memcpy(raw_labels.data_ptr(), labels.data() + 8, static_cast<size_t>(n));
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
