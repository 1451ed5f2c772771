#include "filterscope/core/error.h"

#include <c10/util/Exception.h>

namespace filterscope {

std::string describe_exception(const std::exception& e) {
  std::string text;
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    text = c10_error->what_without_backtrace();
  } else {
    text = e.what();
  }
  // TorchScript errors and c10 messages run over several lines; users get the first non-empty one.
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
  }
  return text.empty() ? std::string("unknown error") : text;
}

}  // namespace filterscope
