#include <ATen/ATen.h>

#include <cstring>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/data/dataset.h"

namespace filterscope {

Dataset read_cifar_binary(const std::vector<std::filesystem::path>& files, bool cifar100,
                          const std::string& name) {
  FS_CHECK(!files.empty(), name, ": no CIFAR files given");
  const size_t label_bytes = cifar100 ? 2 : 1;
  const size_t pixel_bytes = 3 * 32 * 32;
  const size_t record = label_bytes + pixel_bytes;
  const int64_t num_classes = cifar100 ? 100 : 10;

  std::vector<std::string> contents;
  int64_t total = 0;
  for (const auto& file : files) {
    contents.push_back(read_file(file));
    const size_t size = contents.back().size();
    FS_CHECK(size > 0, file.string(), ": empty file");
    FS_CHECK(size % record == 0, file.string(), ": truncated or not CIFAR-", num_classes,
             " binary (", size, " bytes is not a multiple of the ", record, "-byte record)");
    total += static_cast<int64_t>(size / record);
  }
  Dataset data;
  data.name = name;
  data.images = at::empty({total, 3, 32, 32}, at::kByte);
  data.labels = at::empty({total}, at::kLong);
  auto* pixels = data.images.data_ptr<uint8_t>();
  auto* labels = data.labels.data_ptr<int64_t>();
  int64_t row = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string& bytes = contents[f];
    for (size_t offset = 0; offset < bytes.size(); offset += record, ++row) {
      // CIFAR-100 records carry the coarse label first and the fine label second.
      const int64_t label = static_cast<unsigned char>(bytes[offset + label_bytes - 1]);
      FS_CHECK(label < num_classes, files[f].string(), ": record ", offset / record, " has label ",
               label, ", out of range 0..", num_classes - 1);
      labels[row] = label;
      std::memcpy(pixels + row * pixel_bytes, bytes.data() + offset + label_bytes, pixel_bytes);
    }
  }
  data.indices = at::arange(total, at::kLong);
  data.num_classes = num_classes;
  for (int64_t c = 0; c < num_classes; ++c) data.class_names.push_back(std::to_string(c));
  return data;
}

}  // namespace filterscope
