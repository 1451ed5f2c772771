#include "filterscope/runs/analysis_files.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/io/json.h"
#include "filterscope/core/files.h"
#include "filterscope/io/npy.h"
#include "filterscope/runs/layout.h"

namespace filterscope {

namespace {
std::string filter_status(const LayerAnalysis& layer, int64_t c) {
  const double act = layer.mean_activation[c].item<double>();
  if (!std::isfinite(act)) return "non-finite";
  if (act == 0) return "dead";
  switch (static_cast<PcaStatus>(layer.pca_status[c].item<int64_t>())) {
    case PcaStatus::Constant: return "constant";
    case PcaStatus::NonFinite: return "non-finite";
    case PcaStatus::Rank1: return "rank1";
    case PcaStatus::Ok: break;
  }
  return layer.clusters.best_k[c].item<int64_t>() > 0 ? "ok" : "no-k";
}

std::string format_double(double v) {
  if (!std::isfinite(v)) return "";
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

}  // namespace

std::string file_stem(const std::string& layer) {
  std::string s = layer;
  for (auto& ch : s)
    if (ch == '/' || ch == ' ') ch = '_';
  return s;
}

std::vector<Outlier> outlier_samples(const Analysis& analysis) {
  std::map<int64_t, std::vector<std::string>> by_sample;
  for (const auto& layer : analysis.layers) {
    const at::Tensor anomalies = layer.criteria.anomaly.nonzero().squeeze(1);
    for (int64_t i = 0; i < anomalies.numel(); ++i) {
      const int64_t c = anomalies[i].item<int64_t>();
      const at::Tensor members = layer.criteria.small_member[c].nonzero().squeeze(1);
      auto acc = members.accessor<int64_t, 1>();
      for (int64_t j = 0; j < members.numel(); ++j)
        by_sample[acc[j]].push_back(layer.probe.name + ":" + std::to_string(c));
    }
  }
  std::vector<Outlier> out;
  for (auto& [position, filters] : by_sample) out.push_back({position, std::move(filters)});
  // Most anomaly filters first: those samples are the strongest outliers.
  std::stable_sort(out.begin(), out.end(),
                   [](const Outlier& a, const Outlier& b) { return a.filters.size() > b.filters.size(); });
  return out;
}

AnalysisRecord analysis_record(const Analysis& analysis, const AnalysisContext& context) {
  FS_ASSERT(context.probe_set != nullptr, "probe set missing");
  const Dataset& probe = *context.probe_set;
  const at::Tensor indices = probe.indices.cpu();
  auto index_of = [&](int64_t position) { return indices[position].item<int64_t>(); };
  AnalysisRecord record;
  for (const auto& layer : analysis.layers) {
    const LayerCriteria& cr = layer.criteria;
    const ClusterResult& cl = layer.clusters;
    const int64_t channels = layer.shape[0];
    const int64_t kn = cl.k_values.size(0);
    LayerRecord l;
    for (int64_t c = 0; c < channels; ++c) {
      FilterRecord f;
      const int64_t k = cl.best_k[c].item<int64_t>();
      f.filter = c;
      f.status = filter_status(layer, c);
      f.note = cl.notes[static_cast<size_t>(c)];
      if (k > 0) f.k = k;
      f.ch = cl.best_ch[c].item<double>();
      for (int64_t j = 0; j < kn; ++j) f.ch_by_k.push_back(cl.ch[c][j].item<double>());
      for (int64_t j = 0; j < k; ++j) f.cluster_sizes.push_back(cl.sizes[c][j].item<int64_t>());
      f.mean_activation = layer.mean_activation[c].item<double>();
      f.small_clusters = cr.small_clusters[c].item<int64_t>();
      f.small_share = cr.small_share[c].item<double>();
      f.smallest_share = cr.smallest_share[c].item<double>();
      f.unbalance = cr.unbalance[c].item<double>();
      f.ch_ratio = cr.ch_ratio[c].item<double>();
      f.activation_ratio = cr.activation_ratio[c].item<double>();
      f.unbalanced = cr.unbalanced[c].item<bool>();
      f.high_ch = cr.high_ch[c].item<bool>();
      f.active = cr.active[c].item<bool>();
      f.anomaly = cr.anomaly[c].item<bool>();
      const at::Tensor m = cr.small_member[c].nonzero().squeeze(1);
      for (int64_t j = 0; j < m.numel(); ++j) f.small_cluster_members.push_back(index_of(m[j].item<int64_t>()));
      l.filters.push_back(std::move(f));
    }
    l.anomaly_count = cr.anomaly.sum().item<int64_t>();
    record.anomaly_filters += l.anomaly_count;
    record.filters += channels;
    for (int criterion = 1; criterion <= 3; ++criterion) {
      const std::string miss = closest_miss(cr, cl, context.anomaly, criterion);
      if (!miss.empty()) l.closest_misses.push_back(miss);
    }
    l.name = layer.probe.name;
    l.kind = probe_kind_name(layer.probe.kind);
    l.owner_conv = layer.probe.owner_conv;
    l.shape = layer.shape;
    l.lambda = cr.lambda;
    l.mean_ch = cr.mean_ch;
    l.mean_activation = cr.mean_activation;
    l.unbalanced = cr.unbalanced.sum().item<int64_t>();
    l.high_ch = cr.high_ch.sum().item<int64_t>();
    l.active = cr.active.sum().item<int64_t>();
    l.unbalanced_and_high_ch = cr.unbalanced.logical_and(cr.high_ch).sum().item<int64_t>();
    l.nearest_unbalance = cr.unbalance.max().item<double>();
    l.nearest_ch_ratio = at::nan_to_num(cr.ch_ratio, -1).max().item<double>();
    l.nearest_activation_ratio = cr.activation_ratio.max().item<double>();
    l.nearest_small_share = cr.small_share.max().item<double>();
    l.seconds = layer.seconds;
    record.layers.push_back(std::move(l));
  }
  for (const auto& o : outlier_samples(analysis)) {
    OutlierRecord row;
    row.dataset_index = index_of(o.position);
    row.position = o.position;
    row.label = probe.labels[o.position].item<int64_t>();
    if (analysis.predictions.defined()) row.prediction = analysis.predictions[o.position].item<int64_t>();
    row.filters = o.filters;
    if (context.noisy.defined()) row.label_replaced = context.noisy[o.position].item<bool>();
    record.outliers.push_back(std::move(row));
  }
  auto to_vector = [](const at::Tensor& t) {
    const at::Tensor c = t.cpu().to(at::kLong).contiguous();
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  };
  record.probe_set = context.data;
  record.probe_set.dataset_indices = to_vector(indices);
  record.probe_set.labels = to_vector(probe.labels);
  // Positions (in the probe set) of the samples whose training label was replaced: with the
  // outliers' flags they give the enrichment of outliers in label noise.
  if (context.noisy.defined()) record.probe_set.label_replaced = to_vector(context.noisy.cpu().nonzero().squeeze(1));
  if (analysis.predictions.defined()) record.probe_set.predictions = to_vector(analysis.predictions);
  record.model = context.model;
  record.settings = context.settings;
  record.capture_seconds = analysis.capture_seconds;
  record.cluster_seconds = analysis.cluster_seconds;
  record.ranks = analysis.ranks;
  return record;
}

AnalysisFiles render_analysis(const Analysis& analysis, const AnalysisContext& context, bool projections) {
  AnalysisFiles files;
  files.record = analysis_record(analysis, context);
  const AnalysisRecord& record = files.record;
  std::ostringstream filters;
  filters << "layer,kind,owner_conv,filter,status,k,ch,mean_activation,small_clusters,small_share,smallest_share,"
             "unbalance,ch_ratio,activation_ratio,unbalanced,high_ch,active,anomaly\n";
  for (const auto& layer : record.layers) {
    for (const auto& f : layer.filters) {
      filters << csv_field(layer.name) << ',' << layer.kind << ',' << csv_field(layer.owner_conv) << ',' << f.filter
              << ',' << f.status << ',' << (f.k ? std::to_string(*f.k) : "") << ',' << format_double(f.ch) << ','
              << format_double(f.mean_activation) << ',' << f.small_clusters << ',' << format_double(f.small_share)
              << ',' << format_double(f.smallest_share) << ',' << format_double(f.unbalance) << ','
              << format_double(f.ch_ratio) << ',' << format_double(f.activation_ratio) << ',' << int(f.unbalanced)
              << ',' << int(f.high_ch) << ',' << int(f.active) << ',' << int(f.anomaly) << '\n';
    }
  }
  std::ostringstream outliers;
  const bool noisy = context.noisy.defined();
  outliers << "dataset_index,label,prediction," << (noisy ? "label_replaced," : "") << "anomaly_filter_count,filters\n";
  for (const auto& o : record.outliers) {
    std::string names;
    for (const auto& f : o.filters) names += (names.empty() ? "" : ";") + f;
    outliers << o.dataset_index << ',' << o.label << ',' << (o.prediction ? std::to_string(*o.prediction) : "") << ','
             << (noisy ? std::to_string(int(o.label_replaced.value_or(false))) + "," : "") << o.filters.size() << ','
             << csv_field(names) << '\n';
  }
  if (projections) {
    files.samples = context.probe_set->indices.cpu().contiguous();
    for (const auto& layer : analysis.layers) {
      FS_ASSERT(layer.points.defined(), "projections were not kept");
      files.projections.push_back({file_stem(layer.probe.name), layer.points, layer.clusters.labels.cpu()});
    }
  }
  files.filters_csv = filters.str();
  files.outliers_csv = outliers.str();
  files.analysis_json = record.to_json().dump(1) + "\n";
  return files;
}

void write_analysis_files(const std::filesystem::path& out_dir, const AnalysisFiles& files) {
  ensure_directory(out_dir);
  if (files.samples.defined()) {
    const auto dir = out_dir / RunLayout::kProjectionsDir;
    ensure_directory(dir);
    write_atomic_with(dir / "samples.npy", [&](const fs::path& tmp) { write_npy(tmp, files.samples); });
    for (const auto& p : files.projections) {
      write_atomic_with(dir / (p.stem + ".points.npy"), [&](const fs::path& tmp) { write_npy(tmp, p.points); });
      write_atomic_with(dir / (p.stem + ".labels.npy"), [&](const fs::path& tmp) { write_npy(tmp, p.labels); });
    }
  }
  write_file_atomic(out_dir / RunLayout::kFiltersCsv, files.filters_csv);
  write_file_atomic(out_dir / RunLayout::kOutliersCsv, files.outliers_csv);
  // Last: analysis.json's presence says the analysis is complete.
  write_file_atomic(out_dir / RunLayout::kAnalysisJson, files.analysis_json);
}

AnalysisRecord write_analysis(const std::filesystem::path& out_dir, const Analysis& analysis,
                              const AnalysisContext& context, bool projections) {
  const AnalysisFiles files = render_analysis(analysis, context, projections);
  write_analysis_files(out_dir, files);
  return files.record;
}

}  // namespace filterscope
