#include "filterscope/report/html_report.h"
#include "filterscope/runs/layout.h"

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
#include "filterscope/runs/run_analyses.h"
#include "filterscope/experiments/verdicts.h"
#include "filterscope/runs/analysis_files.h"
#include "filterscope/io/npy.h"
#include "filterscope/signals/overfit_record.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/sample_log.h"

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

// Options an analysis was made with, read back from its record.
void recorded_options(const AnalysisRecord& analysis, const fs::path& file, AnalyzeOptions& analyze,
                      ProbeSetOptions& probe) {
  const auto& s = analysis.settings;
  try {
    analyze.layers = s.at("layers").get<std::string>();
    params_from_json(analyze.anomaly, s.at("anomaly"), AnomalyOptions::params(), file.string());
    params_from_json(analyze.gmm, s.at("gmm"), GmmOptions::params(), file.string());
    params_from_json(analyze.pca, s.at("pca"), PcaOptions::params(), file.string());
    params_from_json(analyze.capture, s.at("capture"), CaptureOptions::params(), file.string());
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(file.string(), ": settings incomplete (", e.what(), ")"));
  }
  probe.split = analysis.probe_set.split;
  probe.size = analysis.probe_set.size;
  probe.seed = analysis.probe_set.seed;
}

fs::path points_file(const fs::path& dir, const std::string& layer) {
  return dir / RunLayout::kProjectionsDir / (file_stem(layer) + ".points.npy");
}
fs::path labels_file(const fs::path& dir, const std::string& layer) {
  return dir / RunLayout::kProjectionsDir / (file_stem(layer) + ".labels.npy");
}

bool has_projections(const fs::path& dir, const AnalysisRecord& analysis) {
  for (const auto& layer : analysis.layers)
    if (!fs::exists(points_file(dir, layer.name)) || !fs::exists(labels_file(dir, layer.name))) return false;
  return true;
}

// A filter's projection, quantised to 0..999 on each axis (the page only draws it).
nlohmann::json scatter_json(const std::string& layer, const FilterRecord& filter, int64_t lambda,
                            const at::Tensor& points, const at::Tensor& labels) {
  const at::Tensor p = points.to(at::kDouble);
  const at::Tensor lo = std::get<0>(p.min(0)), hi = std::get<0>(p.max(0));
  const at::Tensor span = (hi - lo).clamp_min(1e-12);
  const at::Tensor q = ((p - lo) / span * 999).round().to(at::kLong).contiguous();
  std::vector<int64_t> xy(q.data_ptr<int64_t>(), q.data_ptr<int64_t>() + q.numel());
  const at::Tensor l = labels.to(at::kLong).contiguous();
  std::vector<int64_t> ids(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
  std::vector<int64_t> small;
  const auto& sizes = filter.cluster_sizes;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int64_t n = sizes[k];
    if (n >= 1 && n <= lambda) small.push_back(static_cast<int64_t>(k));
  }
  return {{"layer", layer},
          {"filter", filter.filter},
          {"anomaly", filter.anomaly},
          {"k", filter.k ? nlohmann::json(*filter.k) : nlohmann::json(nullptr)},
          {"ch", json_number(filter.ch)},
          {"sizes", sizes},
          {"small", small},       {"xy", xy},                      {"labels", ids},
          {"range", {{"x", {lo[0].item<double>(), hi[0].item<double>()}}, {"y", {lo[1].item<double>(), hi[1].item<double>()}}}}};
}

}  // namespace

int64_t report_epoch(const fs::path& run_dir) {
  const RunLayout layout(run_dir);
  if (fs::exists(layout.track_json())) return study_epochs(run_dir, 0, 0).overfit;
  const std::vector<int64_t> analysed = layout.analysed_epochs();
  return analysed.empty() ? 0 : analysed.back();
}

