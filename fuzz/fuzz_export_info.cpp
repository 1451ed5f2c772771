// The extra file filterscope.json of a TorchScript archive.
#include "filterscope/models/export_info.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::parse_or_refuse([&] {
    const auto info = filterscope::ExportInfo::parse(std::string(fuzz::as_text(data, size)), "model.pt: filterscope.json");
    if (info.mean.size() != info.std.size()) std::abort();
    if (info.input_side && (*info.input_side < 1 || *info.input_side > 65536)) std::abort();
    for (double s : info.std)
      if (!(s > 0)) std::abort();
  });
  return 0;
}
