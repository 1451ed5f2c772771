#include "filterscope/runs/study_records.h"

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"
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
  } catch (const Error& e) {  // a value of the wrong kind (json_whole): named with the file
    throw Error(detail::concat(source, ": ", without_prefix(e.what(), source)));
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

json paired_json(const PairedChange& c) {
  return {{"improved", c.improved}, {"worsened", c.worsened}, {"p_value", json_number(c.p_value)},
          {"significant", c.significant}};
}
PairedChange paired_from(const json& j) {
  return {json_whole(j.at("improved")), json_whole(j.at("worsened")), number_or_nan(j.at("p_value")),
          j.at("significant").get<bool>()};
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
  e.probe_size = json_whole(j.at("probe_size"));
  e.replaced = json_whole(j.at("replaced"));
  e.outliers = json_whole(j.at("outliers"));
  e.replaced_outliers = json_whole(j.at("replaced_outliers"));
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
  r.epoch = json_whole(j.at("epoch"));
  r.val_loss = j.at("val_loss").get<double>();
  r.val_acc = j.at("val_acc").get<double>();
  r.train_acc = j.at("train_acc").get<double>();
  r.anomaly_filters = json_whole(j.at("anomaly_filters"));
  r.outlier_samples = json_whole(j.at("outlier_samples"));
  r.mean_small_share = j.at("mean_small_share").get<double>();
  r.enrichment = enrichment_from(j.value("enrichment", json(nullptr)));
  r.per_layer = j.at("per_layer").get<std::map<std::string, int64_t>>();
  if (!choice) {
    r.train_loss = j.at("train_loss").get<double>();
    r.unbalanced_filters = json_whole(j.at("unbalanced_filters"));
    r.high_ch_filters = json_whole(j.at("high_ch_filters"));
    r.active_filters = json_whole(j.at("active_filters"));
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
  json out = {{"format", kTrackFormat},
              {"run_dir", run_dir},
              {"request", request},
              {"rules", {{"well_trained", well_trained_rule}, {"overfit", overfit_rule}}},
              {"well_trained", track_choice_json(well_trained)},
              {"overfit", track_choice_json(overfit)},
              {"val_acc_dropped", val_acc_dropped},
              {"spearman", correlations},
              {"epochs", rows}};
  if (!ranks.empty()) out["ranks"] = rank_work_json(ranks);
  return out;
}

std::string TrackRecord::probe_split() const {
  const auto probe = request.find("probe_set");
  if (probe == request.end() || !probe->is_object()) return {};
  const auto split = probe->find("split");
  return split != probe->end() && split->is_string() ? split->get<std::string>() : std::string();
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
    if (j.contains("ranks")) t.ranks = rank_work_from_json(j.at("ranks"));
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
      t.epoch = json_whole(e.at("epoch"));
      t.analysis_reused = e.at("analysis_reused").get<bool>();
      t.outlier_samples = json_whole(e.at("outlier_samples"));
      t.normal_samples = json_whole(e.at("normal_samples"));
      for (const auto& l : e.at("layers")) {
        GradientLayerRow row;
        means_from(l, row);
        row.name = l.at("name").get<std::string>();
        row.parameters = json_whole(l.at("parameters"));
        t.layers.push_back(row);
      }
      t.layers_outliers_larger = json_whole(e.at("layers_outliers_larger"));
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
                      {"val_up", f.val_up},
                      {"val_change", paired_json(f.val_change)},
                      {"train_change", paired_json(f.train_change)}});
    out["one_at_a_time"] = {{"filters", rows},
                            {"share_train_down", json_number(share_train_down)},
                            {"share_val_up", json_number(share_val_up)}};
    json seeds = json::array();
    for (const auto& s : baseline_seeds)
      seeds.push_back({{"seed", s.seed},
                       {"filters", s.filters},
                       {"share_train_down", json_number(s.share_train_down)},
                       {"share_val_up", json_number(s.share_val_up)},
                       {"val_up_significant", s.val_up_significant},
                       {"train_down_significant", s.train_down_significant}});
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
    out["paired_tests"] = {{"alpha", alpha},
                           {"val_up_significant", val_up_significant},
                           {"train_down_significant", train_down_significant},
                           {"baseline_filters", baseline_filters},
                           {"baseline_val_up_significant", baseline_val_up_significant},
                           {"baseline_train_down_significant", baseline_train_down_significant},
                           {"val_up_enrichment_p", json_number(val_up_enrichment_p)},
                           {"train_down_enrichment_p", json_number(train_down_enrichment_p)}};
  }
  if (saved) out["saved"] = *saved;
  return out;
}

