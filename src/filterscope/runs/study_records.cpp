#include "filterscope/runs/study_records.h"

#include "filterscope/core/error.h"
#include "filterscope/io/json.h"

namespace filterscope {

namespace {

using json = nlohmann::json;

template <class R>
std::optional<R> read_optional(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) return std::nullopt;
  return R::from_json(read_json_file(file), file.string());
}

void check_format(const json& j, const char* format, const std::string& source) {
  FS_CHECK(json_format_of(j) == format, source, ": not a filterscope record of format ",
           format, " (written by another version? run the experiment again)");
}

// Runs `read` and turns a missing or mistyped field into one Error naming the file.
template <class F>
auto guarded(const std::string& source, F&& read) {
  try {
    return read();
  } catch (const json::exception& e) {
    throw Error(detail::concat(source, ": a field is missing or of the wrong type (", e.what(),
                               "); was it written by another version? Run the experiment again"));
  }
}

json enrichment_json(const std::optional<Enrichment>& e) { return e ? e->to_json() : json(nullptr); }
std::optional<Enrichment> enrichment_from(const json& j) {
  if (j.is_null()) return std::nullopt;
  return Enrichment::from_json(j);
}

json means_json(const GradientMeans& m) {
  return {{"outlier_mean", json_number(m.outlier_mean)}, {"normal_mean", json_number(m.normal_mean)},
          {"ratio", json_number(m.ratio)}};
}
void means_from(const json& j, GradientMeans& m) {
  m.outlier_mean = number_or_nan(j.at("outlier_mean"));
  m.normal_mean = number_or_nan(j.at("normal_mean"));
  m.ratio = number_or_nan(j.at("ratio"));
}

json mean_sd_json(const MeanSd& m) { return {{"mean", json_number(m.mean)}, {"sd", json_number(m.sd)}}; }
MeanSd mean_sd_from(const json& j) { return {number_or_nan(j.at("mean")), number_or_nan(j.at("sd"))}; }

}  // namespace

// ---- Enrichment --------------------------------------------------------------------------------

json Enrichment::to_json() const {
  return {{"probe_size", probe_size}, {"replaced", replaced},   {"outliers", outliers},
          {"replaced_outliers", replaced_outliers}, {"precision", json_number(precision)},
          {"recall", json_number(recall)},         {"base_rate", json_number(base_rate)},
          {"ratio", json_number(ratio)},           {"p_value", json_number(p_value)}};
}

Enrichment Enrichment::from_json(const json& j) {
  Enrichment e;
  e.probe_size = j.at("probe_size").get<int64_t>();
  e.replaced = j.at("replaced").get<int64_t>();
  e.outliers = j.at("outliers").get<int64_t>();
  e.replaced_outliers = j.at("replaced_outliers").get<int64_t>();
  e.precision = number_or_nan(j.at("precision"));
  e.recall = number_or_nan(j.at("recall"));
  e.base_rate = number_or_nan(j.at("base_rate"));
  e.ratio = number_or_nan(j.at("ratio"));
  e.p_value = number_or_nan(j.at("p_value"));
  return e;
}

// ---- track.json --------------------------------------------------------------------------------

namespace {
json track_row_json(const TrackEpochRecord& r) {
  return {{"epoch", r.epoch},
          {"train_loss", r.train_loss},
          {"train_acc", r.train_acc},
          {"val_loss", r.val_loss},
          {"val_acc", r.val_acc},
          {"anomaly_filters", r.anomaly_filters},
          {"unbalanced_filters", r.unbalanced_filters},
          {"high_ch_filters", r.high_ch_filters},
          {"active_filters", r.active_filters},
          {"outlier_samples", r.outlier_samples},
          {"mean_small_share", r.mean_small_share},
          {"enrichment", enrichment_json(r.enrichment)},
          {"per_layer", r.per_layer}};
}

// The chosen epochs carry a subset of the row's fields.
json track_choice_json(const TrackEpochRecord& r) {
  return {{"epoch", r.epoch},
          {"val_loss", r.val_loss},
          {"val_acc", r.val_acc},
          {"train_acc", r.train_acc},
          {"anomaly_filters", r.anomaly_filters},
          {"outlier_samples", r.outlier_samples},
          {"mean_small_share", r.mean_small_share},
          {"enrichment", enrichment_json(r.enrichment)},
          {"per_layer", r.per_layer}};
}

TrackEpochRecord track_row_from(const json& j, bool choice) {
  TrackEpochRecord r;
  r.epoch = j.at("epoch").get<int64_t>();
  r.val_loss = j.at("val_loss").get<double>();
  r.val_acc = j.at("val_acc").get<double>();
  r.train_acc = j.at("train_acc").get<double>();
  r.anomaly_filters = j.at("anomaly_filters").get<int64_t>();
  r.outlier_samples = j.at("outlier_samples").get<int64_t>();
  r.mean_small_share = j.at("mean_small_share").get<double>();
  r.enrichment = enrichment_from(j.value("enrichment", json(nullptr)));
  r.per_layer = j.at("per_layer").get<std::map<std::string, int64_t>>();
  if (!choice) {
    r.train_loss = j.at("train_loss").get<double>();
    r.unbalanced_filters = j.at("unbalanced_filters").get<int64_t>();
    r.high_ch_filters = j.at("high_ch_filters").get<int64_t>();
    r.active_filters = j.at("active_filters").get<int64_t>();
  }
  return r;
}
}  // namespace

