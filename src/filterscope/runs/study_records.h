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
  /// Epochs shared by MPI ranks: each one's epochs and busy time (timings, kept apart from the
  /// results); absent from the file when alone.
  std::vector<RankWork> ranks;

  nlohmann::json to_json() const;
  static TrackRecord from_json(const nlohmann::json& json, const std::string& source);
  /// The split its probe set came from ("train" or "val"; empty when the request does not say).
  std::string probe_split() const;
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

/// How masking moved the paired predictions of one set of images (the same images before and
/// after): McNemar's exact test on the discordant pairs.
struct PairedChange {
  int64_t improved = 0, worsened = 0;  ///< wrong -> right, right -> wrong
  double p_value = NAN;                ///< one-sided, in the direction the hypothesis names
  bool significant = false;            ///< p_value < the record's alpha
};

/// An anomaly filter masked alone (Table 4).
struct MaskedFilter {
  std::string conv;
  int64_t channel = 0;
  std::vector<std::string> flagged_at;  ///< probe points whose analysis flagged it
  double train_acc = 0, val_acc = 0;
  bool train_down = false, val_up = false;
  PairedChange val_change;    ///< p: more validation images improved than worsened
  PairedChange train_change;  ///< p: more training images worsened than improved
};

/// One seed of the random baseline (Table 5).
struct BaselineSeed {
  int64_t seed = 0;
  std::vector<std::string> filters;  ///< "conv:channel"
  double share_train_down = NAN, share_val_up = NAN;
  int64_t val_up_significant = 0, train_down_significant = 0;  ///< filters passing McNemar's test
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

inline constexpr const char* kMaskFormat = "filterscope-mask-2";

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
  // The paired tests: a filter "raises validation accuracy" only when McNemar's exact test on the
  // validation predictions says so at alpha, and "lowers training accuracy" likewise.
  double alpha = 0.05;
  int64_t val_up_significant = 0, train_down_significant = 0;  ///< anomaly filters passing
  int64_t baseline_filters = 0;                                ///< random filters masked, all seeds pooled
  int64_t baseline_val_up_significant = 0, baseline_train_down_significant = 0;
  /// One-sided Fisher exact tests: anomaly filters pass more often than the pooled random ones.
  double val_up_enrichment_p = NAN, train_down_enrichment_p = NAN;

  nlohmann::json to_json() const;
  static MaskRecord from_json(const nlohmann::json& json, const std::string& source);
};

// ---- clean.json -------------------------------------------------------------------------------

/// How well one detector's score finds the replaced labels among the evaluated samples.
struct NoiseDetectorResult {
  std::string name;
  double auroc = NAN, average_precision = NAN;
  int64_t flagged = 0, hits = 0;            ///< the top `flagged` by score (as many as replaced labels), and the replaced among them
  double precision = NAN, recall = NAN;     ///< at that cut (equal when flagged = replaced)
  std::vector<double> roc_fpr, roc_tpr;     ///< the ROC curve, thinned to at most 101 points
};

/// The detectors compared at one epoch.
struct NoiseDetectorEvaluation {
  std::string role;  ///< well_trained, overfit or listed
  int64_t epoch = 0;
  std::string evaluated_on;  ///< which samples were scored (the probe set of the epoch's analysis, or every training sample)
  int64_t samples = 0, replaced = 0;
  std::vector<NoiseDetectorResult> detectors;
};

/// A detector's definition, as the report and the docs show it.
struct NoiseDetectorInfo {
  std::string name, description;
  bool needs_analysis = false;  ///< scores only the probe samples of the epoch's analysis
};

inline constexpr const char* kCleanFormat = "filterscope-clean-1";

/// Confident learning's own flagged set at the listed epoch (cleanlab's prune by noise rate on the
/// K-fold out-of-sample probabilities), beside its ranking score in the detector tables.
struct ConfidentLearningRecord {
  int64_t folds = 0, epoch = 0;
  std::vector<double> thresholds;                     ///< per class
  std::vector<std::vector<int64_t>> confident_joint;  ///< calibrated, [given label][true label]
  std::vector<int64_t> flagged;                       ///< training positions
  int64_t flagged_replaced = 0;                       ///< of them, with a replaced label
  double precision = NAN, recall = NAN;               ///< against the replaced labels (NaN without label noise)
};

struct CleanRecord {
  std::string run_dir;
  int64_t listed_epoch = 0;    ///< the epoch whose scores rank the flagged samples
  int64_t top = 0;             ///< samples each detector flags
  int64_t training_samples = 0, replaced_labels = 0;
  std::vector<NoiseDetectorInfo> detectors;
  std::vector<NoiseDetectorEvaluation> evaluations;  ///< empty without label noise (nothing to compare against)
  std::map<std::string, std::vector<int64_t>> flagged;  ///< per detector: training positions, highest score first
  std::map<std::string, std::vector<double>> flagged_scores;  ///< their scores, in the same order
  std::optional<ConfidentLearningRecord> confident_learning;  ///< absent with --folds 0 (and in older files)
  /// Dataset cartography at the listed epoch, per training position (empty in older files).
  std::vector<double> cartography_confidence, cartography_variability;
  std::string confident_learning_note;  ///< why it is absent, when it is