bool make_missing_projections(const fs::path& run_dir, const c10::Device& device,
                              const std::function<void(const std::string&)>& log) {
  const int64_t epoch = report_epoch(run_dir);
  if (epoch == 0) return false;
  const fs::path dir = RunLayout(run_dir).analysis_dir(epoch);
  const fs::path file = dir / RunLayout::kAnalysisJson;
  if (!fs::exists(file)) return false;
  const AnalysisRecord analysis = read_analysis_record(file);
  if (has_projections(dir, analysis)) return false;
  // Same settings, same seed: the same analysis, now with its points.
  log("epoch " + std::to_string(epoch) + ": making the 2-D projections for the scatter plots");
  AnalyzeOptions analyze;
  ProbeSetOptions probe_options;
  recorded_options(analysis, file, analyze, probe_options);
  analyze.progress = false;
  analyze.keep_points = true;
  RunAnalyses analyses(run_dir, probe_options, analyze, device, false);
  ModelSource opened = analyses.open_checkpoint(epoch);
  analyze_and_write(*opened.model, analyses.run(), analyses.probe(), probe_options, analyze, opened.record, dir);
  return true;
}

namespace {

// The shown epoch's analysis as the page draws it: per-layer score strips, scatter plots of anomaly
// and normal filters, thumbnails of the strongest outliers. Null (and a line in `missing`) when the
// run has no analysis.
nlohmann::json analysis_view(const fs::path& run_dir, const RunSettings& settings, const ReportOptions& options,
                             std::vector<std::string>& missing) {
  const int64_t epoch = report_epoch(run_dir);
  const fs::path dir = RunLayout(run_dir).analysis_dir(epoch);
  if (epoch > 0 && fs::exists(dir / RunLayout::kAnalysisJson)) {
    const fs::path file = dir / RunLayout::kAnalysisJson;
    const AnalysisRecord analysis = read_analysis_record(file);
    AnalyzeOptions analyze;
    ProbeSetOptions probe_options;
    recorded_options(analysis, file, analyze, probe_options);
    const bool have_points = has_projections(dir, analysis);
    if (!have_points)
      missing.push_back("scatter plots: epoch " + std::to_string(epoch) +
                        "'s analysis has no projections (`filterscope report` makes them; or analyze with "
                        "--save-projections)");
    nlohmann::json layers = nlohmann::json::array();
    std::vector<std::tuple<int64_t, std::string, const FilterRecord*, int64_t>> anomaly_filters;  // flags, layer, filter, lambda
    nlohmann::json scatters = nlohmann::json::array();
    std::map<std::string, std::pair<at::Tensor, at::Tensor>> projections;  // layer -> points, labels
    for (const auto& layer : analysis.layers) {
      const std::string& name = layer.name;
      nlohmann::json ch = nlohmann::json::array(), act = nlohmann::json::array(), anomaly = nlohmann::json::array();
      for (const auto& f : layer.filters) {
        ch.push_back(json_number(f.ch_ratio));
        act.push_back(json_number(f.activation_ratio));
        anomaly.push_back(f.anomaly);
      }
      layers.push_back({{"name", name},
                        {"kind", layer.kind},
                        {"anomaly_count", layer.anomaly_count},
                        {"filters", layer.filters.size()},
                        {"mean_ch", json_number(layer.mean_ch)},
                        {"ch_ratio", ch},
                        {"activation_ratio", act},
                        {"anomaly", anomaly}});
      if (layer.anomaly_count == 0 || !have_points) continue;
      const int64_t lambda = layer.lambda;
      const auto& [points, labels] =
          projections.emplace(name, std::make_pair(read_npy(points_file(dir, name)), read_npy(labels_file(dir, name))))
              .first->second;
      int64_t normal_shown = 0;
      const auto& filters = layer.filters;
      for (size_t c = 0; c < filters.size(); ++c) {
        const auto& f = filters[c];
        if (f.anomaly) {
          anomaly_filters.emplace_back(static_cast<int64_t>(f.small_cluster_members.size()), name, &f, lambda);
        } else if (normal_shown < options.normal_scatters && f.status == "ok" &&
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
      const int64_t c = f->filter;
      scatters.push_back(scatter_json(name, *f, lambda, points[c], labels[c]));
    }
    // Thumbnails of the strongest outliers, from the probe set the analysis used.
    nlohmann::json thumbs = nlohmann::json::array();
    const auto& outliers = analysis.outliers;
    if (!outliers.empty() && options.thumbnails > 0) {
      // The probe set the analysis used, drawn again from the run's data with its recorded seed.
      const ProbeSet probe = draw_probe_set(prepare_run(settings), probe_options);
      const auto& names = probe.samples.class_names;
      auto class_name = [&](std::optional<int64_t> k) -> nlohmann::json {
        if (!k) return nullptr;
        return *k >= 0 && *k < static_cast<int64_t>(names.size()) ? nlohmann::json(names[static_cast<size_t>(*k)])
                                                                  : nlohmann::json(*k);
      };
      for (size_t i = 0; i < outliers.size() && static_cast<int64_t>(i) < options.thumbnails; ++i) {
        const auto& o = outliers[i];
        const at::Tensor image =
            display_pixels(probe.samples.images.narrow(0, o.position, 1))[0].permute({1, 2, 0}).contiguous();
        thumbs.push_back({{"dataset_index", o.dataset_index},
                          {"label", class_name(o.label)},
                          {"prediction", class_name(o.prediction)},
                          {"label_replaced", o.label_replaced ? nlohmann::json(*o.label_replaced) : nlohmann::json(nullptr)},
                          {"filters", o.filters.size()},
                          {"shape", image.sizes().vec()},
                          {"pixels", std::vector<uint8_t>(image.data_ptr<uint8_t>(), image.data_ptr<uint8_t>() + image.numel())}});
      }
    }
    return {{"epoch", epoch},
                        {"summary", analysis.to_json().at("summary")},
                        {"probe_set", {{"split", probe_options.split}, {"size", probe_options.size}, {"seed", probe_options.seed}}},
                        {"criteria", analysis.settings.at("anomaly")},
                        {"layers", layers},
                        {"scatters", scatters},
                        {"anomaly_filters_shown", std::min<int64_t>(static_cast<int64_t>(anomaly_filters.size()), options.anomaly_scatters)},
                        {"anomaly_filters_total", static_cast<int64_t>(anomaly_filters.size())},
                        {"outliers_total", outliers.size()},
                        {"thumbnails", thumbs}};
  }
  missing.push_back("filters and outliers: no analysis in " + (RunLayout(run_dir).analyses_dir()).string() +
                    " (run `filterscope track` or `filterscope analyze`)");
  return nullptr;
}

// The label-noise detectors of RUN/clean.json, with thumbnails of the samples the strongest
// detectors flag first (label, prediction at the listed epoch, score). Null when clean has not run.
nlohmann::json clean_view(const fs::path& run_dir, const RunRecord& record, const ReportOptions& options,
                          std::vector<std::string>& missing) {
  const RunSettings& settings = record.settings;
  const RunLayout layout(run_dir);
  const std::optional<CleanRecord> clean = read_clean_record(layout.clean_json());
  if (!clean) {
    missing.push_back("label-noise detectors: no clean.json (run `filterscope clean " + run_dir.string() + "`)");
    return nullptr;
  }
  nlohmann::json view = clean->to_json();
  view.erase("flagged");  // positions of every flag: too many for the page; the thumbnails show the top
  view.erase("flagged_scores");
  nlohmann::json thumbs = nlohmann::json::array();  // [{detector, samples}], strongest detector first
  const int64_t per_detector = std::min<int64_t>(options.thumbnails, 8);
  if (per_detector > 0) {
    const PreparedRun run = prepare_run(settings);
    const SampleEpoch listed = SampleEpoch::from_csv(read_file(layout.sample_epoch_csv(clean->listed_epoch)),
                                                     clean->listed_epoch, layout.sample_epoch_csv(clean->listed_epoch).string());
    FS_CHECK(static_cast<int64_t>(listed.size()) == run.data.train.size(), layout.sample_epoch_csv(clean->listed_epoch).string(),
             ": ", listed.size(), " samples, the run has ", run.data.train.size());
    const auto& names = run.data.train.class_names;
    auto class_name = [&](int64_t k) -> nlohmann::json {
      return k >= 0 && k < static_cast<int64_t>(names.size()) ? nlohmann::json(names[static_cast<size_t>(k)])
                                                              : nlohmann::json(k);
    };
    // Training position -> the label it had before the noise replaced it (run.json's record: a
    // monitored run's noise is the user's, not drawn from the settings).
    std::map<int64_t, int64_t> position_of;
    for (size_t i = 0; i < listed.dataset_index.size(); ++i) position_of[listed.dataset_index[i]] = static_cast<int64_t>(i);
    std::map<int64_t, int64_t> original_label;
    for (size_t k = 0; k < record.label_noise.dataset_indices.size(); ++k) {
      const auto it = position_of.find(record.label_noise.dataset_indices[k]);
      if (it != position_of.end()) original_label[it->second] = record.label_noise.original_labels.at(k);
    }
    for (const char* detector : {"aum", "loss", "gmm_filters"}) {
      const auto it = clean->flagged.find(detector);
      if (it == clean->flagged.end()) continue;
      nlohmann::json list = nlohmann::json::array();
      for (size_t i = 0; i < it->second.size() && static_cast<int64_t>(i) < per_detector; ++i) {
        const int64_t p = it->second[i];
        const at::Tensor image = display_pixels(run.data.train.images.narrow(0, p, 1))[0].permute({1, 2, 0}).contiguous();
        const auto original = original_label.find(p);
        list.push_back({{"dataset_index", listed.dataset_index[static_cast<size_t>(p)]},
                        {"label", class_name(listed.label[static_cast<size_t>(p)])},
                        {"prediction", class_name(listed.prediction[static_cast<size_t>(p)])},
                        {"label_replaced", original != original_label.end()},
                        {"true_label", original != original_label.end() ? class_name(original->second) : nlohmann::json(nullptr)},
                        {"score", json_number(clean->flagged_scores.at(detector).at(i))},
                        {"shape", image.sizes().vec()},
                        {"pixels", std::vector<uint8_t>(image.data_ptr<uint8_t>(), image.data_ptr<uint8_t>() + image.numel())}});
      }
      thumbs.push_back({{"detector", detector}, {"samples", list}});
    }
  }
  view["thumbnails"] = thumbs;
  // The cartography map's colours: which training positions had their label replaced.
  {
    std::map<int64_t, int64_t> position;
    const fs::path listed_file = layout.sample_epoch_csv(clean->listed_epoch);
    if (fs::exists(listed_file)) {
      const SampleEpoch listed = SampleEpoch::from_csv(read_file(listed_file), clean->listed_epoch, listed_file.string());
      for (size_t i = 0; i < listed.dataset_index.size(); ++i) position[listed.dataset_index[i]] = static_cast<int64_t>(i);
    }
    std::vector<int64_t> replaced;
    for (int64_t index : record.label_noise.dataset_indices)
      if (const auto it = position.find(index); it != position.end()) replaced.push_back(it->second);
    view["replaced_positions"] = replaced;
  }
  return view;
}

}  // namespace

nlohmann::json report_data(const fs::path& run_dir, const ReportOptions& options) {
  validate_params(options, ReportOptions::params());
  FS_CHECK(fs::is_directory(run_dir), run_dir.string(), ": no such run directory");
  const RunRecord run = read_run_record(run_dir);
  const RunSettings& settings = run.settings;
  const auto metrics = read_metrics(run_dir);
  const RunLayout layout(run_dir);
  const std::optional<TrackRecord> track = read_track_record(layout.track_json());
  const std::optional<GradientsRecord> gradients = read_gradients_record(layout.gradients_json());
  const std::optional<MaskRecord> mask = read_mask_record(layout.mask_json());

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
                  {{"name", run.network.name}, {"parameters", run.network.parameters}, {"input_size", run.network.input_size}}},
                 {"dataset",
                  {{"name", run.dataset.name},
                   {"classes", run.dataset.num_classes},
                   {"image_shape", run.dataset.image_shape},
                   {"train_size", run.dataset.train_indices.size()},
                   {"val_size", run.dataset.val_indices.size()},
                   {"label_noise", run.label_noise.share},
                   {"labels_replaced", run.label_noise.count}}},
                 {"epochs", static_cast<int64_t>(metrics.size())},
                 {"hardware", {{"cpu", cpu_model()},
                               {"cores", std::thread::hardware_concurrency()},
                               {"threads", at::get_num_threads()}}},
                 {"train_seconds", train_seconds}};
  data["metrics"] = curves;
  if (metrics.empty()) missing.push_back("training metrics: metrics.csv is empty (train the run first)");

