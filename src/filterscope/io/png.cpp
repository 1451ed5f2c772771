#include "filterscope/io/png.h"

#include <ATen/ATen.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
// stb's writer initialises its context structs partially; that is its style, not a bug here. Its
// JPEG, HDR, TGA and BMP writers are static and unused here (only PNG is written): no warning each build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_image_write.h>
#pragma GCC diagnostic pop

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"

namespace filterscope {

namespace {
// [C, H, W] in [0, 1] -> [H, W, C] bytes, each pixel repeated scale x scale times.
at::Tensor png_bytes(const at::Tensor& image, int64_t scale) {
  FS_CHECK(image.dim() == 3 && (image.size(0) == 1 || image.size(0) == 3), "write_png: expected [1 or 3, H, W], got ",
           image.sizes());
  FS_CHECK(scale >= 1, "write_png: scale must be at least 1");
  at::Tensor x = image.to(at::kCPU).to(at::kFloat).clamp(0, 1);
  if (scale > 1) x = x.repeat_interleave(scale, 1).repeat_interleave(scale, 2);
  return x.mul(255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
}

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}
}  // namespace

std::string encode_png(const at::Tensor& image, int64_t scale) {
  const at::Tensor bytes = png_bytes(image, scale);
  const int h = static_cast<int>(bytes.size(0)), w = static_cast<int>(bytes.size(1)), c = static_cast<int>(bytes.size(2));
  std::string out;
  FS_CHECK(stbi_write_png_to_func(append_bytes, &out, w, h, c, bytes.data_ptr<uint8_t>(), w * c) != 0, "cannot encode a PNG");
  return out;
}

void write_png(const std::filesystem::path& path, const at::Tensor& image, int64_t scale) {
  const at::Tensor bytes = png_bytes(image, scale);
  const int h = static_cast<int>(bytes.size(0)), w = static_cast<int>(bytes.size(1)), c = static_cast<int>(bytes.size(2));
  write_atomic_with(path, [&](const std::filesystem::path& tmp) {
    FS_CHECK(stbi_write_png(tmp.c_str(), w, h, c, bytes.data_ptr<uint8_t>(), w * c) != 0, path.string(),
             ": cannot write the PNG");
  });
}

at::Tensor image_grid(const at::Tensor& images, int64_t columns, int64_t pad) {
  FS_CHECK(images.dim() == 4 && images.size(0) > 0, "image_grid: expected [N, C, H, W] with N > 0");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t cols = std::max<int64_t>(1, std::min(columns, n));
  const int64_t rows = (n + cols - 1) / cols;
  at::Tensor grid = at::ones({c, rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad}, at::kFloat);
  const at::Tensor x = images.to(at::kCPU).to(at::kFloat);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / cols, col = i % cols;
    grid.narrow(1, pad + r * (h + pad), h).narrow(2, pad + col * (w + pad), w).copy_(x[i]);
  }
  return grid;
}

}  // namespace filterscope
