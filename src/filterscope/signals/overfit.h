// When did the run start to overfit? The training signals (signals/signal.h) observed epoch by
// epoch, their rules applied, beside the oracle (the lowest validation loss) where the run has a
// validation set. Two front doors over one tracker:
//   overfit_run      afterwards, from a run's checkpoints, RUN/samples/ and analyses (`filterscope
//                    overfit RUN`): writes RUN/overfit.json, RUN/overfit.csv and the signal tables of
//                    RUN/run.sqlite;
//   SignalTracker    epoch by epoch, as training goes (`train`'s live alarm and the Python monitor):
//                    the same curves and rules, so the alarm that rang during training names the
//                    epoch `overfit` names afterwards.
#pragma once
#include <c10/core/Device.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/runs/run_analysis.h"
#include "filterscope/signals/gradient_stats.h"
#include "filterscope/signals/overfit_record.h"
#include "filterscope/train/sample_log.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

/// Observes the selected signals epoch by epoch; owns their curves and costs.
class SignalTracker {
 public:
  SignalTracker(const SignalOptions& options, const SignalRunInfo& run);
  ~SignalTracker();
  SignalTracker(const SignalTracker&) = delete;
  SignalTracker& operator=(const SignalTracker&) = delete;

  const std::vector<const SignalInfo*>& selected() const { return selected_; }
  /// What the selected signals need between them.
  SignalNeeds needs() const;
  /// The training data of the per-sample gradients (needed when a selected signal uses them).
  void set_training_data(const Dataset& train, const InputTransform& transform);
  const std::vector<int64_t>& gradient_subsample() const { return subsample_.positions; }

  /// What an epoch offers; pieces the selected signals do not need may be left null.
  struct Epoch {
    int64_t epoch = 0;
    double train_loss = NAN;
    const SampleEpoch* samples = nullptr;
    const SampleEpoch* previous = nullptr;
    ProbedModel* model = nullptr;
    const AnalysisRecord* analysis = nullptr;
    double analysis_seconds = 0;  ///< what the analysis cost (counted in the analysis signals' cost)
  };
  /// Observes one epoch (epochs in increasing order, each once). Throws Error naming the signal
  /// when a piece it needs is missing.
  void observe(const Epoch& epoch);

  /// The record so far: curves, rules applied, and against `metrics` (one row per observed epoch,
  /// validation fields NaN when the run has none) the oracle and the accuracy lost.
  OverfitRecord record(const std::vector<EpochMetrics>& metrics, const std::string& run_dir,
                       const std::string& source) const;

 private:
  SignalOptions options_;
  SignalRunInfo run_;
  std::vector<const SignalInfo*> selected_;
  std::vector<std::unique_ptr<TrainingSignal>> signals_;
  std::vector<int64_t> epochs_;
  std::vector<std::vector<double>> values_;  // [signal][epoch]
  std::vector<std::vector<std::pair<std::string, std::vector<double>>>> parts_;
  std::vector<double> seconds_;  // [signal] total
  GradientSubsample subsample_;
};

/// How a built-in run was trained (its optimiser), for the signals' assumptions.
SignalRunInfo signal_run_info(const RunSettings& settings);

/// The live alarm's lines for the epoch just observed: "overfitting since epoch E by S (rule)" for
/// each signal whose rule fired at this epoch.
std::vector<std::string> live_alarm_lines(const OverfitRecord& record, int64_t epoch);

/// Checks a live alarm's options before any work: throws UsageError for an unknown signal or one
/// that needs a GMM analysis per epoch (or per-sample records a loop does not keep, when named).
void validate_live_signals(const SignalOptions& options, bool samples_recorded);

/// Whether a live alarm runs at all: not for "none", and not for the default set ("live") when
/// each of its signals reads per-sample records and the loop keeps none (then `live_alarm_off_reason`
/// says why, for the loop to print once); a named selection that cannot run is an error instead.
bool live_alarm_runs(const SignalOptions& options, bool samples_recorded);
std::string live_alarm_off_reason(const SignalOptions& options, bool samples_recorded);

/// The live form: a tracker fed at each epoch's end by a training loop (`train`, the Python
/// monitor). It writes RUN/overfit.json and RUN/overfit.csv (source "live") after every epoch and
/// says "overfitting since epoch E by S" when a rule fires. A resumed run's earlier epochs are
/// replayed from its files first, so the curves are whole.
class LiveOverfitAlarm {
 public:
  /// Throws UsageError for a selected signal that needs a GMM analysis per epoch (too slow to run
  /// inside training: `filterscope overfit` computes those afterwards).
  /// A loop that keeps no per-sample records (samples_recorded false) drops the signals that read
  /// them from a "live" or "all" selection.
  LiveOverfitAlarm(std::filesystem::path run_dir, const SignalOptions& options, const SignalRunInfo& run,
                   const Dataset& train, const InputTransform& transform, bool samples_recorded);
  ~LiveOverfitAlarm();

  /// `metrics` holds every epoch so far (this one last; the numbers are read back from metrics.csv,
  /// as `overfit` reads them, so both see the same digits); `samples` this epoch's records (null when
  /// the run keeps none); `model` the network as it is now. Returns the alarm lines of this epoch.
  std::vector<std::string> on_epoch_end(const std::vector<EpochMetrics>& metrics, const SampleEpoch* samples,
                                        ProbedModel& model, const c10::Device& device);

  const SignalTracker& tracker() const { return *tracker_; }

 private:
  std::filesystem::path run_dir_;
  std::unique_ptr<SignalTracker> tracker_;
  std::optional<SampleEpoch> previous_;
  int64_t observed_through_ = 0;
};

/// `filterscope overfit RUN`.
struct OverfitRunOptions {
  SignalOptions signals;
  ProbeSetOptions probe;     ///< the training probe set of the anomaly signals' analyses (split must be train)
  AnalyzeOptions analyze;
  bool reanalyse = false;    ///< analyses made with other settings are made again
  c10::Device device = c10::kCPU;
};

/// Computes every selected signal for every trained epoch of `run_dir`, writes RUN/overfit.json,
/// RUN/overfit.csv and (when the run has one) the signal tables of RUN/run.sqlite. Throws Error for
/// a run with fewer than two trained epochs, without the checkpoints or sample records a selected
/// signal needs (naming the file), or with analyses of the epochs made on different probe sets.
OverfitRecord overfit_run(const std::filesystem::path& run_dir, const OverfitRunOptions& options,
                          const std::function<void(const std::string&)>& log);

/// The signal tables of run.sqlite from a record (values, smoothed values, stops).
void write_overfit_to_log(const std::filesystem::path& run_log, const OverfitRecord& record);

}  // namespace filterscope
