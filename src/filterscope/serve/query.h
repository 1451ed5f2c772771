// The explorer's request grammar, apart from any run: the path's segments, each route's query
// parameters (each at most once, no unknown ones), integers in a range and lists of units. Plain
// std, so that the request parsing can be fuzzed on its own (fuzz/); explorer.h answers requests.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace filterscope {

/// A request the API refuses: 400 (malformed or out of range) or 404 (no such thing).
struct RequestError {
  int status;
  std::string message;
};

[[noreturn]] void bad_request(const std::string& message);
[[noreturn]] void not_found(const std::string& message);

/// The segments of a decoded URL path ("/api/runs/a/series" -> {"api", "runs", "a", "series"}).
/// Throws RequestError 404 for a path not starting with '/' and for empty, "." or ".." segments.
std::vector<std::string> split_route_path(const std::string& path);

/// The query parameters of one route: each may appear at most once, and no other may appear.
class Query {
 public:
  /// Throws RequestError 400 for a parameter not in `known` or one given twice.
  Query(const std::multimap<std::string, std::string>& params, std::initializer_list<const char*> known);
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  std::string text(const std::string& key, const std::string& fallback) const;
  /// The parameter as an integer in [lo, hi], `fallback` when absent; RequestError 400 otherwise.
  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  static int64_t parse_integer(const std::string& key, const std::string& text, int64_t lo, int64_t hi);

 private:
  std::map<std::string, std::string> values_;
};

/// A comma-separated list of unit numbers, sorted and without repeats: 400 for a malformed or
/// empty list or more than 4096 units, 404 naming `layer` for a unit at or beyond `unit_count`.
std::vector<int64_t> parse_unit_list(const std::string& text, int64_t unit_count, const std::string& layer);

}  // namespace filterscope
