// Small text helpers shared by the commands' list flags.
#pragma once
#include <string>
#include <vector>

namespace filterscope {

/// The non-empty items of a comma-separated list: "a,,b" -> {"a", "b"}.
std::vector<std::string> split_list(const std::string& text);

}  // namespace filterscope