MaskRecord MaskRecord::from_json(const json& j, const std::string& source) {
  check_format(j, kMaskFormat, source);
  return guarded(source, [&] {
    MaskRecord m;
    if (j.contains("run_dir")) m.run_dir = j.at("run_dir").get<std::string>();
    if (j.contains("epoch")) m.epoch = json_whole(j.at("epoch"));
    if (j.contains("checkpoint")) m.checkpoint = j.at("checkpoint").get<std::string>();
    if (j.contains("model")) m.model = ModelRecord::from_json(j.at("model"));
    m.request = j.at("request");
    m.analysis_reused = j.at("analysis_reused").get<bool>();
    m.train_measured_on = j.at("accuracy_measured_on").at("train").get<std::string>();
    m.val_measured_on = j.at("accuracy_measured_on").at("val").get<std::string>();
    m.before = {j.at("before").at("train_acc").get<double>(), j.at("before").at("val_acc").get<double>()};
    m.anomaly_filters = json_whole(j.at("anomaly_filters"));
    if (j.contains("note")) m.note = j.at("note").get<std::string>();
    if (j.contains("all_at_once")) {
      const auto& one = j.at("one_at_a_time");
      for (const auto& f : one.at("filters"))
        m.one_at_a_time.push_back({f.at("conv").get<std::string>(), json_whole(f.at("channel")),
                                   f.at("flagged_at").get<std::vector<std::string>>(), f.at("train_acc").get<double>(),
                                   f.at("val_acc").get<double>(), f.at("train_down").get<bool>(),
                                   f.at("val_up").get<bool>(), paired_from(f.at("val_change")),
                                   paired_from(f.at("train_change"))});
      m.share_train_down = number_or_nan(one.at("share_train_down"));
      m.share_val_up = number_or_nan(one.at("share_val_up"));
      const auto& base = j.at("random_baseline");
      for (const auto& s : base.at("seeds"))
        m.baseline_seeds.push_back({json_whole(s.at("seed")), s.at("filters").get<std::vector<std::string>>(),
                                    number_or_nan(s.at("share_train_down")), number_or_nan(s.at("share_val_up")),
                                    json_whole(s.at("val_up_significant")), json_whole(s.at("train_down_significant"))});
      m.baseline_share_train_down = mean_sd_from(base.at("share_train_down"));
      m.baseline_share_val_up = mean_sd_from(base.at("share_val_up"));
      const auto& a = j.at("all_at_once");
      m.all_at_once = AllAtOnce{a.at("train_acc").get<double>(),       a.at("val_acc").get<double>(),
                                json_whole(a.at("outlier_samples")), a.at("labels").get<std::string>(),
                                json_whole(a.at("right_to_right")),  json_whole(a.at("right_to_wrong")),
                                json_whole(a.at("wrong_to_right")),  json_whole(a.at("wrong_to_wrong"))};
      const auto& t = j.at("paired_tests");
      m.alpha = t.at("alpha").get<double>();
      m.val_up_significant = json_whole(t.at("val_up_significant"));
      m.train_down_significant = json_whole(t.at("train_down_significant"));
      m.baseline_filters = json_whole(t.at("baseline_filters"));
      m.baseline_val_up_significant = json_whole(t.at("baseline_val_up_significant"));
      m.baseline_train_down_significant = json_whole(t.at("baseline_train_down_significant"));
      m.val_up_enrichment_p = number_or_nan(t.at("val_up_enrichment_p"));
      m.train_down_enrichment_p = number_or_nan(t.at("train_down_enrichment_p"));
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

// ---- clean.json --------------------------------------------------------------------------------

json CleanRecord::to_json() const {
  json infos = json::array();
  for (const auto& d : detectors)
    infos.push_back({{"name", d.name}, {"description", d.description}, {"needs_analysis", d.needs_analysis}});
  json evals = json::array();
  for (const auto& e : evaluations) {
    json results = json::array();
    for (const auto& d : e.detectors)
      results.push_back({{"name", d.name},
                         {"auroc", json_number(d.auroc)},
                         {"average_precision", json_number(d.average_precision)},
                         {"flagged", d.flagged},
                         {"hits", d.hits},
                         {"precision", json_number(d.precision)},
                         {"recall", json_number(d.recall)},
                         {"roc_fpr", json_numbers(d.roc_fpr)},
                         {"roc_tpr", json_numbers(d.roc_tpr)}});
    evals.push_back({{"role", e.role},
                     {"epoch", e.epoch},
                     {"evaluated_on", e.evaluated_on},
                     {"samples", e.samples},
                     {"replaced", e.replaced},
                     {"detectors", results}});
  }
  json flags = json::object();
  for (const auto& [name, positions] : flagged) flags[name] = positions;
  json flag_scores = json::object();
  for (const auto& [name, scores] : flagged_scores) flag_scores[name] = json_numbers(scores);
  json out = {{"format", kCleanFormat},
              {"run_dir", run_dir},
              {"listed_epoch", listed_epoch},
              {"top", top},
              {"training_samples", training_samples},
              {"replaced_labels", replaced_labels},
              {"detectors", infos},
              {"evaluations", evals},
              {"flagged", flags},
              {"flagged_scores", flag_scores}};
  if (!cartography_confidence.empty()) {
    out["cartography"] = {{"confidence", json_numbers(cartography_confidence)},
                          {"variability", json_numbers(cartography_variability)}};
  }
  if (confident_learning) {
    const ConfidentLearningRecord& c = *confident_learning;
    out["confident_learning"] = {{"folds", c.folds},
                                 {"epoch", c.epoch},
                                 {"thresholds", json_numbers(c.thresholds)},
                                 {"confident_joint", c.confident_joint},
                                 {"flagged", c.flagged},
                                 {"flagged_replaced", c.flagged_replaced},
                                 {"precision", json_number(c.precision)},
                                 {"recall", json_number(c.recall)}};
  } else if (!confident_learning_note.empty()) {
    out["confident_learning"] = {{"note", confident_learning_note}};
  }
  return out;
}

CleanRecord CleanRecord::from_json(const json& j, const std::string& source) {
  check_format(j, kCleanFormat, source);
  return guarded(source, [&] {
    CleanRecord r;
    r.run_dir = j.at("run_dir").get<std::string>();
    r.listed_epoch = json_whole(j.at("listed_epoch"));
    r.top = json_whole(j.at("top"));
    r.training_samples = json_whole(j.at("training_samples"));
    r.replaced_labels = json_whole(j.at("replaced_labels"));
    for (const auto& d : j.at("detectors"))
      r.detectors.push_back({d.at("name").get<std::string>(), d.at("description").get<std::string>(),
                             d.at("needs_analysis").get<bool>()});
    for (const auto& e : j.at("evaluations")) {
      NoiseDetectorEvaluation ev;
      ev.role = e.at("role").get<std::string>();
      ev.epoch = json_whole(e.at("epoch"));
      ev.evaluated_on = e.at("evaluated_on").get<std::string>();
      ev.samples = json_whole(e.at("samples"));
      ev.replaced = json_whole(e.at("replaced"));
      for (const auto& d : e.at("detectors")) {
        NoiseDetectorResult res;
        res.name = d.at("name").get<std::string>();
        res.auroc = number_or_nan(d.at("auroc"));
        res.average_precision = number_or_nan(d.at("average_precision"));
        res.flagged = json_whole(d.at("flagged"));
        res.hits = json_whole(d.at("hits"));
        res.precision = number_or_nan(d.at("precision"));
        res.recall = number_or_nan(d.at("recall"));
        res.roc_fpr = numbers_or_nan(d.at("roc_fpr"));
        res.roc_tpr = numbers_or_nan(d.at("roc_tpr"));
        ev.detectors.push_back(std::move(res));
      }
      r.evaluations.push_back(std::move(ev));
    }
    for (const auto& [name, positions] : j.at("flagged").items()) r.flagged[name] = json_wholes(positions);
    for (const auto& [name, scores] : j.at("flagged_scores").items()) r.flagged_scores[name] = numbers_or_nan(scores);
    if (j.contains("cartography")) {
      r.cartography_confidence = numbers_or_nan(j.at("cartography").at("confidence"));
      r.cartography_variability = numbers_or_nan(j.at("cartography").at("variability"));
      FS_CHECK(r.cartography_confidence.size() == r.cartography_variability.size() &&
                   static_cast<int64_t>(r.cartography_confidence.size()) == r.training_samples,
               source, ": the cartography lists do not hold one value per training sample");
    }
    if (j.contains("confident_learning")) {
      const json& c = j.at("confident_learning");
      if (c.contains("note")) {
        r.confident_learning_note = c.at("note").get<std::string>();
      } else {
        ConfidentLearningRecord cl;
        cl.folds = json_whole(c.at("folds"));
        cl.epoch = json_whole(c.at("epoch"));
        cl.thresholds = numbers_or_nan(c.at("thresholds"));
        for (const auto& row : c.at("confident_joint")) cl.confident_joint.push_back(json_wholes(row));
        cl.flagged = json_wholes(c.at("flagged"));
        cl.flagged_replaced = json_whole(c.at("flagged_replaced"));
        cl.precision = number_or_nan(c.at("precision"));
        cl.recall = number_or_nan(c.at("recall"));
        r.confident_learning = std::move(cl);
      }
    }
    return r;
  });
}

// ---- retrain.json ------------------------------------------------------------------------------

json RetrainRecord::to_json() const {
  json a = json::array();
  for (const auto& arm : arms)
    a.push_back({{"name", arm.name}, {"run_dir", arm.run_dir}, {"removed", arm.removed}, {"removed_replaced", arm.removed_replaced}});
  json e = json::array();
  for (const auto& ep : epochs)
    e.push_back({{"role", ep.role},
                 {"epoch", ep.epoch},
                 {"original_val_acc", json_number(ep.original_val_acc)},
                 {"flagged_val_acc", json_number(ep.flagged_val_acc)},
                 {"random_val_acc", json_number(ep.random_val_acc)},
                 {"flagged_vs_random", paired_json(ep.flagged_vs_random)},
                 {"p_two_sided", json_number(ep.p_two_sided)}});
  return {{"format", kRetrainFormat}, {"run_dir", run_dir}, {"detector", detector}, {"listed_epoch", listed_epoch},
          {"k", k},                  {"random_seed", random_seed}, {"arms", a}, {"epochs", e}};
}

RetrainRecord RetrainRecord::from_json(const json& j, const std::string& source) {
  check_format(j, kRetrainFormat, source);
  return guarded(source, [&] {
    RetrainRecord r;
    r.run_dir = j.at("run_dir").get<std::string>();
    r.detector = j.at("detector").get<std::string>();
    r.listed_epoch = json_whole(j.at("listed_epoch"));
    r.k = json_whole(j.at("k"));
    r.random_seed = json_whole(j.at("random_seed"));
    for (const auto& a : j.at("arms"))
      r.arms.push_back({a.at("name").get<std::string>(), a.at("run_dir").get<std::string>(), json_whole(a.at("removed")),
                        json_whole(a.at("removed_replaced"))});
    for (const auto& e : j.at("epochs"))
      r.epochs.push_back({e.at("role").get<std::string>(), json_whole(e.at("epoch")),
                          number_or_nan(e.at("original_val_acc")), number_or_nan(e.at("flagged_val_acc")),
                          number_or_nan(e.at("random_val_acc")), paired_from(e.at("flagged_vs_random")),
                          number_or_nan(e.at("p_two_sided"))});
    return r;
  });
}

// ---- study.json --------------------------------------------------------------------------------

json StudyRecord::to_json() const {
  json hs = json::array();
  for (const auto& h : hypotheses) {
    json seeds_json = json::array();
    for (const auto& o : h.seeds)
      seeds_json.push_back({{"seed", o.seed},
                            {"verdict", o.verdict},
                            {"effect", json_number(o.effect)},
                            {"direction", o.direction},
                            {"p_value", json_number(o.p_value)}});
    hs.push_back({{"id", h.id},
                  {"statement", h.statement},
                  {"effect", h.effect},
                  {"seeds", seeds_json},
                  {"positive", h.positive},
                  {"negative", h.negative},
                  {"ties", h.ties},
                  {"effect_median", json_number(h.effect_median)},
                  {"effect_min", json_number(h.effect_min)},
                  {"effect_max", json_number(h.effect_max)},
                  {"sign_test_p", json_number(h.sign_test_p)},
                  {"combined_p", json_number(h.combined_p)},
                  {"verdict", h.verdict},
                  {"reason", h.reason}});
  }
  json ds = json::array();
  for (const auto& d : detectors)
    ds.push_back({{"role", d.role},
                  {"name", d.name},
                  {"auroc", json_numbers(d.auroc)},
                  {"average_precision", json_numbers(d.average_precision)},
                  {"precision", json_numbers(d.precision)},
                  {"auroc_median", json_number(d.auroc_median)},
                  {"auroc_min", json_number(d.auroc_min)},
                  {"auroc_max", json_number(d.auroc_max)},
                  {"average_precision_median", json_number(d.average_precision_median)},
                  {"precision_median", json_number(d.precision_median)}});
  json sr = json::array();
  for (const auto& r : seed_runs)
    sr.push_back({{"seed", r.seed},
                  {"run_dir", r.run_dir},
                  {"well_trained_epoch", r.well_trained_epoch},
                  {"overfit_epoch", r.overfit_epoch},
                  {"well_trained_val_loss", json_number(r.well_trained_val_loss)},
                  {"well_trained_val_acc", json_number(r.well_trained_val_acc)},
                  {"overfit_val_acc", json_number(r.overfit_val_acc)},
                  {"overfit_train_acc", json_number(r.overfit_train_acc)},
                  {"well_trained_anomaly_filters", r.well_trained_anomaly_filters},
                  {"overfit_anomaly_filters", r.overfit_anomaly_filters}});
  return {{"format", kStudyFormat}, {"runs", runs},           {"seeds", seeds},    {"rule", rule},
          {"alpha", alpha},         {"seed_runs", sr},        {"hypotheses", hs},  {"detectors", ds}};
}

StudyRecord StudyRecord::from_json(const json& j, const std::string& source) {
  check_format(j, kStudyFormat, source);
  return guarded(source, [&] {
    StudyRecord r;
    r.runs = j.at("runs").get<std::vector<std::string>>();
    r.seeds = json_wholes(j.at("seeds"));
    r.rule = j.at("rule").get<std::string>();
    r.alpha = j.at("alpha").get<double>();
    for (const auto& x : j.at("seed_runs"))
      r.seed_runs.push_back({json_whole(x.at("seed")), x.at("run_dir").get<std::string>(),
                             json_whole(x.at("well_trained_epoch")), json_whole(x.at("overfit_epoch")),
                             number_or_nan(x.at("well_trained_val_loss")), number_or_nan(x.at("well_trained_val_acc")),
                             number_or_nan(x.at("overfit_val_acc")), number_or_nan(x.at("overfit_train_acc")),
                             json_whole(x.at("well_trained_anomaly_filters")), json_whole(x.at("overfit_anomaly_filters"))});
    for (const auto& h : j.at("hypotheses")) {
      HypothesisAcrossSeeds a;
      a.id = h.at("id").get<std::string>();
      a.statement = h.at("statement").get<std::string>();
      a.effect = h.at("effect").get<std::string>();
      for (const auto& o : h.at("seeds"))
        a.seeds.push_back({json_whole(o.at("seed")), o.at("verdict").get<std::string>(), number_or_nan(o.at("effect")),
                           static_cast<int>(json_whole(o.at("direction"))), number_or_nan(o.at("p_value"))});
      a.positive = json_whole(h.at("positive"));
      a.negative = json_whole(h.at("negative"));
      a.ties = json_whole(h.at("ties"));
      a.effect_median = number_or_nan(h.at("effect_median"));
      a.effect_min = number_or_nan(h.at("effect_min"));
      a.effect_max = number_or_nan(h.at("effect_max"));
      a.sign_test_p = number_or_nan(h.at("sign_test_p"));
      a.combined_p = number_or_nan(h.at("combined_p"));
      a.verdict = h.at("verdict").get<std::string>();
      a.reason = h.at("reason").get<std::string>();
      r.hypotheses.push_back(std::move(a));
    }
    for (const auto& d : j.at("detectors")) {
      DetectorAcrossSeeds a;
      a.role = d.at("role").get<std::string>();
      a.name = d.at("name").get<std::string>();
      a.auroc = numbers_or_nan(d.at("auroc"));
      a.average_precision = numbers_or_nan(d.at("average_precision"));
      a.precision = numbers_or_nan(d.at("precision"));
      a.auroc_median = number_or_nan(d.at("auroc_median"));
      a.auroc_min = number_or_nan(d.at("auroc_min"));
      a.auroc_max = number_or_nan(d.at("auroc_max"));
      a.average_precision_median = number_or_nan(d.at("average_precision_median"));
      a.precision_median = number_or_nan(d.at("precision_median"));
      r.detectors.push_back(std::move(a));
    }
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
std::optional<CleanRecord> read_clean_record(const std::filesystem::path& file) { return read_optional<CleanRecord>(file); }
std::optional<StudyRecord> read_study_record(const std::filesystem::path& file) { return read_optional<StudyRecord>(file); }

}  // namespace filterscope
