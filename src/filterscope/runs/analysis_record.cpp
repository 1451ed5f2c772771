#include "filterscope/runs/analysis_record.h"

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"
#include "filterscope/io/json.h"

namespace filterscope {

namespace {

using json = nlohmann::json;



json filter_json(const FilterRecord& f) {
  return {{"filter", f.filter},
          {"status", f.status},
          {"note", f.note},
          {"k", f.k ? json(*f.k) : json(nullptr)},
          {"ch", json_number(f.ch)},
          {"ch_by_k", json_numbers(f.ch_by_k)},
          {"cluster_sizes", f.cluster_sizes},
          {"mean_activation", json_number(f.mean_activation)},
          {"scores",
           {{"small_clusters", f.small_clusters},
            {"small_share", json_number(f.small_share)},
            {"smallest_share", json_number(f.smallest_share)},
            {"unbalance", json_number(f.unbalance)},
            {"ch_ratio", json_number(f.ch_ratio)},
            {"activation_ratio", json_number(f.activation_ratio)}}},
          {"criteria", {{"unbalanced", f.unbalanced}, {"high_ch", f.high_ch}, {"active", f.active}}},
          {"anomaly", f.anomaly},
          {"small_cluster_members", f.small_cluster_members}};
}

FilterRecord filter_from(const json& j) {
  FilterRecord f;
  f.filter = json_whole(j.at("filter"));
  f.status = j.at("status").get<std::string>();
  f.note = j.at("note").get<std::string>();
  if (!j.at("k").is_null()) f.k = json_whole(j.at("k"));
  f.ch = number_or_nan(j.at("ch"));
  f.ch_by_k = numbers_or_nan(j.at("ch_by_k"));
  f.cluster_sizes = json_wholes(j.at("cluster_sizes"));
  f.mean_activation = number_or_nan(j.at("mean_activation"));
  const auto& s = j.at("scores");
  f.small_clusters = json_whole(s.at("small_clusters"));
  f.small_share = number_or_nan(s.at("small_share"));
  f.smallest_share = number_or_nan(s.at("smallest_share"));
  f.unbalance = number_or_nan(s.at("unbalance"));
  f.ch_ratio = number_or_nan(s.at("ch_ratio"));
  f.activation_ratio = number_or_nan(s.at("activation_ratio"));
  const auto& c = j.at("criteria");
  f.unbalanced = c.at("unbalanced").get<bool>();
  f.high_ch = c.at("high_ch").get<bool>();
  f.active = c.at("active").get<bool>();
  f.anomaly = j.at("anomaly").get<bool>();
  f.small_cluster_members = json_wholes(j.at("small_cluster_members"));
  return f;
}

json layer_json(const LayerRecord& l) {
  json filters = json::array();
  for (const auto& f : l.filters) filters.push_back(filter_json(f));
  return {{"name", l.name},
          {"kind", l.kind},
          {"owner_conv", l.owner_conv},
          {"shape", l.shape},
          {"lambda", l.lambda},
          {"mean_ch", json_number(l.mean_ch)},
          {"mean_activation", json_number(l.mean_activation)},
          {"anomaly_count", l.anomaly_count},
          {"passing",
           {{"unbalanced", l.unbalanced},
            {"high_ch", l.high_ch},
            {"active", l.active},
            {"unbalanced_and_high_ch", l.unbalanced_and_high_ch}}},
          {"nearest",
           {{"unbalance", json_number(l.nearest_unbalance)},
            {"ch_ratio", json_number(l.nearest_ch_ratio)},
            {"activation_ratio", json_number(l.nearest_activation_ratio)},
            {"small_share", json_number(l.nearest_small_share)}}},
          {"closest_misses", l.closest_misses},
          {"seconds", l.seconds},
          {"filters", filters}};
}

LayerRecord layer_from(const json& j) {
  LayerRecord l;
  l.name = j.at("name").get<std::string>();
  l.kind = j.at("kind").get<std::string>();
  l.owner_conv = j.at("owner_conv").get<std::string>();
  l.shape = json_wholes(j.at("shape"));
  l.lambda = json_whole(j.at("lambda"));
  l.mean_ch = number_or_nan(j.at("mean_ch"));
  l.mean_activation = number_or_nan(j.at("mean_activation"));
  l.anomaly_count = json_whole(j.at("anomaly_count"));
  const auto& p = j.at("passing");
  l.unbalanced = json_whole(p.at("unbalanced"));
  l.high_ch = json_whole(p.at("high_ch"));
  l.active = json_whole(p.at("active"));
  l.unbalanced_and_high_ch = json_whole(p.at("unbalanced_and_high_ch"));
  const auto& n = j.at("nearest");
  l.nearest_unbalance = number_or_nan(n.at("unbalance"));
  l.nearest_ch_ratio = number_or_nan(n.at("ch_ratio"));
  l.nearest_activation_ratio = number_or_nan(n.at("activation_ratio"));
  l.nearest_small_share = number_or_nan(n.at("small_share"));
  l.closest_misses = j.at("closest_misses").get<std::vector<std::string>>();
  l.seconds = j.at("seconds").get<double>();
  for (const auto& f : j.at("filters")) l.filters.push_back(filter_from(f));
  return l;
}

json outlier_json(const OutlierRecord& o) {
  json row = {{"dataset_index", o.dataset_index},
              {"position", o.position},
              {"label", o.label},
              {"prediction", o.prediction ? json(*o.prediction) : json(nullptr)},
              {"filters", o.filters}};
  if (o.label_replaced) row["label_replaced"] = *o.label_replaced;
  return row;
}

OutlierRecord outlier_from(const json& j) {
  OutlierRecord o;
  o.dataset_index = json_whole(j.at("dataset_index"));
  o.position = json_whole(j.at("position"));
  o.label = json_whole(j.at("label"));
  if (!j.at("prediction").is_null()) o.prediction = json_whole(j.at("prediction"));
  o.filters = j.at("filters").get<std::vector<std::string>>();
  if (j.contains("label_replaced")) o.label_replaced = j.at("label_replaced").get<bool>();
  return o;
}

json probe_set_json(const ProbeSetRecord& p) {
  json out = {{"dataset", p.dataset},
              {"split", p.split},
              {"split_name", p.split_name},
              {"size", p.size},
              {"seed", p.seed},
              {"normalisation", p.normalisation.to_json()},
              {"dataset_indices", p.dataset_indices},
              {"labels", p.labels}};
  if (p.label_replaced) out["label_replaced"] = *p.label_replaced;
  if (p.predictions) out["predictions"] = *p.predictions;
  return out;
}

ProbeSetRecord probe_set_from(const json& j) {
  ProbeSetRecord p;
  p.dataset = j.at("dataset").get<std::string>();
  p.split = j.at("split").get<std::string>();
  p.split_name = j.at("split_name").get<std::string>();
  p.size = json_whole(j.at("size"));
  p.seed = json_whole(j.at("seed"));
  p.normalisation = InputTransform::from_json(j.at("normalisation"));
  p.dataset_indices = json_wholes(j.at("dataset_indices"));
  p.labels = json_wholes(j.at("labels"));
  if (j.contains("label_replaced")) p.label_replaced = json_wholes(j.at("label_replaced"));
  if (j.contains("predictions")) p.predictions = json_wholes(j.at("predictions"));
  return p;
}

}  // namespace

json ModelRecord::to_json() const {
  json out = {{"kind", kind}, {"file", file}, {"description", description}};
  if (network) out["network"] = *network;
  if (run_dir) out["run_dir"] = *run_dir;
  if (epoch) out["epoch"] = *epoch;
  if (input_shape) out["input_shape"] = *input_shape;
  return out;
}

ModelRecord ModelRecord::from_json(const json& j) {
  ModelRecord m;
  m.kind = j.at("kind").get<std::string>();
  m.file = j.at("file").get<std::string>();
  m.description = j.at("description").get<std::string>();
  if (j.contains("network")) m.network = j.at("network").get<std::string>();
  if (j.contains("run_dir")) m.run_dir = j.at("run_dir").get<std::string>();
  if (j.contains("epoch")) m.epoch = json_whole(j.at("epoch"));
  if (j.contains("input_shape")) m.input_shape = json_wholes(j.at("input_shape"));
  return m;
}

json AnalysisRecord::request() const {
  return {{"settings", settings},
          {"probe_set", {{"split", probe_set.split}, {"size", probe_set.size}, {"seed", probe_set.seed}}}};
}

json AnalysisRecord::to_json() const {
  json layers_json = json::array();
  for (const auto& l : layers) layers_json.push_back(layer_json(l));
  json outliers_json = json::array();
  for (const auto& o : outliers) outliers_json.push_back(outlier_json(o));
  json out = {{"format", kAnalysisFormat},
              {"model", model.to_json()},
              {"probe_set", probe_set_json(probe_set)},
              {"settings", settings},
              {"summary",
               {{"layers", layers.size()},
                {"filters", filters},
                {"anomaly_filters", anomaly_filters},
                {"outlier_samples", outliers.size()},
                {"capture_seconds", capture_seconds},
                {"cluster_seconds", cluster_seconds}}},
              {"layers", layers_json},
              {"outliers", outliers_json}};
  if (!ranks.empty()) out["ranks"] = rank_work_json(ranks);
  return out;
}

json rank_work_json(const std::vector<RankWork>& ranks) {
  json out = json::array();
  for (const auto& r : ranks)
    out.push_back({{"rank", r.rank},
                   {"host", r.host},
                   {"busy_seconds", r.busy_seconds},
                   {"units", r.units},
                   {"estimated_cost", r.estimated_cost}});
  return out;
}

std::vector<RankWork> rank_work_from_json(const json& j) {
  std::vector<RankWork> ranks;
  for (const auto& r : j) {
    RankWork w;
    w.rank = r.at("rank").get<int>();
    w.host = r.at("host").get<std::string>();
    w.busy_seconds = r.at("busy_seconds").get<double>();
    w.units = json_whole(r.at("units"));
    w.estimated_cost = r.at("estimated_cost").get<double>();
    ranks.push_back(w);
  }
  return ranks;
}

AnalysisRecord AnalysisRecord::from_json(const json& j, const std::string& source) {
  FS_CHECK(json_format_of(j) == kAnalysisFormat, source,
           ": not a filterscope analysis (format ", kAnalysisFormat, ")");
  AnalysisRecord a;
  try {
    a.model = ModelRecord::from_json(j.at("model"));
    a.probe_set = probe_set_from(j.at("probe_set"));
    a.settings = j.at("settings");
    const auto& s = j.at("summary");
    a.filters = json_whole(s.at("filters"));
    a.anomaly_filters = json_whole(s.at("anomaly_filters"));
    a.capture_seconds = s.at("capture_seconds").get<double>();
    a.cluster_seconds = s.at("cluster_seconds").get<double>();
    for (const auto& l : j.at("layers")) a.layers.push_back(layer_from(l));
    for (const auto& o : j.at("outliers")) a.outliers.push_back(outlier_from(o));
    if (j.contains("ranks")) a.ranks = rank_work_from_json(j.at("ranks"));
  } catch (const Error& e) {  // a value of the wrong kind (json_whole): named with the file
    throw Error(detail::concat(source, ": ", without_prefix(e.what(), source)));
  } catch (const json::exception& e) {
    throw Error(detail::concat(source, ": malformed analysis (", e.what(), ")"));
  }
  return a;
}

AnalysisRecord read_analysis_record(const std::filesystem::path& file) {
  return AnalysisRecord::from_json(read_json_file(file), file.string());
}

}  // namespace filterscope
