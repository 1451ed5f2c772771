// NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order.
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>

#include "filterscope/io/npy_format.h"

namespace filterscope {

/// Reads an .npy file into a CPU tensor of the matching dtype. Supported dtypes: float32, float64,
/// int32, int64, uint8, bool. Throws Error naming the file for a bad magic string, an unsupported
/// dtype, Fortran order, a malformed header, or data shorter or longer than the shape says.
at::Tensor read_npy(const std::filesystem::path& path);

/// "float32 (<f4)": a dtype as NumPy users name it, for messages; LibTorch's name otherwise.
std::string npy_dtype_name(at::ScalarType type);

/// Writes a tensor (any device; it is copied to CPU and made contiguous) as an .npy file,
/// atomically. Supported dtypes as for read_npy.
void write_npy(const std::filesystem::path& path, const at::Tensor& tensor);

}  // namespace filterscope
