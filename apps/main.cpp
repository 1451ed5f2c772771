#include <cstdio>
#include <exception>

#include "cli.h"
#include "filterscope/core/ranks.h"

int main(int argc, char** argv) {
  try {
    filterscope::start_ranks(&argc, &argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "filterscope: error: %s\n", e.what());
    return 1;
  }
  const int code = filterscope::cli::run(argc, argv);
  // A rank that failed ends the job: the others may be waiting for it in a collective.
  if (code != 0) filterscope::abort_ranks(code);
  filterscope::finish_ranks();
  return 0;
}
