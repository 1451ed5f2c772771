// run.json: JSON text to the typed run record and its settings, then the settings' validation as
// `train --resume` and every stage reading a run apply it.
#include "filterscope/io/json.h"
#include "filterscope/train/run_record.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace filterscope;
  fuzz::parse_or_refuse([&] {
    const nlohmann::json json = parse_json_text(std::string(fuzz::as_text(data, size)), "run/run.json");
    const RunRecord record = RunRecord::from_json(json, "run/run.json");
    validate_params(record.settings.data, DataOptions::params());
    validate_params(record.settings.split, SplitOptions::params());
    validate_params(record.settings.train, TrainOptions::params());
    // Written back and read again, the record is the same.
    const RunRecord again = RunRecord::from_json(record.to_json(), "again");
    if (again.to_json() != record.to_json()) std::abort();
  });
  return 0;
}
