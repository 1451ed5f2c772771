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
#include "filterscope/experiments/confident_learning.h"
#include "filterscope/io/npy.h"
#include "filterscope/runs/model_source.h"
#include "filterscope/runs/layout.h"
#include "filterscope/train/run_record.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace filterscope {

namespace fs = std::filesystem;

namespace {

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
      {"folds", &CleanOptions::folds,
       "confident learning's cross-validation: one run per fold trained without it (RUN/folds/, resumable) gives "
       "out-of-sample probabilities; 0 = leave confident learning out",
       Bounds::closed(0, 100)},
  };
  return table;
}

namespace {

size_t history_epochs(const NoiseEvidence& e) {
  FS_CHECK(e.history != nullptr && !e.history->empty(), "detector scores: no per-sample records");
  FS_CHECK(e.epoch >= 1 && static_cast<size_t>(e.epoch) <= e.history->size(), "detector scores: epoch ", e.epoch,
           " is not among the ", e.history->size(), " recorded epochs");
  return static_cast<size_t>(e.epoch);
}

std::vector<double> loss_score(const NoiseEvidence& e) {
  return (*e.history)[history_epochs(e) - 1].loss;
}

std::vector<double> aum_score(const NoiseEvidence& e) {
  const size_t epochs = history_epochs(e);
  const auto& h = *e.history;
  std::vector<double> out(h.front().size());
  for (size_t i = 0; i < out.size(); ++i) {
    double margin_sum = 0;
    for (size_t t = 0; t < epochs; ++t) margin_sum += h[t].margin[i];
    out[i] = -margin_sum / static_cast<double>(epochs);
  }
  return out;
}

std::vector<double> forgetting_score(const NoiseEvidence& e) {
  const size_t epochs = history_epochs(e);
  const auto& h = *e.history;
  std::vector<double> out(h.front().size());
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t forgotten = 0;
    bool learned = false;
    for (size_t t = 0; t < epochs; ++t) {
      const bool right = h[t].correct(i);
      learned = learned || right;
      if (t > 0 && h[t - 1].correct(i) && !right) ++forgotten;
    }
    // At most e/2 forgetting events fit in e epochs, so e puts never-learned samples above all.
    out[i] = learned ? static_cast<double>(forgotten) : static_cast<double>(epochs);
  }
  return out;
}

std::vector<double> misclassified_score(const NoiseEvidence& e) {
  const size_t epochs = history_epochs(e);
  const auto& h = *e.history;
  std::vector<double> out(h.front().size());
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t wrong = 0;
    for (size_t t = 0; t < epochs; ++t) wrong += h[t].correct(i) ? 0 : 1;
    out[i] = static_cast<double>(wrong);
  }
  return out;
}

// The gmm detectors: per training position, from the epoch's analysis (NaN outside its probe set).
enum class GmmScore { Filters, AnomalyFilters, Outlier };
std::vector<double> gmm_score(const NoiseEvidence& e, GmmScore kind) {
  history_epochs(e);
  std::vector<double> out(e.history->front().size(), NAN);
  if (e.analysis == nullptr) return out;
  const AnalysisRecord& analysis = *e.analysis;
  const auto position = positions_of(e.history->front().dataset_index);
  auto at = [&](int64_t dataset_index) {
    const auto it = position.find(dataset_index);
    FS_CHECK(it != position.end(), "the analysis's probe sample ", dataset_index, " is not a training sample of the run");
    return it->second;
  };
  for (int64_t index : analysis.probe_set.dataset_indices) out[at(index)] = 0.0;
  if (kind == GmmScore::Outlier) {
    for (const auto& o : analysis.outliers) out[at(o.dataset_index)] = 1.0;
    return out;
  }
  const double probe_size = static_cast<double>(std::max<int64_t>(1, analysis.probe_set.size));
  for (const auto& layer : analysis.layers)
    for (const auto& f : layer.filters) {
      if (f.small_cluster_members.empty()) continue;
      if (kind == GmmScore::AnomalyFilters && !f.anomaly) continue;
      const double weight = kind == GmmScore::Filters
                                ? std::log(probe_size / static_cast<double>(f.small_cluster_members.size()))
                                : 1.0;
      for (int64_t index : f.small_cluster_members) out[at(index)] += weight;
    }
  return out;
}

