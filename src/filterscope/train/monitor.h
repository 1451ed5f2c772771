// The monitor of a training loop filterscope does not run: a user's PyTorch loop (the Python
// package's Monitor) reports each batch's logits and each epoch's end, and the monitor writes the run
// directory `train` writes, so that every command that takes a run (track, overfit, clean, report,
// serve, study, gradients, mask, analyze) takes this one:
//   run.json        the data (RUN/data/, the npy dataset of the tensors the loop trains on), the
//                   model ("torchscript", its class name), the optimiser as far as the user said,
//                   the replaced labels when the user knows them;
//   metrics.csv     per epoch: the training passes' loss and accuracy, the validation set's (NaN
//                   without one), evaluated by the monitor at the epoch's end;
//   samples/        every training sample's loss, margin and prediction from the logits its batch
//                   reported (samples no batch reported, e.g. with drop_last, are scored by the model
//                   at the epoch's end);
//   checkpoints/    the model as TorchScript at each epoch's end (epoch-000.pt: as it was given);
//   run.sqlite      weight statistics every `log_every` steps and each epoch's validation outcomes.
// Calls out of order (an epoch twice, a batch after close) throw Error and write nothing.
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/models/probed_model.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

class RunLogWriter;
class WeightStatsRecorder;

struct MonitorOptions {
  std::string model_name = "model";  ///< the model's class name, for run.json and the pages
  std::string optimizer = "other";   ///< adam, sgd or other (what the EB criterion's assumption reads)
  double lr = 0, momentum = 0, weight_decay = 0;  ///< as far as the user's optimiser says (lr 0: unknown)
  int64_t batch_size = 0;     ///< the loop's batch size; 0 = learnt from the first batch
  int64_t epochs = 0;         ///< epochs planned (0: unknown)
  int64_t seed = 0;           ///< the user's seed, recorded
  int64_t log_every = 0;      ///< steps between weight records; 0 = four times an epoch
  bool sample_log = true;     ///< write RUN/samples/
  bool run_log = true;        ///< write RUN/run.sqlite
  /// Training positions whose labels the user replaced (label noise they injected), with the labels
  /// before: the ground truth `clean` scores the detectors against. Empty: none known.
  std::vector<int64_t> replaced_positions, original_labels;
};

class RunMonitor {
 public:
  /// Writes RUN/data/, run.json, the initial checkpoint and the run log's setup. `model` is a
  /// TorchScript model (models/torchscript.h) sharing the user's parameters; `train` and `val` hold
  /// the images as the loop's model takes them (float network input or uint8 pixels) and labels; an
  /// undefined `val` means no validation set. Throws Error when run_dir already holds a run, for
  /// empty or mismatched data, or a model that rejects the images.
  RunMonitor(std::filesystem::path run_dir, std::unique_ptr<ProbedModel> model, const Dataset& train,
             const std::optional<Dataset>& val, const MonitorOptions& options);
  ~RunMonitor();

  /// One training step: `indices` [B] int64 positions in the training set, `logits` [B, classes],
  /// `labels` [B] (must equal the training set's labels at `indices`), `loss` the batch's mean loss.
  /// Shapes and types are checked at once. The contents (indices in range, labels equal to the
  /// training set's, finite logits) are checked with the next weight record, every 64 batches, or at
  /// the epoch's end, in one pass over the batches since: every tensor op right after a training step
  /// costs tens of microseconds (bench/RESULTS.md). A bad batch then throws Error naming its step,
  /// writes nothing of the epoch, and stops the monitor. The tensors are kept until then: do not
  /// change them in place.
  void on_batch(const at::Tensor& indices, const at::Tensor& logits, const at::Tensor& labels, double loss);

  /// The end of `epoch` (1, 2, ... in order, each once): validation, per-sample records, checkpoint,
  /// metrics row, run log, then the epoch-end listener. Returns the metrics row.
  EpochMetrics on_epoch_end(int64_t epoch);

  /// Finishes the run log. Further calls throw.
  void close();

  /// Called after each epoch's files are written (the live overfitting alarm listens here).
  void set_epoch_listener(std::function<void(const EpochEnd&)> listener) { listener_ = std::move(listener); }

  const std::filesystem::path& run_dir() const { return run_dir_; }
  const PreparedRun& run() const { return run_; }
  ProbedModel& model() { return *model_; }
  int64_t epochs_done() const { return static_cast<int64_t>(metrics_.size()); }

 private:
  void check_open(const char* call) const;
  void record_weights(bool epoch_end);
  /// Checks the batches reported since the last flush and adds them to this epoch's records.
  void flush_pending();

  std::filesystem::path run_dir_;
  std::unique_ptr<ProbedModel> model_;
  PreparedRun run_;
  MonitorOptions options_;
  std::vector<EpochMetrics> metrics_;
  std::unique_ptr<RunLogWriter> log_;
  std::unique_ptr<WeightStatsRecorder> recorder_;
  std::function<void(const EpochEnd&)> listener_;
  at::Tensor sample_logits_;  // [N, classes] float32, this epoch
  at::Tensor seen_;           // [N] bool, reported this epoch
  double loss_sum_ = 0, interval_loss_ = 0;
  int64_t correct_ = 0, images_ = 0, interval_correct_ = 0, interval_images_ = 0;
  int64_t steps_ = 0, step_in_epoch_ = 0, steps_per_epoch_ = 0, log_every_ = 0;
  double epoch_started_ = 0;
  bool closed_ = false;
  struct PendingBatch {
    at::Tensor indices, logits, labels;
    int64_t step = 0;  // 1-based step of its epoch
  };
  std::vector<PendingBatch> pending_;  // reported, not yet checked and recorded
  std::string stopped_;                // why a bad batch stopped the monitor ("" while it runs)
};

}  // namespace filterscope
