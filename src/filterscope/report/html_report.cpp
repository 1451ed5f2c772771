#include "filterscope/report/html_report.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/experiments/run_analyses.h"
#include "filterscope/experiments/verdicts.h"
#include "filterscope/report/analysis_files.h"
#include "filterscope/report/npy.h"
#include "filterscope/train/checkpoint.h"

namespace filterscope {

namespace fs = std::filesystem;

const ParamTable<ReportOptions>& ReportOptions::params() {
  static const ParamTable<ReportOptions> table = {
      {"out", &ReportOptions::out, "the page to write; empty = RUN/report.html", {}, {}, false},
      {"anomaly-scatters", &ReportOptions::anomaly_scatters,
       "scatter plots of anomaly filters' 2-D projections (the most flagged first)", Bounds::closed(0, 1000)},
      {"normal-scatters", &ReportOptions::normal_scatters,
       "normal filters shown for contrast, per layer that has anomaly filters", Bounds::closed(0, 100)},
      {"thumbnails", &ReportOptions::thumbnails, "outlier samples shown as images", Bounds::closed(0, 1000)},
  };
  return table;
}

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// The epoch whose analysis the page shows: track's overfit epoch, else the last one analysed.
int64_t shown_epoch(const fs::path& run_dir, const nlohmann::json& track) {
  if (!track.is_null()) return track.at("overfit").at("epoch").get<int64_t>();
  int64_t last = 0;
  if (fs::is_directory(run_dir / "analysis"))
    for (const auto& entry : fs::directory_iterator(run_dir / "analysis")) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("epoch-", 0) == 0 && fs::exists(entry.path() / "analysis.json"))
        last = std::max<int64_t>(last, std::atoll(name.c_str() + 6));
    }
  return last;
}

// Options an analysis was made with, read back from its analysis.json.
void recorded_options(const nlohmann::json& analysis, const fs::path& file, AnalyzeOptions& analyze,
                      ProbeSetOptions& probe) {
  const nlohmann::json request = recorded_request(analysis);
  const auto& s = request.at("settings");
  analyze.layers = s.at("layers").get<std::string>();
  params_from_json(analyze.anomaly, s.at("anomaly"), AnomalyOptions::params(), file.string());
  params_from_json(analyze.gmm, s.at("gmm"), GmmOptions::params(), file.string());
  params_from_json(analyze.pca, s.at("pca"), PcaOptions::params(), file.string());
  params_from_json(analyze.capture, s.at("capture"), CaptureOptions::params(), file.string());
  const auto& p = request.at("probe_set");
  probe.split = p.at("split").get<std::string>();
  probe.size = p.at("size").get<int64_t>();
  probe.seed = p.at("seed").get<int64_t>();
}

// A filter's projection, quantised to 0..999 on each axis (the page only draws it).
nlohmann::json scatter_json(const std::string& layer, const nlohmann::json& filter, int64_t lambda,
                            const at::Tensor& points, const at::Tensor& labels) {
  const at::Tensor p = points.to(at::kDouble);
  const at::Tensor lo = std::get<0>(p.min(0)), hi = std::get<0>(p.max(0));
  const at::Tensor span = (hi - lo).clamp_min(1e-12);
  const at::Tensor q = ((p - lo) / span * 999).round().to(at::kLong).contiguous();
  std::vector<int64_t> xy(q.data_ptr<int64_t>(), q.data_ptr<int64_t>() + q.numel());
  const at::Tensor l = labels.to(at::kLong).contiguous();
  std::vector<int64_t> ids(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
  std::vector<int64_t> small;
  const auto& sizes = filter.at("cluster_sizes");
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int64_t n = sizes[k].get<int64_t>();
    if (n >= 1 && n <= lambda) small.push_back(static_cast<int64_t>(k));
  }
  return {{"layer", layer},       {"filter", filter.at("filter")}, {"anomaly", filter.at("anomaly")},
          {"k", filter.at("k")},  {"ch", filter.at("ch")},         {"sizes", sizes},
          {"small", small},       {"xy", xy},                      {"labels", ids},
          {"range", {{"x", {lo[0].item<double>(), hi[0].item<double>()}}, {"y", {lo[1].item<double>(), hi[1].item<double>()}}}}};
}

}  // namespace

