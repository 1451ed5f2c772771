#include "filterscope/signals/overfit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/model_source.h"
#include "filterscope/runs/run_analyses.h"
#include "filterscope/runs/run_log.h"
#include "filterscope/train/run_record.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

}  // namespace

SignalTracker::SignalTracker(const SignalOptions& options, const SignalRunInfo& run)
    : options_(options), run_(run) {
  validate_params(options_, SignalOptions::params());
  selected_ = select_signals(options_.signals);
  for (const SignalInfo* s : selected_) signals_.push_back(s->make(options_));
  values_.resize(selected_.size());
  parts_.resize(selected_.size());
  seconds_.assign(selected_.size(), 0.0);
}

SignalTracker::~SignalTracker() = default;

SignalNeeds SignalTracker::needs() const {
  SignalNeeds n;
  for (const SignalInfo* s : selected_) {
    n.samples = n.samples || s->needs.samples;
    n.model = n.model || s->needs.model;
    n.gradients = n.gradients || s->needs.gradients;
    n.analysis = n.analysis || s->needs.analysis;
  }
  return n;
}

void SignalTracker::set_training_data(const Dataset& train, const InputTransform& transform) {
  subsample_ = draw_gradient_subsample(train, transform, options_.signal_samples, options_.signal_seed);
}

void SignalTracker::observe(const Epoch& e) {
  FS_ASSERT(epochs_.empty() || e.epoch > epochs_.back(), "epochs observed out of order");
  const SignalNeeds need = needs();
  GradientStats stats;
  double gradient_seconds = 0;
  if (need.gradients) {
    FS_CHECK(e.model != nullptr, "the gradient signals need the model of epoch ", e.epoch);
    FS_CHECK(!subsample_.positions.empty(), "the gradient signals need the training data (set_training_data)");
    const auto start = std::chrono::steady_clock::now();
    stats = gradient_stats(*e.model, subsample_, options_.disparity_batch);
    gradient_seconds = seconds_since(start);
  }
  for (size_t i = 0; i < selected_.size(); ++i) {
    const SignalInfo& info = *selected_[i];
    FS_CHECK(!info.needs.samples || e.samples != nullptr, info.name, " needs the per-sample records of epoch ",
             e.epoch, " (RUN/samples/", epoch_name(e.epoch), ".csv)");
    FS_CHECK(!info.needs.model || e.model != nullptr, info.name, " needs the model of epoch ", e.epoch);
    FS_CHECK(!info.needs.analysis || e.analysis != nullptr, info.name, " needs the GMM analysis of epoch ", e.epoch,
             " on a training probe set");
    SignalEpoch view;
    view.epoch = e.epoch;
    view.train_loss = e.train_loss;
    view.samples = e.samples;
    view.previous = e.previous;
    view.model = e.model;
    view.gradients = info.needs.gradients ? &stats : nullptr;
    view.analysis = e.analysis;
    const auto start = std::chrono::steady_clock::now();
    const SignalValue v = signals_[i]->observe(view);
    seconds_[i] += seconds_since(start) + (info.needs.gradients ? gradient_seconds : 0.0) +
                   (info.needs.analysis ? e.analysis_seconds : 0.0);
    values_[i].push_back(v.value);
    // Parts by name: a part missing at an epoch gets NaN there.
    auto& parts = parts_[i];
    for (const auto& [name, value] : v.parts) {
      auto it = std::find_if(parts.begin(), parts.end(), [&](const auto& p) { return p.first == name; });
      if (it == parts.end()) {
        parts.emplace_back(name, std::vector<double>(epochs_.size(), NAN));
        it = parts.end() - 1;
      }
      it->second.push_back(value);
    }
    for (auto& [name, series] : parts)
      if (series.size() < epochs_.size() + 1) series.push_back(NAN);
  }
  epochs_.push_back(e.epoch);
}

