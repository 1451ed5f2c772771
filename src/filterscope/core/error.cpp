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
  // TorchScript errors and c10 messages run over several lines; users get the first non-empty one,
  // except for the interpreter's "The following operation failed" preamble, whose cause is the
  // last line ("RuntimeError: mat1 and mat2 shapes cannot be multiplied ...").
  std::istringstream lines(text);
  std::vector<std::string> kept;
  for (std::string line; std::getline(lines, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) kept.push_back(line);
  if (kept.size() > 1 && kept.front().rfind("The following operation failed in the TorchScript interpreter", 0) == 0)
    return kept.back();
  if (!kept.empty()) return kept.front();
  return text.empty() ? std::string("unknown error") : text;
}

}  // namespace filterscope
