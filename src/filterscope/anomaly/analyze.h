// One model, one probe set: capture every chosen probe point, project each filter's maps to 2-D,
// cluster them, and apply the anomaly criteria. The library side of `filterscope analyze`, also
// what epoch tracking runs per checkpoint.
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "filterscope/anomaly/criteria.h"
#include "filterscope/capture/capture.h"
#include "filterscope/cluster/engine.h"
#include "filterscope/cluster/pca.h"
#include "filterscope/core/ranks.h"
#include "filterscope/models/probed_model.h"

namespace filterscope {

struct AnalyzeOptions {
  std::string layers = "all";  ///< comma-separated probe names, or kinds (conv, relu, silu, maxpool, ...), or all (maps only)
  CaptureOptions capture;
  PcaOptions pca;
  GmmOptions gmm;
  AnomalyOptions anomaly;
  bool keep_points = false;  ///< keep each layer's 2-D projections and labels in the result
  bool progress = true;      ///< a progress line per layer on stderr
  /// The ranks sharing this analysis (an MPI job): each captures and clusters its share of the
  /// filters, the root gathers them, applies the per-layer criteria and holds the result. The
  /// result equals one process's bit for bit (same --threads per rank).
  Ranks ranks = Ranks::alone();

  /// `layers` (the nested option structs have their own tables).
  static const ParamTable<AnalyzeOptions>& params();
};

struct LayerAnalysis {
  ProbePoint probe;
  std::vector<int64_t> shape;  ///< [C, H, W]
  at::Tensor mean_activation;  ///< [C] float64: mean |activation| over samples and positions
  at::Tensor pca_status;       ///< [C] int64 (PcaStatus)
  at::Tensor explained_variance;  ///< [C, 2]
  ClusterResult clusters;      ///< clusters.fit without its per-point labels (clusters.labels has the chosen K's)
  LayerCriteria criteria;
  at::Tensor points;           ///< [C, N, 2] float32 projections when keep_points
  double seconds = 0;
};

struct Analysis {
  std::vector<LayerAnalysis> layers;
  at::Tensor predictions;  ///< [N] int64 predicted class of each probe sample (undefined if the model has no logits)
  double capture_seconds = 0, cluster_seconds = 0;  ///< summed over ranks when sharded
  std::vector<RankWork> ranks;  ///< each rank's share and busy time when sharded; empty when alone
};

/// A run of filters of one probe point, and the rank that analyses it.
struct FilterShare {
  size_t layer = 0;  ///< index into the selected probe points
  int64_t first = 0, count = 0;
  double cost = 0;   ///< estimated: filters x N x (map size + kClusterCostPerPoint)
  int rank = 0;
};

/// The clustering's cost per point in the units of the PCA's (one map element): measured on
/// simple-cnn's layers, the GMM fits for K = 2..10 of a filter take about as long as the PCA of
/// 256-element maps.
inline constexpr double kClusterCostPerPoint = 256;

/// Splits layers (per-sample shapes [C, H, W]) into shares of filters and deals them out to
/// `ranks` by cost: a layer costing more than 1/(4 x ranks) of the whole is cut into that many
/// equal runs, so that one large layer does not leave the other ranks idle. One rank: one share per
/// layer. Shares come in layer order, filters ascending.
std::vector<FilterShare> plan_filter_shares(const std::vector<std::vector<int64_t>>& shapes, int64_t n, int ranks);

/// The probe names `selection` picks out of the model's, in forward order; throws Error for an
/// unknown name or an empty selection.
std::vector<std::string> select_layers(const ProbedModel& model, const std::string& selection);

/// probe_set: the samples (already chosen), transform: how they become input.
Analysis analyze_model(ProbedModel& model, const Dataset& probe_set, const InputTransform& transform,
                       const AnalyzeOptions& options);

}  // namespace filterscope
