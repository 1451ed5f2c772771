// PNG and JPEG images of an image-folder dataset: header, size limit and decoding to gray or RGB.
#include "filterscope/data/decode.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int channels = (data[0] & 1) ? 3 : 1;
  fuzz::parse_or_refuse([&] {
    filterscope::ImageHeader h;
    const auto pixels = filterscope::decode_image(fuzz::as_text(data + 1, size - 1), channels, "img.png", &h);
    if (pixels.size() != static_cast<size_t>(h.width) * h.height * channels) std::abort();
    if (h.width > filterscope::kMaxImageSide || h.height > filterscope::kMaxImageSide) std::abort();
  });
  return 0;
}
