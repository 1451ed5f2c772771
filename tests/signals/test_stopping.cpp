// The stopping rules of the training signals on hand-made curves (known answers), the registry, and
// the power-law fit on cases worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/signals/signal.h"
#include "filterscope/signals/stopping.h"
#include "filterscope/signals/weight_spectrum.h"
#include "test_util.h"

namespace filterscope {
namespace {

StopRuleOptions rule(StopRule r, int64_t window, int64_t patience, double threshold = 0) {
  return StopRuleOptions{r, window, patience, threshold};
}

TEST(Stopping, TrailingAverageSkipsMissingValues) {
  const auto s = trailing_average({NAN, 2, 4, NAN, 8}, 2);
  EXPECT_TRUE(std::isnan(s[0]));
  EXPECT_DOUBLE_EQ(s[1], 2);
  EXPECT_DOUBLE_EQ(s[2], 3);
  EXPECT_DOUBLE_EQ(s[3], 4);
  EXPECT_DOUBLE_EQ(s[4], 8);
}

TEST(Stopping, MinWithPatienceFiresAfterPatienceEpochs) {
  // Lowest at epoch 3; epochs 4 and 5 do not beat it: with patience 2 the rule fires at 5.
  const std::vector<double> curve = {5, 4, 1, 2, 3, 0.5};
  const StopDecision d = decide_stop(curve, rule(StopRule::MinWithPatience, 1, 2));
  EXPECT_TRUE(d.fired);
  EXPECT_EQ(d.fired_at, 5);
  EXPECT_EQ(d.predicted, 3);
  // Patience 3: epoch 6 beats it before the rule fires; never fired, best overall is epoch 6.
  const StopDecision late = decide_stop(curve, rule(StopRule::MinWithPatience, 1, 3));
  EXPECT_FALSE(late.fired);
  EXPECT_EQ(late.predicted, 6);
  // A tie does not count as better: the first minimum stays.
  const StopDecision tie = decide_stop({3, 1, 1, 1}, rule(StopRule::MinWithPatience, 1, 2));
  EXPECT_TRUE(tie.fired);
  EXPECT_EQ(tie.predicted, 2);
  EXPECT_EQ(tie.fired_at, 4);
}

TEST(Stopping, MaxWithPatienceAndSmoothing) {
  // Smoothed with a window of 2: 1, 2, 4, 4.5, 3.5, 2 -> highest at epoch 4, fires at 6 with patience 2.
  const StopDecision d = decide_stop({1, 3, 5, 4, 3, 1}, rule(StopRule::MaxWithPatience, 2, 2));
  EXPECT_DOUBLE_EQ(d.smoothed[3], 4.5);
  EXPECT_TRUE(d.fired);
  EXPECT_EQ(d.predicted, 4);
  EXPECT_EQ(d.fired_at, 6);
}

TEST(Stopping, ThresholdRulesJustBelowAtAndAbove) {
  const std::vector<double> curve = {-0.2, -1e-9, 0.0, 1e-9, 0.3};
  const StopDecision above = decide_stop(curve, rule(StopRule::FirstAbove, 1, 1, 0.0));
  EXPECT_EQ(above.predicted, 4);  // 0.0 itself is not above
  EXPECT_TRUE(above.fired);
  const StopDecision below = decide_stop({2.5, 2.0, 1.99, 1.5}, rule(StopRule::FirstBelow, 1, 1, 2.0));
  EXPECT_EQ(below.predicted, 3);  // 2.0 is not below 2
  const StopDecision never = decide_stop({2.5, 2.1}, rule(StopRule::FirstBelow, 1, 1, 2.0));
  EXPECT_FALSE(never.fired);
  EXPECT_EQ(never.predicted, 2);  // not fired: the last epoch
  EXPECT_EQ(decide_stop({NAN, NAN}, rule(StopRule::FirstBelow, 1, 1, 2.0)).predicted, 0);
}

TEST(Stopping, PlateauIsARelativeFallBelowTheShare) {
  // Falls of 50 %, 50 %, then 12.5 % and 3.6 % over one epoch (values exact in binary); a plateau
  // at 6 % fires at epoch 5.
  const std::vector<double> curve = {8, 4, 2, 1.75, 1.6875};
  const StopDecision d = decide_stop(curve, rule(StopRule::Plateau, 1, 1, 0.06));
  EXPECT_TRUE(d.fired);
  EXPECT_EQ(d.predicted, 5);
  // At exactly the share (12.5 %) it has not plateaued; just above it has.
  EXPECT_EQ(decide_stop(curve, rule(StopRule::Plateau, 1, 1, 0.125)).predicted, 5);
  EXPECT_EQ(decide_stop(curve, rule(StopRule::Plateau, 1, 1, 0.1250001)).predicted, 4);
}

TEST(Signals, RegistryNamesAndSelection) {
  std::vector<std::string> names;
  for (const auto& s : training_signals()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"anomaly_count", "small_cluster_share", "label_wave", "gsnr",
                                             "eb_criterion", "gradient_disparity", "weight_alpha", "train_loss"}));
  EXPECT_EQ(select_signals("all").size(), names.size());
  EXPECT_EQ(select_signals("train_loss,label_wave").size(), 2u);
  EXPECT_EQ(select_signals("train_loss,label_wave")[0]->name, "label_wave");  // registry order
  for (const SignalInfo* s : select_signals("live")) EXPECT_FALSE(s->needs.analysis) << s->name;
  const std::string e = testing::error_of([] { select_signals("label_wave,validation_loss"); });
  EXPECT_NE(e.find("--signals: unknown signal 'validation_loss' (one of anomaly_count, small_cluster_share"), std::string::npos)
      << e;
  EXPECT_THROW(select_signals(","), UsageError);
  // The EB criterion names its assumption when the optimiser is not plain gradient descent.
  const SignalInfo* eb = select_signals("eb_criterion")[0];
  EXPECT_EQ(eb->assumption({"sgd", 0.0, 0.0}), "");
  EXPECT_NE(eb->assumption({"adam", 0.0, 0.0}).find("the run used adam"), std::string::npos);
  EXPECT_NE(eb->assumption({"sgd", 0.9, 0.0}).find("momentum"), std::string::npos);
}

