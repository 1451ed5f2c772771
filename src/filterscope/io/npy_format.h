// The .npy header (format versions 1.0, 2.0 and 3.0) parsed from bytes, without tensors, so that
// the parser can be fuzzed on its own; io/npy.h makes tensors of it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace filterscope {

/// The six bytes every .npy file starts with.
inline constexpr char kNpyMagic[] = "\x93NUMPY";

/// A dtype filterscope reads and writes: NumPy's code ("<f4") and name ("float32").
struct NpyDtype {
  const char* code;
  const char* name;
  size_t item_size;
};

/// The dtypes read and written: float32, float64, int32, int64, uint8, bool (little-endian).
const std::vector<NpyDtype>& npy_dtypes();

/// "float32 (<f4), float64 (<f8), ...": the list error messages give.
std::string npy_dtype_list();

struct NpyHeader {
  NpyDtype dtype{};
  std::vector<int64_t> shape;
  size_t data_offset = 0;  ///< where the array's bytes start
  size_t data_bytes = 0;   ///< product of the shape times the item size
};

/// Parses the header and checks the data's length. Throws Error naming `where` for a bad magic
/// string, a malformed header (each key's problem said as such), an unsupported dtype (in NumPy's
/// words), Fortran order, a negative or overflowing dimension, or data shorter or longer than the
/// shape says.
NpyHeader parse_npy(std::string_view bytes, const std::string& where);

}  // namespace filterscope
