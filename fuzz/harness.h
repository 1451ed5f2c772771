// What every harness checks besides the sanitizers: a parser either accepts its input or refuses it
// with filterscope::Error whose message is one non-empty line. Any other exception escapes and
// libFuzzer reports it as a crash (an uncaught library exception would reach users as a
// backtrace or a library's internal message).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "filterscope/core/error.h"

namespace fuzz {

inline void check_message(const std::string& message) {
  if (message.empty() || message.find_first_of("\r\n") != std::string::npos) {
    std::fprintf(stderr, "fuzz: a refusal that is not one line: [%s]\n", message.c_str());
    std::abort();
  }
}

template <class F>
void parse_or_refuse(F&& parse) {
  try {
    parse();
  } catch (const filterscope::Error& e) {
    check_message(e.what());
  }
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace fuzz
