#include "filterscope/io/npy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"

namespace filterscope {

namespace {

at::ScalarType scalar_type_of(const NpyDtype& dtype) {
  const std::string code = dtype.code;
  if (code == "<f4") return at::kFloat;
  if (code == "<f8") return at::kDouble;
  if (code == "<i4") return at::kInt;
  if (code == "<i8") return at::kLong;
  if (code == "|u1") return at::kByte;
  FS_ASSERT(code == "|b1", code);
  return at::kBool;
}

const NpyDtype* dtype_of(at::ScalarType type) {
  for (const auto& d : npy_dtypes())
    if (scalar_type_of(d) == type) return &d;
  return nullptr;
}

}  // namespace

std::string npy_dtype_name(at::ScalarType type) {
  const NpyDtype* d = dtype_of(type);
  return d != nullptr ? std::string(d->name) + " (" + d->code + ")" : std::string(c10::toString(type));
}

at::Tensor read_npy(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const NpyHeader header = parse_npy(bytes, path.string());
  at::Tensor tensor = at::empty(header.shape, at::TensorOptions().dtype(scalar_type_of(header.dtype)));
  if (header.data_bytes > 0) std::memcpy(tensor.data_ptr(), bytes.data() + header.data_offset, header.data_bytes);
  return tensor;
}

void write_npy(const std::filesystem::path& path, const at::Tensor& tensor) {
  const at::Tensor data = tensor.detach().to(at::kCPU).contiguous();
  const NpyDtype* dtype = dtype_of(data.scalar_type());
  FS_CHECK(dtype != nullptr, "cannot write ", path.string(), ": dtype ", data.scalar_type(),
           " has no .npy code here");

  std::string shape = "(";
  for (int64_t i = 0; i < data.dim(); ++i) {
    shape += std::to_string(data.size(i));
    if (data.dim() == 1 || i + 1 < data.dim()) shape += ",";
    if (i + 1 < data.dim()) shape += " ";
  }
  shape += ")";
  std::string header = std::string("{'descr': '") + dtype->code +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // The header is padded with spaces and a newline so that the data starts on a 64-byte boundary.
  const size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";

  std::string out(kNpyMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  const size_t nbytes = static_cast<size_t>(data.numel()) * dtype->item_size;
  out.append(static_cast<const char*>(data.data_ptr()), nbytes);
  write_file_atomic(path, out);
}

}  // namespace filterscope
