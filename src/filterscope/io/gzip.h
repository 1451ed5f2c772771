// gzip in memory: dataset files come gzipped or not, and one reader serves both.
#pragma once
#include <string>
#include <string_view>

namespace filterscope {

/// True when `bytes` start with the gzip magic (1f 8b).
bool is_gzip(std::string_view bytes);

/// The bytes as they are, or inflated when they are gzip (several members are concatenated, as
/// gzip -d does). Throws Error "`where`: corrupt gzip data (zlib's reason)" for a damaged or
/// cut-short stream, and when the output would pass `max_output` bytes.
std::string maybe_gunzip(std::string_view bytes, const std::string& where, size_t max_output = size_t{1} << 34);

}  // namespace filterscope
