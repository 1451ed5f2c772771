// CIFAR-10 and CIFAR-100 binary batches: the first byte chooses the format.
#include "filterscope/data/decode.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool cifar100 = data[0] & 1;
  fuzz::parse_or_refuse([&] {
    const auto r = filterscope::parse_cifar_records(fuzz::as_text(data + 1, size - 1), cifar100, "batch.bin");
    if (r.labels.size() != static_cast<size_t>(r.count) || r.pixels.size() != r.labels.size()) std::abort();
    for (size_t i = 0; i < r.pixels.size(); ++i)
      if (r.pixels[i].size() != 3072 || r.labels[i] < 0 || r.labels[i] >= (cifar100 ? 100 : 10)) std::abort();
  });
  return 0;
}
