#include <gtest/gtest.h>

#include "filterscope/core/runtime.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  filterscope::tune_allocator();
  filterscope::configure_threads(0);
  return RUN_ALL_TESTS();
}
