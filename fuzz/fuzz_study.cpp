// The experiments' records of a run, as `verdict`, `study`, `report`, `clean` and `overfit` read them
// back: track.json, gradients.json, mask.json, clean.json, verdicts.json, retrain.json and study.json.
// The first byte picks the record; the rest is its JSON text, read to the typed record, written back
// and read again. (overfit.json is not here: its reader shares a file with the signal registry,
// whose signals run on LibTorch.)
#include "filterscope/io/json.h"
#include "filterscope/runs/study_records.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace filterscope;
  if (size == 0) return 0;
  fuzz::parse_or_refuse([&] {
    const nlohmann::json json = parse_json_text(std::string(fuzz::as_text(data + 1, size - 1)), "run/record.json");
    switch (data[0] % 7) {
      case 0: fuzz::round_trip<TrackRecord>(json, "run/track.json"); break;
      case 1: fuzz::round_trip<GradientsRecord>(json, "run/gradients.json"); break;
      case 2: fuzz::round_trip<MaskRecord>(json, "run/mask.json"); break;
      case 3: fuzz::round_trip<CleanRecord>(json, "run/clean.json"); break;
      case 4: fuzz::round_trip<VerdictsRecord>(json, "run/verdicts.json"); break;
      case 5: fuzz::round_trip<RetrainRecord>(json, "run/retrain.json"); break;
      default: fuzz::round_trip<StudyRecord>(json, "study/study.json");
    }
  });
  return 0;
}
