#include "filterscope/serve/query.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "filterscope/core/text.h"

namespace filterscope {

void bad_request(const std::string& message) { throw RequestError{400, message}; }
void not_found(const std::string& message) { throw RequestError{404, message}; }

std::vector<std::string> split_route_path(const std::string& path) {
  if (path.empty() || path[0] != '/') not_found("no such page");
  // Empty segments (a//b, a trailing /) are not routes.
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    const size_t end = path.find('/', start);
    parts.push_back(path.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  for (const auto& p : parts)
    if (p.empty() || p == "." || p == "..") not_found("no such page");
  return parts;
}

Query::Query(const std::multimap<std::string, std::string>& params, std::initializer_list<const char*> known) {
  for (const auto& entry : params) {
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    if (std::find_if(known.begin(), known.end(), [&key](const char* k) { return key == k; }) == known.end())
      bad_request("unknown parameter '" + printable(key, 40) + "'");
    if (values_.count(key)) bad_request("parameter '" + key + "' given twice");
    values_[key] = value;
  }
}

std::string Query::text(const std::string& key, const std::string& fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

int64_t Query::integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  return parse_integer(key, it->second, lo, hi);
}

int64_t Query::parse_integer(const std::string& key, const std::string& text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec == std::errc::result_out_of_range)
    bad_request("parameter '" + key + "': " + printable(text, 40) + " is out of range");
  if (text.empty() || ec != std::errc() || ptr != end)
    bad_request("parameter '" + key + "': '" + printable(text, 40) + "' is not an integer");
  if (v < lo || v > hi)
    bad_request("parameter '" + key + "': " + text + " is out of range [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return v;
}

std::vector<int64_t> parse_unit_list(const std::string& text, int64_t unit_count, const std::string& layer) {
  std::vector<int64_t> units;
  for (const std::string& part : split_list(text)) {
    const int64_t u = Query::parse_integer("units", part, 0, std::numeric_limits<int32_t>::max());
    if (u >= unit_count)
      not_found("layer " + layer + " has no unit " + part + " (it has " + std::to_string(unit_count) + ")");
    units.push_back(u);
    if (units.size() > 4096) bad_request("parameter 'units': at most 4096 units");
  }
  if (units.empty()) bad_request("parameter 'units': no unit given");
  std::sort(units.begin(), units.end());
  units.erase(std::unique(units.begin(), units.end()), units.end());
  return units;
}

}  // namespace filterscope
