// PNG files for pictures people look at (optimised images, Grad-CAM overlays, top images), and the
// grid that lays many small images out in one.
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>

namespace filterscope {

/// Writes images [C, H, W] (C = 1 or 3) with values in [0, 1] (clipped) as an 8-bit PNG,
/// atomically. `scale` repeats every pixel scale x scale times (small images stay readable).
void write_png(const std::filesystem::path& path, const at::Tensor& image, int64_t scale = 1);

/// The same PNG as bytes in memory (for a server's response).
std::string encode_png(const at::Tensor& image, int64_t scale = 1);

/// Images [N, C, H, W] in [0, 1] laid out in rows of `columns`, `pad` pixels of white between
/// them: [C, H', W'].
at::Tensor image_grid(const at::Tensor& images, int64_t columns, int64_t pad = 2);

}  // namespace filterscope
