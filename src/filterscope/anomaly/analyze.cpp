#include "filterscope/anomaly/analyze.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/progress.h"
#include "filterscope/io/tensor_bytes.h"

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

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// What a run of filters gives before the per-layer criteria: all a rank sends to the root.
struct ShareResult {
  at::Tensor mean_activation, pca_status, explained_variance, points;
  ClusterResult clusters;
  double seconds = 0;
};

std::vector<at::Tensor*> fit_fields(GmmFit& f) {
  return {&f.weights, &f.means, &f.covariances, &f.labels, &f.lower_bound,
          &f.log_likelihood, &f.iterations, &f.converged, &f.fitted};
}

std::vector<at::Tensor*> share_fields(ShareResult& r) {
  std::vector<at::Tensor*> fields = {&r.mean_activation, &r.pca_status, &r.explained_variance, &r.points,
                                     &r.clusters.ch, &r.clusters.n_clusters, &r.clusters.best_k,
                                     &r.clusters.best_ch, &r.clusters.labels, &r.clusters.sizes};
  for (at::Tensor* t : fit_fields(r.clusters.fit)) fields.push_back(t);
  return fields;
}

// The shares of one layer, in filter order, as one result: every per-filter tensor concatenated.
ShareResult join_shares(std::vector<ShareResult>& parts) {
  if (parts.size() == 1) return std::move(parts.front());
  ShareResult whole;
  const std::vector<at::Tensor*> into = share_fields(whole);
  for (size_t f = 0; f < into.size(); ++f) {
    std::vector<at::Tensor> pieces;
    for (auto& part : parts)
      if (share_fields(part)[f]->defined()) pieces.push_back(*share_fields(part)[f]);
    if (!pieces.empty()) *into[f] = at::cat(pieces, 0);
  }
  whole.clusters.k_values = parts.front().clusters.k_values;
  for (auto& part : parts) {
    whole.clusters.notes.insert(whole.clusters.notes.end(), part.clusters.notes.begin(), part.clusters.notes.end());
    whole.seconds += part.seconds;
  }
  return whole;
}

// maps: [N, c, H, W], filters first..first+c-1 of their layer.
ShareResult analyse_chunk(const at::Tensor& maps, int64_t first, const c10::Device& device, const AnalyzeOptions& options,
                          const PcaOptions& pca_options) {
  const auto start = Clock::now();
  ShareResult r;
  r.mean_activation = mean_abs_activation(maps);
  // PCA and clustering run where the model runs (CUDA when it is there).
  const PcaResult pca = pca_feature_maps(maps.to(device), pca_options, first);
  r.pca_status = pca.status.cpu();
  r.explained_variance = pca.explained_variance.cpu();
  r.clusters = cluster_point_sets(pca.points, options.gmm);
  // Every fit's label of every point (filters x 9 Ks x N int64) is not used past the choice of K
  // (clusters.labels holds the chosen K's): kept, it was 3.5 GB of ResNet-50's analysis at
  // N = 1,000, and rank 0 of a sharded analysis would receive all of it.
  r.clusters.fit.labels = at::Tensor();
  if (options.keep_points) r.points = pca.points.to(at::kFloat).cpu();
  r.seconds = seconds_since(start);
  return r;
}

// Bytes per sample of one filter's analysis besides its maps: the float64 points, every fit's
// labels and responsibilities, the kept results. An upper bound from the allocations' sizes.
constexpr int64_t kAnalysisBytesPerPoint = 512;

// The filters of a piece a run at a time, so that the analysis stays within the part of
// --max-memory kept for it. Each filter's results do not depend on which filters come with it.
ShareResult analyse_filters(const at::Tensor& maps, int64_t first, const c10::Device& device,
                            const AnalyzeOptions& options) {
  const int64_t n = maps.size(0), c = maps.size(1), d = maps.size(2) * maps.size(3);
  const int64_t reserve = capture_reserve_bytes(options.capture);
  PcaOptions pca = options.pca;
  pca.max_batch_mb = std::max<int64_t>(16, std::min(pca.max_batch_mb, reserve >> 20));
  // The PCA copies a filter's maps to float64 unless it can read them as they are.
  const bool copies = !(device.is_cpu() && pca_reads_maps_in_place(n, d, pca));
  const int64_t per_filter = n * (kAnalysisBytesPerPoint + (copies ? 16 * d : 0));
  const int64_t chunk = std::max<int64_t>(1, reserve / per_filter);
  if (chunk >= c) return analyse_chunk(maps, first, device, options, pca);
  std::vector<ShareResult> parts;
  for (int64_t f = 0; f < c; f += chunk)
    parts.push_back(analyse_chunk(maps.narrow(1, f, std::min(chunk, c - f)), first + f, device, options, pca));
  return join_shares(parts);
}

LayerAnalysis finish_layer(const ProbePoint& probe, std::vector<int64_t> shape, ShareResult&& filters,
                           const AnalyzeOptions& options) {
  LayerAnalysis layer;
  layer.probe = probe;
  layer.shape = std::move(shape);
  layer.mean_activation = std::move(filters.mean_activation);
  layer.pca_status = std::move(filters.pca_status);
  layer.explained_variance = std::move(filters.explained_variance);
  layer.clusters = std::move(filters.clusters);
  layer.criteria = apply_criteria(layer.clusters, layer.mean_activation, options.anomaly);
  layer.points = std::move(filters.points);
  layer.seconds = filters.seconds;
  return layer;
}