std::vector<double> confident_learning_score(const NoiseEvidence& e) {
  history_epochs(e);
  const SampleEpoch& s = e.history->front();
  std::vector<double> out(s.size(), NAN);
  if (e.held_out == nullptr) return out;
  const size_t k = static_cast<size_t>(e.classes);
  FS_CHECK(e.held_out->size() == s.size() * k, "held-out probabilities: ", e.held_out->size(), " values for ",
           s.size(), " samples of ", e.classes, " classes");
  for (size_t i = 0; i < s.size(); ++i) out[i] = 1.0 - (*e.held_out)[i * k + static_cast<size_t>(s.label[i])];
  return out;
}

std::vector<double> cartography_score(const NoiseEvidence& e) {
  const Cartography c = cartography(*e.history, e.epoch);
  std::vector<double> out(c.confidence.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = 1.0 - c.confidence[i];
  return out;
}

}  // namespace

const std::vector<NoiseDetector>& noise_detectors() {
  static const std::vector<NoiseDetector> detectors = {
      {{"loss", "the sample's training loss at the epoch", false}, false, loss_score},
      {{"aum", "minus the area under the margin: the assigned label's logit minus the largest other, averaged over "
               "epochs 1..e (Pleiss et al. 2020)",
        false},
       false, aum_score},
      {{"forgetting", "forgetting events in epochs 1..e (right, then wrong); samples never learned rank highest "
                      "(Toneva et al. 2019)",
        false},
       false, forgetting_score},
      {{"misclassified_epochs", "epochs 1..e in which the training pass predicted another class", false}, false,
       misclassified_score},
      {{"gmm_filters", "filters (of every probe point) whose small clusters hold the sample, each weighted by -log of "
                       "the share of probe samples in its small clusters",
        true},
       false, [](const NoiseEvidence& e) { return gmm_score(e, GmmScore::Filters); }},
      {{"gmm_anomaly_filters", "anomaly filters whose small clusters hold the sample", true}, false,
       [](const NoiseEvidence& e) { return gmm_score(e, GmmScore::AnomalyFilters); }},
      {{"gmm_outlier", "filterscope's outlier flag: in a small cluster of at least one anomaly filter (1 or 0)", true},
       false, [](const NoiseEvidence& e) { return gmm_score(e, GmmScore::Outlier); }},
      {{"confident_learning",
        "1 - the out-of-sample probability of the given label by K-fold cross-validation; its own flagged set is "
        "cleanlab's prune by noise rate (Northcutt et al. 2021)",
        false},
       true, confident_learning_score},
      {{"cartography", "1 - the mean probability of the given label over epochs 1..e, the training passes' "
                       "(dataset cartography's confidence, Swayamdipta et al. 2020)",
        false},
       false, cartography_score},
  };
  return detectors;
}

const std::vector<NoiseDetectorInfo>& label_noise_detectors() {
  static const std::vector<NoiseDetectorInfo> infos = [] {
    std::vector<NoiseDetectorInfo> out;
    for (const auto& d : noise_detectors()) out.push_back(d.info);
    return out;
  }();
  return infos;
}

std::vector<std::vector<double>> detector_scores(const NoiseEvidence& evidence) {
  history_epochs(evidence);
  std::vector<std::vector<double>> out;
  for (const auto& d : noise_detectors()) out.push_back(d.score(evidence));
  return out;
}

std::vector<std::vector<double>> detector_scores(const std::vector<SampleEpoch>& history, int64_t epoch,
                                                 const AnalysisRecord* analysis) {
  NoiseEvidence e;
  e.history = &history;
  e.epoch = epoch;
  e.analysis = analysis;
  return detector_scores(e);
}

Cartography cartography(const std::vector<SampleEpoch>& history, int64_t epoch) {
  FS_CHECK(epoch >= 1 && static_cast<size_t>(epoch) <= history.size(), "cartography: epoch ", epoch,
           " is not among the ", history.size(), " recorded epochs");
  const size_t epochs = static_cast<size_t>(epoch);
  const size_t n = history.front().size();
  Cartography c;
  c.confidence.resize(n);
  c.variability.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double sum = 0;
    for (size_t t = 0; t < epochs; ++t) sum += std::exp(-history[t].loss[i]);
    const double mean = sum / static_cast<double>(epochs);
    double sq = 0;
    for (size_t t = 0; t < epochs; ++t) {
      const double d = std::exp(-history[t].loss[i]) - mean;
      sq += d * d;
    }
    c.confidence[i] = mean;
    c.variability[i] = std::sqrt(sq / static_cast<double>(epochs));
  }
  return c;
}