  nlohmann::json to_json() const;
  static CleanRecord from_json(const nlohmann::json& json, const std::string& source);
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

// ---- retrain-DETECTOR/retrain.json ---------------------------------------------------------------

/// One retrained run: the parent's settings with some training samples left out.
struct RetrainArm {
  std::string name;     ///< without-flagged or without-random
  std::string run_dir;
  int64_t removed = 0, removed_replaced = 0;  ///< samples left out, and those with a replaced label
};

/// The two arms' validation predictions at one epoch, paired image by image.
struct RetrainEpoch {
  std::string role;  ///< well_trained (the parent's) or last
  int64_t epoch = 0;
  double original_val_acc = NAN, flagged_val_acc = NAN, random_val_acc = NAN;
  /// McNemar on without-flagged against without-random: improved = right only without the
  /// flagged samples; p_value one-sided towards improved.
  PairedChange flagged_vs_random;
  double p_two_sided = NAN;
};

inline constexpr const char* kRetrainFormat = "filterscope-retrain-1";

struct RetrainRecord {
  std::string run_dir, detector;
  int64_t listed_epoch = 0;  ///< the epoch whose scores chose the flagged samples
  int64_t k = 0;
  int64_t random_seed = 0;
  std::vector<RetrainArm> arms;
  std::vector<RetrainEpoch> epochs;

  nlohmann::json to_json() const;
  static RetrainRecord from_json(const nlohmann::json& json, const std::string& source);
};

// ---- study.json (several seeds) -----------------------------------------------------------------

/// One hypothesis in one seed's run.
struct SeedOutcome {
  int64_t seed = 0;
  std::string verdict;      ///< that run's own verdict (verdicts.json's rule)
  double effect = NAN;      ///< the hypothesis's effect size (HypothesisAcrossSeeds::effect says which)
  int direction = 0;        ///< +1 in the hypothesised direction, -1 against, 0 tied or not measurable
  double p_value = NAN;     ///< the run's one-sided test, where it has one
};

/// One hypothesis across seeds.
struct HypothesisAcrossSeeds {
  std::string id, statement;
  std::string effect;       ///< what the effect size is, and which sign is "in the hypothesised direction"
  std::vector<SeedOutcome> seeds;
  int64_t positive = 0, negative = 0, ties = 0;
  double effect_median = NAN, effect_min = NAN, effect_max = NAN;
  double sign_test_p = NAN;  ///< one-sided, ties dropped
  double combined_p = NAN;   ///< Fisher's method over the per-seed p-values (NaN: no per-seed test)
  std::string verdict, reason;
};

/// One detector at one role (well_trained / overfit) across seeds.
struct DetectorAcrossSeeds {
  std::string role, name;
  std::vector<double> auroc, average_precision, precision;  ///< per seed, in the study's seed order
  double auroc_median = NAN, auroc_min = NAN, auroc_max = NAN;
  double average_precision_median = NAN, precision_median = NAN;
};

/// One seed's run at a glance (from its track.json; zeros when track has not run).
struct SeedRunSummary {
  int64_t seed = 0;
  std::string run_dir;
  int64_t well_trained_epoch = 0, overfit_epoch = 0;
  double well_trained_val_loss = NAN, well_trained_val_acc = NAN, overfit_val_acc = NAN, overfit_train_acc = NAN;
  int64_t well_trained_anomaly_filters = 0, overfit_anomaly_filters = 0;
};

inline constexpr const char* kStudyFormat = "filterscope-study-1";

struct StudyRecord {
  std::vector<std::string> runs;
  std::vector<int64_t> seeds;
  std::string rule;  ///< the across-seed verdict rule, as docs/results.md states it
  double alpha = 0.05;
  std::vector<SeedRunSummary> seed_runs;
  std::vector<HypothesisAcrossSeeds> hypotheses;
  std::vector<DetectorAcrossSeeds> detectors;

  nlohmann::json to_json() const;
  static StudyRecord from_json(const nlohmann::json& json, const std::string& source);
};

/// Reads a record file, or nullopt when it does not exist (the experiment has not run). Throws
/// Error naming the file when it is malformed or of another format.
std::optional<TrackRecord> read_track_record(const std::filesystem::path& file);
std::optional<GradientsRecord> read_gradients_record(const std::filesystem::path& file);
std::optional<MaskRecord> read_mask_record(const std::filesystem::path& file);
std::optional<VerdictsRecord> read_verdicts_record(const std::filesystem::path& file);
std::optional<CleanRecord> read_clean_record(const std::filesystem::path& file);
std::optional<StudyRecord> read_study_record(const std::filesystem::path& file);

}  // namespace filterscope
