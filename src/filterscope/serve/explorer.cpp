#include "filterscope/serve/explorer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "filterscope/core/error.h"
#include "filterscope/io/json.h"
#include "filterscope/core/files.h"
#include "filterscope/core/text.h"
#include "filterscope/data/dataset.h"
#include "filterscope/io/png.h"
#include "filterscope/report/html_report.h"
#include "filterscope/runs/layout.h"
#include "filterscope/serve/query.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

namespace fs = std::filesystem;
using Params = std::multimap<std::string, std::string>;

namespace {

HttpReply json_reply(const nlohmann::json& body, int status = 200) {
  return {status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

std::string unique_id(const fs::path& dir, const std::set<std::string>& taken) {
  std::string base = fs::absolute(dir).lexically_normal().filename().string();
  if (base.empty()) base = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  for (char& c : base)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  if (base.empty() || base == "." || base == "..") base = "run";
  std::string id = base;
  for (int k = 2; taken.count(id); ++k) id = base + "-" + std::to_string(k);
  return id;
}

nlohmann::json layer_json(const LogLayer& l, size_t index) {
  return {{"index", index}, {"name", l.name}, {"kind", l.kind}, {"units", l.units}, {"fan_in", l.fan_in}};
}

}  // namespace

// Per run: where its log is, and the validation images for thumbnails, read on first use.
struct Explorer::RunState {
  fs::path log_file;
  std::mutex mutex;
  bool images_loaded = false;
  at::Tensor images;  ///< [N, C, H, W] uint8: the run's validation images, in the log's order

  // A read-only connection for the length of one request. Not pooled: a connection held open
  // between requests would keep a training run from leaving WAL mode when it finishes (that
  // needs the database to itself), and opening one costs well under a millisecond.
  class Lease {
   public:
    explicit Lease(RunState& state) : reader_(std::make_unique<RunLogReader>(state.log_file)) {}
    RunLogReader& operator*() { return *reader_; }
    RunLogReader* operator->() { return reader_.get(); }

   private:
    std::unique_ptr<RunLogReader> reader_;
  };
};

Explorer::Explorer(const std::vector<fs::path>& run_dirs) {
  FS_CHECK(!run_dirs.empty(), "serve: give at least one run directory");
  std::set<std::string> taken;
  for (const fs::path& dir : run_dirs) {
    const RunLayout layout(dir);
    FS_CHECK(fs::is_directory(dir), dir.string(), ": no such run directory");
    FS_CHECK(layout.is_run(), dir.string(), ": not a run directory (no run.json)");
    FS_CHECK(fs::exists(layout.run_log()), dir.string(),
             ": no run.sqlite (runs trained by this filterscope record it; `filterscope record ", dir.string(),
             "` imports an older run from its checkpoints)");
    try {
      RunLogReader check(layout.run_log());
      const RunLogSummary s = check.summary();
      FS_CHECK(!check.layers().empty(), "no layers");
      (void)s;
    } catch (const Error& e) {
      throw Error(detail::concat(dir.string(), ": the run log cannot be read: ", e.what()));
    }
    ServedRun run{unique_id(dir, taken), dir};
    taken.insert(run.id);
    runs_.push_back(run);
    auto state = std::make_unique<RunState>();
    state->log_file = layout.run_log();
    states_.push_back(std::move(state));
  }
}

Explorer::~Explorer() = default;

HttpReply Explorer::handle(const std::string& method, const std::string& path, const Params& params) {
  try {
    if (method != "GET" && method != "HEAD") return json_reply({{"error", "only GET is served"}}, 405);
    return route(path, params);
  } catch (const RequestError& e) {
    return json_reply({{"error", e.message}}, e.status);
  } catch (const std::exception& e) {
    return json_reply({{"error", describe_exception(e)}}, 500);
  }
}

HttpReply Explorer::route(const std::string& path, const Params& params) {
  if (path == "/" || path == "/index.html") {
    Query(params, {});
    return {200, "text/html; charset=utf-8", explorer_page()};
  }
  // Browsers ask for an icon on their own; there is none, and "no content" is not an error.
  if (path == "/favicon.ico") return {204, "image/x-icon", ""};
  const std::vector<std::string> parts = split_route_path(path);
  const auto find_run = [&](const std::string& id) -> size_t {
    for (size_t i = 0; i < runs_.size(); ++i)
      if (runs_[i].id == id) return i;
    not_found("unknown run '" + id.substr(0, 80) + "'");
  };

  if (parts.size() == 3 && parts[0] == "runs" && parts[2] == "report.html") {
    Query(params, {});
    const size_t r = find_run(parts[1]);
    const fs::path report = RunLayout(runs_[r].dir).report_html();
    if (!fs::is_regular_file(report)) not_found("run '" + runs_[r].id + "' has no report.html (filterscope report makes it)");
    return {200, "text/html; charset=utf-8", read_file(report)};
  }
  if (parts.size() < 2 || parts[0] != "api" || parts[1] != "runs") not_found("no such page");

  if (parts.size() == 2) {
    Query(params, {});
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < runs_.size(); ++i) {
      RunState::Lease reader(*states_[i]);
      const RunLogSummary s = reader->summary();
      list.push_back({{"id", runs_[i].id},
                      {"dir", runs_[i].dir.string()},
                      {"source", s.source},
                      {"records", s.records},
                      {"first_iteration", s.first_iteration},
                      {"last_iteration", s.last_iteration},
                      {"epochs", s.epochs},
                      {"images", s.images},
                      {"has_track", s.has_track},
                      {"has_report", fs::is_regular_file(RunLayout(runs_[i].dir).report_html())}});
    }
    return json_reply({{"runs", list}});
  }

  const size_t r = find_run(parts[2]);
  RunState& state = *states_[r];
  RunState::Lease reader(state);
  const std::vector<LogLayer> layers = reader->layers();
  const auto find_layer = [&](const std::string& key, const std::string& text) -> int64_t {
    const int64_t layer = Query::parse_integer(key, text, 0, std::numeric_limits<int32_t>::max());
    if (layer >= static_cast<int64_t>(layers.size()))
      not_found("run '" + runs_[r].id + "' has no layer " + text + " (it has " + std::to_string(layers.size()) + ")");
    return layer;
  };
  const std::string what = parts.size() > 3 ? parts[3] : "";

  if (parts.size() == 3) {
    Query(params, {});
    const RunLogSummary s = reader->summary();
    nlohmann::json ls = nlohmann::json::array();
    for (size_t i = 0; i < layers.size(); ++i) ls.push_back(layer_json(layers[i], i));
    nlohmann::json metrics = nlohmann::json::array();
    for (const auto& m : reader->metrics())
      metrics.push_back({{"epoch", m.epoch}, {"iteration", m.iteration}, {"train_loss", m.train_loss},
                         {"train_acc", m.train_acc}, {"val_loss", m.val_loss}, {"val_acc", m.val_acc}});
    std::vector<std::string> patterns;
    for (int p = 0; p < kOutcomePatterns; ++p) patterns.push_back(outcome_pattern_name(static_cast<OutcomePattern>(p)));
    return json_reply({{"id", runs_[r].id},
                       {"dir", runs_[r].dir.string()},
                       {"source", s.source},
                       {"steps_per_epoch", s.steps_per_epoch},
                       {"log_every", s.log_every},
                       {"records", s.records},
                       {"first_iteration", s.first_iteration},
                       {"last_iteration", s.last_iteration},
                       {"epochs", s.epochs},
                       {"images", s.images},
                       {"class_names", s.class_names},
                       {"patterns", patterns},
                       {"has_track", s.has_track},
                       {"has_report", fs::is_regular_file(RunLayout(runs_[r].dir).report_html())},
                       {"layers", ls},
                       {"metrics", metrics}});
  }

  const RunLogSummary s = reader->summary();
  const int64_t kMaxIteration = std::numeric_limits<int64_t>::max() / 4096;
  const auto range = [&](const Query& q) {
    const int64_t from = q.integer("from", s.first_iteration, 0, kMaxIteration);
    const int64_t to = q.integer("to", s.last_iteration, 0, kMaxIteration);
    if (from > to) bad_request("parameter 'from' (" + std::to_string(from) + ") is after 'to' (" + std::to_string(to) + ")");
    return std::pair<int64_t, int64_t>(from, to);
  };
  const auto parse_units = [&](const std::string& text, const LogLayer& layer) {
    return parse_unit_list(text, layer.units, layer.name);
  };

  if (parts.size() == 4 && what == "series") {
    const Query q(params, {"layer", "units", "stat", "from", "to", "points"});
    if (!q.has("layer")) bad_request("parameter 'layer' is required");
    const int64_t layer = find_layer("layer", q.text("layer", ""));
    const std::string stat_name = q.text("stat", "norm");
    const auto stat = parse_unit_stat(stat_name);
    if (!stat) bad_request("parameter 'stat': '" + stat_name.substr(0, 40) + "' is not one of norm, mean, std, change, path");
    const auto [from, to] = range(q);
    const int64_t points = q.integer("points", 200, 1, 4000);
    std::vector<int64_t> units;
    if (q.has("units")) units = parse_units(q.text("units", ""), layers[static_cast<size_t>(layer)]);
    const auto buckets = reader->series(layer, *stat, from, to, points, units);
    nlohmann::json first = nlohmann::json::array(), last = nlohmann::json::array(), lo = nlohmann::json::array(),
                   hi = nlohmann::json::array(), mean = nlohmann::json::array(), count = nlohmann::json::array();
    for (const auto& b : buckets) {
      first.push_back(b.first_iteration);
      last.push_back(b.last_iteration);
      lo.push_back(b.min);
      hi.push_back(b.max);
      mean.push_back(b.mean);
      count.push_back(b.count);
    }
    return json_reply({{"layer", layer}, {"stat", stat_name}, {"from", from}, {"to", to}, {"units", units},
                       {"first", first}, {"last", last}, {"min", lo}, {"max", hi}, {"mean", mean}, {"count", count}});
  }

  if (parts.size() == 6 && what == "layers" && parts[5] == "groups") {
    const int64_t layer = find_layer("layer", parts[4]);
    const Query q(params, {"order", "groups", "from", "to"});
    const std::string order = q.text("order", "change");
    if (order != "change" && order != "anomaly" && order != "index")
      bad_request("parameter 'order': '" + order.substr(0, 40) + "' is not one of change, anomaly, index");
    const int64_t wanted = q.integer("groups", 8, 1, 256);
    const auto [from, to] = range(q);
    const LogLayer& l = layers[static_cast<size_t>(layer)];
    std::vector<double> change(static_cast<size_t>(l.units), 0.0);
    for (const UnitChange& c : reader->changes(layer, from, to))
      if (c.unit < l.units) change[static_cast<size_t>(c.unit)] = c.change;
    // Anomaly filters of this layer: at how many tracked epochs each unit was one.
    std::vector<int64_t> anomaly(static_cast<size_t>(l.units), 0);
    for (const auto& f : reader->track().filters)
      if (f.layer == l.name && f.unit >= 0 && f.unit < l.units) ++anomaly[static_cast<size_t>(f.unit)];
    std::vector<int64_t> order_units(static_cast<size_t>(l.units));
    for (int64_t u = 0; u < l.units; ++u) order_units[static_cast<size_t>(u)] = u;
    const auto by_change = [&](int64_t a, int64_t b) {
      const double ca = change[static_cast<size_t>(a)], cb = change[static_cast<size_t>(b)];
      return ca != cb ? ca > cb : a < b;
    };
    if (order == "change") std::stable_sort(order_units.begin(), order_units.end(), by_change);
    if (order == "anomaly")
      std::stable_sort(order_units.begin(), order_units.end(), [&](int64_t a, int64_t b) {
        const bool xa = anomaly[static_cast<size_t>(a)] > 0, xb = anomaly[static_cast<size_t>(b)] > 0;
        return xa != xb ? xa : by_change(a, b);
      });
    const int64_t g = std::min<int64_t>(wanted, l.units);
    nlohmann::json groups = nlohmann::json::array();
    for (int64_t k = 0; k < g; ++k) {
      const int64_t begin = k * l.units / g, end = (k + 1) * l.units / g;
      nlohmann::json units = nlohmann::json::array();
      double lo = INFINITY, hi = -INFINITY;
      int64_t anomalies = 0;
      for (int64_t i = begin; i < end; ++i) {
        const int64_t u = order_units[static_cast<size_t>(i)];
        units.push_back(u);
        lo = std::min(lo, change[static_cast<size_t>(u)]);
        hi = std::max(hi, change[static_cast<size_t>(u)]);
        anomalies += anomaly[static_cast<size_t>(u)] > 0;
      }
      groups.push_back({{"rank_first", begin + 1}, {"rank_last", end}, {"units", units}, {"change_min", lo},
                        {"change_max", hi}, {"anomaly_units", anomalies}});
    }
    nlohmann::json anomaly_units = nlohmann::json::array();
    for (int64_t u = 0; u < l.units; ++u)
      if (anomaly[static_cast<size_t>(u)] > 0) anomaly_units.push_back({{"unit", u}, {"epochs", anomaly[static_cast<size_t>(u)]}});
    return json_reply({{"layer", layer_json(l, static_cast<size_t>(layer))}, {"order", order}, {"from", from}, {"to", to},
                       {"groups", groups}, {"anomaly", anomaly_units}});
  }

  if (parts.size() == 4 && what == "changes") {
    const Query q(params, {"from", "to", "top", "layer"});
    const auto [from, to] = range(q);
    const int64_t top = q.integer("top", 20, 1, 1000);
    const int64_t layer = q.has("layer") ? find_layer("layer", q.text("layer", "")) : -1;
    std::vector<UnitChange> all = reader->changes(layer, from, to);
    std::sort(all.begin(), all.end(), [](const UnitChange& a, const UnitChange& b) {
      return a.change != b.change ? a.change > b.change : (a.layer != b.layer ? a.layer < b.layer : a.unit < b.unit);
    });
    if (static_cast<int64_t>(all.size()) > top) all.resize(static_cast<size_t>(top));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : all)
      list.push_back({{"layer", c.layer}, {"name", layers[static_cast<size_t>(c.layer)].name}, {"unit", c.unit}, {"change", c.change}});
    return json_reply({{"from", from}, {"to", to}, {"filters", list}});
  }

