#include "filterscope/report/analysis_files.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/report/npy.h"

namespace filterscope {

namespace {
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

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

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
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

nlohmann::json analysis_json(const Analysis& analysis, const AnalysisContext& context) {
  FS_ASSERT(context.probe_set != nullptr, "probe set missing");
  const Dataset& probe = *context.probe_set;
  const at::Tensor indices = probe.indices.cpu();
  auto index_of = [&](int64_t position) { return indices[position].item<int64_t>(); };
  nlohmann::json layers = nlohmann::json::array();
  int64_t total_anomalies = 0, total_filters = 0;
  for (const auto& layer : analysis.layers) {
    const LayerCriteria& cr = layer.criteria;
    const ClusterResult& cl = layer.clusters;
    const int64_t channels = layer.shape[0];
    const int64_t kn = cl.k_values.size(0);
    nlohmann::json filters = nlohmann::json::array();
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t k = cl.best_k[c].item<int64_t>();
      nlohmann::json ch_by_k = nlohmann::json::array();
      for (int64_t j = 0; j < kn; ++j) ch_by_k.push_back(num(cl.ch[c][j].item<double>()));
      nlohmann::json sizes = nlohmann::json::array();
      for (int64_t j = 0; j < k; ++j) sizes.push_back(cl.sizes[c][j].item<int64_t>());
      nlohmann::json members = nlohmann::json::array();
      const at::Tensor m = cr.small_member[c].nonzero().squeeze(1);
      for (int64_t j = 0; j < m.numel(); ++j) members.push_back(index_of(m[j].item<int64_t>()));
      filters.push_back({
          {"filter", c},
          {"status", filter_status(layer, c)},
          {"note", cl.notes[static_cast<size_t>(c)]},
          {"k", k > 0 ? nlohmann::json(k) : nlohmann::json(nullptr)},
          {"ch", num(cl.best_ch[c].item<double>())},
          {"ch_by_k", ch_by_k},
          {"cluster_sizes", sizes},
          {"mean_activation", num(layer.mean_activation[c].item<double>())},
          {"scores",
           {{"small_clusters", cr.small_clusters[c].item<int64_t>()},
            {"small_share", num(cr.small_share[c].item<double>())},
            {"smallest_share", num(cr.smallest_share[c].item<double>())},
            {"unbalance", num(cr.unbalance[c].item<double>())},
            {"ch_ratio", num(cr.ch_ratio[c].item<double>())},
            {"activation_ratio", num(cr.activation_ratio[c].item<double>())}}},
          {"criteria",
           {{"unbalanced", cr.unbalanced[c].item<bool>()},
            {"high_ch", cr.high_ch[c].item<bool>()},
            {"active", cr.active[c].item<bool>()}}},
          {"anomaly", cr.anomaly[c].item<bool>()},
          {"small_cluster_members", members},
      });
    }
    const int64_t anomalies = cr.anomaly.sum().item<int64_t>();
    total_anomalies += anomalies;
    total_filters += channels;
    nlohmann::json closest = nlohmann::json::array();
    for (int criterion = 1; criterion <= 3; ++criterion) {
      const std::string miss = closest_miss(cr, cl, context.anomaly, criterion);
      if (!miss.empty()) closest.push_back(miss);
    }
    layers.push_back({
        {"name", layer.probe.name},
        {"kind", probe_kind_name(layer.probe.kind)},
        {"owner_conv", layer.probe.owner_conv},
        {"shape", layer.shape},
        {"lambda", cr.lambda},
        {"mean_ch", num(cr.mean_ch)},
        {"mean_activation", num(cr.mean_activation)},
        {"anomaly_count", anomalies},
        {"passing",
         {{"unbalanced", cr.unbalanced.sum().item<int64_t>()},
          {"high_ch", cr.high_ch.sum().item<int64_t>()},
          {"active", cr.active.sum().item<int64_t>()},
          {"unbalanced_and_high_ch", cr.unbalanced.logical_and(cr.high_ch).sum().item<int64_t>()}}},
        {"nearest",
         {{"unbalance", num(cr.unbalance.max().item<double>())},
          {"ch_ratio", num(at::nan_to_num(cr.ch_ratio, -1).max().item<double>())},
          {"activation_ratio", num(cr.activation_ratio.max().item<double>())},
          {"small_share", num(cr.small_share.max().item<double>())}}},
        {"closest_misses", closest},
        {"seconds", layer.seconds},
        {"filters", filters},
    });
  }
  nlohmann::json outliers = nlohmann::json::array();
  const auto samples = outlier_samples(analysis);
  for (const auto& o : samples) {
    nlohmann::json row = {{"dataset_index", index_of(o.position)},
                          {"position", o.position},
                          {"label", probe.labels[o.position].item<int64_t>()},
                          {"prediction", analysis.predictions.defined()
                                             ? nlohmann::json(analysis.predictions[o.position].item<int64_t>())
                                             : nlohmann::json(nullptr)},
                          {"filters", o.filters}};
    if (context.noisy.defined()) row["label_replaced"] = context.noisy[o.position].item<bool>();
    outliers.push_back(row);
  }
  nlohmann::json probe_json = context.data;
  std::vector<int64_t> idx(indices.data_ptr<int64_t>(), indices.data_ptr<int64_t>() + indices.numel());
  const at::Tensor labels = probe.labels.cpu().contiguous();
  probe_json["dataset_indices"] = idx;
  probe_json["labels"] = std::vector<int64_t>(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + labels.numel());
  if (context.noisy.defined()) {
    // Positions (in the probe set) of the samples whose training label was replaced: with the
    // outliers' flags they give the enrichment of outliers in label noise.
    const at::Tensor replaced = context.noisy.cpu().nonzero().squeeze(1).contiguous();
    probe_json["label_replaced"] =
        std::vector<int64_t>(replaced.data_ptr<int64_t>(), replaced.data_ptr<int64_t>() + replaced.numel());
  }
  if (analysis.predictions.defined()) {
    const at::Tensor p = analysis.predictions.contiguous();
    probe_json["predictions"] = std::vector<int64_t>(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
  }
  return {{"format", kAnalysisFormat},
          {"model", context.model},
          {"probe_set", probe_json},
          {"settings", context.settings},
          {"summary",
           {{"layers", analysis.layers.size()},
            {"filters", total_filters},
            {"anomaly_filters", total_anomalies},
            {"outlier_samples", samples.size()},
            {"capture_seconds", analysis.capture_seconds},
            {"cluster_seconds", analysis.cluster_seconds}}},
          {"layers", layers},
          {"outliers", outliers}};
}

nlohmann::json write_analysis(const std::filesystem::path& out_dir, const Analysis& analysis,
                              const AnalysisContext& context, bool projections) {
  ensure_directory(out_dir);
  const nlohmann::json json = analysis_json(analysis, context);

  std::ostringstream filters;
  filters << "layer,kind,owner_conv,filter,status,k,ch,mean_activation,small_clusters,small_share,smallest_share,"
             "unbalance,ch_ratio,activation_ratio,unbalanced,high_ch,active,anomaly\n";
  for (const auto& layer : json["layers"]) {
    for (const auto& f : layer["filters"]) {
      auto d = [](const nlohmann::json& v) { return v.is_null() ? std::string() : format_double(v.get<double>()); };
      const auto& s = f["scores"];
      const auto& c = f["criteria"];
      filters << csv_field(layer["name"].get<std::string>()) << ',' << layer["kind"].get<std::string>() << ','
              << csv_field(layer["owner_conv"].get<std::string>()) << ',' << f["filter"].get<int64_t>() << ','
              << f["status"].get<std::string>() << ',' << (f["k"].is_null() ? "" : std::to_string(f["k"].get<int64_t>()))
              << ',' << d(f["ch"]) << ',' << d(f["mean_activation"]) << ',' << s["small_clusters"].get<int64_t>() << ','
              << d(s["small_share"]) << ',' << d(s["smallest_share"]) << ',' << d(s["unbalance"]) << ','
              << d(s["ch_ratio"]) << ',' << d(s["activation_ratio"]) << ',' << int(c["unbalanced"].get<bool>()) << ','
              << int(c["high_ch"].get<bool>()) << ',' << int(c["active"].get<bool>()) << ','
              << int(f["anomaly"].get<bool>()) << '\n';
    }
  }
  std::ostringstream outliers;
  const bool noisy = context.noisy.defined();
  outliers << "dataset_index,label,prediction," << (noisy ? "label_replaced," : "") << "anomaly_filter_count,filters\n";
  for (const auto& o : json["outliers"]) {
    std::string names;
    for (const auto& f : o["filters"]) names += (names.empty() ? "" : ";") + f.get<std::string>();
    outliers << o["dataset_index"].get<int64_t>() << ',' << o["label"].get<int64_t>() << ','
             << (o["prediction"].is_null() ? "" : std::to_string(o["prediction"].get<int64_t>())) << ','
             << (noisy ? std::to_string(int(o["label_replaced"].get<bool>())) + "," : "")
             << o["filters"].size() << ',' << csv_field(names) << '\n';
  }
  if (projections) {
    const auto dir = out_dir / "projections";
    ensure_directory(dir);
    const at::Tensor samples = context.probe_set->indices.cpu().contiguous();
    write_atomic_with(dir / "samples.npy", [&](const fs::path& tmp) { write_npy(tmp, samples); });
    for (const auto& layer : analysis.layers) {
      FS_ASSERT(layer.points.defined(), "projections were not kept");
      const std::string stem = file_stem(layer.probe.name);
      write_atomic_with(dir / (stem + ".points.npy"), [&](const fs::path& tmp) { write_npy(tmp, layer.points); });
      write_atomic_with(dir / (stem + ".labels.npy"),
                        [&](const fs::path& tmp) { write_npy(tmp, layer.clusters.labels.cpu()); });
    }
  }
  write_file_atomic(out_dir / "filters.csv", filters.str());
  write_file_atomic(out_dir / "outliers.csv", outliers.str());
  // Last: analysis.json's presence says the analysis is complete.
  write_file_atomic(out_dir / "analysis.json", json.dump(1) + "\n");
  return json;
}

}  // namespace filterscope
