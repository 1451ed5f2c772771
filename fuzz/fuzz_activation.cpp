// The records of `activations` and `ood` (activations.json, ood.json), read back by their pages, the
// report and the Python package: the first byte picks which; the rest is the JSON text, read to the
// typed record, written back and read again.
#include "filterscope/activations/records.h"
#include "filterscope/io/json.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace filterscope;
  if (size == 0) return 0;
  fuzz::parse_or_refuse([&] {
    const std::string text(fuzz::as_text(data + 1, size - 1));
    if (data[0] % 2 == 0)
      fuzz::round_trip<ActivationsRecord>(parse_json_text(text, "out/activations.json"), "out/activations.json");
    else
      fuzz::round_trip<OodRecord>(parse_json_text(text, "out/ood.json"), "out/ood.json");
  });
  return 0;
}
