#include "filterscope/io/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "filterscope/core/error.h"

namespace filterscope {

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f && static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::string maybe_gunzip(std::string_view bytes, const std::string& where, size_t max_output) {
  if (!is_gzip(bytes)) return std::string(bytes);
  z_stream s{};
  FS_CHECK(inflateInit2(&s, 16 + MAX_WBITS) == Z_OK, where, ": cannot start zlib");
  std::string out;
  char buffer[1 << 16];
  size_t consumed = 0;
  std::string problem;
  while (problem.empty()) {
    const size_t chunk = std::min<size_t>(bytes.size() - consumed, std::numeric_limits<uInt>::max());
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + consumed));
    s.avail_in = static_cast<uInt>(chunk);
    s.next_out = reinterpret_cast<Bytef*>(buffer);
    s.avail_out = sizeof buffer;
    const int status = inflate(&s, Z_NO_FLUSH);
    consumed += chunk - s.avail_in;
    const size_t produced = sizeof buffer - s.avail_out;
    if (out.size() + produced > max_output) {
      problem = "it inflates to more than " + std::to_string(max_output) + " bytes";
      break;
    }
    out.append(buffer, produced);
    if (status == Z_STREAM_END) {
      // Another member may follow (cat a.gz b.gz); trailing zero padding is allowed too.
      const std::string_view rest = bytes.substr(consumed);
      if (rest.find_first_not_of('\0') == std::string_view::npos) break;
      if (!is_gzip(rest)) {
        problem = "trailing bytes after the gzip stream";
        break;
      }
      inflateReset(&s);
      continue;
    }
    if (status != Z_OK && status != Z_BUF_ERROR) {
      problem = s.msg != nullptr ? s.msg : "zlib error " + std::to_string(status);
    } else if (produced == 0 && consumed == bytes.size()) {
      problem = "the stream is cut short";
    } else if (status == Z_BUF_ERROR && produced == 0) {
      problem = "the stream is cut short";
    }
  }
  inflateEnd(&s);
  FS_CHECK(problem.empty(), where, ": corrupt gzip data (", problem, ")");
  return out;
}

}  // namespace filterscope
