// Every training sample's outcome in each epoch, as the training passes measured it: the loss, the
// margin of its assigned label (its logit minus the largest other logit) and whether it was
// predicted right. The label-noise detectors (experiments/label_noise.h) read these: the loss of an
// epoch, the area under the margin over epochs (Pleiss et al. 2020) and forgetting events (Toneva
// et al. 2019). One CSV per epoch (RUN/samples/epoch-NNN.csv), written before that epoch's
// checkpoint, so a resumed run never lacks an epoch's file. Plain records, no tensors.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace filterscope {

/// One epoch, one entry per training position (the order of run.json's train_indices).
struct SampleEpoch {
  int64_t epoch = 0;
  std::vector<int64_t> dataset_index;  ///< index in the dataset split
  std::vector<int64_t> label;          ///< the label trained on (a replaced one included)
  std::vector<int64_t> prediction;     ///< argmax of the training pass's logits
  std::vector<double> loss;            ///< cross-entropy of the assigned label
  std::vector<double> margin;          ///< assigned label's logit minus the largest other logit

  size_t size() const { return label.size(); }
  bool correct(size_t i) const { return prediction[i] == label[i]; }

  std::string to_csv() const;
  /// Parses a file written by to_csv; throws Error naming `source` and the line when malformed.
  static SampleEpoch from_csv(const std::string& text, int64_t epoch, const std::string& source);
};

/// Writes RUN/samples/epoch-NNN.csv atomically.
void write_sample_epoch(const std::filesystem::path& run_dir, const SampleEpoch& epoch);

/// Epochs 1..last of a run's sample files. Throws Error naming the first missing file (a run
/// trained before the samples were recorded has none) or the first whose size differs.
std::vector<SampleEpoch> read_sample_history(const std::filesystem::path& run_dir, int64_t last);

}  // namespace filterscope
