#include "filterscope/models/export_info.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "filterscope/core/error.h"
#include "filterscope/io/json.h"

namespace filterscope {

namespace {

constexpr int64_t kMaxSide = 65536;
constexpr int64_t kMaxChannels = 4096;

// A whole number in [lo, hi], or nullopt for anything else (fractions, text, overflow).
std::optional<int64_t> whole(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) return std::nullopt;
    const auto n = static_cast<int64_t>(u);
    return n >= lo ? std::optional<int64_t>(n) : std::nullopt;
  }
  if (v.is_number_integer()) {
    const int64_t n = v.get<int64_t>();
    return n >= lo && n <= hi ? std::optional<int64_t>(n) : std::nullopt;
  }
  return std::nullopt;
}

void read_input_size(const nlohmann::json& v, ExportInfo& info, const std::string& where) {
  const std::string expected = " (expected a side such as 28, or a shape [C, H, W] or [H, W] with H == W, sides 1 to " +
                               std::to_string(kMaxSide) + ")";
  const std::string shown = v.dump().substr(0, 60);
  if (!v.is_array()) {
    const auto side = whole(v, 1, kMaxSide);
    FS_CHECK(side.has_value(), where, ": \"input_size\" is ", shown, expected);
    info.input_side = side;
    return;
  }
  FS_CHECK(v.size() == 2 || v.size() == 3, where, ": \"input_size\" is ", shown, expected);
  std::vector<int64_t> dims;
  for (size_t i = 0; i < v.size(); ++i) {
    const bool channel = v.size() == 3 && i == 0;
    const auto d = whole(v[i], 1, channel ? kMaxChannels : kMaxSide);
    FS_CHECK(d.has_value(), where, ": \"input_size\" is ", shown, expected);
    dims.push_back(*d);
  }
  const int64_t h = dims[dims.size() - 2], w = dims.back();
  FS_CHECK(h == w, where, ": \"input_size\" is ", shown, ": the input must be square (H == W); filterscope resizes images to a square side");
  info.input_side = h;
  if (dims.size() == 3) info.input_channels = dims[0];
}

std::vector<double> read_per_channel(const nlohmann::json& v, const char* key, bool positive, const std::string& where) {
  const std::string expected = positive ? "a list of positive numbers, one per channel"
                                        : "a list of numbers, one per channel";
  FS_CHECK(v.is_array() && !v.empty() && v.size() <= static_cast<size_t>(kMaxChannels), where, ": \"", key,
           "\" is ", v.dump().substr(0, 60), " (expected ", expected, ")");
  std::vector<double> out;
  for (const auto& x : v) {
    FS_CHECK(x.is_number(), where, ": \"", key, "\" is ", v.dump().substr(0, 60), " (expected ", expected, ")");
    const double d = x.get<double>();
    FS_CHECK(std::isfinite(d) && (!positive || d > 0), where, ": \"", key, "\" holds ", x.dump(),
             " (expected ", expected, ")");
    out.push_back(d);
  }
  return out;
}

}  // namespace

ExportInfo ExportInfo::parse(const std::string& text, const std::string& where) {
  const nlohmann::json json = parse_json_text(text, where);
  FS_CHECK(json.is_object(), where, ": expected a JSON object with input_size, mean and std");
  ExportInfo info;
  if (const auto it = json.find("input_size"); it != json.end() && !it->is_null()) read_input_size(*it, info, where);
  const auto mean = json.find("mean");
  const auto std_dev = json.find("std");
  FS_CHECK((mean == json.end()) == (std_dev == json.end()), where, ": gives \"",
           mean == json.end() ? "std" : "mean", "\" without \"", mean == json.end() ? "mean" : "std",
           "\" (the normalisation needs both)");
  if (mean != json.end()) {
    info.mean = read_per_channel(*mean, "mean", false, where);
    info.std = read_per_channel(*std_dev, "std", true, where);
    FS_CHECK(info.mean.size() == info.std.size(), where, ": \"mean\" has ", info.mean.size(), " channel(s) and \"std\" ",
             info.std.size());
    FS_CHECK(!info.input_channels || *info.input_channels == static_cast<int64_t>(info.mean.size()), where,
             ": \"input_size\" says ", *info.input_channels, " channel(s) and \"mean\" has ", info.mean.size());
  }
  return info;
}

}  // namespace filterscope