  if (parts.size() == 4 && what == "cube") {
    const Query q(params, {"class", "pattern", "offset", "limit"});
    const int64_t label = q.integer("class", -1, -1, static_cast<int64_t>(s.class_names.size()) - 1);
    std::optional<OutcomePattern> pattern;
    if (q.has("pattern")) {
      pattern = parse_outcome_pattern(q.text("pattern", ""));
      if (!pattern)
        bad_request("parameter 'pattern': '" + q.text("pattern", "").substr(0, 40) +
                    "' is not one of always-right, learned, forgotten, fluctuating, never-learned");
    }
    const int64_t offset = q.integer("offset", 0, 0, 1LL << 40);
    const int64_t limit = q.integer("limit", 100, 1, 1000);
    const CubePage page = reader->cube(label, pattern, offset, limit);
    nlohmann::json images = nlohmann::json::array();
    for (const auto& im : page.images)
      images.push_back({{"image", im.image}, {"dataset_index", im.dataset_index}, {"label", im.label},
                        {"pattern", outcome_pattern_name(im.pattern)}, {"predicted", im.predicted}, {"true_prob", im.true_prob}});
    nlohmann::json counts = nlohmann::json::object();
    for (int p = 0; p < kOutcomePatterns; ++p)
      counts[outcome_pattern_name(static_cast<OutcomePattern>(p))] = page.pattern_counts[static_cast<size_t>(p)];
    return json_reply({{"epochs", page.epochs}, {"total", page.total}, {"offset", offset}, {"limit", limit},
                       {"pattern_counts", counts}, {"images", images}});
  }

