// gradients, mask and verdict on a small trained run: the files agree with each other and with an
// independent evaluation, the original checkpoint is untouched, and bad input stops clearly.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "filterscope/core/files.h"
#include "filterscope/core/statistics.h"
#include "filterscope/experiments/gradients.h"
#include "filterscope/experiments/label_noise.h"
#include "filterscope/experiments/mask.h"
#include "filterscope/train/run_record.h"
#include "filterscope/runs/layout.h"
#include "filterscope/train/checkpoint.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::read_json;
using testing::run_cli;
using testing::with;
using testing::TempDir;

std::filesystem::path train_small_run(const TempDir& dir) {
  const auto run = dir / "run";
  const auto trained = run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "900", "--train-size", "400",
                                "--val-size", "120", "--epochs", "3", "--quiet", "--label-noise", "0.2", "--out",
                                run.string()});
  EXPECT_EQ(trained.code, 0) << trained.err;
  return run;
}

TEST(Gradients, TableOfKnownValues) {
  SampleGradients g;
  g.layers = {"a", "b"};
  g.parameters = {10, 30};
  g.per_layer = at::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}, at::kDouble).view({4, 2});
  g.overall = at::tensor({1.0, 2.0, 3.0, 4.0}, at::kDouble);
  const GradientTable t = gradient_table(g, {true, false, true, false});
  EXPECT_EQ(t.outlier_samples, 2);
  EXPECT_DOUBLE_EQ(t.layers[0].outlier_mean, 3.0);  // (1 + 5) / 2
  EXPECT_DOUBLE_EQ(t.layers[0].normal_mean, 5.0);   // (3 + 7) / 2
  EXPECT_DOUBLE_EQ(t.layers[1].ratio, 4.0 / 6.0);   // (2 + 6) / (4 + 8)
  EXPECT_DOUBLE_EQ(t.overall.ratio, 2.0 / 3.0);
  EXPECT_EQ(t.layers_outliers_larger, 0);
  // No outliers: means that cannot exist are NaN (null in the file), not zero.
  const GradientTable none = gradient_table(g, {false, false, false, false});
  EXPECT_TRUE(std::isnan(none.overall.outlier_mean));
  EXPECT_TRUE(std::isnan(none.overall.ratio));
  GradientsRecord record;
  record.epochs = {none};
  EXPECT_TRUE(record.to_json()["epochs"][0]["overall"]["ratio"].is_null());
}

TEST(Gradients, PerSampleValuesDoNotDependOnOrderOrLeakBetweenSamples) {
  TempDir dir;
  const auto run_dir = train_small_run(dir);
  const PreparedRun run = prepare_run(read_run_settings(run_dir));
  Network network = load_checkpoint(checkpoint_path(run_dir, 3));
  const Dataset ten = subset(run.data.train, at::arange(10, at::kLong), "ten");
  const Dataset reversed = subset(run.data.train, at::arange(9, -1, -1, at::kLong), "reversed");
  auto model = probed_network(network);
  const SampleGradients a = per_sample_gradients(*model, ten, run.transform);
  const SampleGradients b = per_sample_gradients(*model, reversed, run.transform);
  ASSERT_EQ(a.layers, (std::vector<std::string>{"features.0", "features.3", "features.6", "classifier.0", "classifier.2"}));
  EXPECT_TRUE(at::allclose(a.per_layer, b.per_layer.flip({0}), 1e-12, 0));
  EXPECT_TRUE(a.per_layer.gt(0).all().item<bool>());
  // overall is the parameter-weighted mean of the layers' means.
  at::Tensor weights = at::tensor(a.parameters, at::kDouble);
  EXPECT_TRUE(at::allclose(a.overall, (a.per_layer * weights).sum(1) / weights.sum(), 1e-12, 0));
  // The network is left as it was: eval/train mode and no gradients kept.
  EXPECT_TRUE(network->is_training());
  for (const auto& p : network->parameters()) EXPECT_TRUE(!p.grad().defined() || p.grad().abs().sum().item<double>() == 0);
}