void write_share(ByteWriter& out, ShareResult& r) {
  for (at::Tensor* t : share_fields(r)) out.tensor(*t);
  out.tensor(r.clusters.k_values);
  out.i64(static_cast<int64_t>(r.clusters.notes.size()));
  for (const auto& note : r.clusters.notes) out.text(note);
  out.f64(r.seconds);
}

ShareResult read_share(ByteReader& in) {
  ShareResult r;
  for (at::Tensor* t : share_fields(r)) *t = in.tensor();
  r.clusters.k_values = in.tensor();
  const int64_t notes = in.i64();
  for (int64_t i = 0; i < notes; ++i) r.clusters.notes.push_back(in.text());
  r.seconds = in.f64();
  return r;
}

Analysis analyze_alone(ProbedModel& model, const Dataset& probe_set, const InputTransform& transform,
                       const AnalyzeOptions& options, const std::vector<std::string>& names) {
  const int64_t n = probe_set.size();
  Analysis result;
  const auto start = Clock::now();
  double consumed = 0;
  Progress progress("analysing", static_cast<int64_t>(names.size()), "layers", options.progress);
  std::vector<ShareResult> pieces;  // of the layer being captured, when it comes in pieces
  capture_probes(
      model, probe_set, transform, at::arange(n, at::kLong), names, options.capture,
      [&](const CapturePiece& piece, const at::Tensor& maps) {
        pieces.push_back(analyse_filters(maps, piece.first, model.device(), options));
        const ProbePoint& probe = model.probe(piece.probe);
        if (piece.first + piece.count < probe.channels) return;
        std::vector<int64_t> shape = maps.sizes().slice(1).vec();
        shape[0] = probe.channels;
        LayerAnalysis layer = finish_layer(probe, shape, join_shares(pieces), options);
        pieces.clear();
        consumed += layer.seconds;
        const int64_t anomalies = layer.criteria.anomaly.sum().item<int64_t>();
        progress.advance(1, piece.probe + ": " + std::to_string(anomalies) + " anomaly filter(s)");
        result.layers.push_back(std::move(layer));
      },
      &result.predictions);
  progress.finish();
  result.cluster_seconds = consumed;
  result.capture_seconds = seconds_since(start) - consumed;
  return result;
}