  if (!track) {
    missing.push_back("anomaly filters per epoch: no track.json (run `filterscope track " + run_dir.string() + "`)");
  } else {
    data["track"] = track->to_json();
    double analysis_seconds = 0;
    for (const auto& e : track->epochs) {
      const fs::path file = layout.analysis_json(e.epoch);
      if (!fs::exists(file)) continue;
      const AnalysisRecord a = read_analysis_record(file);
      analysis_seconds += a.capture_seconds + a.cluster_seconds;
    }
    data["run"]["analysis_seconds"] = analysis_seconds;
  }

  const nlohmann::json analysis = analysis_view(run_dir, settings, options, missing);
  if (!analysis.is_null()) data["analysis"] = analysis;
  if (!gradients)
    missing.push_back("gradients (Table 3): no gradients.json (run `filterscope gradients " + run_dir.string() + "`)");
  else
    data["gradients"] = gradients->to_json();
  if (!mask)
    missing.push_back("masking (Tables 4-6): no mask.json (run `filterscope mask " + run_dir.string() + "`)");
  else
    data["mask"] = mask->to_json();
  data["verdicts"] = compute_verdicts(track, gradients, mask).to_json();
  const nlohmann::json clean = clean_view(run_dir, run, options, missing);
  if (!clean.is_null()) data["clean"] = clean;
  if (const std::optional<OverfitRecord> overfit = read_overfit_record(layout.overfit_json()))
    data["overfit"] = overfit->to_json();
  else
    missing.push_back("training signals (when it began to overfit): no overfit.json (run `filterscope overfit " +
                      run_dir.string() + "`)");
  data["missing"] = missing;
  return data;
}

