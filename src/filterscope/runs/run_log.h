// RUN/run.sqlite, the run log of the training-run explorer (DeepTracker): per-iteration statistics
// of every filter and unit, per-epoch outcomes of every validation image, the training metrics and
// the anomaly counts of `track`, in one SQLite database. The schema is here and in docs/explorer.md,
// nowhere else; it carries a version (meta.schema_version) that readers check.
//
// Writers: `train` (RunLogWriter while it trains), `record` (the same, from a finished run's
// checkpoints), `track` (replace_track). Reader: `serve` (RunLogReader, read-only, aggregated
// queries: nothing reads or sends the whole log).
//
// A leaf of the run store like runs/layout: plain records in, plain records out; the statistics
// themselves are computed by train/weight_log.h.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace filterscope {

class SqliteDatabase;

inline constexpr int64_t kRunLogSchemaVersion = 1;

/// A layer with weights: a convolution (units = filters) or a fully connected layer (units = outputs).
struct LogLayer {
  std::string name;  ///< the module's path, e.g. "features.0" (the probe points' owner_conv)
  std::string kind;  ///< conv or linear
  int64_t units = 0, fan_in = 0;
};

/// One unit's weights at one record.
struct UnitStats {
  double norm = 0, mean = 0, std = 0;  ///< L2 norm, mean and population standard deviation
  double change = 0;                   ///< L2 norm of the difference from the previous record
};

/// One layer's weights at one record.
struct LayerWeightStats {
  std::vector<UnitStats> units;
  double hist_lo = 0, hist_hi = 0;     ///< range of the histogram of all the layer's weights
  std::vector<int64_t> hist_counts;    ///< equal-width bins over [hist_lo, hist_hi]
};

/// The weights of every layer after `iteration` optimisation steps.
struct WeightRecord {
  int64_t iteration = 0;      ///< steps since the start of training (0: the initial weights)
  double epoch = 0;           ///< epochs done, fractional between epoch ends (2.25)
  bool epoch_end = false;
  double train_loss = NAN, train_acc = NAN;  ///< over the steps since the previous record (NaN: none)
  std::vector<LayerWeightStats> layers;      ///< in the order of the log's layers
};

/// One row of the per-epoch metrics.
struct LogEpochMetrics {
  int64_t epoch = 0, iteration = 0;
  double train_loss = NAN, train_acc = NAN, val_loss = NAN, val_acc = NAN, seconds = NAN;
};

/// What the network said about each validation image after one epoch.
struct EpochOutcomes {
  int64_t epoch = 0;
  std::vector<int64_t> predicted;  ///< per validation image, in the log's image order
  std::vector<double> true_prob;   ///< softmax probability of the image's true class
};

/// Validation images over epochs fall into one of these (by the right/wrong sequence).
enum class OutcomePattern { AlwaysRight = 0, Learned = 1, Forgotten = 2, Fluctuating = 3, NeverLearned = 4 };
inline constexpr int kOutcomePatterns = 5;
/// always-right, learned, forgotten, fluctuating, never-learned
const char* outcome_pattern_name(OutcomePattern p);
std::optional<OutcomePattern> parse_outcome_pattern(const std::string& name);
/// The pattern of a right/wrong sequence: no change = always right / never learned; one change =
/// learned (wrong, then right to the end) or forgotten (right, then wrong to the end); more = fluctuating.
OutcomePattern classify_outcomes(const std::vector<bool>& right);

/// What `track` found, per analysed epoch.
struct LogTrack {
  struct Epoch {
    int64_t epoch = 0;
    int64_t anomaly_filters = 0, outlier_samples = 0;
  };
  struct Layer {
    int64_t epoch = 0;
    std::string probe, layer;  ///< probe point and the layer with weights it belongs to
    int64_t anomaly_filters = 0, filters = 0;
  };
  struct Filter {
    int64_t epoch = 0;
    std::string probe, layer;
    int64_t unit = 0;
  };
  struct Outlier {
    int64_t epoch = 0, dataset_index = 0, label = 0;
    int64_t prediction = -1;  ///< -1: not recorded
    int64_t filters = 0;      ///< anomaly filters it is an outlier of
    int64_t label_replaced = -1;  ///< 1/0 on training probe sets of noisy runs, else -1
  };
  std::string split;  ///< the probe set's split
  std::vector<Epoch> epochs;
  std::vector<Layer> layers;
  std::vector<Filter> filters;
  std::vector<Outlier> outliers;
};

/// What a log is about, fixed when it is created.
struct RunLogSetup {
  std::vector<LogLayer> layers;
  std::vector<int64_t> val_dataset_indices, val_labels;  ///< the validation images, in order
  std::vector<std::string> class_names;
  int64_t steps_per_epoch = 0;
  int64_t log_every = 0;  ///< steps between records within an epoch
  std::string source;     ///< "train" or "record" (imported from checkpoints)
};

