// .npy files (versions 1, 2 and 3): the header's grammar, dtypes, shapes and data lengths.
#include "filterscope/io/npy_format.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::parse_or_refuse([&] {
    const auto h = filterscope::parse_npy(fuzz::as_text(data, size), "in.npy");
    if (h.data_offset + h.data_bytes != size) std::abort();
    uint64_t count = 1;
    for (int64_t d : h.shape) {
      if (d < 0) std::abort();
      count *= static_cast<uint64_t>(d);
    }
    if (count * h.dtype.item_size != h.data_bytes) std::abort();
  });
  return 0;
}