namespace {
/// The text between `open` and `close` in a page template; throws when the template has none.
std::string part_of(const std::string& page, const std::string& open, const std::string& close) {
  const size_t start = page.find(open);
  const size_t end = start == std::string::npos ? std::string::npos : page.find(close, start + open.size());
  FS_ASSERT(end != std::string::npos, "page template has no ", open, "...", close);
  return page.substr(start + open.size(), end - start - open.size());
}
}  // namespace

std::string render_page(const std::string& page_template, const nlohmann::json& data) {
  std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Inside <script> the text "</" would end the element early.
  std::string safe;
  safe.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') safe += "<\\";
    else safe += json[i];
  }
  const std::string title = part_of(page_template, "<title>", "</title>");
  const std::string css = part_of(page_template, "<style>\n", "</style>");
  const std::string js = part_of(page_template, "<script>\n", "</script>");
  std::string page = page_skeleton();
  for (const auto& [marker, text] : {std::pair<std::string, const std::string*>{"/*FILTERSCOPE_TITLE*/", &title},
                                     {"/*FILTERSCOPE_COMMON_CSS*/", &page_common_css()},
                                     {"/*FILTERSCOPE_PAGE_CSS*/", &css},
                                     {"/*FILTERSCOPE_CHART_LIBRARY*/", &chart_library_js()},
                                     {"/*FILTERSCOPE_COMMON_JS*/", &page_common_js()},
                                     {"/*FILTERSCOPE_PAGE_JS*/", &js},
                                     {"/*FILTERSCOPE_DATA*/null", &safe}}) {
    const size_t at = page.find(marker);
    FS_ASSERT(at != std::string::npos, "page skeleton has no ", marker, " marker");
    page.replace(at, marker.size(), *text);
  }
  return page;
}

