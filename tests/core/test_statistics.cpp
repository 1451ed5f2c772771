// The exact tests and detection scores of core/statistics against values computed once with
// scipy 1.10 and scikit-learn 1.2 (Debian 12), the calls written beside each figure.
#include <gtest/gtest.h>

#include <cmath>

#include "filterscope/core/statistics.h"

namespace filterscope {
namespace {

TEST(Statistics, BinomialUpperTailMatchesScipy) {
  EXPECT_NEAR(binomial_half_upper_tail(10, 7), 0.171875, 1e-16);             // binom.sf(6, 10, .5)
  EXPECT_NEAR(binomial_half_upper_tail(20, 15), 0.020694732666015625, 1e-15);  // binom.sf(14, 20, .5)
  EXPECT_NEAR(binomial_half_upper_tail(1000, 600), 1.364232078032988e-10, 1e-19);
  EXPECT_NEAR(binomial_half_upper_tail(2000, 1100), 4.228544767751906e-06, 1e-17);  // the lgamma path
  EXPECT_EQ(binomial_half_upper_tail(5, 0), 1.0);
  EXPECT_EQ(binomial_half_upper_tail(5, 6), 0.0);
  EXPECT_EQ(binomial_half_upper_tail(0, 0), 1.0);
}

TEST(Statistics, McNemarExactMatchesStatsmodelsDefinition) {
  // 12 images went wrong -> right, 3 right -> wrong.
  const McNemarTest t = mcnemar_exact(12, 3);
  EXPECT_NEAR(t.p_two_sided, 0.03515625, 1e-15);  // min(1, 2 binom.cdf(3, 15, .5))
  EXPECT_NEAR(t.p_improved, 0.017578125, 1e-15);  // binom.sf(11, 15, .5)
  EXPECT_NEAR(t.p_worsened, 0.996307373046875, 1e-15);
  // No discordant pair: nothing changed, no evidence either way.
  const McNemarTest none = mcnemar_exact(0, 0);
  EXPECT_EQ(none.p_two_sided, 1.0);
  EXPECT_EQ(none.p_improved, 1.0);
  // Symmetric.
  EXPECT_EQ(mcnemar_exact(3, 12).p_worsened, t.p_improved);
}

TEST(Statistics, SignTestAcrossSeeds) {
  EXPECT_DOUBLE_EQ(sign_test_greater(5, 0), 0.03125);  // binomtest(5, 5, alternative="greater")
  EXPECT_DOUBLE_EQ(sign_test_greater(4, 1), 0.1875);
  EXPECT_DOUBLE_EQ(sign_test_greater(2, 0), 0.25);     // two seeds can never reach 0.05
  EXPECT_EQ(sign_test_greater(0, 0), 1.0);
}

TEST(Statistics, FisherCombinationMatchesScipy) {
  EXPECT_NEAR(fisher_combined_p({0.01, 0.2, 0.5, 0.03}), 0.0076168718504490765, 1e-15);
  EXPECT_NEAR(fisher_combined_p({0.3}), 0.3, 1e-15);
  EXPECT_NEAR(fisher_combined_p({0.3, NAN}), 0.3, 1e-15);  // an untestable seed is left out
  EXPECT_TRUE(std::isnan(fisher_combined_p({NAN})));
  EXPECT_EQ(fisher_combined_p({0.0, 0.5}), 0.0);
}

// 40 items, scores rounded to one decimal so that ties occur (numpy default_rng(3)).
const std::vector<double> kScores = {2.0,  -2.6, 0.4,  -0.6, -0.5, -0.2, -1.2, -0.2, -0.9, 3.3, 1.0,  -0.4, 0.5, -0.7,
                                     -0.3, -0.4, 0.5,  -0.2, 1.8,  0.6,  0.0,  1.5,  0.5,  -0.5, 0.6, 0.5,  2.7, -0.3,
                                     -0.2, 1.0,  -0.9, -0.3, 0.9,  1.4,  0.1,  1.5,  -2.0, 1.8,  -1.0, -0.9};
const std::vector<int> kMarked = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1,
                                  0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1};

std::vector<bool> marked() { return std::vector<bool>(kMarked.begin(), kMarked.end()); }

TEST(Statistics, AurocAndAveragePrecisionMatchScikitLearnWithTies) {
  EXPECT_NEAR(auroc(kScores, marked()), 0.65099715099715105, 1e-12);              // roc_auc_score
  EXPECT_NEAR(average_precision(kScores, marked()), 0.5062814076805503, 1e-12);   // average_precision_score
  const RocCurve c = roc_curve(kScores, marked());
  ASSERT_EQ(c.false_positive_rate.size(), 25u);  // roc_curve(drop_intermediate=False): 24 thresholds + (0, 0)
  EXPECT_NEAR(c.false_positive_rate[1], 1.0 / 27, 1e-12);
  EXPECT_NEAR(c.true_positive_rate[2], 1.0 / 13, 1e-12);
  EXPECT_EQ(c.false_positive_rate.back(), 1.0);
  EXPECT_EQ(c.true_positive_rate.back(), 1.0);
  // A perfect and an inverted score; one class missing.
  EXPECT_EQ(auroc({3, 2, 1, 0}, {true, true, false, false}), 1.0);
  EXPECT_EQ(auroc({0, 1, 2, 3}, {true, true, false, false}), 0.0);
  EXPECT_EQ(auroc({1, 1, 1, 1}, {true, true, false, false}), 0.5);
  EXPECT_TRUE(std::isnan(auroc({1, 2}, {true, true})));
  EXPECT_TRUE(std::isnan(average_precision({1, 2}, {false, false})));
  EXPECT_EQ(average_precision({3, 2, 1, 0}, {true, true, false, false}), 1.0);
}

TEST(Statistics, PrecisionAndRecallAtTheNoiseRate) {
  // 13 marked of 40; flagging the top 13.
  const PrecisionRecall pr = precision_recall_at(kScores, marked(), 13);
  // numpy: m[np.argsort(-s, kind="stable")[:13]].sum() == 8 (scores 3.3 down to 0.6).
  EXPECT_EQ(pr.flagged, 13);
  EXPECT_EQ(pr.hits, 8);
  EXPECT_NEAR(pr.precision, 8.0 / 13, 1e-15);
  EXPECT_NEAR(pr.recall, 8.0 / 13, 1e-15);
  // Ties go to the lower index, so the choice is the same every time.
  EXPECT_EQ(top_k({1, 2, 2, 0}, 2), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(top_k({1, 2, 2, 0}, 9).size(), 4u);
  EXPECT_EQ(median({3, NAN, 1, 2, 10}), 2.5);
  EXPECT_TRUE(std::isnan(median({})));
}

}  // namespace
}  // namespace filterscope