  if (parts.size() == 5 && what == "images") {
    Query(params, {});
    std::string key = parts[4];
    const bool png = key.size() > 4 && key.compare(key.size() - 4, 4, ".png") == 0;
    if (png) key.resize(key.size() - 4);
    const int64_t index = Query::parse_integer("image", key, 0, std::numeric_limits<int32_t>::max());
    const auto image = reader->image(index);
    if (!image) not_found("run '" + runs_[r].id + "' has no validation image " + key);
    if (!png)
      return json_reply({{"image", image->image}, {"dataset_index", image->dataset_index}, {"label", image->label},
                         {"pattern", outcome_pattern_name(image->pattern)}, {"epochs", reader->cube(-1, std::nullopt, 0, 1).epochs},
                         {"predicted", image->predicted}, {"true_prob", image->true_prob}});
    at::Tensor pixels;
    {
      std::lock_guard<std::mutex> lock(state.mutex);
      if (!state.images_loaded) {
        // The run's validation split, as training drew it (run.json holds the settings and indices).
        const RunSettings settings = read_run_settings(runs_[r].dir);
        const RunData data = make_run_data(load_dataset(settings.data), settings.split);
        state.images = data.val.images;
        state.images_loaded = true;
      }
      if (index >= state.images.size(0)) not_found("the dataset has no validation image " + key);
      pixels = state.images[index];
    }
    return {200, "image/png", encode_png(pixels.to(at::kFloat).div(255), 4)};
  }