std::string render_report(const nlohmann::json& data) { return render_page(report_template(), data); }

fs::path write_study_page(const StudyRecord& study, const fs::path& out_dir) {
  nlohmann::json reports = nlohmann::json::array();
  for (const auto& run : study.runs) {
    const fs::path report = RunLayout(run).report_html();
    std::error_code ec;
    const fs::path relative = fs::relative(report, out_dir, ec);
    reports.push_back(ec || relative.empty() ? fs::absolute(report).string() : relative.string());
  }
  const nlohmann::json data = {{"study", study.to_json()}, {"reports", reports}};
  const fs::path file = out_dir / study_files::kPage;
  write_file_atomic(file, render_page(study_template(), data));
  return file;
}

ReportResult write_report(const fs::path& run_dir, const ReportOptions& options, const c10::Device& device,
                          const std::function<void(const std::string&)>& log) {
  make_missing_projections(run_dir, device, log);
  const nlohmann::json data = report_data(run_dir, options);
  const std::string page = render_report(data);
  ReportResult result;
  result.file = options.out.empty() ? RunLayout(run_dir).report_html() : fs::path(options.out);
  write_file_atomic(result.file, page);
  result.bytes = static_cast<int64_t>(page.size());
  for (const auto& m : data.at("missing")) result.missing.push_back(m.get<std::string>());
  return result;
}

}  // namespace filterscope
