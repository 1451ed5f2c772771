#include "filterscope/experiments/track.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/experiments/run_analyses.h"

namespace filterscope {

namespace fs = std::filesystem;

const ParamTable<TrackOptions>& TrackOptions::params() {
  static const ParamTable<TrackOptions> table = {
      {"every", &TrackOptions::every, "analyse every k-th epoch checkpoint (the last is always analysed)",
       Bounds::closed(1, 1e6)},
      {"well-trained", &TrackOptions::well_trained,
       "rule for the well-trained epoch: the lowest validation loss, or the best validation accuracy",
       {}, {"min-val-loss", "best-val-acc"}},
      {"reanalyse", &TrackOptions::reanalyse,
       "analyse again the epochs whose analysis was made with other settings (default: stop with an error)"},
  };
  return table;
}

TrackEpoch summarise_analysis(const nlohmann::json& analysis, const EpochMetrics& metrics) {
  TrackEpoch e;
  e.metrics = metrics;
  double share_sum = 0;
  int64_t filters = 0;
  for (const auto& layer : analysis.at("layers")) {
    const int64_t count = layer.at("anomaly_count").get<int64_t>();
    e.per_layer[layer.at("name").get<std::string>()] = count;
    e.anomaly_filters += count;
    e.unbalanced += layer.at("passing").at("unbalanced").get<int64_t>();
    e.high_ch += layer.at("passing").at("high_ch").get<int64_t>();
    e.active += layer.at("passing").at("active").get<int64_t>();
    for (const auto& f : layer.at("filters")) {
      const auto& share = f.at("scores").at("small_share");
      share_sum += share.is_null() ? 0.0 : share.get<double>();
      ++filters;
    }
  }
  e.outlier_samples = analysis.at("summary").at("outlier_samples").get<int64_t>();
  e.mean_small_share = filters > 0 ? share_sum / static_cast<double>(filters) : 0.0;
  e.enrichment = label_noise_enrichment(analysis);
  return e;
}

std::vector<int64_t> tracked_epochs(const std::vector<int64_t>& checkpoints, int64_t every) {
  FS_CHECK(every >= 1, "--every must be >= 1, got ", every);
  std::vector<int64_t> epochs;
  for (int64_t e : checkpoints)
    if (e % every == 0 || e == checkpoints.back()) epochs.push_back(e);
  return epochs;
}

nlohmann::json track_run(const fs::path& run_dir, const ProbeSetOptions& probe_options, const AnalyzeOptions& analyze,
                         const TrackOptions& options, const c10::Device& device,
                         const std::function<void(const std::string&)>& log) {
  validate_params(options, TrackOptions::params());
  RunAnalyses analyses(run_dir, probe_options, analyze, device, options.reanalyse);
  const std::vector<int64_t> epochs = tracked_epochs(analyses.checkpoints(), options.every);
  // Existing analyses are checked before any work, so that a mismatch stops at once.
  for (int64_t epoch : epochs) analyses.reusable(epoch);

  std::vector<TrackEpoch> rows;
  for (int64_t epoch : epochs) {
    bool reused = false;
    const nlohmann::json analysis = analyses.analysis(epoch, &reused);
    TrackEpoch row = summarise_analysis(analysis, analyses.metrics(epoch));
    row.reused = reused;
    std::ostringstream line;
    line << "epoch " << epoch << ": " << row.anomaly_filters << " anomaly filter(s), " << row.outlier_samples
         << " outlier sample(s)" << (row.reused ? " (earlier analysis reused)" : "");
    log(line.str());
    rows.push_back(row);
  }
  const nlohmann::json request = analysis_request_json(analyze, probe_options);

  // The well-trained epoch by the stated rule; the overfit epoch is the last analysed one.
  size_t well = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const bool better = options.well_trained == "min-val-loss" ? rows[i].metrics.val_loss < rows[well].metrics.val_loss
                                                               : rows[i].metrics.val_acc > rows[well].metrics.val_acc;
    if (better) well = i;
  }
  const size_t overfit = rows.size() - 1;

