#include "filterscope/io/npy_format.h"

#include <cctype>
#include <cstring>
#include <limits>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"

namespace filterscope {

namespace {

// The value text after 'key': in the header dict, up to the next top-level comma or the closing
// brace; empty when the key is absent.
bool find_value(const std::string& header, const std::string& key, std::string& value) {
  const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
  for (const std::string& q : quoted) {
    const size_t at = header.find(q);
    if (at == std::string::npos) continue;
    size_t pos = header.find_first_not_of(" \t", at + q.size());
    if (pos == std::string::npos || header[pos] != ':') continue;
    ++pos;
    int depth = 0;
    size_t end = pos;
    char quote = 0;
    for (; end < header.size(); ++end) {
      const char c = header[end];
      if (quote) {
        if (c == quote) quote = 0;
        continue;
      }
      if (c == '\'' || c == '"') quote = c;
      else if (c == '(' || c == '[') ++depth;
      else if (c == ')' || c == ']') --depth;
      else if ((c == ',' && depth == 0) || (c == '}' && depth <= 0)) break;
    }
    value = header.substr(pos, end - pos);
    const size_t first = value.find_first_not_of(" \t");
    const size_t last = value.find_last_not_of(" \t");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    return true;
  }
  return false;
}

std::string describe_code(const std::string& code) {
  static const std::pair<const char*, const char*> known[] = {
      {">f4", "big-endian float32"}, {">f8", "big-endian float64"}, {">i4", "big-endian int32"},
      {">i8", "big-endian int64"},   {"<f2", "float16"},            {"<i2", "int16"},
      {">i2", "big-endian int16"},   {"|i1", "int8"},               {"<u2", "uint16"},
      {"<u4", "uint32"},             {"<u8", "uint64"},             {"<c8", "complex64"},
      {"<c16", "complex128"},        {"|O", "Python objects"},
  };
  for (const auto& [c, name] : known)
    if (code == c) return "'" + code + "' (" + name + ")";
  return "'" + printable(code, 20) + "'";
}

}  // namespace

const std::vector<NpyDtype>& npy_dtypes() {
  static const std::vector<NpyDtype> dtypes = {
      {"<f4", "float32", 4}, {"<f8", "float64", 8}, {"<i4", "int32", 4},
      {"<i8", "int64", 8},   {"|u1", "uint8", 1},   {"|b1", "bool", 1},
  };
  return dtypes;
}

std::string npy_dtype_list() {
  std::string out;
  for (const auto& d : npy_dtypes()) out += std::string(out.empty() ? "" : ", ") + d.name + " (" + d.code + ")";
  return out;
}

NpyHeader parse_npy(std::string_view bytes, const std::string& where) {
  FS_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), kNpyMagic, 6) == 0, where,
           ": not a NumPy .npy file (bad magic string)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    FS_CHECK(bytes.size() >= 12, where, ": truncated .npy header");
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    throw Error(detail::concat(where, ": unsupported .npy format version ", major));
  }
  FS_CHECK(bytes.size() - header_start >= header_len, where, ": truncated .npy header (it says ", header_len,
           " bytes, the file has ", bytes.size() - header_start, ")");
  const std::string header(bytes.substr(header_start, header_len));

  NpyHeader out;
  std::string value;
  FS_CHECK(find_value(header, "descr", value), where, ": .npy header has no 'descr'");
  FS_CHECK(value.size() >= 2 && (value.front() == '\'' || value.front() == '"') && value.back() == value.front(), where,
           ": .npy header's 'descr' is ", printable(value, 40), ", not a quoted type code such as '<f4'");
  const std::string code = value.substr(1, value.size() - 2);
  const NpyDtype* dtype = nullptr;
  for (const auto& d : npy_dtypes())
    if (code == d.code || (d.item_size == 1 && code.size() == 3 && code.substr(1) == std::string(d.code).substr(1) &&
                           (code[0] == '<' || code[0] == '>' || code[0] == '=')))
      dtype = &d;
  FS_CHECK(dtype != nullptr, where, ": unsupported dtype ", describe_code(code), " (supported: ", npy_dtype_list(), ")");
  out.dtype = *dtype;

  FS_CHECK(find_value(header, "fortran_order", value), where, ": .npy header has no 'fortran_order'");
  FS_CHECK(value == "False" || value == "True", where, ": .npy header's 'fortran_order' is ", printable(value, 40),
           ", not True or False");
  FS_CHECK(value == "False", where, ": array is in Fortran order; save it in C order (numpy.ascontiguousarray)");

  FS_CHECK(find_value(header, "shape", value), where, ": .npy header has no 'shape'");
  FS_CHECK(value.size() >= 2 && value.front() == '(' && value.back() == ')', where, ": .npy header's 'shape' is ",
           printable(value, 40), ", not a tuple such as (3, 2)");
  const std::string dims = value.substr(1, value.size() - 2);
  uint64_t count = 1;
  bool overflow = false;
  size_t pos = 0;
  while (pos < dims.size()) {
    while (pos < dims.size() && std::isspace(static_cast<unsigned char>(dims[pos]))) ++pos;
    if (pos == dims.size()) break;
    size_t end = pos;
    if (dims[end] == '-') ++end;
    while (end < dims.size() && std::isdigit(static_cast<unsigned char>(dims[end]))) ++end;
    const std::string item = dims.substr(pos, end - pos);
    FS_CHECK(!item.empty() && item != "-", where, ": .npy header's 'shape' is ", printable(value, 40),
             ", not a tuple of whole numbers");
    FS_CHECK(item[0] != '-', where, ": .npy header's 'shape' ", printable(value, 40), " has a negative dimension ", item);
    FS_CHECK(item.size() <= 18, where, ": .npy header's 'shape' ", printable(value, 40), " has a dimension too large (",
             printable(item, 30), ")");
    const int64_t d = std::stoll(item);
    out.shape.push_back(d);
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) overflow = true;
    count *= static_cast<uint64_t>(d);
    pos = end;
    while (pos < dims.size() && std::isspace(static_cast<unsigned char>(dims[pos]))) ++pos;
    if (pos < dims.size()) {
      FS_CHECK(dims[pos] == ',', where, ": .npy header's 'shape' is ", printable(value, 40),
               ", not a tuple of whole numbers");
      ++pos;
    }
  }
  out.data_offset = header_start + header_len;
  const size_t present = bytes.size() - out.data_offset;
  const bool too_big = overflow || count > std::numeric_limits<uint64_t>::max() / dtype->item_size;
  const std::string needed = too_big ? std::string("more than 2^64") : std::to_string(count * dtype->item_size);
  FS_CHECK(!too_big && count * dtype->item_size <= present, where, ": truncated data: shape ", printable(value, 40),
           " needs ", needed, " bytes, file has ", present);
  out.data_bytes = static_cast<size_t>(count * dtype->item_size);
  FS_CHECK(present == out.data_bytes, where, ": ", present - out.data_bytes, " bytes of trailing data after the array");
  return out;
}

}  // namespace filterscope