  if (parts.size() == 4 && what == "track") {
    Query(params, {});
    const LogTrack t = reader->track();
    nlohmann::json epochs = nlohmann::json::array(), ls = nlohmann::json::array(), outliers = nlohmann::json::array();
    for (const auto& e : t.epochs) epochs.push_back({{"epoch", e.epoch}, {"anomaly_filters", e.anomaly_filters}, {"outlier_samples", e.outlier_samples}});
    for (const auto& l : t.layers)
      ls.push_back({{"epoch", l.epoch}, {"probe", l.probe}, {"layer", l.layer}, {"anomaly_filters", l.anomaly_filters}, {"filters", l.filters}});
    // The outliers of the last tracked epoch, most anomaly filters first (bounded: a chart's worth).
    const int64_t last = t.epochs.empty() ? 0 : t.epochs.back().epoch;
    for (const auto& o : t.outliers)
      if (o.epoch == last && outliers.size() < 200)
        outliers.push_back({{"epoch", o.epoch}, {"dataset_index", o.dataset_index}, {"label", o.label},
                            {"prediction", o.prediction}, {"filters", o.filters}, {"label_replaced", o.label_replaced}});
    return json_reply({{"split", t.split}, {"epochs", epochs}, {"layers", ls}, {"outliers", outliers}});
  }

