#include "filterscope/anomaly/analyze.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/progress.h"

namespace filterscope {

const ParamTable<AnalyzeOptions>& AnalyzeOptions::params() {
  static const ParamTable<AnalyzeOptions> table = {
      {"layers", &AnalyzeOptions::layers,
       "probe points with feature maps: comma-separated names (features.3, layer1.0.conv1), kinds (conv, relu, "
       "relu6, silu, gelu, maxpool, avgpool, ...) or all"},
  };
  return table;
}

std::vector<std::string> select_layers(const ProbedModel& model, const std::string& selection) {
  std::vector<std::string> wanted;
  std::stringstream in(selection);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) wanted.push_back(item);
  }
  std::string kinds;
  for (const auto& k : probe_kind_names()) kinds += (kinds.empty() ? "" : ", ") + k;
  FS_CHECK(!wanted.empty(), "--layers selects no probe point (give names such as ",
           model.probe_points().front().name, ", kinds (", kinds, "), or all)");
  // The clustering takes feature maps: "all" and kinds select the probes with [N, C, H, W] outputs.
  std::vector<bool> chosen(model.probe_points().size(), false);
  for (const auto& w : wanted) {
    bool matched = false, named = false;
    for (size_t i = 0; i < chosen.size(); ++i) {
      const ProbePoint& p = model.probe_points()[i];
      named = named || w == p.name;
      FS_CHECK(w != p.name || p.is_map(), "--layers: ", p.name, " is a fully connected output [N, ", p.channels,
               "]; the GMM analysis takes convolutional feature maps [N, C, H, W]");
      if (p.is_map() && (w == "all" || w == p.name || w == probe_kind_name(p.kind))) {
        chosen[i] = true;
        matched = true;
      }
    }
    const bool is_kind = std::find(probe_kind_names().begin(), probe_kind_names().end(), w) != probe_kind_names().end();
    FS_CHECK(matched || !is_kind, "--layers: the model has no ", w, " probe point with feature maps");
    if (!matched && !named) model.probe(w);  // throws, listing the probe points
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < chosen.size(); ++i)
    if (chosen[i]) names.push_back(model.probe_points()[i].name);
  return names;
}

Analysis analyze_model(ProbedModel& model, const Dataset& probe_set, const InputTransform& transform,
                       const AnalyzeOptions& options) {
  validate_params(options.anomaly, AnomalyOptions::params());
  validate_params(options.gmm, GmmOptions::params());
  validate_params(options.pca, PcaOptions::params());
  const std::vector<std::string> names = select_layers(model, options.layers);
  const int64_t n = probe_set.size();
  FS_CHECK(n >= 3, "the probe set has ", n, " samples; clustering needs at least 3");
  using clock = std::chrono::steady_clock;
  Analysis result;
  const auto start = clock::now();
  double consumed = 0;
  Progress progress("analysing", static_cast<int64_t>(names.size()), "layers", options.progress);
  capture_probes(
      model, probe_set, transform, at::arange(n, at::kLong), names, options.capture,
      [&](const std::string& name, const at::Tensor& maps) {
        const auto layer_start = clock::now();
        LayerAnalysis layer;
        layer.probe = model.probe(name);
        layer.shape = maps.sizes().slice(1).vec();
        layer.mean_activation = at::abs(maps).to(at::kDouble).mean({0, 2, 3});
        // PCA and clustering run where the model runs (CUDA when it is there).
        const PcaResult pca = pca_feature_maps(maps.to(model.device()), options.pca);
        layer.pca_status = pca.status.cpu();
        layer.explained_variance = pca.explained_variance.cpu();
        layer.clusters = cluster_point_sets(pca.points, options.gmm);
        layer.criteria = apply_criteria(layer.clusters, layer.mean_activation, options.anomaly);
        if (options.keep_points) layer.points = pca.points.to(at::kFloat).cpu();
        layer.seconds = std::chrono::duration<double>(clock::now() - layer_start).count();
        consumed += layer.seconds;
        const int64_t anomalies = layer.criteria.anomaly.sum().item<int64_t>();
        progress.advance(1, name + ": " + std::to_string(anomalies) + " anomaly filter(s)");
        result.layers.push_back(std::move(layer));
      },
      &result.predictions);
  progress.finish();
  const double total = std::chrono::duration<double>(clock::now() - start).count();
  result.cluster_seconds = consumed;
  result.capture_seconds = total - consumed;
  return result;
}

}  // namespace filterscope
