#include "filterscope/io/json.h"

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"

namespace filterscope {

namespace fs = std::filesystem;

nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double number_or_nan(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; }

nlohmann::json read_json_file(const fs::path& path) {
  FS_CHECK(fs::exists(path), path.string(), ": no such file");
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(path.string(), ": not valid JSON (", e.what(), ")"));
  }
}

nlohmann::json read_json_file_if_exists(const fs::path& path) {
  return fs::exists(path) ? read_json_file(path) : nlohmann::json(nullptr);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

}  // namespace filterscope