  // The training signals `filterscope overfit` (or the live alarm) wrote: a curve per signal, a point
  // per epoch, and where its rule stops (the run log's signal tables; empty before overfit ran).
  if (parts.size() == 4 && what == "signals") {
    Query(params, {});
    const LogSignals sig = reader->signals();
    nlohmann::json out = nlohmann::json::array();
    for (const auto& stop : sig.stops) {
      nlohmann::json points = nlohmann::json::array();
      for (const auto& v : sig.values)
        if (v.name == stop.name) points.push_back({v.epoch, json_number(v.value), json_number(v.smoothed)});
      out.push_back({{"name", stop.name}, {"rule", stop.rule}, {"predicted_epoch", stop.predicted_epoch},
                     {"fired_at", stop.fired_at}, {"points", points}});
    }
    return json_reply({{"signals", out}});
  }

  if (parts.size() == 4 && what == "histogram") {
    const Query q(params, {"layer", "iteration"});
    if (!q.has("layer")) bad_request("parameter 'layer' is required");
    const int64_t layer = find_layer("layer", q.text("layer", ""));
    const int64_t iteration = q.integer("iteration", s.last_iteration, 0, kMaxIteration);
    const auto hist = reader->histogram(layer, iteration);
    if (!hist) not_found("no record at or before iteration " + std::to_string(iteration));
    return json_reply({{"layer", layer}, {"iteration", hist->iteration}, {"lo", hist->lo}, {"hi", hist->hi}, {"counts", hist->counts}});
  }
  not_found("no such page");
}

std::string explorer_page() { return render_page(explorer_template(), {{"title", "filterscope explorer"}}); }

}  // namespace filterscope