json TrackRecord::to_json() const {
  json correlations = json::object();
  for (const auto& [name, c] : spearman)
    correlations[name] = {{"val_loss", json_number(c.val_loss)}, {"generalisation_gap", json_number(c.generalisation_gap)}};
  json rows = json::array();
  for (const auto& r : epochs) rows.push_back(track_row_json(r));
  return {{"format", kTrackFormat},
          {"run_dir", run_dir},
          {"request", request},
          {"rules", {{"well_trained", well_trained_rule}, {"overfit", overfit_rule}}},
          {"well_trained", track_choice_json(well_trained)},
          {"overfit", track_choice_json(overfit)},
          {"val_acc_dropped", val_acc_dropped},
          {"spearman", correlations},
          {"epochs", rows}};
}

TrackRecord TrackRecord::from_json(const json& j, const std::string& source) {
  check_format(j, kTrackFormat, source);
  return guarded(source, [&] {
    TrackRecord t;
    t.run_dir = j.at("run_dir").get<std::string>();
    t.request = j.at("request");
    t.well_trained_rule = j.at("rules").at("well_trained").get<std::string>();
    t.overfit_rule = j.at("rules").at("overfit").get<std::string>();
    t.well_trained = track_row_from(j.at("well_trained"), true);
    t.overfit = track_row_from(j.at("overfit"), true);
    t.val_acc_dropped = j.at("val_acc_dropped").get<bool>();
    for (const auto& [name, c] : j.at("spearman").items())
      t.spearman[name] = {number_or_nan(c.at("val_loss")), number_or_nan(c.at("generalisation_gap"))};
    for (const auto& r : j.at("epochs")) t.epochs.push_back(track_row_from(r, false));
    return t;
  });
}

// ---- gradients.json ----------------------------------------------------------------------------

const GradientTable* GradientsRecord::table(const std::string& role) const {
  for (const auto& t : epochs)
    if (t.role == role) return &t;
  return nullptr;
}

json GradientsRecord::to_json() const {
  json tables = json::array();
  for (const auto& t : epochs) {
    json layers = json::array();
    for (const auto& l : t.layers) {
      json row = means_json(l);
      row["name"] = l.name;
      row["parameters"] = l.parameters;
      layers.push_back(row);
    }
    json overall = means_json(t.overall);
    overall["mann_whitney"] = {{"u", json_number(t.mann_whitney_u)},
                               {"z", json_number(t.mann_whitney_z)},
                               {"p_greater", json_number(t.p_greater)}};
    json table = {{"outlier_samples", t.outlier_samples},
                  {"normal_samples", t.normal_samples},
                  {"layers", layers},
                  {"layers_outliers_larger", t.layers_outliers_larger},
                  {"overall", overall},
                  {"role", t.role},
                  {"epoch", t.epoch},
                  {"analysis_reused", t.analysis_reused}};
    if (t.note) table["note"] = *t.note;
    tables.push_back(table);
  }
  json out = {{"format", kGradientsFormat}, {"request", request}, {"measure", measure}, {"epochs", tables}};
  if (run_dir) out["run_dir"] = *run_dir;
  if (model) out["model"] = model->to_json();
  return out;
}

