// Two error levels (see docs/conventions): filterscope::Error for the caller's mistakes and bad
// input, with a message that names the parameter or file; FS_ASSERT for broken internal invariants.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace filterscope {

/// A user or input error: the message is meant to be printed as is, on one line.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A mistake on the command line (a flag's value out of range, not one of its choices, flags that
/// do not go together): the CLI exits with 2 for these, as for the parser's own errors, and 1 for
/// every other Error.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

/// The first line of an exception's message, without LibTorch's C++ backtrace.
std::string describe_exception(const std::exception& e);

}  // namespace filterscope

/// Throws filterscope::Error with the streamed arguments unless cond holds.
#define FS_CHECK(cond, ...)                                             \
  do {                                                                  \
    if (!(cond)) throw ::filterscope::Error(::filterscope::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Throws filterscope::UsageError with the streamed arguments unless cond holds.
#define FS_CHECK_USAGE(cond, ...)                                                             \
  do {                                                                                        \
    if (!(cond)) throw ::filterscope::UsageError(::filterscope::detail::concat(__VA_ARGS__)); \
  } while (0)

/// An internal invariant: failing it is a bug in filterscope, not in the input.
#define FS_ASSERT(cond, ...)                                                                    \
  do {                                                                                          \
    if (!(cond))                                                                                \
      throw std::logic_error(::filterscope::detail::concat("internal error at ", __FILE__, ":", \
                                                           __LINE__, ": ", #cond, " ",          \
                                                           ##__VA_ARGS__));                     \
  } while (0)
