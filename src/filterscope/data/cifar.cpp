#include <ATen/ATen.h>

#include <cstring>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/data/dataset.h"
#include "filterscope/data/decode.h"

namespace filterscope {

Dataset read_cifar_binary(const std::vector<std::filesystem::path>& files, bool cifar100,
                          const std::string& name) {
  FS_CHECK(!files.empty(), name, ": no CIFAR files given");
  const int64_t num_classes = cifar100 ? 100 : 10;
  std::vector<std::string> contents;
  std::vector<CifarRecords> parsed;
  int64_t total = 0;
  for (const auto& file : files) {
    contents.push_back(read_file(file));
    parsed.push_back(parse_cifar_records(contents.back(), cifar100, file.string()));
    total += parsed.back().count;
  }
  Dataset data;
  data.name = name;
  data.images = at::empty({total, 3, 32, 32}, at::kByte);
  data.labels = at::empty({total}, at::kLong);
  auto* pixels = data.images.data_ptr<uint8_t>();
  auto* labels = data.labels.data_ptr<int64_t>();
  int64_t row = 0;
  for (const CifarRecords& records : parsed) {
    for (int64_t i = 0; i < records.count; ++i, ++row) {
      labels[row] = records.labels[i];
      std::memcpy(pixels + row * 3 * 32 * 32, records.pixels[i].data(), records.pixels[i].size());
    }
  }
  data.indices = at::arange(total, at::kLong);
  data.num_classes = num_classes;
  for (int64_t c = 0; c < num_classes; ++c) data.class_names.push_back(std::to_string(c));
  return data;
}

}  // namespace filterscope