/// Writes a run log. Each add_* call is one transaction: a killed process leaves the log as of the
/// last completed call.
class RunLogWriter {
 public:
  /// Creates `file` with `setup`, or opens an existing log for a resumed run: its setup must match,
  /// and every row after `keep_through_epoch` (from an epoch the resume replays) is deleted first.
  RunLogWriter(const std::filesystem::path& file, const RunLogSetup& setup, int64_t keep_through_epoch);
  ~RunLogWriter();

  const RunLogSetup& setup() const { return setup_; }
  /// Whether the log holds a record at `iteration` (a resumed log holds its epoch ends).
  bool has_record(int64_t iteration);

  void add_record(const WeightRecord& record);
  void add_epoch(const LogEpochMetrics& metrics, const EpochOutcomes& outcomes);
  /// Leaves WAL mode so that the finished log is one file readers open without creating any.
  void close();

 private:
  std::unique_ptr<SqliteDatabase> db_;
  RunLogSetup setup_;
  std::vector<std::vector<double>> path_;  ///< per layer and unit: cumulative change so far
  struct ImageState {
    int64_t epochs = 0, right = 0, switches = 0;
    bool first = false, last = false;
  };
  std::vector<ImageState> images_;
};

/// Replaces the track tables of an existing log (the other tables are untouched). One transaction.
void write_track_to_log(const std::filesystem::path& file, const LogTrack& track);

/// The training signals of `overfit` (signals/): every signal's value per epoch and where its
/// stopping rule says to stop.
struct LogSignals {
  struct Value {
    std::string name;
    int64_t epoch = 0;
    double value = NAN, smoothed = NAN;
  };
  struct Stop {
    std::string name, rule;
    int64_t predicted_epoch = 0, fired_at = 0;  ///< fired_at 0: the rule never fired
  };
  std::vector<Value> values;
  std::vector<Stop> stops;
};

/// Replaces the signal tables of an existing log (created there when the log predates them).
void write_signals_to_log(const std::filesystem::path& file, const LogSignals& signals);

/// Which per-unit statistic a series shows.
enum class UnitStat { Norm, Mean, Std, Change, Path };
std::optional<UnitStat> parse_unit_stat(const std::string& name);  ///< norm, mean, std, change, path

/// Values of many records folded into one chart point.
struct SeriesBucket {
  int64_t first_iteration = 0, last_iteration = 0, count = 0;
  double min = NAN, max = NAN, mean = NAN;
};

struct RunLogSummary {
  int64_t schema_version = 0;
  std::string source;
  int64_t steps_per_epoch = 0, log_every = 0;
  int64_t records = 0, first_iteration = 0, last_iteration = 0, epochs = 0;
  int64_t images = 0;
  std::vector<std::string> class_names;
  bool has_track = false;
};

struct UnitChange {
  int64_t layer = 0, unit = 0;  ///< layer: index into layers()
  double change = 0;            ///< path length of the weights between the two iterations
};

struct CubeImage {
  int64_t image = 0, dataset_index = 0, label = 0;
  OutcomePattern pattern = OutcomePattern::AlwaysRight;
  std::vector<int64_t> predicted;  ///< per epoch of the cube
  std::vector<double> true_prob;
};

struct CubePage {
  std::vector<int64_t> epochs;                       ///< the cube's columns
  std::vector<int64_t> pattern_counts;               ///< images per pattern among the selection
  int64_t total = 0;                                 ///< images in the selection
  std::vector<CubeImage> images;                     ///< the page
};

struct LogHistogram {
  int64_t iteration = 0;
  double lo = 0, hi = 0;
  std::vector<int64_t> counts;
};

/// Read-only queries over a log; opening never creates or changes a file.
class RunLogReader {
 public:
  /// Throws Error naming the file when it is missing, not a database, or not a run log of this schema.
  explicit RunLogReader(const std::filesystem::path& file);
  ~RunLogReader();

  RunLogSummary summary();
  std::vector<LogLayer> layers();
  /// The layer's statistic over iterations [from, to], folded into at most `points` buckets. Without
  /// units: the whole layer (min of the units' minima, max of maxima, mean of means); with units:
  /// over those units.
  std::vector<SeriesBucket> series(int64_t layer, UnitStat stat, int64_t from, int64_t to, int64_t points,
                                   const std::vector<int64_t>& units = {});
  /// Per unit of `layer` (or of every layer for layer = -1): how far its weights moved between the
  /// records nearest to `from` and `to` (difference of cumulative change).
  std::vector<UnitChange> changes(int64_t layer, int64_t from, int64_t to);
  std::vector<LogEpochMetrics> metrics();
  /// Validation images of one class (-1: all) and pattern (nullopt: all), ordered by pattern and
  /// image, `limit` of them from `offset`.
  CubePage cube(int64_t label, std::optional<OutcomePattern> pattern, int64_t offset, int64_t limit);
  /// One image's whole history (nullopt: no such image).
  std::optional<CubeImage> image(int64_t image);
  /// The histogram of the record at or before `iteration` (nullopt: none).
  std::optional<LogHistogram> histogram(int64_t layer, int64_t iteration);
  LogTrack track();
  /// The training signals (empty when `overfit` has not written any).
  LogSignals signals();

 private:
  std::unique_ptr<SqliteDatabase> db_;
};

}  // namespace filterscope