TEST(Study, GradientsMaskAndVerdictOnATrainedRun) {
  TempDir dir;
  const auto run = train_small_run(dir);
  const std::vector<std::string> flags = {"--split", "train", "--probe-size", "80", "--theta", "1", "--quiet"};

  // Before track there are no chosen epochs.
  const auto early = run_cli(with({"gradients", run.string()}, flags));
  EXPECT_NE(early.code, 0);
  EXPECT_NE(early.err.find("no track.json"), std::string::npos) << early.err;
  EXPECT_NE(early.err.find("filterscope track"), std::string::npos) << early.err;

  ASSERT_EQ(run_cli(with({"track", run.string()}, flags)).code, 0);
  const auto track = read_json(run / "track.json");

  // gradients: both epochs, per-sample rows that average to the table.
  const auto g_run = run_cli(with({"gradients", run.string()}, flags));
  ASSERT_EQ(g_run.code, 0) << g_run.err;
  EXPECT_NE(g_run.out.find("Table 3"), std::string::npos);
  const auto g = read_json(run / "gradients.json");
  ASSERT_EQ(g["epochs"].size(), 2u);
  EXPECT_EQ(g["epochs"][0]["epoch"], track["well_trained"]["epoch"]);
  EXPECT_EQ(g["epochs"][1]["epoch"], track["overfit"]["epoch"]);
  const AnalysisRecord overfit_analysis =
      read_analysis_record(RunLayout(run).analysis_json(track["overfit"]["epoch"].get<int64_t>()));
  EXPECT_EQ(g["epochs"][1]["outlier_samples"], overfit_analysis.outliers.size());
  EXPECT_TRUE(g["epochs"][1]["analysis_reused"].get<bool>());
  std::istringstream csv(read_file(run / "gradients.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line.rfind("epoch,role,position,dataset_index,label,outlier,label_replaced,overall,features.0", 0), 0u);
  double out_sum = 0, normal_sum = 0;
  int out_n = 0, normal_n = 0, rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    if (cells[1] != "overfit") continue;
    (cells[5] == "1" ? out_sum : normal_sum) += std::stod(cells[7]);
    (cells[5] == "1" ? out_n : normal_n) += 1;
  }
  EXPECT_EQ(rows, 160);
  ASSERT_GT(out_n, 0);
  EXPECT_NEAR(g["epochs"][1]["overall"]["ratio"].get<double>(), (out_sum / out_n) / (normal_sum / normal_n), 1e-6);

  // The same epoch in both roles: its gradients are computed once, and both tables equal the one of
  // that epoch above.
  {
    const int64_t e = track["overfit"]["epoch"].get<int64_t>();
    const auto copy = dir / "same-epoch";
    std::filesystem::copy(run, copy, std::filesystem::copy_options::recursive);
    std::vector<std::string> loud = flags;
    loud.pop_back();  // not --quiet: the progress lines say what was computed
    const auto same = run_cli(with({"gradients", copy.string(), "--well-trained-epoch", std::to_string(e), "--overfit-epoch",
                                    std::to_string(e)},
                                   loud));
    ASSERT_EQ(same.code, 0) << same.err;
    EXPECT_NE(same.err.find("is both the well-trained and the overfit epoch: its gradients are reused"), std::string::npos)
        << same.err;
    size_t computed = 0;
    for (size_t at = same.err.find("per-sample gradients"); at != std::string::npos; at = same.err.find("per-sample gradients", at + 1))
      ++computed;
    EXPECT_EQ(computed, 2u) << "one line per table, each on the gradients of the one epoch: " << same.err;
    const auto both = read_json(copy / "gradients.json");
    ASSERT_EQ(both["epochs"].size(), 2u);
    for (const char* key : {"overall", "layers", "outlier_samples"}) {
      EXPECT_EQ(both["epochs"][0][key], g["epochs"][1][key]) << key;
      EXPECT_EQ(both["epochs"][1][key], g["epochs"][1][key]) << key;
    }
  }

  // A checkpoint that does not exist.
  const auto missing = run_cli(with({"gradients", run.string(), "--overfit-epoch", "9"}, flags));
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.err.find("no checkpoint for epoch 9"), std::string::npos) << missing.err;

  // An analysis made with other settings than requested.
  const auto other = run_cli(with({"mask", run.string(), "--beta", "1.3"}, flags));
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.err.find("was made with other settings than requested"), std::string::npos) << other.err;

  // mask: Tables 4-6, the random baseline from the same convolutions, a saved copy.
  const auto checkpoint = checkpoint_path(run, track["overfit"]["epoch"].get<int64_t>());
  const std::string original = read_file(checkpoint);
  const auto saved = dir / "masked.pt";
  const auto m_run = run_cli(with({"mask", run.string(), "--baseline-seeds", "2", "--save", saved.string()}, flags));
  ASSERT_EQ(m_run.code, 0) << m_run.err;
  EXPECT_EQ(read_file(checkpoint), original);  // the original is untouched
  const auto m = read_json(run / "mask.json");
  const auto units = anomaly_units(overfit_analysis);
  ASSERT_FALSE(units.empty()) << "the test's criteria should flag filters on this run";
  EXPECT_EQ(m["anomaly_filters"], units.size());
  EXPECT_EQ(m["one_at_a_time"]["filters"].size(), units.size());
  std::set<std::string> anomaly_names, anomaly_convs;
  for (const auto& u : units) anomaly_names.insert(u.conv + ":" + std::to_string(u.channel)), anomaly_convs.insert(u.conv);
  for (const auto& seed : m["random_baseline"]["seeds"]) {
    EXPECT_EQ(seed["filters"].size(), units.size());
    for (const auto& f : seed["filters"]) {
      const std::string name = f;
      EXPECT_EQ(anomaly_names.count(name), 0u) << name;
      EXPECT_EQ(anomaly_convs.count(name.substr(0, name.find(':'))), 1u) << name;
    }
  }
  // The paired tests: a filter's McNemar counts are the change in validation accuracy, image by image.
  const MaskRecord mr = *read_mask_record(run / "mask.json");
  const double val_images = static_cast<double>(prepare_run(read_run_settings(run)).data.val.size());
  for (const auto& f : mr.one_at_a_time) {
    EXPECT_NEAR(static_cast<double>(f.val_change.improved - f.val_change.worsened) / val_images,
                f.val_acc - mr.before.val_acc, 1e-12);
    EXPECT_DOUBLE_EQ(f.val_change.p_value, mcnemar_exact(f.val_change.improved, f.val_change.worsened).p_improved);
    EXPECT_EQ(f.val_change.significant, f.val_change.p_value < mr.alpha);
  }
  int64_t passing = 0;
  for (const auto& f : mr.one_at_a_time) passing += f.val_change.significant ? 1 : 0;
  EXPECT_EQ(mr.val_up_significant, passing);
  EXPECT_EQ(mr.baseline_filters, 2 * static_cast<int64_t>(units.size()));
  const auto& all = m["all_at_once"];
  EXPECT_EQ(all["right_to_right"].get<int64_t>() + all["right_to_wrong"].get<int64_t>() +
                all["wrong_to_right"].get<int64_t>() + all["wrong_to_wrong"].get<int64_t>(),
            all["outlier_samples"].get<int64_t>());
  // The saved network, without masks, computes what the masked one did.
  const PreparedRun prepared = prepare_run(read_run_settings(run));
  Network masked = load_checkpoint(saved);
  EXPECT_DOUBLE_EQ(evaluate(masked, prepared.data.val, prepared.transform, at::kCPU).accuracy,
                   all["val_acc"].get<double>());
  // The same seeds give the same file.
  ASSERT_EQ(run_cli(with({"mask", run.string(), "--baseline-seeds", "2"}, flags)).code, 0);
  auto again = read_json(run / "mask.json");
  again.erase("saved");
  auto first = m;
  first.erase("saved");
  EXPECT_EQ(again, first);

  // verdict: every hypothesis gets one of the stated outcomes.
  const auto v_run = run_cli({"verdict", run.string()});
  ASSERT_EQ(v_run.code, 0) << v_run.err;
  const auto v = read_json(run / "verdicts.json");
  ASSERT_EQ(v["hypotheses"].size(), 4u);
  const std::set<std::string> outcomes = {"supported", "not supported", "inconclusive", "not applicable"};
  for (const auto& h : v["hypotheses"]) EXPECT_EQ(outcomes.count(h["verdict"].get<std::string>()), 1u) << h.dump();
  EXPECT_NE(v_run.out.find("H3"), std::string::npos);

  // clean: the detectors at both chosen epochs, on the probe set, and a row per training sample.
  const auto c_run = run_cli({"clean", run.string(), "--quiet"});
  ASSERT_EQ(c_run.code, 0) << c_run.err;
  EXPECT_NE(c_run.out.find("AUROC"), std::string::npos) << c_run.out;
  const CleanRecord clean = *read_clean_record(run / "clean.json");
  EXPECT_EQ(clean.training_samples, 400);
  EXPECT_EQ(clean.replaced_labels, 80);
  EXPECT_EQ(clean.top, 80);
  EXPECT_EQ(clean.listed_epoch, track["well_trained"]["epoch"].get<int64_t>());
  ASSERT_GE(clean.evaluations.size(), 1u);
  EXPECT_EQ(clean.evaluations[0].role, "well_trained");
  EXPECT_EQ(clean.evaluations[0].samples, 80);  // the probe set
  EXPECT_EQ(clean.evaluations[0].detectors.size(), label_noise_detectors().size());
  for (const auto& d : clean.evaluations[0].detectors) {
    EXPECT_GE(d.auroc, 0.0) << d.name;
    EXPECT_LE(d.auroc, 1.0) << d.name;
  }
  EXPECT_EQ(clean.flagged.at("loss").size(), 80u);
  EXPECT_EQ(clean.flagged.at("gmm_filters").size(), 80u);  // flagged among the 80 probe samples
  std::istringstream clean_csv(read_file(run / "clean.csv"));
  int clean_rows = -1;
  for (std::string l; std::getline(clean_csv, l);) ++clean_rows;
  EXPECT_EQ(clean_rows, 400);
  EXPECT_EQ(CleanRecord::from_json(clean.to_json(), "c").to_json(), clean.to_json());
  const auto bad_epoch = run_cli({"clean", run.string(), "--epoch", "7"});
  EXPECT_EQ(bad_epoch.code, 1);
  EXPECT_NE(bad_epoch.err.find("--epoch 7: " + run.string() + " has 3 trained epoch(s)"), std::string::npos)
      << bad_epoch.err;

  // clean --retrain: the same seed without 20 flagged samples against 20 random ones.
  const auto rt = run_cli({"clean", run.string(), "--quiet", "--retrain", "--retrain-detector", "aum", "--retrain-top", "20"});
  ASSERT_EQ(rt.code, 0) << rt.err;
  EXPECT_NE(rt.out.find("without flagged"), std::string::npos) << rt.out;
  const std::string retrain_text = read_file(run / "retrain-aum/retrain.json");
  const RetrainRecord retrain = RetrainRecord::from_json(nlohmann::json::parse(retrain_text), "retrain.json");
  ASSERT_EQ(retrain.arms.size(), 2u);
  const RunRecord parent_record = read_run_record(run);
  for (const RetrainArm& arm : retrain.arms) {
    EXPECT_EQ(arm.removed, 20);
    const RunRecord arm_record = read_run_record(arm.run_dir);
    EXPECT_EQ(arm_record.dataset.train_indices.size(), 380u);
    EXPECT_EQ(arm_record.label_noise.count, 80 - arm.removed_replaced) << arm.name;
    EXPECT_EQ(arm_record.settings.train.seed, parent_record.settings.train.seed);
    EXPECT_EQ(arm_record.dataset.val_indices, parent_record.dataset.val_indices);
  }
  // The flagged arm leaves out exactly the detector's top 20.
  const RunRecord flagged_arm = read_run_record(retrain.arms[0].run_dir);
  const std::set<int64_t> kept(flagged_arm.dataset.train_indices.begin(), flagged_arm.dataset.train_indices.end());
  for (size_t i = 0; i < 20; ++i)
    EXPECT_EQ(kept.count(parent_record.dataset.train_indices[static_cast<size_t>(clean.flagged.at("aum")[i])]), 0u);
  ASSERT_FALSE(retrain.epochs.empty());
  for (const RetrainEpoch& e : retrain.epochs)
    EXPECT_NEAR(static_cast<double>(e.flagged_vs_random.improved - e.flagged_vs_random.worsened) / val_images,
                e.flagged_val_acc - e.random_val_acc, 1e-12);
  // Again: nothing is retrained and the record is the same; another k is refused, not mixed in.
  // "Nothing is retrained" is read from the arms' files (the runs in retrain-aum/'s folders): none is
  // written again (same modification times), whatever the console says. The record beside them is
  // written again with the same text.
  std::map<std::string, std::filesystem::file_time_type> written;
  const auto in_arm = [&](const std::filesystem::directory_entry& f) {
    return f.is_regular_file() && f.path().parent_path() != run / "retrain-aum";
  };
  for (const auto& f : std::filesystem::recursive_directory_iterator(run / "retrain-aum"))
    if (in_arm(f)) written[f.path().string()] = f.last_write_time();
  ASSERT_GT(written.size(), 3u);
  const auto again_rt = run_cli({"clean", run.string(), "--quiet", "--retrain", "--retrain-detector", "aum", "--retrain-top", "20"});
  ASSERT_EQ(again_rt.code, 0) << again_rt.err;
  for (const auto& f : std::filesystem::recursive_directory_iterator(run / "retrain-aum"))
    if (in_arm(f))
      EXPECT_TRUE(written.count(f.path().string()) && written[f.path().string()] == f.last_write_time())
          << f.path() << " was written again";
  EXPECT_EQ(read_file(run / "retrain-aum/retrain.json"), retrain_text);
  const auto other_k = run_cli({"clean", run.string(), "--retrain", "--retrain-detector", "aum", "--retrain-top", "10"});
  EXPECT_EQ(other_k.code, 1);
  EXPECT_NE(other_k.err.find("lists other samples than this request removes"), std::string::npos) << other_k.err;
  const auto unknown = run_cli({"clean", run.string(), "--retrain", "--retrain-detector", "magic"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("--retrain-detector magic: not a detector"), std::string::npos) << unknown.err;

  // study: one seed is a study of one; the same seed twice is refused.
  const auto one = run_cli({"study", run.string(), "--out", (dir / "study").string(), "--quiet"});
  ASSERT_EQ(one.code, 0) << one.err;
  const StudyRecord study = *read_study_record(dir / "study/study.json");
  EXPECT_EQ(study.seeds, (std::vector<int64_t>{0}));
  ASSERT_EQ(study.hypotheses.size(), 4u);
  EXPECT_EQ(study.detectors.size(), 2 * label_noise_detectors().size());
  EXPECT_EQ(StudyRecord::from_json(study.to_json(), "s").to_json(), study.to_json());
  const auto twice = run_cli({"study", run.string(), run.string(), "--out", (dir / "study").string()});
  EXPECT_EQ(twice.code, 1);
  EXPECT_NE(twice.err.find("seed 0 appears twice"), std::string::npos) << twice.err;

  // Settings under which nothing is flagged: mask and gradients say so.
  const std::vector<std::string> calm = {"--split", "train", "--probe-size", "150", "--layers", "features.7",
                                         "--reanalyse", "--quiet"};
  const auto nothing = run_cli(with({"mask", run.string()}, calm));
  ASSERT_EQ(nothing.code, 0) << nothing.err;
  EXPECT_NE(nothing.out.find("has no anomaly filters: nothing to mask"), std::string::npos) << nothing.out;
  const auto no_outliers = run_cli(with({"gradients", run.string()}, calm));
  ASSERT_EQ(no_outliers.code, 0) << no_outliers.err;
  EXPECT_NE(no_outliers.out.find("no outlier samples"), std::string::npos) << no_outliers.out;
  const auto calm_verdict = run_cli({"verdict", run.string()});
  EXPECT_NE(calm_verdict.out.find("nothing to mask"), std::string::npos) << calm_verdict.out;
}

