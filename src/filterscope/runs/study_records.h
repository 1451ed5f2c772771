// The experiments' files as typed records: track.json (hypothesis 1), gradients.json (2), mask.json
// (3) and verdicts.json. Each record's JSON is written by to_json and read by from_json here, in one
// place; the experiments fill the records, and verdicts, the report and the command line read them.
#pragma once
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/runs/analysis_record.h"

namespace filterscope {

/// How strongly the outlier samples of an analysis are enriched in replaced training labels.
struct Enrichment {
  int64_t probe_size = 0, replaced = 0;           ///< probe samples, and those with a replaced label
  int64_t outliers = 0, replaced_outliers = 0;    ///< outlier samples, and those with a replaced label
  double precision = 0;  ///< replaced_outliers / outliers
  double recall = 0;     ///< replaced_outliers / replaced
  double base_rate = 0;  ///< replaced / probe_size
  double ratio = 0;      ///< precision / base_rate (1 = no enrichment)
  double p_value = 0;    ///< one-sided hypergeometric P(at least this many replaced among the outliers)

  nlohmann::json to_json() const;
  static Enrichment from_json(const nlohmann::json& json);
};

// ---- track.json -------------------------------------------------------------------------------

/// One analysed epoch: its training metrics and what its analysis found.
struct TrackEpochRecord {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0;
  int64_t anomaly_filters = 0, unbalanced_filters = 0, high_ch_filters = 0, active_filters = 0;
  int64_t outlier_samples = 0;
  double mean_small_share = 0;               ///< mean over filters of the share of samples in small clusters
  std::optional<Enrichment> enrichment;      ///< outliers in replaced labels (training probe sets of noisy runs)
  std::map<std::string, int64_t> per_layer;  ///< anomaly filters per probe point
};

/// A score's Spearman correlation across epochs with the validation loss and the train-val gap.
struct TrackCorrelation {
  double val_loss = NAN, generalisation_gap = NAN;
};

inline constexpr const char* kTrackFormat = "filterscope-track-1";

struct TrackRecord {
  std::string run_dir;
  nlohmann::json request;                   ///< the analyses' settings and probe set
  std::string well_trained_rule, overfit_rule;
  TrackEpochRecord well_trained, overfit;   ///< the two chosen epochs (their rows)
  bool val_acc_dropped = false;
  std::map<std::string, TrackCorrelation> spearman;  ///< per score: anomaly_filters, outlier_samples, ...
  std::vector<TrackEpochRecord> epochs;

  nlohmann::json to_json() const;
  static TrackRecord from_json(const nlohmann::json& json, const std::string& source);
};

// ---- gradients.json ---------------------------------------------------------------------------

/// Mean |gradient| of outlier and normal samples (NaN where a group is empty) and their ratio.
struct GradientMeans {
  double outlier_mean = NAN, normal_mean = NAN, ratio = NAN;
};

struct GradientLayerRow : GradientMeans {
  std::string name;
  int64_t parameters = 0;
};

/// Table 3 for one model: per layer and overall, with a one-sided rank-sum test on the overall values.
struct GradientTable {
  std::string role;  ///< well_trained, overfit, or model (one model outside a run study)
  int64_t epoch = 0;
  bool analysis_reused = false;
  int64_t outlier_samples = 0, normal_samples = 0;
  std::vector<GradientLayerRow> layers;
  int64_t layers_outliers_larger = 0;
  GradientMeans overall;
  double mann_whitney_u = NAN, mann_whitney_z = NAN, p_greater = NAN;
  std::optional<std::string> note;  ///< why nothing could be compared
};

inline constexpr const char* kGradientsFormat = "filterscope-gradients-1";

struct GradientsRecord {
  std::optional<std::string> run_dir;  ///< a run study
  std::optional<ModelRecord> model;    ///< one model
  nlohmann::json request;
  std::string measure;
  std::vector<GradientTable> epochs;

  /// The table of `role`; nullptr when there is none.
  const GradientTable* table(const std::string& role) const;

  nlohmann::json to_json() const;
  static GradientsRecord from_json(const nlohmann::json& json, const std::string& source);
};

// ---- mask.json --------------------------------------------------------------------------------

struct TrainValAccuracy {
  double train_acc = 0, val_acc = 0;
};

/// An anomaly filter masked alone (Table 4).
struct MaskedFilter {
  std::string conv;
  int64_t channel = 0;
  std::vector<std::string> flagged_at;  ///< probe points whose analysis flagged it
  double train_acc = 0, val_acc = 0;
  bool train_down = false, val_up = false;
};

/// One seed of the random baseline (Table 5).
struct BaselineSeed {
  int64_t seed = 0;
  std::vector<std::string> filters;  ///< "conv:channel"
  double share_train_down = NAN, share_val_up = NAN;
};

struct MeanSd {
  double mean = NAN, sd = NAN;
};

/// Every anomaly filter at once, and how the outlier samples' predictions move (Table 6).
struct AllAtOnce {
  double train_acc = 0, val_acc = 0;
  int64_t outlier_samples = 0;
  std::string labels;  ///< which labels "right" means
  int64_t right_to_right = 0, right_to_wrong = 0, wrong_to_right = 0, wrong_to_wrong = 0;
};

inline constexpr const char* kMaskFormat = "filterscope-mask-1";

struct MaskRecord {
  std::optional<std::string> run_dir;     ///< a run study: the run, the epoch and its checkpoint
  std::optional<int64_t> epoch;
  std::optional<std::string> checkpoint;
  std::optional<ModelRecord> model;       ///< one model
  nlohmann::json request;
  bool analysis_reused = false;
  std::string train_measured_on, val_measured_on;
  TrainValAccuracy before;
  int64_t anomaly_filters = 0;
  std::optional<std::string> note;        ///< why nothing was masked
  // Absent when there was nothing to mask:
  std::vector<MaskedFilter> one_at_a_time;
  double share_train_down = NAN, share_val_up = NAN;
  std::vector<BaselineSeed> baseline_seeds;
  MeanSd baseline_share_train_down, baseline_share_val_up;
  std::optional<AllAtOnce> all_at_once;
  std::optional<std::string> saved;       ///< the masked model written by --save

  nlohmann::json to_json() const;
  static MaskRecord from_json(const nlohmann::json& json, const std::string& source);
};

// ---- verdicts.json ----------------------------------------------------------------------------

struct Verdict {
  std::string id, statement, rule;
  std::string verdict;  ///< supported, not supported, inconclusive, not run, not applicable
  std::string reason;
  nlohmann::json numbers;  ///< the figures the rule used, by name (they differ per hypothesis)
};

inline constexpr const char* kVerdictsFormat = "filterscope-verdicts-1";

struct VerdictsRecord {
  std::optional<std::string> run_dir;
  std::vector<Verdict> hypotheses;

  nlohmann::json to_json() const;
  static VerdictsRecord from_json(const nlohmann::json& json, const std::string& source);
};

/// Reads a record file, or nullopt when it does not exist (the experiment has not run). Throws
/// Error naming the file when it is malformed or of another format.
std::optional<TrackRecord> read_track_record(const std::filesystem::path& file);
std::optional<GradientsRecord> read_gradients_record(const std::filesystem::path& file);
std::optional<MaskRecord> read_mask_record(const std::filesystem::path& file);
std::optional<VerdictsRecord> read_verdicts_record(const std::filesystem::path& file);

}  // namespace filterscope
