#include "filterscope/experiments/mask.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/experiments/stats.h"
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
      {"save", &MaskOptions::save,
       "write the network with every anomaly filter masked to this checkpoint file (the original stays as it is)"},
  };
  return table;
}

std::vector<MaskUnit> anomaly_units(const nlohmann::json& analysis) {
  std::map<std::pair<std::string, int64_t>, std::vector<std::string>> flagged;
  for (const auto& layer : analysis.at("layers")) {
    if (layer.at("anomaly_count").get<int64_t>() == 0) continue;
    const std::string conv = layer.at("owner_conv").get<std::string>();
    for (const auto& f : layer.at("filters"))
      if (f.at("anomaly").get<bool>())
        flagged[{conv, f.at("filter").get<int64_t>()}].push_back(layer.at("name").get<std::string>());
  }
  std::vector<MaskUnit> units;
  for (auto& [key, probes] : flagged) units.push_back({key.first, key.second, probes});
  return units;
}

std::vector<MaskUnit> random_units(const std::vector<MaskUnit>& anomalies, const Network& network, int64_t seed) {
  std::map<std::string, std::set<int64_t>> taken;
  for (const auto& u : anomalies) taken[u.conv].insert(u.channel);
  std::vector<MaskUnit> units;
  int64_t conv_ordinal = 0;
  for (const auto& [conv, channels] : taken) {
    std::vector<int64_t> others;
    for (int64_t c = 0; c < network->probe(conv).channels; ++c)
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

void apply_masks(Network& network, const std::vector<MaskUnit>& units) {
  network->clear_channel_masks();
  std::map<std::string, at::Tensor> masks;
  for (const auto& u : units) {
    auto it = masks.find(u.conv);
    if (it == masks.end()) it = masks.emplace(u.conv, at::ones({network->probe(u.conv).channels})).first;
    it->second[u.channel] = 0.0;
  }
  for (const auto& [conv, mask] : masks) network->set_channel_mask(conv, mask);
}

void bake_masks(Network& network, const std::vector<MaskUnit>& units) {
  torch::NoGradGuard no_grad;
  const auto params = network->named_parameters();
  for (const auto& u : units) {
    for (const char* which : {".weight", ".bias"}) {
      const auto* p = params.find(u.conv + which);
      if (p != nullptr) p->select(0, u.channel).zero_();
    }
  }
}

namespace {
struct Scores {
  double train = 0, val = 0;
};

Scores accuracies(Network& network, const PreparedRun& run, const c10::Device& device) {
  return {evaluate(network, run.data.train, run.transform, device).accuracy,
          evaluate(network, run.data.val, run.transform, device).accuracy};
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

nlohmann::json mask_study(RunAnalyses& analyses, const MaskOptions& options,
                          const std::function<void(const std::string&)>& log) {
  validate_params(options, MaskOptions::params());
  const fs::path& run_dir = analyses.run_dir();
  const int64_t epoch = options.epoch > 0 ? options.epoch : study_epochs(run_dir, 0, 0).overfit;
  analyses.require_checkpoint(epoch);
  const fs::path checkpoint = checkpoint_path(run_dir, epoch);
  if (!options.save.empty()) {
    FS_CHECK(!fs::exists(options.save) || !fs::equivalent(options.save, checkpoint), options.save,
             " is the checkpoint being masked; --save needs another file (the original is never changed)");
    FS_CHECK(!fs::is_directory(options.save), options.save, " is a directory; --save takes a file name");
  }
  bool reused = false;
  const nlohmann::json analysis = analyses.analysis(epoch, &reused);
  const std::vector<MaskUnit> anomalies = anomaly_units(analysis);
  const PreparedRun& run = analyses.run();
  const c10::Device& device = analyses.device();

  CheckpointInfo info;
  Network network = load_checkpoint(checkpoint, nullptr, analyses.settings().train.model, &info);
  network->to(device);
  network->clear_channel_masks();
  const Scores before = accuracies(network, run, device);

  nlohmann::json out = {{"format", "filterscope-mask-1"},
                        {"run_dir", run_dir.string()},
                        {"epoch", epoch},
                        {"checkpoint", checkpoint.string()},
                        {"request", analysis_request_json(analyses.analyze_options(), analyses.probe_options())},
                        {"analysis_reused", reused},
                        {"accuracy_measured_on",
                         {{"train", detail::concat(run.data.train.size(), " training samples, with the labels trained on")},
                          {"val", detail::concat(run.data.val.size(), " validation samples")}}},
                        {"before", {{"train_acc", before.train}, {"val_acc", before.val}}},
                        {"anomaly_filters", static_cast<int64_t>(anomalies.size())}};
  if (anomalies.empty()) {
    out["note"] = detail::concat("epoch ", epoch, " has no anomaly filters: nothing to mask");
    log(out["note"].get<std::string>());
    write_file_atomic(run_dir / "mask.csv", "set,seed,conv,channel,flagged_at,train_before,train_after,val_before,val_after\n");
    write_file_atomic(run_dir / "mask.json", out.dump(1) + "\n");
    return out;
  }

  std::ostringstream csv;
  csv.precision(10);
  csv << "set,seed,conv,channel,flagged_at,train_before,train_after,val_before,val_after\n";
  // Each unit masked alone; returns the shares with train accuracy down and validation accuracy up.
  auto mask_one_by_one = [&](const std::vector<MaskUnit>& units, const std::string& set, int64_t seed,
                             nlohmann::json* rows) {
    int64_t train_down = 0, val_up = 0;
    for (const auto& u : units) {
      apply_masks(network, {u});
      const Scores after = accuracies(network, run, device);
      if (after.train < before.train) ++train_down;
      if (after.val > before.val) ++val_up;
      std::string flagged;
      for (const auto& p : u.flagged_at) flagged += (flagged.empty() ? "" : ";") + p;
      csv << set << ',' << (seed >= 0 ? std::to_string(seed) : "") << ',' << u.conv << ',' << u.channel << ','
          << flagged << ',' << before.train << ',' << after.train << ',' << before.val << ',' << after.val << '\n';
      if (rows)
        rows->push_back({{"conv", u.conv},
                         {"channel", u.channel},
                         {"flagged_at", u.flagged_at},
                         {"train_acc", after.train},
                         {"val_acc", after.val},
                         {"train_down", after.train < before.train},
                         {"val_up", after.val > before.val}});
    }
    network->clear_channel_masks();
    const double n = static_cast<double>(units.size());
    return std::make_pair(units.empty() ? NAN : train_down / n, units.empty() ? NAN : val_up / n);
  };

  // Table 4: anomaly filters, one at a time.
  log(detail::concat("epoch ", epoch, ": masking ", anomalies.size(), " anomaly filter(s) one at a time"));
  nlohmann::json rows = nlohmann::json::array();
  const auto [anomaly_train_down, anomaly_val_up] = mask_one_by_one(anomalies, "anomaly", -1, &rows);
  out["one_at_a_time"] = {{"filters", rows},
                          {"share_train_down", json_number(anomaly_train_down)},
                          {"share_val_up", json_number(anomaly_val_up)}};

  // Table 5: random filters of the same convolutions, over seeds.
  std::vector<double> train_down, val_up;
  nlohmann::json seeds = nlohmann::json::array();
  for (int64_t s = 0; s < options.baseline_seeds; ++s) {
    const int64_t seed = options.baseline_seed + s;
    const std::vector<MaskUnit> units = random_units(anomalies, network, seed);
    log(detail::concat("random baseline ", s + 1, "/", options.baseline_seeds, ": masking ", units.size(),
                       " random filter(s) one at a time"));
    const auto [td, vu] = mask_one_by_one(units, "random", seed, nullptr);
    std::vector<std::string> names;
    for (const auto& u : units) names.push_back(unit_name(u));
    seeds.push_back({{"seed", seed}, {"filters", names}, {"share_train_down", json_number(td)},
                     {"share_val_up", json_number(vu)}});
    if (std::isfinite(td)) train_down.push_back(td), val_up.push_back(vu);
  }
  out["random_baseline"] = {{"seeds", seeds},
                            {"share_train_down", {{"mean", json_number(mean(train_down))}, {"sd", json_number(sample_sd(train_down))}}},
                            {"share_val_up", {{"mean", json_number(mean(val_up))}, {"sd", json_number(sample_sd(val_up))}}}};

  // Table 6: every anomaly filter at once, and how the outlier samples' predictions move.
  const ProbeSet& probe = analyses.probe();
  const at::Tensor pred_before = evaluate(network, probe.samples, run.transform, device).predictions;
  apply_masks(network, anomalies);
  const Scores all = accuracies(network, run, device);
  const at::Tensor pred_after = evaluate(network, probe.samples, run.transform, device).predictions;
  network->clear_channel_masks();
  int64_t rr = 0, rw = 0, wr = 0, ww = 0;
  for (const auto& o : analysis.at("outliers")) {
    const int64_t i = o.at("position").get<int64_t>();
    const int64_t label = probe.samples.labels[i].item<int64_t>();
    const bool right_before = pred_before[i].item<int64_t>() == label, right_after = pred_after[i].item<int64_t>() == label;
    (right_before ? (right_after ? rr : rw) : (right_after ? wr : ww)) += 1;
  }
  out["all_at_once"] = {{"train_acc", all.train},
                        {"val_acc", all.val},
                        {"outlier_samples", static_cast<int64_t>(analysis.at("outliers").size())},
                        {"labels", probe.noisy.defined() ? "the labels trained on (replaced ones included)" : "true labels"},
                        {"right_to_right", rr},
                        {"right_to_wrong", rw},
                        {"wrong_to_right", wr},
                        {"wrong_to_wrong", ww}};
  log(detail::concat("all ", anomalies.size(), " anomaly filter(s) at once: val acc ", before.val, " -> ", all.val));

  if (!options.save.empty()) {
    bake_masks(network, anomalies);
    save_checkpoint(options.save, network, nullptr, info);
    out["saved"] = options.save;
    log("wrote the masked network to " + options.save);
  }
  write_file_atomic(run_dir / "mask.csv", csv.str());
  write_file_atomic(run_dir / "mask.json", out.dump(1) + "\n");
  return out;
}

}  // namespace filterscope
