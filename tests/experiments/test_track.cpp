#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "filterscope/core/files.h"
#include "filterscope/experiments/track.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/run_analysis.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::read_json;
using testing::run_cli;
using testing::TempDir;

TEST(Track, SpearmanKnownAnswers) {
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 5, 2, 9}, {0.1, 0.7, 0.3, 2.0}), 1.0);  // ranks, not values
  // Ties take the mean rank: x ranks 1, 2.5, 2.5, 4 against 1, 2, 3, 4 -> 4.5 / sqrt(4.5 * 5).
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 4.5 / std::sqrt(22.5), 1e-12);
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));  // constant side
  EXPECT_TRUE(std::isnan(spearman({1, 2}, {1, 2})));        // too few pairs
}

TEST(Track, EveryKthEpochAndTheLast) {
  EXPECT_EQ(tracked_epochs({1, 2, 3, 4, 5, 6, 7}, 3), (std::vector<int64_t>{3, 6, 7}));
  EXPECT_EQ(tracked_epochs({1, 2, 3}, 1), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(tracked_epochs({2, 4}, 4), (std::vector<int64_t>{4}));
}

TEST(Track, AnalysesEveryEpochReusesThemAndRefusesOtherSettings) {
  TempDir dir;
  const auto run = dir / "run";
  ASSERT_EQ(run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "900", "--train-size", "400", "--val-size",
                     "120", "--epochs", "3", "--quiet", "--label-noise", "0.2", "--out", run.string()})
                .code,
            0);
  const std::vector<std::string> args = {"track", run.string(), "--probe-size", "80", "--split", "train",
                                         "--small-cluster", "0.05"};
  const auto first = run_cli(args);
  ASSERT_EQ(first.code, 0) << first.err;
  const auto t = read_json(run / "track.json");
  ASSERT_EQ(t["epochs"].size(), 3u);
  for (const auto& e : t["epochs"]) {
    const auto a = read_json(RunLayout(run).analysis_json(e["epoch"].get<int64_t>()));
    EXPECT_EQ(e["anomaly_filters"], a["summary"]["anomaly_filters"]);
    EXPECT_EQ(e["outlier_samples"], a["summary"]["outlier_samples"]);
  }
  // The well-trained epoch follows the stated rule; the overfit one is the last.
  int64_t best = 0;
  double lowest = 1e300;
  for (const auto& e : t["epochs"])
    if (e["val_loss"].get<double>() < lowest) lowest = e["val_loss"].get<double>(), best = e["epoch"].get<int64_t>();
  EXPECT_EQ(t["well_trained"]["epoch"], best);
  EXPECT_EQ(t["overfit"]["epoch"], 3);
  EXPECT_TRUE(t["spearman"].contains("anomaly_filters"));
  const std::string csv = read_file(run / "track.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  EXPECT_NE(first.out.find("Table 2"), std::string::npos);

  // Again with the same settings: every analysis is reused, the answer is the same.
  const auto second = run_cli(args);
  ASSERT_EQ(second.code, 0) << second.err;
  size_t reused = 0;
  for (size_t at = second.err.find("earlier analysis reused"); at != std::string::npos;
       at = second.err.find("earlier analysis reused", at + 1))
    ++reused;
  EXPECT_EQ(reused, 3u) << second.err;
  EXPECT_EQ(read_json(run / "track.json")["epochs"], t["epochs"]);

  // Other settings: a clear stop, then --reanalyse redoes them.
  auto other = args;
  other.insert(other.end(), {"--beta", "1.3"});
  const auto refused = run_cli(other);
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.err.find("was made with other settings than requested: --beta 1.0 there, 1.3 now; use the same flags, "
                             "or --reanalyse to analyse again"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1);
  EXPECT_LT(refused.err.size(), 400u) << "the settings, not two JSON dumps: " << refused.err;
  other.push_back("--reanalyse");
  ASSERT_EQ(run_cli(other).code, 0);
  EXPECT_EQ(read_json(RunLayout(run).analysis_json(1))["settings"]["anomaly"]["beta"], 1.3);

  // A run directory without checkpoints.
  std::filesystem::remove_all(run / "checkpoints");
  std::filesystem::create_directories(run / "checkpoints");
  const auto empty = run_cli(args);
  EXPECT_NE(empty.err.find("the run has no checkpoints"), std::string::npos) << empty.err;
}

// The refusal names each differing setting by its flag, the probe set's as --split/--probe-size/--probe-seed.
TEST(Track, RequestDifferenceNamesTheFlags) {
  const nlohmann::json a = {{"settings", {{"layers", "all"}, {"anomaly", {{"beta", 1.0}, {"small-cluster", 0.02}}}}},
                            {"probe_set", {{"split", "val"}, {"size", 200}, {"seed", 0}}}};
  nlohmann::json b = a;
  b["probe_set"]["size"] = 300;
  b["settings"]["anomaly"]["small-cluster"] = 0.05;
  EXPECT_EQ(request_difference(a, b), "--probe-size 200 there, 300 now, --small-cluster 0.02 there, 0.05 now");
  b = a;
  b["settings"].erase("layers");
  EXPECT_EQ(request_difference(a, b), "--layers \"all\" there, (not set) now");
  EXPECT_EQ(request_difference(a, a), "(no difference found)");
}

}  // namespace
}  // namespace filterscope
