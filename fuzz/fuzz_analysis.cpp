// analysis.json (RUN/analysis/epoch-NNN/, or beside an analysed TorchScript file): JSON text to the
// typed analysis record that track, gradients, mask, clean, the report and the explorer read; its
// request (what decides reuse), and the record written back and read again.
#include "filterscope/io/json.h"
#include "filterscope/runs/analysis_record.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace filterscope;
  fuzz::parse_or_refuse([&] {
    const std::string source = "run/analysis/epoch-003/analysis.json";
    const nlohmann::json json = parse_json_text(std::string(fuzz::as_text(data, size)), source);
    fuzz::round_trip<AnalysisRecord>(json, source);
    AnalysisRecord::from_json(json, source).request().dump();
  });
  return 0;
}
