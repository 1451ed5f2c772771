#include "filterscope/activations/records.h"

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"
#include "filterscope/io/json.h"

namespace filterscope {

namespace {

using json = nlohmann::json;


json set_json(const ImageSetRecord& s) {
  return {{"name", s.name}, {"kind", s.kind}, {"what", s.what}, {"images", s.images}, {"class_sizes", s.class_sizes}};
}
ImageSetRecord set_from(const json& j) {
  ImageSetRecord s;
  s.name = j.at("name").get<std::string>();
  s.kind = j.at("kind").get<std::string>();
  s.what = j.at("what").get<std::string>();
  s.images = json_whole(j.at("images"));
  s.class_sizes = json_wholes(j.at("class_sizes"));
  return s;
}

template <class F>
auto guarded(const std::string& source, const char* format, const json& j, F&& read) {
  FS_CHECK(json_format_of(j) == format, source, ": not a filterscope record of format ",
           format);
  try {
    return read();
  } catch (const Error& e) {  // a value of the wrong kind (json_whole): named with the file
    throw Error(detail::concat(source, ": ", without_prefix(e.what(), source)));
  } catch (const json::exception& e) {
    throw Error(detail::concat(source, ": a field is missing or of the wrong type (", e.what(), ")"));
  }
}

json optional_text(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }
std::optional<std::string> optional_text_from(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

}  // namespace

json ActivationsRecord::to_json() const {
  json j;
  j["format"] = kFormat;
  j["model"] = model.to_json();
  j["against"] = against ? against->to_json() : json(nullptr);
  j["settings"] = settings;
  j["class_names"] = class_names;
  j["sets"] = json::array();
  for (const auto& s : sets) j["sets"].push_back(set_json(s));
  j["layers"] = json::array();
  for (const auto& l : layers) j["layers"].push_back({{"name", l.name}, {"kind", l.kind}, {"neurons", l.neurons}, {"map", l.map}});
  j["summaries"] = json::array();
  for (const auto& s : summaries)
    j["summaries"].push_back({{"model", s.model}, {"set", s.set}, {"significance", s.significance}, {"layer", s.layer},
                              {"mean_frequency", json_number(s.mean_frequency)},
                              {"share_never", json_number(s.share_never)}, {"share_rare", json_number(s.share_rare)},
                              {"frequencies_file", s.frequencies_file}, {"histogram_file", s.histogram_file}});
  j["trends"] = json::array();
  for (const auto& t : trends)
    j["trends"].push_back({{"model", t.model}, {"set", t.set}, {"significance", t.significance},
                           {"mean_frequency", json_numbers(t.mean_frequency)}, {"spearman", json_number(t.spearman)},
                           {"sparser_with_depth", t.sparser_with_depth ? json(*t.sparser_with_depth) : json(nullptr)}});
  j["divergences"] = json::array();
  for (const auto& d : divergences)
    j["divergences"].push_back({{"model", d.model}, {"significance", d.significance}, {"layer", d.layer},
                                {"pair", d.pair}, {"file", d.file},
                                {"mean_between_classes", json_number(d.mean_between_classes)},
                                {"mean_same_class", json_number(d.mean_same_class)}});
  j["interactions"] = json::array();
  for (const auto& i : interactions)
    j["interactions"].push_back({{"model", i.model}, {"set", i.set}, {"layer", i.layer}, {"input_layer", i.input_layer},
                                 {"inputs", i.inputs}, {"outputs", i.outputs}, {"threshold", json_number(i.threshold)},
                                 {"mean_frequency", json_number(i.mean_frequency)},
                                 {"histogram_file", i.histogram_file},
                                 {"frequencies_file", optional_text(i.frequencies_file)}});
  j["notes"] = notes;
  j["seconds"] = seconds;
  j["forward_seconds"] = forward_seconds;
  return j;
}

ActivationsRecord ActivationsRecord::from_json(const json& j, const std::string& source) {
  return guarded(source, kFormat, j, [&] {
    ActivationsRecord r;
    r.model = ModelRecord::from_json(j.at("model"));
    if (!j.at("against").is_null()) r.against = ModelRecord::from_json(j.at("against"));
    r.settings = j.at("settings");
    r.class_names = j.at("class_names").get<std::vector<std::string>>();
    for (const auto& s : j.at("sets")) r.sets.push_back(set_from(s));
    for (const auto& l : j.at("layers"))
      r.layers.push_back({l.at("name").get<std::string>(), l.at("kind").get<std::string>(), json_whole(l.at("neurons")),
                          l.at("map").get<bool>()});
    for (const auto& s : j.at("summaries")) {
      PatternSummary p;
      p.model = s.at("model").get<std::string>();
      p.set = s.at("set").get<std::string>();
      p.significance = s.at("significance").get<std::string>();
      p.layer = s.at("layer").get<std::string>();
      p.mean_frequency = number_or_nan(s.at("mean_frequency"));
      p.share_never = number_or_nan(s.at("share_never"));
      p.share_rare = number_or_nan(s.at("share_rare"));
      p.frequencies_file = s.at("frequencies_file").get<std::string>();
      p.histogram_file = s.at("histogram_file").get<std::string>();
      r.summaries.push_back(p);
    }
    for (const auto& t : j.at("trends")) {
      DepthTrend d;
      d.model = t.at("model").get<std::string>();
      d.set = t.at("set").get<std::string>();
      d.significance = t.at("significance").get<std::string>();
      d.mean_frequency = numbers_or_nan(t.at("mean_frequency"));
      d.spearman = number_or_nan(t.at("spearman"));
      if (!t.at("sparser_with_depth").is_null()) d.sparser_with_depth = t.at("sparser_with_depth").get<bool>();
      r.trends.push_back(d);
    }
    for (const auto& d : j.at("divergences")) {
      DivergenceRecord v;
      v.model = d.at("model").get<std::string>();
      v.significance = d.at("significance").get<std::string>();
      v.layer = d.at("layer").get<std::string>();
      v.pair = d.at("pair").get<std::string>();
      v.file = d.at("file").get<std::string>();
      v.mean_between_classes = number_or_nan(d.at("mean_between_classes"));
      v.mean_same_class = number_or_nan(d.at("mean_same_class"));
      r.divergences.push_back(v);
    }
    for (const auto& i : j.at("interactions")) {
      InteractionRecord v;
      v.model = i.at("model").get<std::string>();
      v.set = i.at("set").get<std::string>();
      v.layer = i.at("layer").get<std::string>();
      v.input_layer = i.at("input_layer").get<std::string>();
      v.inputs = json_whole(i.at("inputs"));
      v.outputs = json_whole(i.at("outputs"));
      v.threshold = number_or_nan(i.at("threshold"));
      v.mean_frequency = number_or_nan(i.at("mean_frequency"));
      v.histogram_file = i.at("histogram_file").get<std::string>();
      v.frequencies_file = optional_text_from(i.at("frequencies_file"));
      r.interactions.push_back(v);
    }
    r.notes = j.at("notes").get<std::vector<std::string>>();
    r.seconds = j.at("seconds").get<double>();
    r.forward_seconds = j.at("forward_seconds").get<double>();
    return r;
  });
}

json OodRecord::to_json() const {
  json j;
  j["format"] = kFormat;
  j["model"] = model.to_json();
  j["settings"] = settings;
  j["in_distribution"] = set_json(in_distribution);
  j["fit"] = set_json(fit);
  j["ood_sets"] = json::array();
  for (const auto& s : ood_sets) j["ood_sets"].push_back(set_json(s));
  j["detectors"] = json::array();
  for (const auto& d : detectors) {
    json sets = json::object();
    for (const auto& r : d.sets)
      sets[r.set] = {{"auroc", json_number(r.auroc)}, {"fpr95", json_number(r.fpr95)},
                     {"aupr_in", json_number(r.aupr_in)}, {"aupr_out", json_number(r.aupr_out)},
                     {"roc_fpr", json_numbers(r.roc_fpr)}, {"roc_tpr", json_numbers(r.roc_tpr)}};
    j["detectors"].push_back({{"name", d.name}, {"what", d.what}, {"sets", sets}, {"seconds", d.seconds}});
  }
  j["feature_layer"] = feature_layer;
  j["mahalanobis_layers"] = mahalanobis_layers;
  j["pattern_layers"] = pattern_layers;
  j["gmm_layer"] = gmm_layer;
  j["gmm_filters"] = gmm_filters;
  j["gmm_layer_filters"] = gmm_layer_filters;
  j["in_accuracy"] = json_number(in_accuracy);
  j["notes"] = notes;
  j["seconds"] = seconds;
  j["forward_seconds"] = forward_seconds;
  return j;
}

OodRecord OodRecord::from_json(const json& j, const std::string& source) {
  return guarded(source, kFormat, j, [&] {
    OodRecord r;
    r.model = ModelRecord::from_json(j.at("model"));
    r.settings = j.at("settings");
    r.in_distribution = set_from(j.at("in_distribution"));
    r.fit = set_from(j.at("fit"));
    for (const auto& s : j.at("ood_sets")) r.ood_sets.push_back(set_from(s));
    for (const auto& d : j.at("detectors")) {
      DetectorRecord v;
      v.name = d.at("name").get<std::string>();
      v.what = d.at("what").get<std::string>();
      v.seconds = d.at("seconds").get<double>();
      // In the order of the OOD sets, not the JSON object's (sorted) key order.
      for (const auto& s : r.ood_sets) {
        if (!d.at("sets").contains(s.name)) continue;
        const json& m = d.at("sets").at(s.name);
        DetectorResult x;
        x.set = s.name;
        x.auroc = number_or_nan(m.at("auroc"));
        x.fpr95 = number_or_nan(m.at("fpr95"));
        x.aupr_in = number_or_nan(m.at("aupr_in"));
        x.aupr_out = number_or_nan(m.at("aupr_out"));
        x.roc_fpr = numbers_or_nan(m.at("roc_fpr"));
        x.roc_tpr = numbers_or_nan(m.at("roc_tpr"));
        v.sets.push_back(x);
      }
      r.detectors.push_back(v);
    }
    r.feature_layer = j.at("feature_layer").get<std::string>();
    r.mahalanobis_layers = j.at("mahalanobis_layers").get<std::vector<std::string>>();
    r.pattern_layers = j.at("pattern_layers").get<std::vector<std::string>>();
    r.gmm_layer = j.at("gmm_layer").get<std::string>();
    r.gmm_filters = json_whole(j.at("gmm_filters"));
    r.gmm_layer_filters = json_whole(j.at("gmm_layer_filters"));
    r.in_accuracy = number_or_nan(j.at("in_accuracy"));
    r.notes = j.at("notes").get<std::vector<std::string>>();
    r.seconds = j.at("seconds").get<double>();
    r.forward_seconds = j.at("forward_seconds").get<double>();
    return r;
  });
}

ActivationsRecord read_activations_record(const std::filesystem::path& file) {
  return ActivationsRecord::from_json(read_json_file(file), file.string());
}

OodRecord read_ood_record(const std::filesystem::path& file) { return OodRecord::from_json(read_json_file(file), file.string()); }

}  // namespace filterscope
