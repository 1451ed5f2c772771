// Acting on the label-noise detectors: retrain the same seed without the top-k samples a detector
// flags (from RUN/clean.json) and, beside it, without k random training samples, then compare the
// two runs' validation predictions image by image (McNemar's exact test) at the parent's
// well-trained epoch and at the last. Each arm is an ordinary run (RUN/retrain-DETECTOR/without-
// flagged, without-random) trained with --exclude, so it resumes like any run; the parent is never
// changed. Writes RUN/retrain-DETECTOR/retrain.json.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

#include "filterscope/core/params.h"
#include "filterscope/runs/study_records.h"

namespace filterscope {

struct RetrainOptions {
  std::string detector = "loss";  ///< whose flagged samples are removed (a name from clean.json)
  int64_t top = 0;                ///< samples removed; 0 = every sample the detector flagged in clean.json
  int64_t random_seed = 0;        ///< seed of the random removal

  static const ParamTable<RetrainOptions>& params();
};

RetrainRecord retrain_without_flagged(const std::filesystem::path& run_dir, const RetrainOptions& options,
                                      const std::function<void(const std::string&)>& log);

}  // namespace filterscope
