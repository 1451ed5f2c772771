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

#include <nlohmann/json.hpp>

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
    // FUZZ_EXPECT_ACCEPT=1: a seed that is refused is reported (make_seeds.py's examples must be
    // valid, or the search starts at the front door instead of inside the reader).
    if (std::getenv("FUZZ_EXPECT_ACCEPT")) {
      std::fprintf(stderr, "fuzz: refused: %s\n", e.what());
      std::abort();
    }
  }
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace fuzz

namespace fuzz {

/// A typed record read from the input's JSON, written back and read again, must write the same
/// text: what a reader accepts, its writer can say, and nothing changes on the way.
template <class Record>
void round_trip(const nlohmann::json& json, const std::string& source) {
  const Record record = Record::from_json(json, source);
  const std::string once = record.to_json().dump();
  const std::string twice = Record::from_json(record.to_json(), "again").to_json().dump();
  if (once != twice) {
    std::fprintf(stderr, "fuzz: the record changed when written and read again:\n%s\n%s\n", once.c_str(), twice.c_str());
    std::abort();
  }
}

}  // namespace fuzz
