#include "filterscope/experiments/mask.h"
#include "filterscope/runs/layout.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/statistics.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/stats.h"
#include "filterscope/models/torchscript.h"
#include "filterscope/train/checkpoint.h"

namespace filterscope {

namespace fs = std::filesystem;

const ParamTable<MaskOptions>& MaskOptions::params() {
  static const ParamTable<MaskOptions> table = {
      {"epoch", &MaskOptions::epoch, "checkpoint to mask; 0 = the overfit epoch RUN/track.json chose",
       Bounds::closed(0, 1e6)},
      {"baseline-seeds", &MaskOptions::baseline_seeds,
       "random-filter baselines: each masks as many random filters of the same convolutions, one at a time",
       Bounds::closed(1, 1000)},
      {"baseline-seed", &MaskOptions::baseline_seed, "seed of the first random baseline (the others take the next seeds)",
       Bounds::closed(0, 1e9)},
      {"paired-alpha", &MaskOptions::paired_alpha,
       "level of McNemar's exact one-sided test on the paired predictions: masking a filter raises validation "
       "(lowers training) accuracy only when p < alpha",
       Bounds::closed(1e-9, 0.5)},
      {"save", &MaskOptions::save,
       "write the network with every anomaly filter masked to this checkpoint file (the original stays as it is)"},
  };
  return table;
}

double paired_test_enrichment_p(int64_t anomaly, int64_t anomaly_passing, int64_t random, int64_t random_passing) {
  return hypergeometric_upper_tail(anomaly + random, anomaly_passing + random_passing, anomaly, anomaly_passing);
}

std::vector<MaskUnit> anomaly_units(const AnalysisRecord& analysis) {
  std::map<std::pair<std::string, int64_t>, std::vector<std::string>> flagged;
  for (const auto& layer : analysis.layers) {
    if (layer.anomaly_count == 0) continue;
    for (const auto& f : layer.filters)
      if (f.anomaly) flagged[{layer.owner_conv, f.filter}].push_back(layer.name);
  }
  std::vector<MaskUnit> units;
  for (auto& [key, probes] : flagged) units.push_back({key.first, key.second, probes});
  return units;
}

std::vector<MaskUnit> random_units(const std::vector<MaskUnit>& anomalies, const ProbedModel& model, int64_t seed) {
  std::map<std::string, std::set<int64_t>> taken;
  for (const auto& u : anomalies) taken[u.conv].insert(u.channel);
  std::vector<MaskUnit> units;
  int64_t conv_ordinal = 0;
  for (const auto& [conv, channels] : taken) {
    std::vector<int64_t> others;
    for (int64_t c = 0; c < model.probe(conv).channels; ++c)
      if (!channels.count(c)) others.push_back(c);
    const int64_t want = std::min<int64_t>(static_cast<int64_t>(channels.size()), static_cast<int64_t>(others.size()));
    if (want > 0) {
      // One seeded draw per (seed, convolution), so that adding a layer does not move the others' draws.
      const at::Tensor pick = choose_positions(static_cast<int64_t>(others.size()), want, seed * 1000 + conv_ordinal);
      for (int64_t i = 0; i < pick.numel(); ++i)
        units.push_back({conv, others[static_cast<size_t>(pick[i].item<int64_t>())], {}});
    }
    ++conv_ordinal;
  }
  return units;
}

void apply_masks(ProbedModel& model, const std::vector<MaskUnit>& units) {
  model.clear_channel_masks();
  std::map<std::string, at::Tensor> masks;
  for (const auto& u : units) {
    auto it = masks.find(u.conv);
    if (it == masks.end()) it = masks.emplace(u.conv, at::ones({model.probe(u.conv).channels})).first;
    it->second[u.channel] = 0.0;
  }
  for (const auto& [conv, mask] : masks) model.set_channel_mask(conv, mask);
}

void bake_masks(ProbedModel& model, const std::vector<MaskUnit>& units) {
  for (const auto& u : units) zero_filter(model, u.conv, u.channel);
}

namespace {
// Accuracies and which images each set got right, for the paired tests.
struct Scores {
  double train = 0, val = 0;
  at::Tensor train_right, val_right;  ///< bool [N]
};

Scores accuracies(ProbedModel& model, const PreparedRun& run) {
  const Evaluation t = evaluate(model, run.data.train, run.transform);
  const Evaluation v = evaluate(model, run.data.val, run.transform);
  return {t.accuracy, v.accuracy, t.predictions.eq(run.data.train.labels.cpu()), v.predictions.eq(run.data.val.labels.cpu())};
}

// McNemar's exact test of the change from `before` to `after` on the same images, one-sided
// towards more improved (want_improved) or more worsened images.
PairedChange paired_change(const at::Tensor& before, const at::Tensor& after, bool want_improved, double alpha) {
  PairedChange c;
  c.improved = at::logical_and(before.logical_not(), after).sum().item<int64_t>();
  c.worsened = at::logical_and(before, after.logical_not()).sum().item<int64_t>();
  const McNemarTest t = mcnemar_exact(c.improved, c.worsened);
  c.p_value = want_improved ? t.p_improved : t.p_worsened;
  c.significant = c.p_value < alpha;
  return c;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / static_cast<double>(v.size());
}

double sample_sd(const std::vector<double>& v) {
  if (v.size() < 2) return NAN;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

std::string unit_name(const MaskUnit& u) { return u.conv + ":" + std::to_string(u.channel); }
}  // namespace

namespace {

// Tables 4-6 on one model against its analysis; fills `out` and returns mask.csv's text. Leaves the
// model with every anomaly filter masked when `keep_all_masked` (for --save), else unmasked.
std::string mask_tables(ProbedModel& model, const PreparedRun& run, const ProbeSet& probe,
                        const AnalysisRecord& analysis, const std::vector<MaskUnit>& anomalies,
                        const MaskOptions& options, const std::string& what, MaskRecord& out,
                        const std::function<void(const std::string&)>& log) {
  model.clear_channel_masks();
  const Scores before = accuracies(model, run);
  out.train_measured_on = detail::concat(run.data.train.size(), " training samples, with the labels trained on");
  out.val_measured_on = detail::concat(run.data.val.size(), " validation samples");
  out.before = {before.train, before.val};
  out.anomaly_filters = static_cast<int64_t>(anomalies.size());
  out.alpha = options.paired_alpha;
  const std::string header =
      "set,seed,conv,channel,flagged_at,train_before,train_after,val_before,val_after,val_improved,val_worsened,"
      "val_p,train_improved,train_worsened,train_p\n";
  if (anomalies.empty()) {
    out.note = detail::concat(what, " has no anomaly filters: nothing to mask");
    log(*out.note);
    return header;
  }

  std::ostringstream csv;
  csv.precision(10);
  csv << header;
  // Each unit masked alone; returns the shares with train accuracy down and validation accuracy up.
  // Also counts the filters whose change passes McNemar's test into *significant (val up, train down).
  auto mask_one_by_one = [&](const std::vector<MaskUnit>& units, const std::string& set, int64_t seed,
                             std::vector<MaskedFilter>* rows, std::pair<int64_t, int64_t>* significant) {
    int64_t train_down = 0, val_up = 0;
    for (const auto& u : units) {
      apply_masks(model, {u});
      const Scores after = accuracies(model, run);
      if (after.train < before.train) ++train_down;
      if (after.val > before.val) ++val_up;
      const PairedChange val = paired_change(before.val_right, after.val_right, true, options.paired_alpha);
      const PairedChange train = paired_change(before.train_right, after.train_right, false, options.paired_alpha);
      significant->first += val.significant ? 1 : 0;
      significant->second += train.significant ? 1 : 0;
      std::string flagged;
      for (const auto& p : u.flagged_at) flagged += (flagged.empty() ? "" : ";") + p;
      csv << set << ',' << (seed >= 0 ? std::to_string(seed) : "") << ',' << u.conv << ',' << u.channel << ','
          << flagged << ',' << before.train << ',' << after.train << ',' << before.val << ',' << after.val << ','
          << val.improved << ',' << val.worsened << ',' << val.p_value << ',' << train.improved << ','
          << train.worsened << ',' << train.p_value << '\n';
      if (rows)
        rows->push_back({u.conv, u.channel, u.flagged_at, after.train, after.val, after.train < before.train,
                         after.val > before.val, val, train});
    }
    model.clear_channel_masks();
    const double n = static_cast<double>(units.size());
    return std::make_pair(units.empty() ? NAN : train_down / n, units.empty() ? NAN : val_up / n);
  };

  // Table 4: anomaly filters, one at a time.
  log(detail::concat(what, ": masking ", anomalies.size(), " anomaly filter(s) one at a time"));
  std::pair<int64_t, int64_t> anomaly_significant{0, 0};
  const auto [anomaly_train_down, anomaly_val_up] =
      mask_one_by_one(anomalies, "anomaly", -1, &out.one_at_a_time, &anomaly_significant);
  out.val_up_significant = anomaly_significant.first;
  out.train_down_significant = anomaly_significant.second;
  out.share_train_down = anomaly_train_down;
  out.share_val_up = anomaly_val_up;

  // Table 5: random filters of the same convolutions, over seeds.
  std::vector<double> train_down, val_up;
  for (int64_t s = 0; s < options.baseline_seeds; ++s) {
    const int64_t seed = options.baseline_seed + s;
    const std::vector<MaskUnit> units = random_units(anomalies, model, seed);
    log(detail::concat("random baseline ", s + 1, "/", options.baseline_seeds, ": masking ", units.size(),
                       " random filter(s) one at a time"));
    std::pair<int64_t, int64_t> significant{0, 0};
    const auto [td, vu] = mask_one_by_one(units, "random", seed, nullptr, &significant);
    std::vector<std::string> names;
    for (const auto& u : units) names.push_back(unit_name(u));
    out.baseline_seeds.push_back({seed, names, td, vu, significant.first, significant.second});
    out.baseline_filters += static_cast<int64_t>(units.size());
    out.baseline_val_up_significant += significant.first;
    out.baseline_train_down_significant += significant.second;
    if (std::isfinite(td)) train_down.push_back(td), val_up.push_back(vu);
  }
  out.val_up_enrichment_p = paired_test_enrichment_p(out.anomaly_filters, out.val_up_significant, out.baseline_filters,
                                                     out.baseline_val_up_significant);
  out.train_down_enrichment_p = paired_test_enrichment_p(out.anomaly_filters, out.train_down_significant,
                                                         out.baseline_filters, out.baseline_train_down_significant);
  out.baseline_share_train_down = {mean(train_down), sample_sd(train_down)};
  out.baseline_share_val_up = {mean(val_up), sample_sd(val_up)};

  // Table 6: every anomaly filter at once, and how the outlier samples' predictions move.
  const at::Tensor pred_before = evaluate(model, probe.samples, run.transform).predictions;
  apply_masks(model, anomalies);
  const Scores all = accuracies(model, run);
  const at::Tensor pred_after = evaluate(model, probe.samples, run.transform).predictions;
  model.clear_channel_masks();
  int64_t rr = 0, rw = 0, wr = 0, ww = 0;
  for (const auto& o : analysis.outliers) {
    const int64_t i = o.position;
    const int64_t label = probe.samples.labels[i].item<int64_t>();
    const bool right_before = pred_before[i].item<int64_t>() == label, right_after = pred_after[i].item<int64_t>() == label;
    (right_before ? (right_after ? rr : rw) : (right_after ? wr : ww)) += 1;
  }
  out.all_at_once = AllAtOnce{all.train,
                              all.val,
                              static_cast<int64_t>(analysis.outliers.size()),
                              probe.noisy.defined() ? "the labels trained on (replaced ones included)" : "true labels",
                              rr,
                              rw,
                              wr,
                              ww};
  log(detail::concat("all ", anomalies.size(), " anomaly filter(s) at once: val acc ", before.val, " -> ", all.val));
  return csv.str();
}

void check_save_target(const MaskOptions& options, const fs::path& source_file) {
  if (options.save.empty()) return;
  FS_CHECK(!fs::exists(options.save) || !fs::equivalent(options.save, source_file), options.save,
           " is the model being masked; --save needs another file (the original is never changed)");
  FS_CHECK(!fs::is_directory(options.save), options.save, " is a directory; --save takes a file name");
}

// Writes the model with every anomaly filter's weights zeroed to options.save: a checkpoint for a
// built-in network, a TorchScript file for a TorchScript model. The weights are zeroed on a fresh copy
// read from `source_file`, so the model in memory is left as it was.
void save_masked(const ModelSource& source, const std::vector<MaskUnit>& anomalies, const MaskOptions& options,
                 const c10::Device& device, MaskRecord& out, const std::function<void(const std::string&)>& log) {
  if (options.save.empty() || anomalies.empty()) return;
  if (source.kind == ModelSourceKind::TorchScript) {
    auto copy = load_torchscript_model(source.file, source.model->input_shape(), device);
    bake_masks(*copy, anomalies);
    save_torchscript_model(*copy, options.save);
  } else {
    CheckpointInfo info;
    Network network = load_checkpoint(source.file, nullptr, "", &info);
    auto copy = probed_network(network);
    bake_masks(*copy, anomalies);
    save_checkpoint(options.save, network, nullptr, info);
  }
  out.saved = options.save;
  log("wrote the masked network to " + options.save);
}

}  // namespace

MaskRecord mask_study(RunAnalyses& analyses, const MaskOptions& options,
                          const std::function<void(const std::string&)>& log) {
  validate_params(options, MaskOptions::params());
  const fs::path& run_dir = analyses.run_dir();
  const int64_t epoch = options.epoch > 0 ? options.epoch : study_epochs(run_dir, 0, 0).overfit;
  analyses.require_checkpoint(epoch);
  const fs::path checkpoint = RunLayout(run_dir).checkpoint(epoch);
  check_save_target(options, checkpoint);
  bool reused = false;
  const AnalysisRecord analysis = analyses.analysis(epoch, &reused);
  const std::vector<MaskUnit> anomalies = anomaly_units(analysis);
  ModelSource source = analyses.open_checkpoint(epoch);

  MaskRecord out;
  out.run_dir = run_dir.string();
  out.epoch = epoch;
  out.checkpoint = checkpoint.string();
  out.request = analysis_request_json(analyses.analyze_options(), analyses.probe_options());
  out.analysis_reused = reused;
  const std::string csv = mask_tables(*source.model, analyses.run(), analyses.probe(), analysis, anomalies, options,
                                      detail::concat("epoch ", epoch), out, log);
  save_masked(source, anomalies, options, analyses.device(), out, log);
  write_file_atomic(RunLayout(run_dir).mask_csv(), csv);
  write_file_atomic(RunLayout(run_dir).mask_json(), out.to_json().dump(1) + "\n");
  return out;
}

MaskRecord model_mask(ModelSource& source, const ModelAnalysis& analysis, const MaskOptions& options,
                          const fs::path& out_dir, const std::function<void(const std::string&)>& log) {
  validate_params(options, MaskOptions::params());
  FS_CHECK(options.epoch == 0, "--epoch needs a run directory; ", source.file.string(), " is one model");
  check_save_target(options, source.file);
  const std::vector<MaskUnit> anomalies = anomaly_units(analysis.record);
  MaskRecord out;
  out.model = source.record;
  out.request = analysis_request_json(analysis.options, analysis.probe_options);
  out.analysis_reused = analysis.reused;
  const std::string csv = mask_tables(*source.model, source.run, analysis.probe, analysis.record, anomalies, options,
                                      "the model", out, log);
  save_masked(source, anomalies, options, source.model->device(), out, log);
  ensure_directory(out_dir);
  write_file_atomic(out_dir / RunLayout::kMaskCsv, csv);
  write_file_atomic(out_dir / RunLayout::kMaskJson, out.to_json().dump(1) + "\n");
  return out;
}

}  // namespace filterscope