NoiseDetectorEvaluation evaluate_detectors(const std::vector<std::vector<double>>& scores, const std::vector<bool>& replaced,
                                      const std::string& role, int64_t epoch) {
  const auto& registry = noise_detectors();
  const auto& infos = label_noise_detectors();
  FS_CHECK(scores.size() == infos.size(), "evaluate_detectors: ", scores.size(), " score vectors");
  // A detector that needs an analysis or folds takes part when it scored any sample; the samples
  // compared are those every taking part scores (the probe set when the gmm detectors do).
  auto any_finite = [](const std::vector<double>& v) {
    return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
  };
  bool with_gmm = false;
  for (size_t d = 0; d < infos.size(); ++d)
    if (infos[d].needs_analysis) with_gmm = with_gmm || any_finite(scores[d]);
  std::vector<bool> taking_part(infos.size());
  for (size_t d = 0; d < infos.size(); ++d)
    taking_part[d] = infos[d].needs_analysis ? with_gmm : !registry[d].needs_folds || any_finite(scores[d]);
  std::vector<size_t> kept;
  for (size_t i = 0; i < replaced.size(); ++i) {
    bool all = true;
    for (size_t d = 0; d < infos.size(); ++d)
      if (taking_part[d]) all = all && std::isfinite(scores[d][i]);
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
    if (!taking_part[d]) continue;
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

std::map<int64_t, std::vector<double>> held_out_probabilities(const fs::path& run_dir, int64_t folds,
                                                              const std::vector<int64_t>& epochs,
                                                              const std::function<void(const std::string&)>& log) {
  FS_CHECK_USAGE(folds >= 2, "--folds must be 0 or at least 2, got ", folds);
  const RunLayout layout(run_dir);
  const RunSettings settings = read_run_settings(run_dir);
  FS_CHECK(is_built_in_network(settings.train.model), run_dir.string(), ": the network (", settings.train.model,
           ") was not trained by filterscope, which cannot train its cross-validation folds");
  const PreparedRun parent = prepare_run(settings);
  const Dataset& train = parent.data.train;
  const int64_t n = train.size();
  const int64_t classes = train.num_classes;
  FS_CHECK(n >= folds, run_dir.string(), ": ", n, " training samples cannot fill ", folds, " folds");
  // Stratified folds: a seeded order, grouped by given label (stably), dealt round-robin.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(settings.train.seed) * 1000003u + 0xf01du);
  const at::Tensor order = at::randperm(n, gen, at::kLong);
  std::vector<int64_t> shuffled(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + n);
  const at::Tensor labels = train.labels.contiguous();
  const int64_t* y = labels.data_ptr<int64_t>();
  std::stable_sort(shuffled.begin(), shuffled.end(), [&](int64_t a, int64_t b) { return y[a] < y[b]; });
  std::vector<int64_t> fold_of(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) fold_of[static_cast<size_t>(shuffled[static_cast<size_t>(i)])] = i % folds;
  const at::Tensor indices = train.indices.contiguous();
  const int64_t* dataset_index = indices.data_ptr<int64_t>();
  const int64_t last = *std::max_element(epochs.begin(), epochs.end());

  std::map<int64_t, std::vector<double>> out;
  std::vector<int64_t> missing;
  for (int64_t e : epochs) {
    if (out.count(e)) continue;
    const fs::path cached = layout.fold_probabilities(e, folds);
    if (fs::exists(cached)) {
      const at::Tensor p = read_npy(cached).to(at::kDouble).contiguous();
      FS_CHECK(p.dim() == 2 && p.size(0) == n && p.size(1) == classes, cached.string(), ": not [", n, ", ", classes,
               "] probabilities; delete it to make it again");
      out[e] = std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    } else {
      missing.push_back(e);
    }
  }
  if (missing.empty()) return out;

  std::vector<RunSettings> fold_settings;
  for (int64_t f = 0; f < folds; ++f) {
    const fs::path dir = layout.fold_run(f, folds);
    const fs::path held = layout.fold_held_out(f, folds);
    ensure_directory(held.parent_path());
    std::string text = "# dataset indices confident learning's fold " + std::to_string(f) + " of " +
                       std::to_string(folds) + " holds out\n";
    for (int64_t i = 0; i < n; ++i)
      if (fold_of[static_cast<size_t>(i)] == f) text += std::to_string(dataset_index[i]) + "\n";
    if (!fs::exists(held) || read_file(held) != text) write_file_atomic(held, text);
    RunSettings s = settings;
    s.train.exclude = fs::absolute(held).lexically_normal().string();
    s.train.epochs = last;
    // The threads in force (the caller's --threads): run.json does not keep them, and "all cores"
    // would mean fewer under mpirun, and other last bits.
    s.train.threads = at::get_num_threads();
    const std::vector<EpochMetrics> done = read_metrics(dir);
    const bool exists = RunLayout(dir).is_run();
    if (exists) {
      // Keep its own record of the settings; only the epochs may grow.
      RunSettings stored = read_run_settings(dir);
      stored.train.epochs = std::max(last, stored.train.epochs);
      stored.train.threads = at::get_num_threads();
      s = stored;
    }
    if (static_cast<int64_t>(done.size()) < last) {
      log("confident learning: training fold " + std::to_string(f + 1) + " of " + std::to_string(folds) + " (" +
          std::to_string(n - std::count(fold_of.begin(), fold_of.end(), f)) + " samples, " + std::to_string(last) +
          " epochs)" + (exists ? ", resumed" : ""));
      TrainRunOptions o;
      o.resume = exists;
      o.progress = false;
      o.run_log = false;
      o.sample_log = false;
      train_run(prepare_run(s), dir, o);
    }
    fold_settings.push_back(s);
  }
  for (int64_t e : missing) {
    std::vector<double> probabilities(static_cast<size_t>(n * classes), NAN);
    for (int64_t f = 0; f < folds; ++f) {
      const RunLayout fold(layout.fold_run(f, folds));
      ModelSource source = open_run_checkpoint(fold, e, fold_settings[static_cast<size_t>(f)], c10::kCPU);
      const PreparedRun fold_run = prepare_run(fold_settings[static_cast<size_t>(f)]);
      std::vector<int64_t> members;
      for (int64_t i = 0; i < n; ++i)
        if (fold_of[static_cast<size_t>(i)] == f) members.push_back(i);
      const at::Tensor positions = at::tensor(members, at::kLong);
      for (int64_t start = 0; start < positions.numel(); start += 500) {
        const at::Tensor chunk = positions.narrow(0, start, std::min<int64_t>(500, positions.numel() - start));
        const at::Tensor x = make_input(train, fold_run.transform, chunk);
        const at::Tensor logits = source.model->forward_probes(x, {}, true).logits;
        FS_CHECK(logits.defined() && logits.size(1) == classes, source.model->description(),
                 ": the model's output is not [N, ", classes, "] logits");
        const at::Tensor p = logits.to(at::kDouble).softmax(1).cpu().contiguous();
        for (int64_t r = 0; r < chunk.numel(); ++r) {
          const int64_t i = members[static_cast<size_t>(start + r)];
          std::copy(p[r].data_ptr<double>(), p[r].data_ptr<double>() + classes,
                    probabilities.begin() + static_cast<std::ptrdiff_t>(i * classes));
        }
      }
    }
    const fs::path cached = layout.fold_probabilities(e, folds);
    ensure_directory(cached.parent_path());
    write_npy(cached, at::tensor(probabilities, at::kDouble).view({n, classes}));
    out[e] = std::move(probabilities);
  }
  return out;
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

  std::vector<std::pair<std::string, int64_t>> roles;
  if (out.replaced_labels > 0) {
    if (track) roles = {{"well_trained", track->well_trained.epoch}, {"overfit", track->overfit.epoch}};
    if (std::none_of(roles.begin(), roles.end(), [&](const auto& r) { return r.second == listed; }))
      roles.push_back({"listed", listed});
  }
  // Confident learning's out-of-sample probabilities at every epoch scored.
  std::map<int64_t, std::vector<double>> held_out;
  if (options.folds > 0) {
    std::vector<int64_t> wanted = {listed};
    for (const auto& r : roles) wanted.push_back(r.second);
    if (is_built_in_network(run.settings.train.model)) {
      held_out = held_out_probabilities(run_dir, options.folds, wanted, log);
    } else {
      out.confident_learning_note = "the run's network (" + run.settings.train.model +
                                    ") was trained outside filterscope, which cannot train its folds";
      log("confident learning left out: " + out.confident_learning_note);
    }
  } else {
    out.confident_learning_note = "--folds 0";
  }
  const int64_t classes = run.dataset.num_classes;

  std::map<int64_t, std::vector<std::vector<double>>> scored;  // each epoch's analysis is read once
  auto scores_at = [&](int64_t epoch) -> const std::vector<std::vector<double>>& {
    auto it = scored.find(epoch);
    if (it == scored.end()) {
      const std::optional<AnalysisRecord> analysis = training_analysis(layout, epoch);
      NoiseEvidence evidence;
      evidence.history = &history;
      evidence.epoch = epoch;
      evidence.analysis = analysis ? &*analysis : nullptr;
      const auto held = held_out.find(epoch);
      evidence.held_out = held == held_out.end() ? nullptr : &held->second;
      evidence.classes = classes;
      it = scored.emplace(epoch, detector_scores(evidence)).first;
    }
    return it->second;
  };
  if (out.replaced_labels > 0) {
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

  // Confident learning's own flagged set at the listed epoch.
  std::vector<bool> cl_issue(n, false);
  if (const auto held = held_out.find(listed); held != held_out.end()) {
    const ConfidentLearningResult cl =
        confident_learning(history[static_cast<size_t>(listed - 1)].label, held->second, classes);
    ConfidentLearningRecord rec;
    rec.folds = options.folds;
    rec.epoch = listed;
    rec.thresholds = cl.thresholds;
    rec.confident_joint = cl.calibrated_joint;
    for (size_t i = 0; i < n; ++i)
      if (cl.label_issue[i]) {
        rec.flagged.push_back(static_cast<int64_t>(i));
        rec.flagged_replaced += replaced[i] ? 1 : 0;
        cl_issue[i] = true;
      }
    if (out.replaced_labels > 0) {
      rec.precision = rec.flagged.empty() ? NAN
                                          : static_cast<double>(rec.flagged_replaced) / static_cast<double>(rec.flagged.size());
      rec.recall = static_cast<double>(rec.flagged_replaced) / static_cast<double>(out.replaced_labels);
    }
    log("confident learning (" + std::to_string(options.folds) + " folds, epoch " + std::to_string(listed) +
        ") flags " + std::to_string(rec.flagged.size()) + " sample(s)" +
        (out.replaced_labels > 0 ? ", " + std::to_string(rec.flagged_replaced) + " with a replaced label" : ""));
    out.confident_learning = std::move(rec);
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
  const Cartography map = cartography(history, listed);
  out.cartography_confidence = map.confidence;
  out.cartography_variability = map.variability;
  std::string csv = "position,dataset_index,label,original_label,label_replaced,prediction";
  for (const auto& d : out.detectors) csv += "," + d.name;
  csv += ",cartography_confidence,cartography_variability,confident_learning_issue,flagged_by\n";
  const SampleEpoch& at = history[static_cast<size_t>(listed - 1)];
  for (size_t i = 0; i < n; ++i) {
    csv += std::to_string(i) + "," + std::to_string(at.dataset_index[i]) + "," + std::to_string(at.label[i]) + "," +
           (replaced[i] ? std::to_string(original[i]) : std::to_string(at.label[i])) + "," + (replaced[i] ? "1" : "0") +
           "," + std::to_string(at.prediction[i]);
    for (const auto& s : scores) csv += "," + number(s[i]);
    csv += "," + number(map.confidence[i]) + "," + number(map.variability[i]) + "," +
           (out.confident_learning ? (cl_issue[i] ? "1" : "0") : "");
    std::string by;
    for (const auto& name : flagged_by[i]) by += (by.empty() ? "" : ";") + name;
    csv += "," + by + "\n";
  }
  write_file_atomic(layout.clean_csv(), csv);
  write_file_atomic(layout.clean_json(), out.to_json().dump(1) + "\n");
  return out;
}

}  // namespace filterscope
