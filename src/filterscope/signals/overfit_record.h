// RUN/overfit.json and RUN/overfit.csv as a typed record: every training signal's curve, its
// stopping epoch by its rule, and (where the run has a validation set) the oracle's epoch (lowest
// validation loss) and the validation accuracy lost by stopping where the signal says. Written and
// read here only; depends on core and io.
#pragma once
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "filterscope/signals/signal.h"

namespace filterscope {

inline constexpr const char* kOverfitFormat = "filterscope-overfit-1";

/// One signal over the run.
struct SignalCurve {
  std::string name, definition, source;
  std::string rule;       ///< stop_rule_name
  std::string rule_text;  ///< describe_rule
  int64_t window = 1, patience = 1;
  double threshold = 0;
  std::vector<double> values;    ///< per epoch of OverfitRecord::epochs (NaN: no value)
  std::vector<double> smoothed;  ///< the trailing average the rule reads
  std::vector<std::pair<std::string, std::vector<double>>> parts;  ///< per layer (or tensor), per epoch
  bool fired = false;
  int64_t fired_at = 0;          ///< epoch at which the rule fired (the live alarm's moment); 0 = never
  int64_t predicted_epoch = 0;   ///< where to stop (0: the signal gave no value)
  double val_acc_at_predicted = NAN, val_loss_at_predicted = NAN;
  double val_acc_lost = NAN;     ///< oracle's validation accuracy minus the predicted epoch's
  std::optional<int64_t> epochs_from_oracle;  ///< predicted - oracle
  double seconds_per_epoch = NAN;  ///< mean time to compute it per epoch, shared passes included
  double cost_share = NAN;         ///< seconds_per_epoch / the mean training epoch's seconds
  std::string assumption;          ///< "" when its assumptions hold, else why not
};

struct OverfitRecord {
  std::string run_dir;
  std::string source;  ///< "overfit" (from checkpoints afterwards) or "live" (during training)
  std::vector<int64_t> epochs;
  std::vector<double> train_loss, train_acc, val_loss, val_acc;  ///< per epoch; NaN without validation
  bool has_validation = false;
  std::optional<int64_t> oracle_epoch;  ///< lowest validation loss
  double oracle_val_acc = NAN, oracle_val_loss = NAN;
  double epoch_seconds = NAN;  ///< mean training epoch time of the run (metrics.csv)
  SignalOptions options;
  std::vector<int64_t> gradient_subsample;   ///< training positions of the per-sample gradients
  nlohmann::json analysis_request;           ///< the GMM analyses' request (null when none was used)
  std::vector<SignalCurve> signals;

  /// The curve of `name`, or nullptr.
  const SignalCurve* signal(const std::string& name) const;

  nlohmann::json to_json() const;
  static OverfitRecord from_json(const nlohmann::json& json, const std::string& source);
  /// epoch, train_loss, train_acc, val_loss, val_acc, then one column per signal (the train_loss
  /// signal is the train_loss column).
  std::string to_csv() const;
};

/// Reads RUN/overfit.json; nullopt when the run has none.
std::optional<OverfitRecord> read_overfit_record(const std::filesystem::path& file);

}  // namespace filterscope
