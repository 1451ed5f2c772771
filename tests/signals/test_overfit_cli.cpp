// `filterscope overfit`, the live alarm of `train`, `clean`'s confident learning and cartography on
// small synthetic runs: the files agree with each other, the live and the offline curves are the
// same, the folds really hold their samples out, and bad input stops with one clear line.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "filterscope/core/files.h"
#include "filterscope/experiments/label_noise.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/run_log.h"
#include "filterscope/signals/overfit_record.h"
#include "filterscope/signals/signal.h"
#include "filterscope/train/run_record.h"
#include "filterscope/train/sample_log.h"
#include "filterscope/train/trainer.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::read_json;
using testing::run_cli;
using testing::TempDir;

class Overfit : public testing::SuiteRun<Overfit> {
 protected:
  static void SetUpTestSuite() {
    train({"train", "--dataset", "synthetic", "--synthetic-size", "900", "--train-size", "300", "--val-size", "150",
           "--epochs", "6", "--label-noise", "0.2", "--quiet", "--threads", "1", "--signals", "label_wave,gsnr,weight_alpha,train_loss",
           "--signal-samples", "24", "--patience", "2"});
  }
};

TEST_F(Overfit, LiveAlarmAndOfflineCurvesAgree) {
  const RunLayout layout(run());
  // The live alarm wrote overfit.json while training.
  const auto live = read_overfit_record(layout.overfit_json());
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->source, "live");
  EXPECT_EQ(live->epochs, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  const auto r = run_cli({"overfit", run().string(), "--signals", "label_wave,gsnr,weight_alpha,train_loss",
                          "--signal-samples", "24", "--patience", "2", "--threads", "1", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto offline = read_overfit_record(layout.overfit_json());
  ASSERT_TRUE(offline.has_value());
  EXPECT_EQ(offline->source, "overfit");
  ASSERT_EQ(offline->signals.size(), live->signals.size());
  for (size_t i = 0; i < live->signals.size(); ++i) {
    const SignalCurve& a = live->signals[i];
    const SignalCurve& b = offline->signals[i];
    EXPECT_EQ(a.name, b.name);
    for (size_t e = 0; e < a.values.size(); ++e) {
      if (std::isnan(a.values[e])) {
        EXPECT_TRUE(std::isnan(b.values[e])) << a.name << " epoch " << e + 1;
        continue;
      }
      EXPECT_NEAR(a.values[e], b.values[e], 1e-9 * std::max(1.0, std::abs(a.values[e]))) << a.name << " epoch " << e + 1;
    }
    EXPECT_EQ(a.predicted_epoch, b.predicted_epoch) << a.name;
    EXPECT_EQ(a.fired_at, b.fired_at) << a.name;
  }
  // The csv has a column per signal; the run log the signal tables.
  const auto lines = testing::lines_of(layout.overfit_csv());
  EXPECT_EQ(lines.front(), "epoch,train_loss,train_acc,val_loss,val_acc,label_wave,gsnr,weight_alpha");
  EXPECT_EQ(lines.size(), 7u);
  RunLogReader log(layout.run_log());
  const LogSignals s = log.signals();
  EXPECT_EQ(s.stops.size(), 4u);
  EXPECT_EQ(s.values.size(), 4u * 6u);
  // Oracle and accuracy at the predicted epoch come from metrics.csv.
  const auto metrics = read_metrics(run());
  size_t best = 0;
  for (size_t i = 1; i < metrics.size(); ++i)
    if (metrics[i].val_loss < metrics[best].val_loss) best = i;
  ASSERT_TRUE(offline->oracle_epoch.has_value());
  EXPECT_EQ(*offline->oracle_epoch, metrics[best].epoch);
  for (const auto& c : offline->signals)
    if (c.predicted_epoch > 0)
      EXPECT_DOUBLE_EQ(c.val_acc_at_predicted, metrics[static_cast<size_t>(c.predicted_epoch - 1)].val_acc) << c.name;
}

TEST_F(Overfit, BadInputStopsWithOneLine) {
  TempDir dir;
  // One epoch: no curve to stop on.
  const auto one = dir / "one";
  ASSERT_EQ(run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "300", "--train-size", "100", "--val-size",
                     "50", "--epochs", "1", "--quiet", "--out", one.string()})
                .code,
            0);
  auto r = run_cli({"overfit", one.string(), "--quiet"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("1 trained epoch(s) in metrics.csv; a stopping epoch needs a curve of at least two"),
            std::string::npos)
      << r.err;
  // No checkpoints: the model signals say which file is missing.
  const auto copy = dir / "copy";
  std::filesystem::copy(run(), copy, std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(RunLayout(copy).checkpoints_dir());
  r = run_cli({"overfit", copy.string(), "--signals", "gsnr", "--quiet"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the run has no checkpoints"), std::string::npos) << r.err;
  // ... but the signals that need no model still run.
  r = run_cli({"overfit", copy.string(), "--signals", "label_wave,train_loss", "--quiet"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = run_cli({"overfit", run().string(), "--signals", "label_wave,validation", "--quiet"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--signals: unknown signal 'validation' (one of anomaly_count"), std::string::npos) << r.err;
  r = run_cli({"overfit", run().string(), "--split", "val", "--signals", "anomaly_count", "--quiet"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("must come from the training split"), std::string::npos) << r.err;
  r = run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "300", "--train-size", "100", "--epochs", "1",
               "--signals", "anomaly_count", "--quiet", "--out", (dir / "x").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("too slow for the live alarm"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x" / "run.json"));
  // A signal named outright that reads per-sample records, in a run that keeps none: refused first.
  r = run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "300", "--train-size", "100", "--epochs", "2",
               "--no-sample-log", "--signals", "label_wave", "--quiet", "--out", (dir / "y").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--signals: label_wave reads the per-sample records"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "y" / "run.json"));
}

// The default alarm ("live") in a run without per-sample records trains all the same: with the
// live signals that need no records, or, when every one of them needs them, with one line saying so.
TEST_F(Overfit, DefaultAlarmWithoutSampleRecordsTrains) {
  TempDir dir;
  const auto r = run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "300", "--train-size", "100",
                          "--val-size", "50", "--epochs", "2", "--no-sample-log", "--out", (dir / "run").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  bool any_without_records = false;
  for (const SignalInfo* s : select_signals("live")) any_without_records |= !s->needs.samples;
  const auto live = read_overfit_record(RunLayout(dir / "run").overfit_json());
  EXPECT_EQ(live.has_value(), any_without_records);
  EXPECT_EQ(r.err.find("no live overfitting alarm") != std::string::npos, !any_without_records) << r.err;
}

TEST_F(Overfit, CleanTrainsFoldsThatHoldTheirSamplesOut) {
  TempDir dir;
  const auto copy = dir / "run";
  std::filesystem::copy(run(), copy, std::filesystem::copy_options::recursive);
  const auto r = run_cli({"clean", copy.string(), "--folds", "2", "--epoch", "3", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const RunLayout layout(copy);
  const RunRecord parent = read_run_record(copy);
  std::set<int64_t> held_out;
  for (int64_t f = 0; f < 2; ++f) {
    const RunRecord fold = read_run_record(layout.fold_run(f, 2));
    const std::vector<int64_t> out = read_index_list(layout.fold_held_out(f, 2));
    const std::set<int64_t> trained(fold.dataset.train_indices.begin(), fold.dataset.train_indices.end());
    for (int64_t i : out) {
      EXPECT_EQ(trained.count(i), 0u) << "fold " << f << " trained on its held-out sample " << i;
      EXPECT_TRUE(held_out.insert(i).second) << "sample " << i << " held out twice";
    }
    EXPECT_EQ(trained.size() + out.size(), parent.dataset.train_indices.size());
  }
  EXPECT_EQ(held_out.size(), parent.dataset.train_indices.size());
  const auto clean = read_clean_record(layout.clean_json());
  ASSERT_TRUE(clean.has_value());
  ASSERT_TRUE(clean->confident_learning.has_value());
  EXPECT_EQ(clean->confident_learning->folds, 2);
  EXPECT_EQ(clean->confident_learning->epoch, 3);
  int64_t counted = 0;
  for (const auto& row : clean->confident_learning->confident_joint)
    for (int64_t v : row) counted += v;
  EXPECT_EQ(counted, clean->training_samples);  // calibrated: the joint sums to N
  // The flagged set's precision against the replaced labels, from the run's own record.
  std::set<int64_t> replaced;
  const auto positions = [&] {
    std::map<int64_t, int64_t> p;
    for (size_t i = 0; i < parent.dataset.train_indices.size(); ++i) p[parent.dataset.train_indices[i]] = static_cast<int64_t>(i);
    return p;
  }();
  for (int64_t index : parent.label_noise.dataset_indices) replaced.insert(positions.at(index));
  int64_t hits = 0;
  for (int64_t p : clean->confident_learning->flagged) hits += replaced.count(p);
  EXPECT_EQ(hits, clean->confident_learning->flagged_replaced);
  // Cartography: confidence is the mean of exp(-loss) over epochs 1..3 of the samples files.
  const auto history = read_sample_history(copy, 3);
  for (size_t i = 0; i < 5; ++i) {
    double mean = 0;
    for (int t = 0; t < 3; ++t) mean += std::exp(-history[static_cast<size_t>(t)].loss[i]) / 3;
    EXPECT_NEAR(clean->cartography_confidence[i], mean, 1e-12);
  }
  // The held-out probabilities are cached: a second clean trains nothing and writes the same file.
  const std::string first = read_file(layout.clean_json());
  const auto again = run_cli({"clean", copy.string(), "--folds", "2", "--epoch", "3"});
  ASSERT_EQ(again.code, 0);
  EXPECT_EQ(again.err.find("training fold"), std::string::npos) << again.err;
  EXPECT_EQ(read_file(layout.clean_json()), first);
}

}  // namespace
}  // namespace filterscope
