#include "filterscope/experiments/label_noise.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/statistics.h"
#include "filterscope/runs/layout.h"
#include "filterscope/train/run_record.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

enum Detector : size_t { kLoss, kAum, kForgetting, kMisclassified, kGmmFilters, kGmmAnomaly, kGmmOutlier, kDetectors };

constexpr size_t kMaxRocPoints = 101;

// Keeps the first and last point and evenly spaced ones between: enough to draw the curve.
void thin(std::vector<double>& fpr, std::vector<double>& tpr) {
  const size_t n = fpr.size();
  if (n <= kMaxRocPoints) return;
  std::vector<double> f, t;
  for (size_t i = 0; i < kMaxRocPoints; ++i) {
    const size_t at = static_cast<size_t>(std::llround(static_cast<double>(i) * static_cast<double>(n - 1) /
                                                       static_cast<double>(kMaxRocPoints - 1)));
    f.push_back(fpr[at]);
    t.push_back(tpr[at]);
  }
  fpr.swap(f);
  tpr.swap(t);
}

std::unordered_map<int64_t, size_t> positions_of(const std::vector<int64_t>& dataset_indices) {
  std::unordered_map<int64_t, size_t> out;
  for (size_t i = 0; i < dataset_indices.size(); ++i) out.emplace(dataset_indices[i], i);
  return out;
}

// The analysis of `epoch` when it exists and was made on a training probe set (the gmm detectors
// score training samples); nullopt otherwise.
std::optional<AnalysisRecord> training_analysis(const RunLayout& layout, int64_t epoch) {
  const fs::path file = layout.analysis_json(epoch);
  if (!fs::exists(file)) return std::nullopt;
  AnalysisRecord a = read_analysis_record(file);
  if (a.probe_set.split != "train") return std::nullopt;
  return a;
}

