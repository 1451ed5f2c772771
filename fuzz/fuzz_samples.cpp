// The per-sample training records (RUN/samples/epoch-NNN.csv, read by `clean`) and the index
// lists of `train --exclude`. The first byte picks the parser.
#include "filterscope/core/files.h"
#include "filterscope/train/sample_log.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace filterscope;
  if (size == 0) return 0;
  const std::string text(fuzz::as_text(data + 1, size - 1));
  fuzz::parse_or_refuse([&] {
    if (data[0] % 2 == 0) {
      const SampleEpoch epoch = SampleEpoch::from_csv(text, 3, "RUN/samples/epoch-003.csv");
      // Written and read again, the file is stable.
      const std::string once = epoch.to_csv();
      if (SampleEpoch::from_csv(once, 3, "again").to_csv() != once) std::abort();
    } else {
      parse_index_list(text, "exclude.txt");
    }
  });
  return 0;
}
