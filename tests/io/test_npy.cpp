#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/io/npy.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::TempDir;
using testing::write_bytes;

std::string npy_bytes(const std::string& header_dict, const std::string& data, int version = 1) {
  std::string header = header_dict;
  const size_t prefix = version == 1 ? 10 : 12;
  header += std::string((64 - (prefix + header.size() + 1) % 64) % 64, ' ') + "\n";
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(version);
  out += '\0';
  if (version == 1) {
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  return out + header + data;
}

std::string expect_error(const std::filesystem::path& path) {
  try {
    read_npy(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << path;
  return "";
}

TEST(Npy, RoundTripEveryDtype) {
  TempDir dir;
  for (auto dtype : {at::kFloat, at::kDouble, at::kInt, at::kLong, at::kByte}) {
    at::Tensor t = (at::arange(24, at::kDouble).reshape({2, 3, 4}) * 3 - 7).to(dtype);
    if (dtype == at::kByte) t = at::arange(24, at::kByte).reshape({2, 3, 4});
    write_npy(dir / "a.npy", t);
    at::Tensor back = read_npy(dir / "a.npy");
    EXPECT_EQ(back.scalar_type(), dtype);
    EXPECT_TRUE(at::equal(back, t));
  }
  write_npy(dir / "s.npy", at::tensor({1.5}, at::kDouble).reshape({}));
  EXPECT_EQ(read_npy(dir / "s.npy").dim(), 0);
  write_npy(dir / "v.npy", at::arange(5, at::kLong));
  EXPECT_EQ(read_npy(dir / "v.npy").sizes(), at::IntArrayRef({5}));
}

TEST(Npy, ReadsVersion2Headers) {
  TempDir dir;
  double values[2] = {1.25, -2.5};
  write_bytes(dir / "v2.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
                                        std::string(reinterpret_cast<char*>(values), 16), 2));
  at::Tensor t = read_npy(dir / "v2.npy");
  EXPECT_EQ(t[0][1].item<double>(), -2.5);
}

TEST(Npy, MalformedFilesGetClearErrors) {
  TempDir dir;
  const std::string eight(8 * 4, '\0');
  struct Case {
    const char* name;
    std::string bytes;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"magic.npy", "PK\x03\x04 not numpy at all", "bad magic string"},
      {"dtype.npy", npy_bytes("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", eight),
       "unsupported dtype '<c16'"},
      {"bigendian.npy", npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }", eight),
       "big-endian"},
      {"fortran.npy", npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", eight),
       "Fortran order"},
      {"truncated.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (10, 2), }", eight),
       "truncated data"},
      {"trailing.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", eight),
       "trailing data"},
      {"header.npy", std::string("\x93NUMPY\x01\x00\xff\x00{'descr'", 17), "truncated .npy header"},
  };
  for (const auto& c : cases) {
    write_bytes(dir / c.name, c.bytes);
    const std::string message = expect_error(dir / c.name);
    EXPECT_NE(message.find(c.name), std::string::npos) << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << c.name << ": " << message;
  }
  EXPECT_NE(expect_error(dir / "missing.npy").find("no such file"), std::string::npos);
}

TEST(Npy, WriteIsAtomic) {
  TempDir dir;
  write_npy(dir / "a.npy", at::ones({3}));
  // A write killed half-way (the writer throws after writing part of the file) leaves the old file
  // as it was and no temporary file beside it.
  EXPECT_THROW(write_atomic_with(dir / "a.npy",
                                 [](const std::filesystem::path& temp) {
                                   std::ofstream(temp) << "half a file";
                                   throw Error("killed");
                                 }),
               Error);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) names.push_back(entry.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"a.npy"});
  EXPECT_TRUE(at::equal(read_npy(dir / "a.npy"), at::ones({3})));
}

}  // namespace
}  // namespace filterscope
