#include "filterscope/train/checkpoint_info.h"

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"

namespace filterscope {

namespace {
const char* kFormat = "filterscope-checkpoint-1";

int64_t count_field(const nlohmann::json& json, const char* key, int64_t lo, int64_t hi, const std::string& where) {
  FS_CHECK(json.contains(key), where, ": corrupt checkpoint metadata (no \"", key, "\")");
  const nlohmann::json& v = json.at(key);
  FS_CHECK(v.is_number_integer(), where, ": corrupt checkpoint metadata (\"", key, "\" is not an integer)");
  const int64_t n = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi) ? hi + 1 : v.get<int64_t>();
  FS_CHECK(n >= lo && n <= hi, where, ": corrupt checkpoint metadata (\"", key, "\" is ", v.dump(),
           ", expected ", lo, " to ", hi, ")");
  return n;
}
}  // namespace

std::string CheckpointInfo::to_text() const {
  const nlohmann::json json = {{"format", kFormat},         {"epoch", epoch},
                               {"network", network},        {"in_channels", in_channels},
                               {"num_classes", num_classes}, {"input_size", input_size},
                               {"settings", settings}};
  return json.dump();
}

CheckpointInfo CheckpointInfo::parse(const std::string& text, const std::string& where) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    throw Error(where + ": corrupt checkpoint metadata (not JSON)");
  }
  FS_CHECK(json.is_object(), where, ": corrupt checkpoint metadata (not a JSON object)");
  const auto format = json.find("format");
  FS_CHECK(format != json.end() && format->is_string(), where, ": corrupt checkpoint metadata (no \"format\")");
  FS_CHECK(format->get<std::string>() == kFormat, where, ": unsupported checkpoint format \"",
           printable(format->get<std::string>(), 60), "\" (this filterscope reads ", kFormat, ")");
  CheckpointInfo info;
  info.epoch = count_field(json, "epoch", 0, 1000000, where);
  const auto network = json.find("network");
  FS_CHECK(network != json.end() && network->is_string(), where,
           ": corrupt checkpoint metadata (\"network\" is missing or not text)");
  info.network = network->get<std::string>();
  // The name reaches messages and file names: a damaged one is refused here, not echoed.
  FS_CHECK(!info.network.empty() && info.network.size() <= 64 && printable(info.network) == info.network, where,
           ": corrupt checkpoint metadata (\"network\" is ", printable(info.network, 64), ", not a network name)");
  info.in_channels = count_field(json, "in_channels", 1, 4096, where);
  info.num_classes = count_field(json, "num_classes", 1, 1000000, where);
  info.input_size = count_field(json, "input_size", 0, 65536, where);
  const auto settings = json.find("settings");
  FS_CHECK(settings != json.end() && settings->is_object(), where,
           ": corrupt checkpoint metadata (\"settings\" is missing or not an object)");
  info.settings = *settings;
  return info;
}

}  // namespace filterscope