GradientsRecord GradientsRecord::from_json(const json& j, const std::string& source) {
  check_format(j, kGradientsFormat, source);
  return guarded(source, [&] {
    GradientsRecord g;
    if (j.contains("run_dir")) g.run_dir = j.at("run_dir").get<std::string>();
    if (j.contains("model")) g.model = ModelRecord::from_json(j.at("model"));
    g.request = j.at("request");
    g.measure = j.at("measure").get<std::string>();
    for (const auto& e : j.at("epochs")) {
      GradientTable t;
      t.role = e.at("role").get<std::string>();
      t.epoch = e.at("epoch").get<int64_t>();
      t.analysis_reused = e.at("analysis_reused").get<bool>();
      t.outlier_samples = e.at("outlier_samples").get<int64_t>();
      t.normal_samples = e.at("normal_samples").get<int64_t>();
      for (const auto& l : e.at("layers")) {
        GradientLayerRow row;
        means_from(l, row);
        row.name = l.at("name").get<std::string>();
        row.parameters = l.at("parameters").get<int64_t>();
        t.layers.push_back(row);
      }
      t.layers_outliers_larger = e.at("layers_outliers_larger").get<int64_t>();
      means_from(e.at("overall"), t.overall);
      const auto& mw = e.at("overall").at("mann_whitney");
      t.mann_whitney_u = number_or_nan(mw.at("u"));
      t.mann_whitney_z = number_or_nan(mw.at("z"));
      t.p_greater = number_or_nan(mw.at("p_greater"));
      if (e.contains("note")) t.note = e.at("note").get<std::string>();
      g.epochs.push_back(std::move(t));
    }
    return g;
  });
}

// ---- mask.json ---------------------------------------------------------------------------------

json MaskRecord::to_json() const {
  json out = {{"format", kMaskFormat},
              {"request", request},
              {"analysis_reused", analysis_reused},
              {"accuracy_measured_on", {{"train", train_measured_on}, {"val", val_measured_on}}},
              {"before", {{"train_acc", before.train_acc}, {"val_acc", before.val_acc}}},
              {"anomaly_filters", anomaly_filters}};
  if (run_dir) out["run_dir"] = *run_dir;
  if (epoch) out["epoch"] = *epoch;
  if (checkpoint) out["checkpoint"] = *checkpoint;
  if (model) out["model"] = model->to_json();
  if (note) out["note"] = *note;
  if (all_at_once) {
    json rows = json::array();
    for (const auto& f : one_at_a_time)
      rows.push_back({{"conv", f.conv},
                      {"channel", f.channel},
                      {"flagged_at", f.flagged_at},
                      {"train_acc", f.train_acc},
                      {"val_acc", f.val_acc},
                      {"train_down", f.train_down},
                      {"val_up", f.val_up}});
    out["one_at_a_time"] = {{"filters", rows},
                            {"share_train_down", json_number(share_train_down)},
                            {"share_val_up", json_number(share_val_up)}};
    json seeds = json::array();
    for (const auto& s : baseline_seeds)
      seeds.push_back({{"seed", s.seed},
                       {"filters", s.filters},
                       {"share_train_down", json_number(s.share_train_down)},
                       {"share_val_up", json_number(s.share_val_up)}});
    out["random_baseline"] = {{"seeds", seeds},
                              {"share_train_down", mean_sd_json(baseline_share_train_down)},
                              {"share_val_up", mean_sd_json(baseline_share_val_up)}};
    const AllAtOnce& a = *all_at_once;
    out["all_at_once"] = {{"train_acc", a.train_acc},
                          {"val_acc", a.val_acc},
                          {"outlier_samples", a.outlier_samples},
                          {"labels", a.labels},
                          {"right_to_right", a.right_to_right},
                          {"right_to_wrong", a.right_to_wrong},
                          {"wrong_to_right", a.wrong_to_right},
                          {"wrong_to_wrong", a.wrong_to_wrong}};
  }
  if (saved) out["saved"] = *saved;
  return out;
}