TEST(Study, VerdictOfAnEmptyRunSaysWhatIsMissing) {
  TempDir dir;
  std::filesystem::create_directories(dir / "run");
  // A folder that is not a run is refused, and nothing is written into it.
  const auto empty = run_cli({"verdict", (dir / "run").string()});
  EXPECT_EQ(empty.code, 1);
  EXPECT_NE(empty.err.find("not a run directory (no run.json"), std::string::npos) << empty.err;
  EXPECT_TRUE(std::filesystem::is_empty(dir / "run"));
  // A run with nothing analysed yet: every hypothesis says what to run (verdict reads no run.json).
  testing::write_bytes(dir / "run" / "run.json", "{}");
  const auto v = run_cli({"verdict", (dir / "run").string()});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_NE(v.out.find("not run"), std::string::npos);
  const auto none = run_cli({"verdict", (dir / "nowhere").string()});
  EXPECT_NE(none.err.find("no such run directory"), std::string::npos);
}

}  // namespace
}  // namespace filterscope

namespace filterscope {
namespace {

// The samples file of one epoch, read here with plain string handling: position -> {loss, margin}.
std::map<int64_t, std::pair<double, double>> loss_and_margin(const std::filesystem::path& file) {
  std::istringstream in(read_file(file));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "position,dataset_index,label,prediction,loss,margin,correct");
  std::map<int64_t, std::pair<double, double>> out;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream s(line);
    for (std::string v; std::getline(s, v, ',');) f.push_back(v);
    out[std::stoll(f.at(0))] = {std::stod(f.at(4)), std::stod(f.at(5))};
  }
  return out;
}

