#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/data/dataset.h"
#include "filterscope/data/decode.h"


namespace filterscope {

namespace {
bool is_image_file(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}
}  // namespace

Dataset read_image_folder(const std::filesystem::path& dir, const std::string& name) {
  namespace fs = std::filesystem;
  FS_CHECK(fs::is_directory(dir), dir.string(), ": not a folder");
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  std::sort(class_dirs.begin(), class_dirs.end());
  FS_CHECK(!class_dirs.empty(), dir.string(), ": no class sub-folders (expected one per class)");

  std::vector<std::pair<fs::path, int64_t>> files;
  Dataset data;
  data.name = name;
  for (size_t c = 0; c < class_dirs.size(); ++c) {
    data.class_names.push_back(class_dirs[c].filename().string());
    std::vector<fs::path> images;
    for (const auto& entry : fs::directory_iterator(class_dirs[c]))
      if (entry.is_regular_file() && is_image_file(entry.path())) images.push_back(entry.path());
    std::sort(images.begin(), images.end());
    for (auto& p : images) files.emplace_back(p, static_cast<int64_t>(c));
  }
  FS_CHECK(!files.empty(), dir.string(), ": no PNG or JPEG images in its class sub-folders");
  data.num_classes = static_cast<int64_t>(class_dirs.size());

  // First pass: sizes and channel counts from the headers, so the tensor is allocated once.
  int width = 0, height = 0;
  bool all_gray = true;
  for (const auto& [path, label] : files) {
    const ImageHeader h = read_image_header(read_file(path), path.string());
    if (width == 0) {
      width = h.width;
      height = h.height;
    }
    FS_CHECK(h.width == width && h.height == height, path.string(), ": image is ", h.width, "x", h.height, " but ",
             files.front().first.string(), " is ", width, "x", height,
             "; all images of a folder dataset must have one size");
    all_gray = all_gray && (h.channels == 1 || h.channels == 2);
  }
  const int channels = all_gray ? 1 : 3;
  const int64_t n = static_cast<int64_t>(files.size());
  at::Tensor hwc = at::empty({n, height, width, channels}, at::kByte);
  data.labels = at::empty({n}, at::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<uint8_t> pixels = decode_image(read_file(files[i].first), channels, files[i].first.string());
    std::memcpy(hwc[i].data_ptr(), pixels.data(), pixels.size());
    data.labels[i] = files[i].second;
  }
  data.images = hwc.permute({0, 3, 1, 2}).contiguous();
  data.indices = at::arange(n, at::kLong);
  return data;
}

}  // namespace filterscope
