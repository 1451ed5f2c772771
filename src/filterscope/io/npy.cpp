#include "filterscope/io/npy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <regex>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"

namespace filterscope {

namespace {

struct DtypeCode {
  const char* descr;
  at::ScalarType type;
  size_t item_size;
};

// Bytes are read as they are: this table only lists little-endian (or byte-sized) codes.
const DtypeCode kDtypes[] = {
    {"<f4", at::kFloat, 4}, {"<f8", at::kDouble, 8}, {"<i4", at::kInt, 4},
    {"<i8", at::kLong, 8},  {"|u1", at::kByte, 1},   {"|b1", at::kBool, 1},
};

const char kMagic[] = "\x93NUMPY";

std::string dtype_name(const std::string& descr) {
  if (descr == ">f4" || descr == ">f8" || descr == ">i4" || descr == ">i8")
    return descr + " (big-endian)";
  return descr;
}

}  // namespace

at::Tensor read_npy(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const std::string where = path.string();
  FS_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), kMagic, 6) == 0, where,
           ": not a NumPy .npy file (bad magic string)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    FS_CHECK(bytes.size() >= 12, where, ": truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i)
      header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    throw Error(detail::concat(where, ": unsupported .npy format version ", major));
  }
  FS_CHECK(bytes.size() >= header_start + header_len, where, ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_len);

  std::smatch match;
  static const std::regex descr_re(R"('descr'\s*:\s*'([^']*)')");
  static const std::regex fortran_re(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex shape_re(R"('shape'\s*:\s*\(([^)]*)\))");
  FS_CHECK(std::regex_search(header, match, descr_re), where, ": .npy header has no 'descr'");
  const std::string descr = match[1];
  FS_CHECK(std::regex_search(header, match, fortran_re), where,
           ": .npy header has no 'fortran_order'");
  FS_CHECK(match[1] == "False", where,
           ": array is in Fortran order; save it in C order (numpy.ascontiguousarray)");
  FS_CHECK(std::regex_search(header, match, shape_re), where, ": .npy header has no 'shape'");
  std::vector<int64_t> shape;
  {
    const std::string dims = match[1];
    static const std::regex dim_re(R"(\s*(\d+)\s*(,|$))");
    for (auto it = std::sregex_iterator(dims.begin(), dims.end(), dim_re);
         it != std::sregex_iterator(); ++it) {
      shape.push_back(std::stoll((*it)[1]));
    }
  }

  const DtypeCode* dtype = nullptr;
  for (const auto& code : kDtypes)
    if (descr == code.descr) dtype = &code;
  FS_CHECK(dtype != nullptr, where, ": unsupported dtype '", dtype_name(descr),
           "' (supported: float32 <f4, float64 <f8, int32 <i4, int64 <i8, uint8, bool)");

  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  const size_t data_start = header_start + header_len;
  const size_t expected = static_cast<size_t>(count) * dtype->item_size;
  const size_t present = bytes.size() - data_start;
  FS_CHECK(present >= expected, where, ": truncated data: shape needs ", expected, " bytes, file has ",
           present);
  FS_CHECK(present == expected, where, ": ", present - expected,
           " bytes of trailing data after the array");

  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype->type));
  if (expected > 0) std::memcpy(tensor.data_ptr(), bytes.data() + data_start, expected);
  return tensor;
}

void write_npy(const std::filesystem::path& path, const at::Tensor& tensor) {
  const at::Tensor data = tensor.detach().to(at::kCPU).contiguous();
  const DtypeCode* dtype = nullptr;
  for (const auto& code : kDtypes)
    if (data.scalar_type() == code.type) dtype = &code;
  FS_CHECK(dtype != nullptr, "cannot write ", path.string(), ": dtype ", data.scalar_type(),
           " has no .npy code here");

  std::string shape = "(";
  for (int64_t i = 0; i < data.dim(); ++i) {
    shape += std::to_string(data.size(i));
    if (data.dim() == 1 || i + 1 < data.dim()) shape += ",";
    if (i + 1 < data.dim()) shape += " ";
  }
  shape += ")";
  std::string header = std::string("{'descr': '") + dtype->descr +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // The header is padded with spaces and a newline so that the data starts on a 64-byte boundary.
  const size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";

  std::string out(kMagic, 6);
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