// The `top` positions by score, highest first (ties by position).
std::set<int64_t> top_positions(const std::map<int64_t, double>& score, size_t top) {
  std::vector<std::pair<double, int64_t>> order;
  for (const auto& [p, v] : score) order.push_back({-v, p});
  std::sort(order.begin(), order.end());
  std::set<int64_t> out;
  for (size_t i = 0; i < top && i < order.size(); ++i) out.insert(order[i].second);
  return out;
}

// clean on a run trained without label noise and never tracked: no ground truth and no analysis,
// so the detectors that need neither list their flags at the last epoch and nothing is scored.
TEST(CleanCommand, RunWithoutLabelNoiseOrTrackListsFlagsAtTheLastEpoch) {
  TempDir dir;
  const auto run = dir / "run";
  ASSERT_EQ(run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "300", "--train-size", "100", "--val-size",
                     "50", "--epochs", "2", "--quiet", "--threads", "1", "--out", run.string()})
                .code,
            0);
  ASSERT_FALSE(std::filesystem::exists(run / "track.json"));
  const auto r = run_cli({"clean", run.string(), "--folds", "2", "--threads", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("the run has no replaced labels"), std::string::npos) << r.err;
  const CleanRecord clean = *read_clean_record(run / "clean.json");
  EXPECT_EQ(clean.replaced_labels, 0);
  EXPECT_TRUE(clean.evaluations.empty());
  EXPECT_EQ(clean.listed_epoch, 2);  // the last epoch: no track.json names a well-trained one
  EXPECT_EQ(clean.training_samples, 100);
  EXPECT_EQ(clean.flagged.count("gmm_filters"), 0u) << "a detector that needs an analysis ran without one";
  // The loss and AUM flags against the samples files: the highest loss at epoch 2, the lowest mean
  // margin over epochs 1 and 2.
  const auto e1 = loss_and_margin(run / "samples/epoch-001.csv"), e2 = loss_and_margin(run / "samples/epoch-002.csv");
  ASSERT_EQ(e2.size(), 100u);
  std::map<int64_t, double> loss, aum;
  for (const auto& [p, lm] : e2) {
    loss[p] = lm.first;
    aum[p] = -(e1.at(p).second + lm.second) / 2;
  }
  const size_t top = static_cast<size_t>(clean.top);
  ASSERT_GT(top, 0u);
  const auto& flagged_loss = clean.flagged.at("loss");
  const auto& flagged_aum = clean.flagged.at("aum");
  EXPECT_EQ(std::set<int64_t>(flagged_loss.begin(), flagged_loss.end()), top_positions(loss, top));
  EXPECT_EQ(std::set<int64_t>(flagged_aum.begin(), flagged_aum.end()), top_positions(aum, top));
}

}  // namespace
}  // namespace filterscope
