// The explorer's request parameters: a decoded path and query ("path?k=v&k=v", as the server hands
// them over) through the path splitter and each route's parameter checks and typed readers.
#include <map>

#include "filterscope/serve/query.h"
#include "harness.h"

namespace {
void check(const filterscope::RequestError& e) {
  if (e.status != 400 && e.status != 404) std::abort();
  fuzz::check_message(e.message);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace filterscope;
  const std::string input(fuzz::as_text(data, size));
  const size_t q = input.find('?');
  const std::string path = input.substr(0, q);
  std::multimap<std::string, std::string> params;
  if (q != std::string::npos) {
    const std::string query = input.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      const size_t end = std::min(query.find('&', start), query.size());
      const std::string pair = query.substr(start, end - start);
      const size_t eq = pair.find('=');
      params.emplace(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
      start = end + 1;
    }
  }
  try {
    split_route_path(path);
  } catch (const RequestError& e) {
    check(e);
  }
  // The parameter sets of the routes (serve/explorer.cpp), each with its readers.
  try {
    const Query s(params, {"layer", "units", "stat", "from", "to", "points"});
    s.integer("layer", 0, 0, 1 << 20);
    s.integer("from", 0, 0, INT64_MAX / 4096);
    s.integer("to", 0, 0, INT64_MAX / 4096);
    s.integer("points", 200, 2, 2000);
    if (s.has("units")) {
      const auto units = parse_unit_list(s.text("units", ""), 384, "conv1");
      if (units.empty() || units.size() > 4096) std::abort();
      for (size_t i = 0; i < units.size(); ++i)
        if (units[i] < 0 || units[i] >= 384 || (i > 0 && units[i] <= units[i - 1])) std::abort();
    }
  } catch (const RequestError& e) {
    check(e);
  }
  try {
    const Query c(params, {"class", "pattern", "offset", "limit"});
    c.integer("class", -1, -1, 1000);
    c.integer("offset", 0, 0, 1 << 30);
    c.integer("limit", 100, 1, 1000);
  } catch (const RequestError& e) {
    check(e);
  }
  return 0;
}
