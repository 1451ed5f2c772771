// The `filterscope` command as a function, so tests can drive it in-process.
#pragma once
#include <string>
#include <vector>

namespace filterscope::cli {

/// Parses argv, runs the subcommand, prints errors as one line. Returns the exit code.
int run(int argc, const char* const* argv);

/// Convenience for tests: run({"train", "--epochs", "1"}).
int run(const std::vector<std::string>& args);

}  // namespace filterscope::cli
