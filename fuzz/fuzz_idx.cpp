// IDX images and labels, plain or gzipped: the input is one IDX file; its first byte chooses images
// or labels, so that one corpus covers both readers and the gzip layer in front of them.
#include "filterscope/data/decode.h"
#include "filterscope/io/gzip.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool labels = data[0] & 1;
  const std::string_view file = fuzz::as_text(data + 1, size - 1);
  fuzz::parse_or_refuse([&] {
    // A 64 MiB cap keeps a tiny gzip bomb from hitting the fuzzer's memory limit.
    const std::string bytes = filterscope::maybe_gunzip(file, "in.idx", size_t{64} << 20);
    if (labels) {
      const auto a = filterscope::parse_idx_labels(bytes, "labels.idx");
      volatile unsigned sum = 0;
      for (char c : a.data) sum += static_cast<unsigned char>(c);
    } else {
      const auto a = filterscope::parse_idx_images(bytes, "images.idx");
      if (a.data.size() != static_cast<size_t>(a.count * a.rows * a.cols)) std::abort();
      volatile unsigned sum = 0;
      for (char c : a.data) sum += static_cast<unsigned char>(c);
    }
  });
  return 0;
}
