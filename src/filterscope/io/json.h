// JSON and CSV helpers every writer and reader of files shares.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace filterscope {

/// A number, or null when it is not finite (JSON has no NaN or infinity).
nlohmann::json json_number(double v);

/// The inverse of json_number: the number, or NaN for null.
double number_or_nan(const nlohmann::json& v);

/// json_number over a vector: a JSON array with null for each non-finite value.
nlohmann::json json_numbers(const std::vector<double>& values);
/// The inverse of json_numbers: number_or_nan over an array.
std::vector<double> numbers_or_nan(const nlohmann::json& values);

/// Parses JSON text; throws Error "`where`: not valid JSON (the parser's reason)".
nlohmann::json parse_json_text(const std::string& text, const std::string& where);

/// A record's "format" string, or "" when `j` is not an object or its "format" is missing or not
/// text (json::value would throw on a number there: a library message users would see).
std::string json_format_of(const nlohmann::json& j);

/// A JSON integer as int64_t. Throws Error "VALUE is not a whole number" for a fraction, text or a
/// value out of range: the JSON library would cast a float such as 8.9e99 (undefined behaviour).
int64_t json_whole(const nlohmann::json& v);
/// An array of JSON integers (json_whole on each).
std::vector<int64_t> json_wholes(const nlohmann::json& v);

/// A JSON library exception's message without its "[json.exception.type_error.302] " tag.
std::string json_error_text(const std::exception& e);

/// Reads and parses a JSON file; throws Error naming it when it is missing or malformed.
nlohmann::json read_json_file(const std::filesystem::path& path);

/// read_json_file, or null when the file does not exist (an experiment not run yet).
nlohmann::json read_json_file_if_exists(const std::filesystem::path& path);

/// A CSV field, quoted (with doubled quotes) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s);

}  // namespace filterscope