TEST(WeightSpectrum, PowerLawFitOfAHandWorkedCase) {
  // x = 1, 2, 4. xmin = 1: alpha = 1 + 3 / (3 ln 2); D over x/xmin = 1, 2, 4 against 0, 1/3, 2/3.
  // xmin = 2: alpha = 1 + 2 / ln 2; D over 1, 2 against 0, 1/2. The smaller D wins.
  const PowerLawFit fit = fit_power_law({4, 1, 2});
  const double a1 = 1 + 1 / std::log(2.0);
  double d1 = 0;
  const double xs[] = {1, 2, 4};
  for (int j = 0; j < 3; ++j) d1 = std::max(d1, std::abs(1 - std::pow(xs[j], 1 - a1) - j / 3.0));
  const double a2 = 1 + 2 / std::log(2.0);
  const double d2 = std::max(0.0, std::abs(1 - std::pow(2.0, 1 - a2) - 0.5));
  EXPECT_EQ(fit.eigenvalues, 3);
  if (d1 <= d2) {
    EXPECT_DOUBLE_EQ(fit.alpha, a1);
    EXPECT_DOUBLE_EQ(fit.xmin, 1.0);
  } else {
    EXPECT_DOUBLE_EQ(fit.alpha, a2);
    EXPECT_DOUBLE_EQ(fit.xmin, 2.0);
  }
  EXPECT_DOUBLE_EQ(fit.ks_distance, std::min(d1, d2));
  EXPECT_TRUE(std::isnan(fit_power_law({3.0}).alpha));
}

TEST(WeightSpectrum, ConvolutionSlicesArePooled) {
  // A [2, 3, 1, 2] weight: two [2, 3] slices, two singular values each.
  const at::Tensor w = at::arange(12, at::kDouble).view({2, 3, 1, 2});
  const auto evals = layer_eigenvalues(w);
  ASSERT_EQ(evals.size(), 4u);
  std::vector<double> expected;
  for (int64_t j = 0; j < 2; ++j) {
    const at::Tensor s = at::linalg_svdvals(w.select(3, j).select(2, 0));
    for (int64_t i = 0; i < 2; ++i) expected.push_back(s[i].item<double>() * s[i].item<double>());
  }
  std::sort(expected.begin(), expected.end());
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(evals[i], expected[i], 1e-9 * expected.back());
  EXPECT_TRUE(layer_eigenvalues(at::ones({5})).empty());
}

}  // namespace
}  // namespace filterscope
