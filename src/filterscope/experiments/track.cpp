#include "filterscope/experiments/track.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/run_log_import.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <set>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/run_analyses.h"
#include "filterscope/io/tensor_bytes.h"

namespace filterscope {

namespace fs = std::filesystem;

const ParamTable<TrackOptions>& TrackOptions::params() {
  static const ParamTable<TrackOptions> table = {
      {"every", &TrackOptions::every, "analyse every k-th epoch checkpoint (the last is always analysed)",
       Bounds::closed(1, 1e6)},
      {"well-trained", &TrackOptions::well_trained,
       "rule for the well-trained epoch: the lowest validation loss, or the best validation accuracy",
       {}, {"min-val-loss", "best-val-acc"}},
  };
  return table;
}

TrackEpoch summarise_analysis(const AnalysisRecord& analysis, const EpochMetrics& metrics) {
  TrackEpoch e;
  e.metrics = metrics;
  double share_sum = 0;
  int64_t filters = 0;
  for (const auto& layer : analysis.layers) {
    e.per_layer[layer.name] = layer.anomaly_count;
    e.anomaly_filters += layer.anomaly_count;
    e.unbalanced += layer.unbalanced;
    e.high_ch += layer.high_ch;
    e.active += layer.active;
    for (const auto& f : layer.filters) {
      share_sum += std::isfinite(f.small_share) ? f.small_share : 0.0;
      ++filters;
    }
  }
  e.outlier_samples = static_cast<int64_t>(analysis.outliers.size());
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

namespace {

// The epochs still to analyse, dealt out to the ranks; each rank analyses its own and writes them
// into the run, and the root learns which were made now (the others were there before). Every
// epoch is the same network on the same probe set, so their estimated costs are equal: the plan
// balances them by count, and epochs already analysed cost nothing (they are left out).
std::set<int64_t> analyse_on_ranks(RunAnalyses& analyses, const std::vector<int64_t>& epochs, const Ranks& ranks,
                                   const std::function<void(const std::string&)>& log, std::vector<RankWork>* work) {
  std::string plan;
  if (ranks.root()) {
    // Checked by the root alone, before any rank writes: a mismatch stops the job at once.
    std::vector<int64_t> pending;
    for (int64_t epoch : epochs)
      if (!analyses.reusable(epoch)) pending.push_back(epoch);
    const std::vector<int> assignment = assign_by_cost(std::vector<double>(pending.size(), 1.0), ranks.size());
    ByteWriter out;
    out.i64(static_cast<int64_t>(pending.size()));
    for (size_t i = 0; i < pending.size(); ++i) {
      out.i64(pending[i]);
      out.i64(assignment[i]);
    }
    plan = out.bytes();
  }
  plan = ranks.broadcast(plan);
  ByteReader in(plan, "the epoch plan");
  std::vector<int64_t> mine;
  for (int64_t i = 0, count = in.i64(); i < count; ++i) {
    const int64_t epoch = in.i64();
    if (in.i64() == ranks.rank()) mine.push_back(epoch);
  }

  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch : mine) {
    const AnalysisRecord analysis = analyses.analysis(epoch);
    log(rank_prefix() + "epoch " + std::to_string(epoch) + ": " + std::to_string(analysis.anomaly_filters) +
        " anomaly filter(s)");
  }
  ByteWriter done;
  done.text(host_name());
  done.f64(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  done.i64(static_cast<int64_t>(mine.size()));
  for (int64_t epoch : mine) done.i64(epoch);
  const std::vector<std::string> reports = ranks.gather(done.bytes());

  std::set<int64_t> analysed;
  for (size_t r = 0; r < reports.size(); ++r) {
    ByteReader report(reports[r], "the report of rank " + std::to_string(r));
    RankWork w;
    w.rank = static_cast<int>(r);
    w.host = report.text();
    w.busy_seconds = report.f64();
    w.units = report.i64();
    w.estimated_cost = static_cast<double>(w.units);
    for (int64_t i = 0; i < w.units; ++i) analysed.insert(report.i64());
    work->push_back(w);
  }
  return analysed;
}

}  // namespace

TrackRecord track_run(const fs::path& run_dir, const ProbeSetOptions& probe_options, const AnalyzeOptions& analyze,
                         const TrackOptions& options, const ReuseOptions& reuse, const c10::Device& device,
                         const std::function<void(const std::string&)>& log) {
  validate_params(options, TrackOptions::params());
  // An epoch is one rank's whole unit of work: its analysis runs alone.
  AnalyzeOptions alone = analyze;
  alone.ranks = Ranks::alone();
  RunAnalyses analyses(run_dir, probe_options, alone, device, reuse.reanalyse);
  const std::vector<int64_t> epochs = tracked_epochs(analyses.checkpoints(), options.every);
  std::vector<RankWork> work;
  std::set<int64_t> analysed_now;
  if (options.ranks.sharded()) {
    analysed_now = analyse_on_ranks(analyses, epochs, options.ranks, log, &work);
    if (!options.ranks.root()) return {};
  } else {
    // Existing analyses are checked before any work, so that a mismatch stops at once.
    for (int64_t epoch : epochs) analyses.reusable(epoch);
  }

  std::vector<TrackEpoch> rows;
  for (int64_t epoch : epochs) {
    bool reused = false;
    const AnalysisRecord analysis = analyses.analysis(epoch, &reused);
    TrackEpoch row = summarise_analysis(analysis, analyses.metrics(epoch));
    row.reused = reused && !analysed_now.count(epoch);
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
  TrackRecord track;
  for (const auto& [name, get] : scores) {
    std::vector<double> v;
    for (const auto& r : rows) v.push_back(get(r));
    track.spearman[name] = {spearman(v, val_loss), spearman(v, gap)};
  }
  auto record_row = [](const TrackEpoch& r) {
    TrackEpochRecord row;
    row.epoch = r.metrics.epoch;
    row.train_loss = r.metrics.train_loss;
    row.train_acc = r.metrics.train_acc;
    row.val_loss = r.metrics.val_loss;
    row.val_acc = r.metrics.val_acc;
    row.anomaly_filters = r.anomaly_filters;
    row.unbalanced_filters = r.unbalanced;
    row.high_ch_filters = r.high_ch;
    row.active_filters = r.active;
    row.outlier_samples = r.outlier_samples;
    row.mean_small_share = r.mean_small_share;
    row.enrichment = r.enrichment;
    row.per_layer = r.per_layer;
    return row;
  };
  for (const auto& r : rows) track.epochs.push_back(record_row(r));
  track.run_dir = run_dir.string();
  track.request = request;
  track.well_trained_rule = options.well_trained == "min-val-loss" ? "the analysed epoch with the lowest validation loss"
                                                                   : "the analysed epoch with the best validation accuracy";
  track.overfit_rule = "the last analysed epoch";
  track.well_trained = record_row(rows[well]);
  track.overfit = record_row(rows[overfit]);
  track.val_acc_dropped = rows[overfit].metrics.val_acc < rows[well].metrics.val_acc;
  track.ranks = work;

  std::ostringstream csv;
  std::vector<std::string> layer_names;
  for (const auto& [name, count] : rows.front().per_layer) layer_names.push_back(name);
  csv << "epoch,train_loss,train_acc,val_loss,val_acc,anomaly_filters,unbalanced_filters,high_ch_filters,"
         "active_filters,outlier_samples,mean_small_share,outlier_replaced_ratio";
  for (const auto& name : layer_names) csv << ",anomaly:" << name;
  csv << '\n';
  csv.precision(10);
  for (const auto& r : track.epochs) {
    csv << r.epoch << ',' << r.train_loss << ',' << r.train_acc << ',' << r.val_loss << ',' << r.val_acc << ','
        << r.anomaly_filters << ',' << r.unbalanced_filters << ',' << r.high_ch_filters << ',' << r.active_filters
        << ',' << r.outlier_samples << ',' << r.mean_small_share << ',';
    if (r.enrichment && std::isfinite(r.enrichment->ratio)) csv << r.enrichment->ratio;
    for (const auto& name : layer_names) {
      auto it = r.per_layer.find(name);
      csv << ',' << (it == r.per_layer.end() ? 0 : it->second);
    }
    csv << '\n';
  }
  write_file_atomic(RunLayout(run_dir).track_csv(), csv.str());
  write_file_atomic(RunLayout(run_dir).track_json(), track.to_json().dump(1) + "\n");
  // Beside the weights in the explorer's log, when the run has one (`record` adds track.json itself).
  if (std::filesystem::exists(RunLayout(run_dir).run_log()))
    write_track_to_log(RunLayout(run_dir).run_log(), log_track_of(run_dir, track));
  return track;
}

}  // namespace filterscope
