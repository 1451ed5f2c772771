#include "filterscope/io/json.h"

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"

namespace filterscope {

namespace fs = std::filesystem;

nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double number_or_nan(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; }

std::string json_error_text(const std::exception& e) {
  std::string text = e.what();
  if (text.rfind("[json.exception.", 0) == 0) {
    const size_t end = text.find("] ");
    if (end != std::string::npos) text = text.substr(end + 2);
  }
  return text;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& where) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(where, ": not valid JSON (", json_error_text(e), ")"));
  }
}

nlohmann::json read_json_file(const fs::path& path) {
  FS_CHECK(fs::exists(path), path.string(), ": no such file");
  return parse_json_text(read_file(path), path.string());
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
