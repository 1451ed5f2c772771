// Per-epoch training signals: numbers computed from the training data and the model only (no
// validation set) that may tell when a run starts to overfit. Each signal is a name, a definition,
// what it needs (the per-sample records, the model, per-sample gradients, the epoch's GMM analysis),
// an observe step called once per epoch in order, and a stopping rule fixed in advance
// (signals/stopping.h). They live in one registry (training_signals()): `filterscope overfit`, the
// live alarm of `train` and of the Python monitor, the help texts and the docs loop over it and name
// no signal themselves. A new signal is one file in signals/ and one line in signal_registry.cpp.
#pragma once
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/signals/stopping.h"

namespace filterscope {

class ProbedModel;
struct SampleEpoch;
struct AnalysisRecord;

/// Every signal's parameters, declared once (flags of `overfit` and `train`, keywords in Python).
struct SignalOptions {
  std::string signals = "all";   ///< comma-separated names, "all", or "live" (the live alarm's default set)
  int64_t signal_samples = 256;  ///< training samples whose per-sample gradients GSNR, EB and disparity use each epoch
  int64_t signal_seed = 0;       ///< seed of that subsample (the same samples every epoch)
  int64_t window = 3;            ///< trailing moving average of every curve before its rule (1 = none)
  int64_t patience = 5;          ///< epochs without improvement before a patience rule fires
  int64_t disparity_batch = 32;  ///< gradient disparity: size of each of the two batches of a pair
  double plateau = 0.02;         ///< train_loss: a fall over `patience` epochs below this share of its value is a plateau
  int64_t alpha_min_evals = 50;  ///< weight_alpha: layers with fewer eigenvalues are left out (WeightWatcher's min_evals)

  static const ParamTable<SignalOptions>& params();
};

/// How the run was trained, for the signals that assume a kind of optimiser.
struct SignalRunInfo {
  std::string optimizer;   ///< "sgd", "adam", ...; "" when unknown (a monitored run that did not say)
  double momentum = 0.0;   ///< sgd only
  double weight_decay = 0.0;
};

/// Statistics of per-sample gradients over the signal subsample, one entry per parameter element
/// (the model's named_parameters() flattened in order), in float64.
struct GradientStats {
  int64_t samples = 0;               ///< M
  std::vector<double> mean;          ///< mean over the M samples of each element's gradient
  std::vector<double> variance;      ///< unbiased (M - 1) variance of each element's gradient
  std::vector<double> disparities;   ///< || g(batch 2k) - g(batch 2k+1) ||_2 for each pair of consecutive batches
};

/// What one epoch offers the signals; a piece is null when no selected signal needs it.
struct SignalEpoch {
  int64_t epoch = 0;
  double train_loss = NAN;                   ///< the epoch's mean training-pass loss (metrics.csv)
  const SampleEpoch* samples = nullptr;      ///< every training sample's training-pass outcome at this epoch
  const SampleEpoch* previous = nullptr;     ///< the same at the epoch before (null at epoch 1)
  ProbedModel* model = nullptr;              ///< the network at the end of the epoch
  const GradientStats* gradients = nullptr;  ///< per-sample gradients on the subsample, at the end of the epoch
  const AnalysisRecord* analysis = nullptr;  ///< the epoch's GMM analysis on a training probe set
};

/// A signal's value at an epoch (NaN when it has none) and its named parts (per layer, say).
struct SignalValue {
  double value = NAN;
  std::vector<std::pair<std::string, double>> parts;
};

class TrainingSignal {
 public:
  virtual ~TrainingSignal() = default;
  /// Called once per epoch, epochs in increasing order.
  virtual SignalValue observe(const SignalEpoch& epoch) = 0;
};

struct SignalNeeds {
  bool samples = false;    ///< RUN/samples (this epoch and the one before)
  bool model = false;      ///< the network's weights
  bool gradients = false;  ///< GradientStats on the subsample
  bool analysis = false;   ///< the GMM analysis of a training probe set
};

struct SignalInfo {
  std::string name;
  std::string definition;  ///< one line: what the value is and where it comes from
  std::string source;      ///< the paper
  SignalNeeds needs;
  bool live = false;       ///< in the live alarm's default set (cheap enough to run every epoch)
  /// The stopping rule, fixed before any run was measured (docs/signals.md).
  std::function<StopRuleOptions(const SignalOptions&)> rule;
  std::function<std::unique_ptr<TrainingSignal>(const SignalOptions&)> make;
  /// "" when the signal's assumptions hold for the run, else why not (reported beside its result).
  std::function<std::string(const SignalRunInfo&)> assumption = [](const SignalRunInfo&) { return std::string(); };
};

/// The live alarm's options: the "live" set, the other defaults as they are.
SignalOptions live_alarm_defaults();

/// The registry, in the order of every table.
const std::vector<SignalInfo>& training_signals();

/// "a, b, c": the registered names, for help texts and errors.
std::string training_signal_names();

/// The signals named by `list` ("all", "live" or comma-separated names), in registry order.
/// Throws UsageError naming `flag` and listing the registered names for an unknown one.
std::vector<const SignalInfo*> select_signals(const std::string& list, const std::string& flag = "--signals");

/// The rule's description in words ("lowest value after a 3-epoch moving average, once 5 epochs
/// pass without a lower one").
std::string describe_rule(const StopRuleOptions& rule);

}  // namespace filterscope