OverfitRecord SignalTracker::record(const std::vector<EpochMetrics>& metrics, const std::string& run_dir,
                                    const std::string& source) const {
  OverfitRecord r;
  r.run_dir = run_dir;
  r.source = source;
  r.options = options_;
  r.gradient_subsample = subsample_.positions;
  r.epochs = epochs_;
  auto row = [&](int64_t epoch) -> const EpochMetrics* {
    for (const auto& m : metrics)
      if (m.epoch == epoch) return &m;
    return nullptr;
  };
  double seconds = 0;
  int64_t timed = 0;
  for (int64_t epoch : epochs_) {
    const EpochMetrics* m = row(epoch);
    r.train_loss.push_back(m ? m->train_loss : NAN);
    r.train_acc.push_back(m ? m->train_acc : NAN);
    r.val_loss.push_back(m ? m->val_loss : NAN);
    r.val_acc.push_back(m ? m->val_acc : NAN);
    if (m && m->seconds > 0) {
      seconds += m->seconds;
      ++timed;
    }
    if (m && std::isfinite(m->val_loss)) {
      r.has_validation = true;
      if (!r.oracle_epoch || m->val_loss < r.oracle_val_loss) {
        r.oracle_epoch = epoch;
        r.oracle_val_loss = m->val_loss;
        r.oracle_val_acc = m->val_acc;
      }
    }
  }
  if (timed > 0) r.epoch_seconds = seconds / static_cast<double>(timed);
  for (size_t i = 0; i < selected_.size(); ++i) {
    const SignalInfo& info = *selected_[i];
    const StopRuleOptions rule = info.rule(options_);
    const StopDecision d = decide_stop(values_[i], rule);
    SignalCurve c;
    c.name = info.name;
    c.definition = info.definition;
    c.source = info.source;
    c.rule = stop_rule_name(rule.rule);
    c.rule_text = describe_rule(rule);
    c.window = rule.window;
    c.patience = rule.patience;
    c.threshold = rule.threshold;
    c.values = values_[i];
    c.smoothed = d.smoothed;
    c.parts = parts_[i];
    c.fired = d.fired;
    auto epoch_at = [&](int64_t position) { return position > 0 ? epochs_[static_cast<size_t>(position - 1)] : 0; };
    c.fired_at = epoch_at(d.fired_at);
    c.predicted_epoch = epoch_at(d.predicted);
    if (const EpochMetrics* m = c.predicted_epoch > 0 ? row(c.predicted_epoch) : nullptr) {
      c.val_acc_at_predicted = std::isfinite(m->val_acc) && r.has_validation ? m->val_acc : NAN;
      c.val_loss_at_predicted = std::isfinite(m->val_loss) ? m->val_loss : NAN;
    }
    if (r.oracle_epoch && c.predicted_epoch > 0) {
      c.val_acc_lost = r.oracle_val_acc - c.val_acc_at_predicted;
      c.epochs_from_oracle = c.predicted_epoch - *r.oracle_epoch;
    }
    if (!epochs_.empty()) c.seconds_per_epoch = seconds_[i] / static_cast<double>(epochs_.size());
    if (std::isfinite(r.epoch_seconds) && r.epoch_seconds > 0) c.cost_share = c.seconds_per_epoch / r.epoch_seconds;
    c.assumption = info.assumption(run_);
    r.signals.push_back(std::move(c));
  }
  return r;
}

std::vector<std::string> live_alarm_lines(const OverfitRecord& record, int64_t epoch) {
  std::vector<std::string> lines;
  for (const auto& s : record.signals) {
    if (!s.fired || s.fired_at != epoch) continue;
    std::ostringstream line;
    line << "overfitting since epoch " << s.predicted_epoch << " by " << s.name << " (" << s.rule_text << ")";
    if (!s.assumption.empty()) line << "; note: " << s.assumption;
    lines.push_back(line.str());
  }
  return lines;
}

void write_overfit_to_log(const fs::path& run_log, const OverfitRecord& record) {
  LogSignals log;
  for (const auto& s : record.signals) {
    for (size_t i = 0; i < record.epochs.size(); ++i)
      log.values.push_back({s.name, record.epochs[i], s.values[i], s.smoothed[i]});
    log.stops.push_back({s.name, s.rule, s.predicted_epoch, s.fired_at});
  }
  write_signals_to_log(run_log, log);
}