std::string number(double v) {
  if (!std::isfinite(v)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

}  // namespace

const ParamTable<CleanOptions>& CleanOptions::params() {
  static const ParamTable<CleanOptions> table = {
      {"epoch", &CleanOptions::epoch,
       "epoch whose scores rank the flagged samples; 0 = the well-trained epoch of RUN/track.json (the last epoch "
       "without it)",
       Bounds::closed(0, 1e6)},
      {"top", &CleanOptions::top,
       "samples each detector flags; 0 = as many as the run's replaced labels (5 % of the training set without "
       "label noise)",
       Bounds::closed(0, 1e9)},
  };
  return table;
}

const std::vector<NoiseDetectorInfo>& label_noise_detectors() {
  static const std::vector<NoiseDetectorInfo> detectors = {
      {"loss", "the sample's training loss at the epoch", false},
      {"aum", "minus the area under the margin: the assigned label's logit minus the largest other, averaged over "
              "epochs 1..e (Pleiss et al. 2020)",
       false},
      {"forgetting", "forgetting events in epochs 1..e (right, then wrong); samples never learned rank highest "
                     "(Toneva et al. 2019)",
       false},
      {"misclassified_epochs", "epochs 1..e in which the training pass predicted another class", false},
      {"gmm_filters", "filters (of every probe point) whose small clusters hold the sample, each weighted by -log of "
                      "the share of probe samples in its small clusters",
       true},
      {"gmm_anomaly_filters", "anomaly filters whose small clusters hold the sample", true},
      {"gmm_outlier", "filterscope's outlier flag: in a small cluster of at least one anomaly filter (1 or 0)", true},
  };
  return detectors;
}

std::vector<std::vector<double>> detector_scores(const std::vector<SampleEpoch>& history, int64_t epoch,
                                                 const AnalysisRecord* analysis) {
  FS_CHECK(epoch >= 1 && static_cast<size_t>(epoch) <= history.size(), "detector scores: epoch ", epoch,
           " is not among the ", history.size(), " recorded epochs");
  const size_t n = history.front().size();
  const size_t e = static_cast<size_t>(epoch);
  std::vector<std::vector<double>> s(kDetectors, std::vector<double>(n, NAN));
  for (size_t i = 0; i < n; ++i) {
    s[kLoss][i] = history[e - 1].loss[i];
    double margin_sum = 0;
    int64_t forgotten = 0, wrong = 0;
    bool learned = false;
    for (size_t t = 0; t < e; ++t) {
      margin_sum += history[t].margin[i];
      const bool right = history[t].correct(i);
      learned = learned || right;
      wrong += right ? 0 : 1;
      if (t > 0 && history[t - 1].correct(i) && !right) ++forgotten;
    }
    s[kAum][i] = -margin_sum / static_cast<double>(e);
    // At most e/2 forgetting events fit in e epochs, so e puts never-learned samples above all.
    s[kForgetting][i] = learned ? static_cast<double>(forgotten) : static_cast<double>(e);
    s[kMisclassified][i] = static_cast<double>(wrong);
  }
  if (analysis != nullptr) {
    const auto position = positions_of(history.front().dataset_index);
    auto at = [&](int64_t dataset_index) {
      const auto it = position.find(dataset_index);
      FS_CHECK(it != position.end(), "the analysis's probe sample ", dataset_index, " is not a training sample of the run");
      return it->second;
    };
    for (int64_t index : analysis->probe_set.dataset_indices) {
      const size_t p = at(index);
      s[kGmmFilters][p] = s[kGmmAnomaly][p] = s[kGmmOutlier][p] = 0.0;
    }
    const double probe_size = static_cast<double>(std::max<int64_t>(1, analysis->probe_set.size));
    for (const auto& layer : analysis->layers)
      for (const auto& f : layer.filters) {
        if (f.small_cluster_members.empty()) continue;
        const double weight = std::log(probe_size / static_cast<double>(f.small_cluster_members.size()));
        for (int64_t index : f.small_cluster_members) {
          const size_t p = at(index);
          s[kGmmFilters][p] += weight;
          if (f.anomaly) s[kGmmAnomaly][p] += 1.0;
        }
      }
    for (const auto& o : analysis->outliers) s[kGmmOutlier][at(o.dataset_index)] = 1.0;
  }
  return s;
}

NoiseDetectorEvaluation evaluate_detectors(const std::vector<std::vector<double>>& scores, const std::vector<bool>& replaced,
                                      const std::string& role, int64_t epoch) {
  const auto& infos = label_noise_detectors();
  FS_CHECK(scores.size() == infos.size(), "evaluate_detectors: ", scores.size(), " score vectors");
  // The samples every detector scores: the probe set when the gmm detectors take part.
  std::vector<bool> gmm_present(infos.size());
  std::vector<size_t> kept;
  bool with_gmm = false;
  for (size_t d = 0; d < infos.size(); ++d)
    if (infos[d].needs_analysis)
      with_gmm = with_gmm || std::any_of(scores[d].begin(), scores[d].end(), [](double v) { return std::isfinite(v); });
  for (size_t i = 0; i < replaced.size(); ++i) {
    bool all = true;
    for (size_t d = 0; d < infos.size(); ++d)
      if (!infos[d].needs_analysis || with_gmm) all = all && std::isfinite(scores[d][i]);
    if (all) kept.push_back(i);
  }
  NoiseDetectorEvaluation ev;
  ev.role = role;
  ev.epoch = epoch;
  ev.evaluated_on = with_gmm ? "the training probe set of the epoch's analysis" : "every training sample (no analysis of the epoch)";
  ev.samples = static_cast<int64_t>(kept.size());
  std::vector<bool> marked;
  for (size_t i : kept) marked.push_back(replaced[i]);
  ev.replaced = static_cast<int64_t>(std::count(marked.begin(), marked.end(), true));
  for (size_t d = 0; d < infos.size(); ++d) {
    if (infos[d].needs_analysis && !with_gmm) continue;
    std::vector<double> v;
    for (size_t i : kept) v.push_back(scores[d][i]);
    NoiseDetectorResult r;
    r.name = infos[d].name;
    r.auroc = auroc(v, marked);
    r.average_precision = average_precision(v, marked);
    const PrecisionRecall pr = precision_recall_at(v, marked, ev.replaced);
    r.flagged = pr.flagged;
    r.hits = pr.hits;
    r.precision = pr.precision;
    r.recall = pr.recall;
    const RocCurve roc = roc_curve(v, marked);
    r.roc_fpr = roc.false_positive_rate;
    r.roc_tpr = roc.true_positive_rate;
    thin(r.roc_fpr, r.roc_tpr);
    ev.detectors.push_back(std::move(r));
  }
  return ev;
}

CleanRecord clean_run(const fs::path& run_dir, const CleanOptions& options,
                      const std::function<void(const std::string&)>& log) {
  validate_params(options, CleanOptions::params());
  const RunLayout layout(run_dir);
  FS_CHECK(layout.is_run(), run_dir.string(), ": not a run directory (no run.json)");
  const RunRecord run = read_run_record(run_dir);
  const int64_t epochs = static_cast<int64_t>(read_metrics(run_dir).size());
  FS_CHECK(epochs > 0, run_dir.string(), ": no trained epoch yet (metrics.csv is empty)");
  const std::optional<TrackRecord> track = read_track_record(layout.track_json());
  const int64_t listed = options.epoch > 0 ? options.epoch : track ? track->well_trained.epoch : epochs;
  FS_CHECK(listed <= epochs, "--epoch ", listed, ": ", run_dir.string(), " has ", epochs, " trained epoch(s)");
  int64_t last_needed = listed;
  if (track) last_needed = std::max({last_needed, track->well_trained.epoch, track->overfit.epoch});
  const std::vector<SampleEpoch> history = read_sample_history(run_dir, last_needed);
  const size_t n = history.front().size();

  const auto position = positions_of(history.front().dataset_index);
  std::vector<bool> replaced(n, false);
  std::vector<int64_t> original(n, -1);
  for (size_t k = 0; k < run.label_noise.dataset_indices.size(); ++k) {
    const auto it = position.find(run.label_noise.dataset_indices[k]);
    FS_CHECK(it != position.end(), layout.run_json().string(), ": replaced label of sample ",
             run.label_noise.dataset_indices[k], ", which is not a training sample");
    replaced[it->second] = true;
    original[it->second] = run.label_noise.original_labels.at(k);
  }

  CleanRecord out;
  out.run_dir = run_dir.string();
  out.listed_epoch = listed;
  out.training_samples = static_cast<int64_t>(n);
  out.replaced_labels = static_cast<int64_t>(run.label_noise.dataset_indices.size());
  out.top = options.top > 0 ? options.top
            : out.replaced_labels > 0 ? out.replaced_labels
                                      : std::max<int64_t>(1, static_cast<int64_t>(std::llround(0.05 * static_cast<double>(n))));
  out.detectors = label_noise_detectors();

  std::map<int64_t, std::vector<std::vector<double>>> scored;  // each epoch's analysis is read once
  auto scores_at = [&](int64_t epoch) -> const std::vector<std::vector<double>>& {
    auto it = scored.find(epoch);
    if (it == scored.end()) {
      const std::optional<AnalysisRecord> analysis = training_analysis(layout, epoch);
      it = scored.emplace(epoch, detector_scores(history, epoch, analysis ? &*analysis : nullptr)).first;
    }
    return it->second;
  };
  if (out.replaced_labels > 0) {
    std::vector<std::pair<std::string, int64_t>> roles;
    if (track) roles = {{"well_trained", track->well_trained.epoch}, {"overfit", track->overfit.epoch}};
    if (std::none_of(roles.begin(), roles.end(), [&](const auto& r) { return r.second == listed; }))
      roles.push_back({"listed", listed});
    for (const auto& [role, epoch] : roles) {
      out.evaluations.push_back(evaluate_detectors(scores_at(epoch), replaced, role, epoch));
      const NoiseDetectorEvaluation& ev = out.evaluations.back();
      std::ostringstream line;
      line << role << " epoch " << epoch << " (" << ev.samples << " samples, " << ev.replaced << " replaced): AUROC";
      for (const auto& d : ev.detectors) line << ' ' << d.name << ' ' << number(std::round(d.auroc * 1000) / 1000);
      log(line.str());
    }
  } else {
    log("the run has no replaced labels: the detectors' flags are listed, with nothing to score them against");
  }

  // The flagged samples at the listed epoch, and clean.csv.
  const std::vector<std::vector<double>>& scores = scores_at(listed);
  std::vector<std::vector<std::string>> flagged_by(n);
  for (size_t d = 0; d < out.detectors.size(); ++d) {
    std::vector<double> ranked = scores[d];
    int64_t finite = 0;
    for (double& v : ranked) {
      if (std::isfinite(v)) ++finite;
      else v = -std::numeric_limits<double>::infinity();
    }
    if (finite == 0) continue;
    std::vector<int64_t>& list = out.flagged[out.detectors[d].name];
    std::vector<double>& list_scores = out.flagged_scores[out.detectors[d].name];
    for (int64_t p : top_k(ranked, std::min(out.top, finite))) {
      list.push_back(p);
      list_scores.push_back(scores[d][static_cast<size_t>(p)]);
      flagged_by[static_cast<size_t>(p)].push_back(out.detectors[d].name);
    }
  }
  std::string csv = "position,dataset_index,label,original_label,label_replaced,prediction";
  for (const auto& d : out.detectors) csv += "," + d.name;
  csv += ",flagged_by\n";
  const SampleEpoch& at = history[static_cast<size_t>(listed - 1)];
  for (size_t i = 0; i < n; ++i) {
    csv += std::to_string(i) + "," + std::to_string(at.dataset_index[i]) + "," + std::to_string(at.label[i]) + "," +
           (replaced[i] ? std::to_string(original[i]) : std::to_string(at.label[i])) + "," + (replaced[i] ? "1" : "0") +
           "," + std::to_string(at.prediction[i]);
    for (const auto& s : scores) csv += "," + number(s[i]);
    std::string by;
    for (const auto& name : flagged_by[i]) by += (by.empty() ? "" : ";") + name;
    csv += "," + by + "\n";
  }
  write_file_atomic(layout.clean_csv(), csv);
  write_file_atomic(layout.clean_json(), out.to_json().dump(1) + "\n");
  return out;
}

}  // namespace filterscope