MaskRecord MaskRecord::from_json(const json& j, const std::string& source) {
  check_format(j, kMaskFormat, source);
  return guarded(source, [&] {
    MaskRecord m;
    if (j.contains("run_dir")) m.run_dir = j.at("run_dir").get<std::string>();
    if (j.contains("epoch")) m.epoch = j.at("epoch").get<int64_t>();
    if (j.contains("checkpoint")) m.checkpoint = j.at("checkpoint").get<std::string>();
    if (j.contains("model")) m.model = ModelRecord::from_json(j.at("model"));
    m.request = j.at("request");
    m.analysis_reused = j.at("analysis_reused").get<bool>();
    m.train_measured_on = j.at("accuracy_measured_on").at("train").get<std::string>();
    m.val_measured_on = j.at("accuracy_measured_on").at("val").get<std::string>();
    m.before = {j.at("before").at("train_acc").get<double>(), j.at("before").at("val_acc").get<double>()};
    m.anomaly_filters = j.at("anomaly_filters").get<int64_t>();
    if (j.contains("note")) m.note = j.at("note").get<std::string>();
    if (j.contains("all_at_once")) {
      const auto& one = j.at("one_at_a_time");
      for (const auto& f : one.at("filters"))
        m.one_at_a_time.push_back({f.at("conv").get<std::string>(), f.at("channel").get<int64_t>(),
                                   f.at("flagged_at").get<std::vector<std::string>>(), f.at("train_acc").get<double>(),
                                   f.at("val_acc").get<double>(), f.at("train_down").get<bool>(),
                                   f.at("val_up").get<bool>()});
      m.share_train_down = number_or_nan(one.at("share_train_down"));
      m.share_val_up = number_or_nan(one.at("share_val_up"));
      const auto& base = j.at("random_baseline");
      for (const auto& s : base.at("seeds"))
        m.baseline_seeds.push_back({s.at("seed").get<int64_t>(), s.at("filters").get<std::vector<std::string>>(),
                                    number_or_nan(s.at("share_train_down")), number_or_nan(s.at("share_val_up"))});
      m.baseline_share_train_down = mean_sd_from(base.at("share_train_down"));
      m.baseline_share_val_up = mean_sd_from(base.at("share_val_up"));
      const auto& a = j.at("all_at_once");
      m.all_at_once = AllAtOnce{a.at("train_acc").get<double>(),       a.at("val_acc").get<double>(),
                                a.at("outlier_samples").get<int64_t>(), a.at("labels").get<std::string>(),
                                a.at("right_to_right").get<int64_t>(),  a.at("right_to_wrong").get<int64_t>(),
                                a.at("wrong_to_right").get<int64_t>(),  a.at("wrong_to_wrong").get<int64_t>()};
    }
    if (j.contains("saved")) m.saved = j.at("saved").get<std::string>();
    return m;
  });
}

// ---- verdicts.json -----------------------------------------------------------------------------

json VerdictsRecord::to_json() const {
  json list = json::array();
  for (const auto& v : hypotheses)
    list.push_back({{"id", v.id},           {"statement", v.statement}, {"rule", v.rule},
                    {"verdict", v.verdict}, {"reason", v.reason},       {"numbers", v.numbers}});
  json out = {{"format", kVerdictsFormat}, {"hypotheses", list}};
  if (run_dir) out["run_dir"] = *run_dir;
  return out;
}

VerdictsRecord VerdictsRecord::from_json(const json& j, const std::string& source) {
  check_format(j, kVerdictsFormat, source);
  return guarded(source, [&] {
    VerdictsRecord r;
    if (j.contains("run_dir")) r.run_dir = j.at("run_dir").get<std::string>();
    for (const auto& v : j.at("hypotheses"))
      r.hypotheses.push_back({v.at("id").get<std::string>(), v.at("statement").get<std::string>(),
                              v.at("rule").get<std::string>(), v.at("verdict").get<std::string>(),
                              v.at("reason").get<std::string>(), v.at("numbers")});
    return r;
  });
}

std::optional<TrackRecord> read_track_record(const std::filesystem::path& file) { return read_optional<TrackRecord>(file); }
std::optional<GradientsRecord> read_gradients_record(const std::filesystem::path& file) {
  return read_optional<GradientsRecord>(file);
}
std::optional<MaskRecord> read_mask_record(const std::filesystem::path& file) { return read_optional<MaskRecord>(file); }
std::optional<VerdictsRecord> read_verdicts_record(const std::filesystem::path& file) {
  return read_optional<VerdictsRecord>(file);
}

}  // namespace filterscope
