#include "filterscope/io/tensor_bytes.h"

#include <ATen/ATen.h>

#include <cstring>

#include "filterscope/core/error.h"

namespace filterscope {

void ByteWriter::raw(const void* data, size_t size) {
  if (size > 0) bytes_.append(static_cast<const char*>(data), size);  // an empty tensor's data is null
}

void ByteWriter::i64(int64_t value) { raw(&value, sizeof value); }

void ByteWriter::f64(double value) { raw(&value, sizeof value); }

void ByteWriter::text(const std::string& value) {
  i64(static_cast<int64_t>(value.size()));
  raw(value.data(), value.size());
}

void ByteWriter::tensor(const at::Tensor& value) {
  i64(value.defined() ? 1 : 0);
  if (!value.defined()) return;
  const at::Tensor t = value.cpu().contiguous();
  i64(static_cast<int64_t>(t.scalar_type()));
  i64(t.dim());
  for (int64_t d : t.sizes()) i64(d);
  raw(t.data_ptr(), t.nbytes());
}

void ByteReader::raw(void* data, size_t size) {
  FS_CHECK(size <= bytes_.size() - at_, what_, ": message ends early (", bytes_.size(), " bytes, ", size,
           " more wanted at byte ", at_, ")");
  // An empty tensor's data pointer is null, and memcpy from or to null is undefined even for zero
  // bytes (UBSan found it under scripts/sanitize.sh).
  if (size > 0) std::memcpy(data, bytes_.data() + at_, size);
  at_ += size;
}

int64_t ByteReader::i64() {
  int64_t value = 0;
  raw(&value, sizeof value);
  return value;
}

double ByteReader::f64() {
  double value = 0;
  raw(&value, sizeof value);
  return value;
}

std::string ByteReader::text() {
  const int64_t size = i64();
  FS_CHECK(size >= 0 && static_cast<uint64_t>(size) <= bytes_.size() - at_, what_, ": bad text length ", size);
  std::string value(bytes_.data() + at_, static_cast<size_t>(size));
  at_ += static_cast<size_t>(size);
  return value;
}

at::Tensor ByteReader::tensor() {
  if (i64() == 0) return {};
  const int64_t type = i64(), dims = i64();
  FS_CHECK(type >= 0 && type < static_cast<int64_t>(at::ScalarType::NumOptions), what_, ": bad dtype ", type);
  FS_CHECK(dims >= 0 && dims <= 16, what_, ": bad tensor rank ", dims);
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < dims; ++i) {
    sizes.push_back(i64());
    FS_CHECK(sizes.back() >= 0, what_, ": negative tensor size");
  }
  at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(static_cast<at::ScalarType>(type)));
  raw(t.data_ptr(), t.nbytes());
  return t;
}

}  // namespace filterscope
