// Tensors and plain values as one string of bytes, for the ranks of a sharded analysis to send their
// results to the root (core/ranks.h moves bytes, nothing else). Both ends run the same build, so
// the byte order is the machine's own; the reader still checks every length, so that a damaged
// message is an Error, not a crash.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace filterscope {

class ByteWriter {
 public:
  void i64(int64_t value);
  void f64(double value);
  void text(const std::string& value);
  /// Any dtype and shape, CPU or not (copied to the CPU); an undefined tensor stays undefined.
  void tensor(const at::Tensor& value);
  const std::string& bytes() const { return bytes_; }

 private:
  void raw(const void* data, size_t size);
  std::string bytes_;
};

class ByteReader {
 public:
  /// what: named in errors ("rank 2's results").
  ByteReader(const std::string& bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}
  int64_t i64();
  double f64();
  std::string text();
  at::Tensor tensor();
  bool at_end() const { return at_ == bytes_.size(); }

 private:
  void raw(void* data, size_t size);
  const std::string& bytes_;
  std::string what_;
  size_t at_ = 0;
};

}  // namespace filterscope
