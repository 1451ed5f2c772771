#include <gtest/gtest.h>

#include <cmath>

#include "filterscope/runs/stats.h"

namespace filterscope {
namespace {

// Reference values from scipy 1.10 (Debian 12): mannwhitneyu(x, y, alternative="greater",
// method="asymptotic", use_continuity=True) and hypergeom.sf(k - 1, N, K, n).
TEST(Stats, MannWhitneyMatchesScipy) {
  const RankSumTest t = mann_whitney_greater({3.1, 2.2, 5.0, 4.4, 4.4, 6.1}, {1.0, 2.2, 0.5, 3.3, 2.0, 1.5, 4.4, 0.9});
  EXPECT_DOUBLE_EQ(t.u, 42.5);
  EXPECT_NEAR(t.p_greater, 0.009728323387268452, 1e-12);
  // Swapping the sides turns the question around.
  EXPECT_GT(mann_whitney_greater({1.0, 2.2, 0.5, 3.3, 2.0, 1.5, 4.4, 0.9}, {3.1, 2.2, 5.0, 4.4, 4.4, 6.1}).p_greater, 0.98);
  EXPECT_TRUE(std::isnan(mann_whitney_greater({}, {1.0}).p_greater));
  EXPECT_TRUE(std::isnan(mann_whitney_greater({1.0, 1.0}, {1.0}).p_greater));  // all tied
}

TEST(Stats, HypergeometricTailMatchesScipy) {
  EXPECT_NEAR(hypergeometric_upper_tail(1000, 200, 42, 13), 0.0580672917314755, 1e-12);
  EXPECT_NEAR(hypergeometric_upper_tail(50, 10, 8, 5), 0.004951593809886089, 1e-12);
  EXPECT_DOUBLE_EQ(hypergeometric_upper_tail(50, 10, 8, 0), 1.0);
  EXPECT_DOUBLE_EQ(hypergeometric_upper_tail(50, 10, 8, 9), 0.0);
}

TEST(Stats, EnrichmentOfOutliersInReplacedLabels) {
  AnalysisRecord analysis;
  analysis.probe_set.size = 1000;
  analysis.probe_set.label_replaced = std::vector<int64_t>(200, 0);
  for (int i = 0; i < 42; ++i) {
    OutlierRecord o;
    o.position = i;
    o.label_replaced = i < 13;
    analysis.outliers.push_back(o);
  }
  const auto e = label_noise_enrichment(analysis);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->replaced_outliers, 13);
  EXPECT_DOUBLE_EQ(e->precision, 13.0 / 42);
  EXPECT_DOUBLE_EQ(e->recall, 13.0 / 200);
  EXPECT_DOUBLE_EQ(e->base_rate, 0.2);
  EXPECT_NEAR(e->ratio, 13.0 / 42 / 0.2, 1e-12);
  EXPECT_NEAR(e->p_value, 0.0580672917314755, 1e-12);
  // A validation probe set records no replaced labels: no enrichment, rather than a made-up one.
  analysis.probe_set.label_replaced.reset();
  EXPECT_FALSE(label_noise_enrichment(analysis).has_value());
}

}  // namespace
}  // namespace filterscope
