#include "filterscope/core/text.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace filterscope {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string printable(std::string_view text, size_t max_chars) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max_chars; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (text.size() > max_chars) out += "...";
  return out;
}

std::string without_prefix(const std::string& message, const std::string& prefix) {
  const std::string head = prefix + ": ";
  return message.rfind(head, 0) == 0 ? message.substr(head.size()) : message;
}

std::string percent(double share) {
  if (!std::isfinite(share)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", 100 * share);
  return text;
}

}  // namespace filterscope
