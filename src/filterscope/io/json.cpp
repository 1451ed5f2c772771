#include "filterscope/io/json.h"

#include <cmath>
#include <cstdint>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"

namespace filterscope {

namespace fs = std::filesystem;

nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double number_or_nan(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; }

std::string json_format_of(const nlohmann::json& j) {
  if (!j.is_object()) return "";
  const auto it = j.find("format");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

nlohmann::json json_numbers(const std::vector<double>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : values) out.push_back(json_number(v));
  return out;
}

std::vector<double> numbers_or_nan(const nlohmann::json& values) {
  std::vector<double> out;
  out.reserve(values.size());
  for (const auto& v : values) out.push_back(number_or_nan(v));
  return out;
}

int64_t json_whole(const nlohmann::json& v) {
  const bool fits = v.is_number_integer() &&
                    (!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
  FS_CHECK(fits, v.dump().substr(0, 40), " is not a whole number");
  return v.get<int64_t>();
}

std::vector<int64_t> json_wholes(const nlohmann::json& v) {
  FS_CHECK(v.is_array(), v.dump().substr(0, 40), " is not a list of whole numbers");
  std::vector<int64_t> out;
  out.reserve(v.size());
  for (const auto& x : v) out.push_back(json_whole(x));
  return out;
}

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