namespace {

// The run's existing analyses of every epoch, when each was made on a training probe set and all
// with one request (what `track --split train` leaves); nullopt otherwise.
std::optional<std::vector<AnalysisRecord>> existing_training_analyses(const RunLayout& layout,
                                                                      const std::vector<int64_t>& epochs) {
  std::vector<AnalysisRecord> out;
  for (int64_t e : epochs) {
    const fs::path file = layout.analysis_json(e);
    if (!fs::exists(file)) return std::nullopt;
    AnalysisRecord a = read_analysis_record(file);
    if (a.probe_set.split != "train") return std::nullopt;
    if (!out.empty() && a.request() != out.front().request()) return std::nullopt;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

SignalRunInfo signal_run_info(const RunSettings& settings) {
  SignalRunInfo info;
  info.optimizer = settings.train.optimizer;
  info.momentum = settings.train.optimizer == "sgd" ? settings.train.momentum : 0.0;
  info.weight_decay = settings.train.weight_decay;
  return info;
}

OverfitRecord overfit_run(const fs::path& run_dir, const OverfitRunOptions& options,
                          const std::function<void(const std::string&)>& log) {
  validate_params(options.signals, SignalOptions::params());
  const RunLayout layout(run_dir);
  FS_CHECK(layout.is_run(), run_dir.string(), ": not a run directory (no run.json)");
  const RunSettings settings = read_run_settings(run_dir);
  std::vector<EpochMetrics> metrics = read_metrics(run_dir);
  FS_CHECK(metrics.size() >= 2, run_dir.string(), ": ", metrics.size(),
           " trained epoch(s) in metrics.csv; a stopping epoch needs a curve of at least two");
  std::vector<int64_t> epochs;
  for (const auto& m : metrics) epochs.push_back(m.epoch);

  SignalTracker tracker(options.signals, signal_run_info(settings));
  const SignalNeeds need = tracker.needs();
  if (need.model || need.gradients) {
    const std::vector<int64_t> have = layout.checkpoint_epochs();
    FS_CHECK(!have.empty(), run_dir.string(), ": the run has no checkpoints (", layout.checkpoints_dir().string(),
             " is empty); the signals that read the model need one per epoch, or pass --signals without them");
    for (int64_t e : epochs)
      FS_CHECK(std::find(have.begin(), have.end(), e) != have.end(), run_dir.string(), ": no checkpoint for epoch ",
               e, " (", layout.checkpoint(e).string(), " is missing)");
  }
  std::vector<SampleEpoch> history;
  if (need.samples) {
    try {
      history = read_sample_history(run_dir, epochs.back());
    } catch (const Error& e) {
      throw Error(detail::concat(e.what(), "; label_wave reads the per-sample records training writes (pass --signals "
                                           "without it for a run trained without them)"));
    }
  }
  std::optional<PreparedRun> prepared;
  if (need.gradients) {
    prepared = prepare_run(settings);
    tracker.set_training_data(prepared->data.train, prepared->transform);
  }
  std::optional<std::vector<AnalysisRecord>> analyses;
  std::unique_ptr<RunAnalyses> analyser;
  nlohmann::json analysis_request = nullptr;
  if (need.analysis) {
    if (!options.reanalyse) analyses = existing_training_analyses(layout, epochs);
    if (analyses) {
      analysis_request = analyses->front().request();
      log("the anomaly signals read the run's existing analyses of a training probe set (" +
          std::to_string(analyses->front().probe_set.size) + " samples)");
    } else {
      FS_CHECK_USAGE(options.probe.split == "train", "--split ", options.probe.split,
                     ": the anomaly signals are training signals; their probe set must come from the training split");
      analyser = std::make_unique<RunAnalyses>(run_dir, options.probe, options.analyze, options.device,
                                               options.reanalyse);
      for (int64_t e : epochs) analyser->reusable(e);  // a mismatch stops before any work
      analysis_request = analysis_request_json(options.analyze, options.probe);
    }
  }

  for (size_t k = 0; k < epochs.size(); ++k) {
    const int64_t epoch = epochs[k];
    SignalTracker::Epoch e;
    e.epoch = epoch;
    e.train_loss = metrics[k].train_loss;
    if (need.samples) {
      e.samples = &history[static_cast<size_t>(epoch - 1)];
      e.previous = epoch > 1 ? &history[static_cast<size_t>(epoch - 2)] : nullptr;
    }
    ModelSource source;
    if (need.model || need.gradients) {
      source = open_run_checkpoint(layout, epoch, settings, options.device);
      e.model = source.model.get();
    }
    AnalysisRecord made;
    if (need.analysis) {
      if (analyses) {
        e.analysis = &(*analyses)[k];
      } else {
        made = analyser->analysis(epoch);
        e.analysis = &made;
      }
      e.analysis_seconds = e.analysis->capture_seconds + e.analysis->cluster_seconds;
    }
    tracker.observe(e);
    const OverfitRecord so_far = tracker.record(metrics, run_dir.string(), "overfit");
    std::ostringstream line;
    line << "epoch " << epoch << ":";
    for (const auto& s : so_far.signals) line << ' ' << s.name << ' ' << short_number(s.values.back());
    log(line.str());
  }
  OverfitRecord record = tracker.record(metrics, run_dir.string(), "overfit");
  record.analysis_request = analysis_request;
  write_file_atomic(layout.overfit_csv(), record.to_csv());
  write_file_atomic(layout.overfit_json(), record.to_json().dump(1) + "\n");
  if (fs::exists(layout.run_log())) write_overfit_to_log(layout.run_log(), record);
  return record;
}

namespace {
// The live set without the signals that read per-sample records, for a loop that keeps none; a
// signal named outright that needs them is an error.
SignalOptions live_selection(SignalOptions options, bool samples_recorded) {
  if (samples_recorded) return options;
  std::string kept;
  for (const SignalInfo* s : select_signals(options.signals)) {
    if (!s->needs.samples) {
      kept += (kept.empty() ? "" : ",") + s->name;
      continue;
    }
    FS_CHECK_USAGE(options.signals == "live" || options.signals == "all", "--signals: ", s->name,
                   " reads the per-sample records, which this run does not keep (--no-sample-log)");
  }
  FS_CHECK_USAGE(!kept.empty(), "--signals: every signal chosen reads the per-sample records, which this run does "
                                "not keep");
  options.signals = kept;
  return options;
}
}  // namespace

namespace {
// The default set with nothing left to run: every live signal reads per-sample records.
bool default_set_needs_samples(const SignalOptions& options, bool samples_recorded) {
  if (samples_recorded || options.signals != "live") return false;
  for (const SignalInfo* s : select_signals(options.signals))
    if (!s->needs.samples) return false;
  return true;
}
}  // namespace

bool live_alarm_runs(const SignalOptions& options, bool samples_recorded) {
  return options.signals != "none" && !default_set_needs_samples(options, samples_recorded);
}

std::string live_alarm_off_reason(const SignalOptions& options, bool samples_recorded) {
  if (options.signals == "none") return "";
  if (!default_set_needs_samples(options, samples_recorded)) return "";
  std::string names;
  for (const SignalInfo* s : select_signals(options.signals)) names += (names.empty() ? "" : ", ") + s->name;
  return "no live overfitting alarm: its default signal(s) " + names +
         " read the per-sample records, which this run does not keep";
}

void validate_live_signals(const SignalOptions& options, bool samples_recorded) {
  validate_params(options, SignalOptions::params());
  if (!live_alarm_runs(options, samples_recorded)) return;
  for (const SignalInfo* s : select_signals(live_selection(options, samples_recorded).signals))
    FS_CHECK_USAGE(!s->needs.analysis, "--signals: ", s->name,
                   " needs a GMM analysis of every epoch, too slow for the live alarm; run `filterscope overfit RUN` "
                   "after training for it");
}

LiveOverfitAlarm::LiveOverfitAlarm(fs::path run_dir, const SignalOptions& options, const SignalRunInfo& run,
                                   const Dataset& train, const InputTransform& transform, bool samples_recorded)
    : run_dir_(std::move(run_dir)) {
  validate_live_signals(options, samples_recorded);
  tracker_ = std::make_unique<SignalTracker>(live_selection(options, samples_recorded), run);
  if (tracker_->needs().gradients) tracker_->set_training_data(train, transform);
}

LiveOverfitAlarm::~LiveOverfitAlarm() = default;

std::vector<std::string> LiveOverfitAlarm::on_epoch_end(const std::vector<EpochMetrics>& in_memory,
                                                        const SampleEpoch* samples, ProbedModel& model,
                                                        const c10::Device& device) {
  FS_ASSERT(!in_memory.empty());
  // The rows as metrics.csv holds them (written before this call): the digits `overfit` reads.
  std::vector<EpochMetrics> metrics = read_metrics(run_dir_);
  FS_ASSERT(!metrics.empty() && metrics.back().epoch == in_memory.back().epoch, "metrics.csv lags the loop");
  const int64_t epoch = metrics.back().epoch;
  const SignalNeeds need = tracker_->needs();
  const RunLayout layout(run_dir_);
  // A resumed run: the epochs trained before, from the run's own files.
  if (observed_through_ < epoch - 1) {
    const RunSettings settings = read_run_settings(run_dir_);
    for (const auto& m : metrics) {
      if (m.epoch <= observed_through_ || m.epoch >= epoch) continue;
      SignalTracker::Epoch e;
      e.epoch = m.epoch;
      e.train_loss = m.train_loss;
      std::optional<SampleEpoch> recorded;
      if (need.samples && std::filesystem::exists(layout.sample_epoch_csv(m.epoch))) {
        recorded = read_sample_history(run_dir_, m.epoch).back();
        e.samples = &*recorded;
        e.previous = previous_ ? &*previous_ : nullptr;
      }
      ModelSource source;
      if (need.model || need.gradients) {
        source = open_run_checkpoint(layout, m.epoch, settings, device);
        e.model = source.model.get();
      }
      tracker_->observe(e);
      previous_ = recorded;
      observed_through_ = m.epoch;
    }
  }
  SignalTracker::Epoch e;
  e.epoch = epoch;
  e.train_loss = metrics.back().train_loss;
  e.samples = samples;
  e.previous = samples != nullptr && previous_ ? &*previous_ : nullptr;
  e.model = &model;
  tracker_->observe(e);
  if (samples != nullptr) previous_ = *samples;
  observed_through_ = epoch;
  const OverfitRecord record = tracker_->record(metrics, run_dir_.string(), "live");
  write_file_atomic(layout.overfit_csv(), record.to_csv());
  write_file_atomic(layout.overfit_json(), record.to_json().dump(1) + "\n");
  return live_alarm_lines(record, epoch);
}

}  // namespace filterscope