nlohmann::json report_data(const fs::path& run_dir, const ReportOptions& options, const c10::Device& device,
                           const std::function<void(const std::string&)>& log) {
  validate_params(options, ReportOptions::params());
  FS_CHECK(fs::is_directory(run_dir), run_dir.string(), ": no such run directory");
  FS_CHECK(fs::exists(run_dir / "run.json"), run_dir.string(), ": not a run directory (no run.json)");
  const nlohmann::json run_json = read_json_file(run_dir / "run.json");
  FS_CHECK(run_json.contains("network") && run_json.contains("dataset") && run_json.contains("label_noise"),
           (run_dir / "run.json").string(), ": no network/dataset/label_noise entries (written by another version?)");
  const RunSettings settings = read_run_settings(run_dir);
  const auto metrics = read_metrics(run_dir);
  const nlohmann::json track = read_json_file_if_exists(run_dir / "track.json");
  const nlohmann::json gradients = read_json_file_if_exists(run_dir / "gradients.json");
  const nlohmann::json mask = read_json_file_if_exists(run_dir / "mask.json");

  nlohmann::json data;
  std::vector<std::string> missing;
  data["format"] = "filterscope-report-1";
  {
    std::time_t now = std::time(nullptr);
    char when[64];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    data["created"] = when;
  }
  double train_seconds = 0;
  nlohmann::json curves = nlohmann::json::array();
  for (const auto& m : metrics) {
    train_seconds += m.seconds;
    curves.push_back({{"epoch", m.epoch}, {"train_loss", m.train_loss}, {"train_acc", m.train_acc},
                      {"val_loss", m.val_loss}, {"val_acc", m.val_acc}});
  }
  data["run"] = {{"dir", run_dir.string()},
                 {"settings", settings.to_json()},
                 {"network",
                  {{"name", run_json.at("network").at("name")},
                   {"parameters", run_json.at("network").at("parameters")},
                   {"input_size", run_json.at("network").at("input_size")}}},
                 {"dataset",
                  {{"name", run_json.at("dataset").at("name")},
                   {"classes", run_json.at("dataset").at("num_classes")},
                   {"image_shape", run_json.at("dataset").at("image_shape")},
                   {"train_size", run_json.at("dataset").at("train_indices").size()},
                   {"val_size", run_json.at("dataset").at("val_indices").size()},
                   {"label_noise", run_json.at("label_noise").at("share")},
                   {"labels_replaced", run_json.at("label_noise").at("count")}}},
                 {"epochs", static_cast<int64_t>(metrics.size())},
                 {"hardware", {{"cpu", cpu_model()},
                               {"cores", std::thread::hardware_concurrency()},
                               {"threads", at::get_num_threads()}}},
                 {"train_seconds", train_seconds}};
  data["metrics"] = curves;
  if (metrics.empty()) missing.push_back("training metrics: metrics.csv is empty (train the run first)");

  if (track.is_null()) {
    missing.push_back("anomaly filters per epoch: no track.json (run `filterscope track " + run_dir.string() + "`)");
  } else {
    data["track"] = track;
    double analysis_seconds = 0;
    for (const auto& e : track.at("epochs")) {
      const fs::path file = analysis_dir(run_dir, e.at("epoch").get<int64_t>()) / "analysis.json";
      if (!fs::exists(file)) continue;
      const auto summary = read_json_file(file).at("summary");
      analysis_seconds += summary.at("capture_seconds").get<double>() + summary.at("cluster_seconds").get<double>();
    }
    data["run"]["analysis_seconds"] = analysis_seconds;
  }

  const int64_t epoch = shown_epoch(run_dir, track);
  if (epoch > 0) {
    const fs::path dir = analysis_dir(run_dir, epoch);
    const fs::path file = dir / "analysis.json";
    nlohmann::json analysis = read_json_file(file);
    AnalyzeOptions analyze;
    ProbeSetOptions probe_options;
    recorded_options(analysis, file, analyze, probe_options);
    analyze.progress = false;
    RunAnalyses analyses(run_dir, probe_options, analyze, device, false);
    // The scatter plots need the projections; an analysis made without --save-projections is made
    // again with them (same settings, same seed: the same analysis, now with its points).
    bool have_points = true;
    for (const auto& layer : analysis.at("layers"))
      have_points = have_points && fs::exists(dir / "projections" / (file_stem(layer.at("name")) + ".points.npy"));
    if (!have_points) {
      log("epoch " + std::to_string(epoch) + ": making the 2-D projections for the scatter plots");
      AnalyzeOptions with_points = analyze;
      with_points.keep_points = true;
      CheckpointModel opened = open_checkpoint_model(run_dir, checkpoint_path(run_dir, epoch), settings, device);
      analysis = analyze_and_write(*opened.model, analyses.run(), analyses.probe(), probe_options, with_points,
                                   opened.model_json, dir);
    }

    nlohmann::json layers = nlohmann::json::array();
    std::vector<std::tuple<int64_t, std::string, nlohmann::json, int64_t>> anomaly_filters;  // flags, layer, filter, lambda
    nlohmann::json scatters = nlohmann::json::array();
    std::map<std::string, std::pair<at::Tensor, at::Tensor>> projections;  // layer -> points, labels
    for (const auto& layer : analysis.at("layers")) {
      const std::string name = layer.at("name");
      nlohmann::json ch = nlohmann::json::array(), act = nlohmann::json::array(), anomaly = nlohmann::json::array();
      for (const auto& f : layer.at("filters")) {
        ch.push_back(f.at("scores").at("ch_ratio"));
        act.push_back(f.at("scores").at("activation_ratio"));
        anomaly.push_back(f.at("anomaly"));
      }
      layers.push_back({{"name", name},
                        {"kind", layer.at("kind")},
                        {"anomaly_count", layer.at("anomaly_count")},
                        {"filters", layer.at("filters").size()},
                        {"mean_ch", layer.at("mean_ch")},
                        {"ch_ratio", ch},
                        {"activation_ratio", act},
                        {"anomaly", anomaly}});
      if (layer.at("anomaly_count").get<int64_t>() == 0) continue;
      const int64_t lambda = layer.at("lambda").get<int64_t>();
      const auto& [points, labels] =
          projections.emplace(name, std::make_pair(read_npy(dir / "projections" / (file_stem(name) + ".points.npy")),
                                                   read_npy(dir / "projections" / (file_stem(name) + ".labels.npy"))))
              .first->second;
      int64_t normal_shown = 0;
      const auto& filters = layer.at("filters");
      for (size_t c = 0; c < filters.size(); ++c) {
        const auto& f = filters[c];
        if (f.at("anomaly").get<bool>()) {
          anomaly_filters.emplace_back(static_cast<int64_t>(f.at("small_cluster_members").size()), name, f, lambda);
        } else if (normal_shown < options.normal_scatters && f.at("status") == "ok" &&
                   c % std::max<size_t>(1, filters.size() / std::max<int64_t>(1, options.normal_scatters)) == 0) {
          nlohmann::json s = scatter_json(name, f, lambda, points[static_cast<int64_t>(c)], labels[static_cast<int64_t>(c)]);
          scatters.push_back(s);
          ++normal_shown;
        }
      }
    }
    // Anomaly filters with the most small-cluster members first.
    std::stable_sort(anomaly_filters.begin(), anomaly_filters.end(),
                     [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
    int64_t shown = 0;
    for (const auto& [members, name, f, lambda] : anomaly_filters) {
      if (shown++ >= options.anomaly_scatters) break;
      const auto& [points, labels] = projections.at(name);
      const int64_t c = f.at("filter").get<int64_t>();
      scatters.push_back(scatter_json(name, f, lambda, points[c], labels[c]));
    }
    // Thumbnails of the strongest outliers, from the probe set the analysis used.
    nlohmann::json thumbs = nlohmann::json::array();
    const auto& outliers = analysis.at("outliers");
    if (!outliers.empty() && options.thumbnails > 0) {
      const ProbeSet& probe = analyses.probe();
      const auto& names = probe.samples.class_names;
      auto class_name = [&](const nlohmann::json& v) -> nlohmann::json {
        if (v.is_null()) return nullptr;
        const int64_t k = v.get<int64_t>();
        return k >= 0 && k < static_cast<int64_t>(names.size()) ? nlohmann::json(names[static_cast<size_t>(k)]) : nlohmann::json(k);
      };
      for (size_t i = 0; i < outliers.size() && static_cast<int64_t>(i) < options.thumbnails; ++i) {
        const auto& o = outliers[i];
        const at::Tensor image = probe.samples.images[o.at("position").get<int64_t>()].permute({1, 2, 0}).contiguous();
        thumbs.push_back({{"dataset_index", o.at("dataset_index")},
                          {"label", class_name(o.at("label"))},
                          {"prediction", class_name(o.at("prediction"))},
                          {"label_replaced", o.value("label_replaced", nlohmann::json(nullptr))},
                          {"filters", o.at("filters").size()},
                          {"shape", image.sizes().vec()},
                          {"pixels", std::vector<uint8_t>(image.data_ptr<uint8_t>(), image.data_ptr<uint8_t>() + image.numel())}});
      }
    }
    data["analysis"] = {{"epoch", epoch},
                        {"summary", analysis.at("summary")},
                        {"probe_set", {{"split", probe_options.split}, {"size", probe_options.size}, {"seed", probe_options.seed}}},
                        {"criteria", analysis.at("settings").at("anomaly")},
                        {"layers", layers},
                        {"scatters", scatters},
                        {"anomaly_filters_shown", std::min<int64_t>(static_cast<int64_t>(anomaly_filters.size()), options.anomaly_scatters)},
                        {"anomaly_filters_total", static_cast<int64_t>(anomaly_filters.size())},
                        {"outliers_total", outliers.size()},
                        {"thumbnails", thumbs}};
  } else {
    missing.push_back("filters and outliers: no analysis in " + (run_dir / "analysis").string() +
                      " (run `filterscope track` or `filterscope analyze`)");
  }
  if (gradients.is_null()) missing.push_back("gradients (Table 3): no gradients.json (run `filterscope gradients " + run_dir.string() + "`)");
  else data["gradients"] = gradients;
  if (mask.is_null()) missing.push_back("masking (Tables 4-6): no mask.json (run `filterscope mask " + run_dir.string() + "`)");
  else data["mask"] = mask;
  data["verdicts"] = compute_verdicts(track, gradients, mask);
  data["missing"] = missing;
  return data;
}

std::string render_report(const nlohmann::json& data) {
  std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Inside <script> the text "</" would end the element early.
  std::string safe;
  safe.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') safe += "<\\";
    else safe += json[i];
  }
  const std::string marker = "/*FILTERSCOPE_DATA*/null";
  std::string page = report_template();
  const size_t at = page.find(marker);
  FS_ASSERT(at != std::string::npos, "report template has no data marker");
  page.replace(at, marker.size(), safe);
  return page;
}

ReportResult write_report(const fs::path& run_dir, const ReportOptions& options, const c10::Device& device,
                          const std::function<void(const std::string&)>& log) {
  const nlohmann::json data = report_data(run_dir, options, device, log);
  const std::string page = render_report(data);
  ReportResult result;
  result.file = options.out.empty() ? run_dir / "report.html" : fs::path(options.out);
  write_file_atomic(result.file, page);
  result.bytes = static_cast<int64_t>(page.size());
  for (const auto& m : data.at("missing")) result.missing.push_back(m.get<std::string>());
  return result;
}

}  // namespace filterscope
