#include <gtest/gtest.h>

#include "filterscope/experiments/verdicts.h"

namespace filterscope {
namespace {

nlohmann::json track(int64_t well, int64_t overfit, double rho, bool dropped, nlohmann::json enrichment = nullptr) {
  return {{"well_trained", {{"epoch", 10}, {"anomaly_filters", well}}},
          {"overfit", {{"epoch", 30}, {"anomaly_filters", overfit}, {"enrichment", enrichment}}},
          {"val_acc_dropped", dropped},
          {"spearman",
           {{"anomaly_filters", {{"generalisation_gap", rho}}}, {"mean_small_share", {{"generalisation_gap", 0.9}}}}}};
}

nlohmann::json gradients(int64_t outliers, double ratio, double p) {
  return {{"epochs",
           {{{"role", "well_trained"}, {"epoch", 10}},
            {{"role", "overfit"},
             {"epoch", 30},
             {"outlier_samples", outliers},
             {"normal_samples", 1000 - outliers},
             {"layers_outliers_larger", 2},
             {"layers", nlohmann::json::array({1, 2, 3})},
             {"overall", {{"ratio", ratio}, {"mann_whitney", {{"p_greater", p}}}}}}}}};
}

nlohmann::json mask(int64_t filters, double share, double mean, double sd) {
  return {{"epoch", 30},
          {"anomaly_filters", filters},
          {"before", {{"val_acc", 0.7}}},
          {"one_at_a_time", {{"share_val_up", share}}},
          {"random_baseline", {{"share_val_up", {{"mean", mean}, {"sd", sd}}}}},
          {"all_at_once", {{"val_acc", 0.71}}}};
}

std::string outcome(const nlohmann::json& v, const std::string& id) {
  for (const auto& h : v["hypotheses"])
    if (h["id"] == id) return h["verdict"];
  return "missing";
}

TEST(Verdicts, HypothesisOneFollowsTheRule) {
  EXPECT_EQ(outcome(compute_verdicts(track(2, 6, 0.5, true), nullptr, nullptr), "1"), "supported");
  EXPECT_EQ(outcome(compute_verdicts(track(6, 2, -0.2, true), nullptr, nullptr), "1"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(track(2, 2, 0.1, true), nullptr, nullptr), "1"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(track(2, 6, 0.1, true), nullptr, nullptr), "1"), "inconclusive");
  // Without a drop in validation accuracy the run is not overfit in the paper's sense.
  EXPECT_EQ(outcome(compute_verdicts(track(2, 6, 0.9, false), nullptr, nullptr), "1"), "inconclusive");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, nullptr, nullptr), "1"), "not run");
}

TEST(Verdicts, HypothesisTwoNeedsASignificantlyLargerGradient) {
  EXPECT_EQ(outcome(compute_verdicts(nullptr, gradients(40, 1.6, 0.001), nullptr), "2"), "supported");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, gradients(40, 1.6, 0.2), nullptr), "2"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, gradients(40, 0.7, 0.99), nullptr), "2"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, gradients(3, 3.0, 0.001), nullptr), "2"), "inconclusive");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, nullptr, nullptr), "2"), "not run");
}

TEST(Verdicts, EnrichmentOnlyWhereLabelsWereReplaced) {
  const nlohmann::json enriched = {{"replaced", 200}, {"outliers", 40}, {"replaced_outliers", 30},
                                   {"precision", 0.75}, {"recall", 0.15}, {"base_rate", 0.2},
                                   {"ratio", 3.75},     {"p_value", 1e-9}};
  EXPECT_EQ(outcome(compute_verdicts(track(1, 2, 0.5, true, enriched), nullptr, nullptr), "2b"), "supported");
  nlohmann::json weak = enriched;
  weak["ratio"] = 1.2;
  weak["p_value"] = 0.3;
  EXPECT_EQ(outcome(compute_verdicts(track(1, 2, 0.5, true, weak), nullptr, nullptr), "2b"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(track(1, 2, 0.5, true), nullptr, nullptr), "2b"), "not applicable");
}

TEST(Verdicts, HypothesisThreeAgainstTheRandomBaseline) {
  EXPECT_EQ(outcome(compute_verdicts(nullptr, nullptr, mask(5, 0.6, 0.1, 0.1)), "3"), "supported");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, nullptr, mask(5, 0.2, 0.1, 0.1)), "3"), "inconclusive");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, nullptr, mask(5, 0.1, 0.1, 0.1)), "3"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, nullptr, mask(2, 1.0, 0.0, 0.0)), "3"), "inconclusive");
  EXPECT_EQ(outcome(compute_verdicts(nullptr, nullptr, mask(0, 0, 0, 0)), "3"), "inconclusive");
}

}  // namespace
}  // namespace filterscope
