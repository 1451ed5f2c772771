// analysis.json as a typed record: what `analyze` found for one model on one probe set. Written by
// write_analysis (runs/analysis_files.h) and read here, in one place, so that the experiments, the
// report and the command line use fields, not string keys.
#pragma once
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/core/ranks.h"
#include "filterscope/data/options.h"

namespace filterscope {

inline constexpr const char* kAnalysisFormat = "filterscope-analysis-1";

/// One filter of one probe point.
struct FilterRecord {
  int64_t filter = 0;
  std::string status;                 ///< ok, dead, constant, rank1, non-finite, no-k
  std::string note;                   ///< why no K was chosen, when none was
  std::optional<int64_t> k;           ///< the chosen number of clusters
  double ch = NAN;                    ///< Calinski-Harabasz index at k (NaN: none)
  std::vector<double> ch_by_k;        ///< CH for every K tried, kmin first (NaN: undefined)
  std::vector<int64_t> cluster_sizes;
  double mean_activation = NAN;       ///< mean |activation|
  int64_t small_clusters = 0;         ///< clusters with <= lambda points
  double small_share = NAN, smallest_share = NAN, unbalance = NAN, ch_ratio = NAN, activation_ratio = NAN;
  bool unbalanced = false, high_ch = false, active = false;  ///< the three criteria
  bool anomaly = false;
  std::vector<int64_t> small_cluster_members;  ///< dataset indices of the samples in small clusters
};

/// One probe point's analysis.
struct LayerRecord {
  std::string name, kind, owner_conv;
  std::vector<int64_t> shape;  ///< [C, H, W]
  int64_t lambda = 0;          ///< small-cluster size bound
  double mean_ch = NAN, mean_activation = NAN;
  int64_t anomaly_count = 0;
  int64_t unbalanced = 0, high_ch = 0, active = 0, unbalanced_and_high_ch = 0;  ///< filters passing
  double nearest_unbalance = NAN, nearest_ch_ratio = NAN, nearest_activation_ratio = NAN, nearest_small_share = NAN;
  std::vector<std::string> closest_misses;
  double seconds = 0;
  std::vector<FilterRecord> filters;
};

/// A probe sample in a small cluster of at least one anomaly filter.
struct OutlierRecord {
  int64_t dataset_index = 0;
  int64_t position = 0;  ///< in the probe set
  int64_t label = 0;
  std::optional<int64_t> prediction;
  std::vector<std::string> filters;    ///< "layer:filter" of the anomaly filters it is an outlier of
  std::optional<bool> label_replaced;  ///< training probe sets: its training label was replaced
};

/// The probe set and where it came from.
struct ProbeSetRecord {
  std::string dataset, split, split_name;
  int64_t size = 0, seed = 0;
  InputTransform normalisation;
  std::vector<int64_t> dataset_indices, labels;
  std::optional<std::vector<int64_t>> label_replaced;  ///< positions whose training label was replaced
  std::optional<std::vector<int64_t>> predictions;
};

/// The model analysed, as analysis.json describes it.
struct ModelRecord {
  std::string kind;  ///< checkpoint or torchscript
  std::string file, description;
  std::optional<std::string> network, run_dir;
  std::optional<int64_t> epoch;
  std::optional<std::vector<int64_t>> input_shape;

  nlohmann::json to_json() const;
  static ModelRecord from_json(const nlohmann::json& json);
};

struct AnalysisRecord {
  ModelRecord model;
  ProbeSetRecord probe_set;
  nlohmann::json settings;  ///< the request's settings (layers, anomaly, gmm, pca, capture): params_to_json of each
  int64_t filters = 0, anomaly_filters = 0;
  double capture_seconds = 0, cluster_seconds = 0;
  std::vector<LayerRecord> layers;
  std::vector<OutlierRecord> outliers;
  /// An analysis shared by MPI ranks: each one's share and busy time. Timings and host names, kept
  /// apart from the results (which equal one process's); absent from the file when alone.
  std::vector<RankWork> ranks;

  /// What the analysis was asked for (settings and probe set split/size/seed): equal requests
  /// make the same analysis.
  nlohmann::json request() const;

  nlohmann::json to_json() const;
  /// Throws Error naming `source` when the JSON is not a filterscope analysis of this format.
  static AnalysisRecord from_json(const nlohmann::json& json, const std::string& source);
};

/// The "ranks" field of analysis.json and track.json: [{rank, host, busy_seconds, units, estimated_cost}].
nlohmann::json rank_work_json(const std::vector<RankWork>& ranks);
std::vector<RankWork> rank_work_from_json(const nlohmann::json& json);

/// Reads RUN/analysis/epoch-NNN/analysis.json or any analysis.json.
AnalysisRecord read_analysis_record(const std::filesystem::path& file);

}  // namespace filterscope