// Each rank captures only the filters of its shares (the hull of them per layer), analyses them and
// sends the results to the root, which joins them per layer and applies the criteria.
Analysis analyze_sharded(ProbedModel& model, const Dataset& probe_set, const InputTransform& transform,
                         const AnalyzeOptions& options, const std::vector<std::string>& names) {
  const Ranks& ranks = options.ranks;
  const int64_t n = probe_set.size();
  const auto shapes = probe_shapes(model, names);
  const std::vector<FilterShare> shares = plan_filter_shares(shapes, n, ranks.size());

  std::vector<std::string> probes;
  std::vector<ChannelRange> hulls;
  std::vector<size_t> mine;
  for (size_t l = 0; l < names.size(); ++l) {
    int64_t first = -1, end = -1;
    for (size_t i = 0; i < shares.size(); ++i) {
      if (shares[i].layer != l || shares[i].rank != ranks.rank()) continue;
      mine.push_back(i);
      first = first < 0 ? shares[i].first : std::min(first, shares[i].first);
      end = std::max(end, shares[i].first + shares[i].count);
    }
    if (first < 0) continue;
    probes.push_back(names[l]);
    hulls.push_back({first, end - first});
  }
  // The first share goes to rank 0 (the plan deals the largest first to the lowest rank), so the
  // root always runs a pass and can take the predictions from it.
  FS_ASSERT(!ranks.root() || !probes.empty(), "the root has no share of the analysis");

  const auto start = Clock::now();
  double clustering = 0;
  double cost = 0;
  int64_t filters = 0;
  std::vector<std::pair<size_t, ShareResult>> done;
  std::map<size_t, std::vector<ShareResult>> partial;  // shares whose filters came in several pieces
  at::Tensor predictions;
  Progress progress(rank_prefix() + "analysing", static_cast<int64_t>(mine.size()), "shares of filters",
                    options.progress);
  if (!probes.empty()) {
    capture_probes(
        model, probe_set, transform, at::arange(n, at::kLong), probes, options.capture,
        [&](const CapturePiece& piece, const at::Tensor& maps) {
          const size_t l = static_cast<size_t>(std::find(names.begin(), names.end(), piece.probe) - names.begin());
          for (size_t i : mine) {
            const FilterShare& s = shares[i];
            const int64_t first = std::max(s.first, piece.first);
            const int64_t end = std::min(s.first + s.count, piece.first + piece.count);
            if (s.layer != l || first >= end) continue;
            partial[i].push_back(analyse_filters(maps.narrow(1, first - piece.first, end - first), first,
                                                 model.device(), options));
            clustering += partial[i].back().seconds;
            if (end < s.first + s.count) continue;
            done.emplace_back(i, join_shares(partial[i]));
            partial.erase(i);
            cost += s.cost;
            filters += s.count;
            progress.advance(1, piece.probe + " filters " + std::to_string(s.first) + ".." +
                                    std::to_string(s.first + s.count - 1));
          }
        },
        ranks.root() ? &predictions : nullptr, hulls);
  }
  progress.finish();
  const double busy = seconds_since(start);

  ByteWriter out;
  out.i64(ranks.rank());
  out.text(host_name());
  out.f64(busy);
  out.f64(busy - clustering);
  out.f64(clustering);
  out.i64(filters);
  out.f64(cost);
  out.i64(static_cast<int64_t>(done.size()));
  for (auto& [index, result] : done) {
    out.i64(static_cast<int64_t>(index));
    write_share(out, result);
  }
  done.clear();
  std::vector<std::string> gathered = ranks.gather(out.bytes());
  Analysis result;
  if (!ranks.root()) return result;

  std::vector<std::optional<ShareResult>> results(shares.size());
  for (size_t r = 0; r < gathered.size(); ++r) {
    ByteReader in(gathered[r], "the results of rank " + std::to_string(r));
    RankWork work;
    work.rank = static_cast<int>(in.i64());
    work.host = in.text();
    work.busy_seconds = in.f64();
    result.capture_seconds += in.f64();
    result.cluster_seconds += in.f64();
    work.units = in.i64();
    work.estimated_cost = in.f64();
    result.ranks.push_back(work);
    const int64_t count = in.i64();
    for (int64_t k = 0; k < count; ++k) {
      const int64_t index = in.i64();
      FS_CHECK(index >= 0 && index < static_cast<int64_t>(shares.size()), "the results of rank ", r,
               " name share ", index, " of ", shares.size());
      results[static_cast<size_t>(index)] = read_share(in);
    }
    FS_CHECK(in.at_end(), "the results of rank ", r, " have bytes left over");
    std::string().swap(gathered[r]);  // the message's bytes are tensors now: do not hold both
  }
  for (size_t l = 0; l < names.size(); ++l) {
    std::vector<ShareResult> parts;
    for (size_t i = 0; i < shares.size(); ++i) {
      if (shares[i].layer != l) continue;
      FS_CHECK(results[i].has_value(), "no rank sent the results of ", names[l], " filters ", shares[i].first, "..",
               shares[i].first + shares[i].count - 1);
      parts.push_back(std::move(*results[i]));
    }
    result.layers.push_back(finish_layer(model.probe(names[l]), shapes[l], join_shares(parts), options));
  }
  result.predictions = predictions;
  return result;
}

}  // namespace

std::vector<FilterShare> plan_filter_shares(const std::vector<std::vector<int64_t>>& shapes, int64_t n, int ranks) {
  FS_CHECK(ranks >= 1, "plan_filter_shares: ranks must be >= 1, got ", ranks);
  std::vector<double> per_filter;
  double total = 0;
  for (const auto& shape : shapes) {
    FS_CHECK(shape.size() == 3, "plan_filter_shares: a probe point without feature maps [C, H, W]");
    per_filter.push_back(static_cast<double>(n) * (static_cast<double>(shape[1] * shape[2]) + kClusterCostPerPoint));
    total += static_cast<double>(shape[0]) * per_filter.back();
  }
  const double limit = total / (4.0 * ranks);
  std::vector<FilterShare> shares;
  for (size_t l = 0; l < shapes.size(); ++l) {
    const int64_t c = shapes[l][0];
    const double layer_cost = static_cast<double>(c) * per_filter[l];
    const int64_t pieces =
        ranks == 1 || c == 0 ? 1 : std::min<int64_t>(c, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(layer_cost / limit))));
    for (int64_t p = 0, first = 0; p < pieces; ++p) {
      const int64_t count = c / pieces + (p < c % pieces ? 1 : 0);
      shares.push_back({l, first, count, static_cast<double>(count) * per_filter[l], 0});
      first += count;
    }
  }
  std::vector<double> costs;
  for (const auto& s : shares) costs.push_back(s.cost);
  const std::vector<int> assignment = assign_by_cost(costs, ranks);
  for (size_t i = 0; i < shares.size(); ++i) shares[i].rank = assignment[i];
  return shares;
}

Analysis analyze_model(ProbedModel& model, const Dataset& probe_set, const InputTransform& transform,
                       const AnalyzeOptions& options) {
  validate_params(options.anomaly, AnomalyOptions::params());
  validate_params(options.gmm, GmmOptions::params());
  validate_params(options.pca, PcaOptions::params());
  const std::vector<std::string> names = select_layers(model, options.layers);
  const int64_t n = probe_set.size();
  FS_CHECK(n >= 3, "the probe set has ", n, " samples; clustering needs at least 3");
  return options.ranks.sharded() ? analyze_sharded(model, probe_set, transform, options, names)
                                 : analyze_alone(model, probe_set, transform, options, names);
}

}  // namespace filterscope