  std::vector<double> val_loss, gap;
  for (const auto& r : rows) {
    val_loss.push_back(r.metrics.val_loss);
    gap.push_back(r.metrics.train_acc - r.metrics.val_acc);
  }
  const std::vector<std::pair<std::string, std::function<double(const TrackEpoch&)>>> scores = {
      {"anomaly_filters", [](const TrackEpoch& r) { return static_cast<double>(r.anomaly_filters); }},
      {"unbalanced_filters", [](const TrackEpoch& r) { return static_cast<double>(r.unbalanced); }},
      {"high_ch_filters", [](const TrackEpoch& r) { return static_cast<double>(r.high_ch); }},
      {"outlier_samples", [](const TrackEpoch& r) { return static_cast<double>(r.outlier_samples); }},
      {"mean_small_share", [](const TrackEpoch& r) { return r.mean_small_share; }},
  };
  nlohmann::json correlations = nlohmann::json::object();
  for (const auto& [name, get] : scores) {
    std::vector<double> v;
    for (const auto& r : rows) v.push_back(get(r));
    correlations[name] = {{"val_loss", json_number(spearman(v, val_loss))}, {"generalisation_gap", json_number(spearman(v, gap))}};
  }

  nlohmann::json epochs_json = nlohmann::json::array();
  std::ostringstream csv;
  std::vector<std::string> layer_names;
  for (const auto& [name, count] : rows.front().per_layer) layer_names.push_back(name);
  csv << "epoch,train_loss,train_acc,val_loss,val_acc,anomaly_filters,unbalanced_filters,high_ch_filters,"
         "active_filters,outlier_samples,mean_small_share,outlier_replaced_ratio";
  for (const auto& name : layer_names) csv << ",anomaly:" << name;
  csv << '\n';
  csv.precision(10);
  for (const auto& r : rows) {
    epochs_json.push_back({{"epoch", r.metrics.epoch},
                           {"train_loss", r.metrics.train_loss},
                           {"train_acc", r.metrics.train_acc},
                           {"val_loss", r.metrics.val_loss},
                           {"val_acc", r.metrics.val_acc},
                           {"anomaly_filters", r.anomaly_filters},
                           {"unbalanced_filters", r.unbalanced},
                           {"high_ch_filters", r.high_ch},
                           {"active_filters", r.active},
                           {"outlier_samples", r.outlier_samples},
                           {"mean_small_share", r.mean_small_share},
                           {"enrichment", r.enrichment ? r.enrichment->to_json() : nlohmann::json(nullptr)},
                           {"per_layer", r.per_layer}});
    csv << r.metrics.epoch << ',' << r.metrics.train_loss << ',' << r.metrics.train_acc << ',' << r.metrics.val_loss
        << ',' << r.metrics.val_acc << ',' << r.anomaly_filters << ',' << r.unbalanced << ',' << r.high_ch << ','
        << r.active << ',' << r.outlier_samples << ',' << r.mean_small_share << ',';
    if (r.enrichment && std::isfinite(r.enrichment->ratio)) csv << r.enrichment->ratio;
    for (const auto& name : layer_names) {
      auto it = r.per_layer.find(name);
      csv << ',' << (it == r.per_layer.end() ? 0 : it->second);
    }
    csv << '\n';
  }
  auto epoch_json = [&](size_t i) {
    return nlohmann::json{{"epoch", rows[i].metrics.epoch},   {"val_loss", rows[i].metrics.val_loss},
                          {"val_acc", rows[i].metrics.val_acc}, {"train_acc", rows[i].metrics.train_acc},
                          {"anomaly_filters", rows[i].anomaly_filters},
                          {"outlier_samples", rows[i].outlier_samples},
                          {"mean_small_share", rows[i].mean_small_share},
                          {"enrichment", rows[i].enrichment ? rows[i].enrichment->to_json() : nlohmann::json(nullptr)},
                          {"per_layer", rows[i].per_layer}};
  };
  const nlohmann::json track = {
      {"format", "filterscope-track-1"},
      {"run_dir", run_dir.string()},
      {"request", request},
      {"rules",
       {{"well_trained", options.well_trained == "min-val-loss" ? "the analysed epoch with the lowest validation loss"
                                                                : "the analysed epoch with the best validation accuracy"},
        {"overfit", "the last analysed epoch"}}},
      {"well_trained", epoch_json(well)},
      {"overfit", epoch_json(overfit)},
      {"val_acc_dropped", rows[overfit].metrics.val_acc < rows[well].metrics.val_acc},
      {"spearman", correlations},
      {"epochs", epochs_json}};
  write_file_atomic(run_dir / "track.csv", csv.str());
  write_file_atomic(run_dir / "track.json", track.dump(1) + "\n");
  return track;
}

}  // namespace filterscope
