// The label-noise detectors on a hand-made history with known answers, the across-seed rule, and
// the per-sample records' CSV.
#include <gtest/gtest.h>

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/core/statistics.h"
#include "filterscope/experiments/label_noise.h"
#include "filterscope/experiments/seed_study.h"
#include "filterscope/train/sample_log.h"
#include "test_util.h"

namespace filterscope {
namespace {

// Four training samples (dataset indices 10..13) over three epochs:
//   0: right every epoch              margins  2,  3,  4
//   1: right, wrong, right            margins  1, -1,  2   (forgotten once)
//   2: never right                    margins -1, -2, -3
//   3: wrong, right, wrong            margins -1,  1, -2   (forgotten once)
std::vector<SampleEpoch> history() {
  const std::vector<std::vector<double>> margins = {{2, 1, -1, -1}, {3, -1, -2, 1}, {4, 2, -3, -2}};
  std::vector<SampleEpoch> h;
  for (int e = 0; e < 3; ++e) {
    SampleEpoch s;
    s.epoch = e + 1;
    s.dataset_index = {10, 11, 12, 13};
    s.label = {0, 1, 2, 3};
    for (int i = 0; i < 4; ++i) {
      const double m = margins[static_cast<size_t>(e)][static_cast<size_t>(i)];
      s.margin.push_back(m);
      s.prediction.push_back(m > 0 ? i : (i + 1) % 4);
      s.loss.push_back(0.1 * (e + 1) + i);
    }
    h.push_back(s);
  }
  return h;
}

// Probe samples 10, 11, 12 (13 is not in the probe set). Filter A (anomaly) puts 11 in a small
// cluster; filter B (not an anomaly) puts 11 and 12 in small clusters.
AnalysisRecord analysis() {
  AnalysisRecord a;
  a.probe_set.split = "train";
  a.probe_set.size = 3;
  a.probe_set.dataset_indices = {10, 11, 12};
  LayerRecord layer;
  FilterRecord fa, fb;
  fa.anomaly = true;
  fa.small_cluster_members = {11};
  fb.small_cluster_members = {11, 12};
  layer.filters = {fa, fb};
  a.layers = {layer};
  OutlierRecord o;
  o.dataset_index = 11;
  o.position = 1;
  a.outliers = {o};
  return a;
}

size_t index_of(const std::string& name) {
  const auto& d = label_noise_detectors();
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i].name == name) return i;
  ADD_FAILURE() << "no detector " << name;
  return 0;
}

TEST(LabelNoise, DetectorScoresOfAKnownHistory) {
  const auto h = history();
  const AnalysisRecord a = analysis();
  const auto s = detector_scores(h, 3, &a);
  ASSERT_EQ(s.size(), label_noise_detectors().size());
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(s[index_of("loss")][static_cast<size_t>(i)], 0.1 * 3 + i);
  EXPECT_DOUBLE_EQ(s[index_of("aum")][0], -3.0);
  EXPECT_DOUBLE_EQ(s[index_of("aum")][1], -2.0 / 3);
  EXPECT_DOUBLE_EQ(s[index_of("aum")][2], 2.0);
  EXPECT_DOUBLE_EQ(s[index_of("aum")][3], 2.0 / 3);
  // Never learned ranks above any count of forgetting events.
  EXPECT_EQ(s[index_of("forgetting")], (std::vector<double>{0, 1, 3, 1}));
  EXPECT_EQ(s[index_of("misclassified_epochs")], (std::vector<double>{0, 1, 3, 2}));
  const auto& gmm = s[index_of("gmm_filters")];
  EXPECT_DOUBLE_EQ(gmm[0], 0.0);
  EXPECT_DOUBLE_EQ(gmm[1], std::log(3.0) + std::log(1.5));
  EXPECT_DOUBLE_EQ(gmm[2], std::log(1.5));
  EXPECT_TRUE(std::isnan(gmm[3]));  // not a probe sample
  EXPECT_EQ(s[index_of("gmm_anomaly_filters")][1], 1.0);
  EXPECT_EQ(s[index_of("gmm_anomaly_filters")][2], 0.0);
  EXPECT_EQ(s[index_of("gmm_outlier")][1], 1.0);
  EXPECT_EQ(s[index_of("gmm_outlier")][0], 0.0);
  // Up to epoch 1 only: sample 1 has not been forgotten yet.
  const auto early = detector_scores(h, 1, nullptr);
  EXPECT_EQ(early[index_of("forgetting")], (std::vector<double>{0, 0, 1, 1}));
  EXPECT_TRUE(std::isnan(early[index_of("gmm_filters")][0]));
  EXPECT_THROW(detector_scores(h, 4, nullptr), Error);
}

TEST(LabelNoise, EvaluationOnTheProbeSetAgainstReplacedLabels) {
  const auto h = history();
  const AnalysisRecord a = analysis();
  // Samples 1 and 2 had their labels replaced.
  const std::vector<bool> replaced = {false, true, true, false};
  const NoiseDetectorEvaluation ev = evaluate_detectors(detector_scores(h, 3, &a), replaced, "overfit", 3);
  EXPECT_EQ(ev.samples, 3);  // the probe set: sample 3 has no gmm score
  EXPECT_EQ(ev.replaced, 2);
  // Every detector but confident learning, which has no held-out probabilities here.
  ASSERT_EQ(ev.detectors.size(), label_noise_detectors().size() - 1);
  for (const auto& d : ev.detectors) EXPECT_NE(d.name, "confident_learning");
  auto result = [&](const std::string& name) {
    for (const auto& d : ev.detectors)
      if (d.name == name) return d;
    ADD_FAILURE() << name;
    return NoiseDetectorResult{};
  };
  EXPECT_EQ(result("aum").auroc, 1.0);           // -3 < -2/3 < 2: both replaced above the clean one
  EXPECT_EQ(result("loss").auroc, 1.0);
  EXPECT_EQ(result("gmm_outlier").auroc, 0.75);  // 1 for sample 1, ties 0 for 0 and 2
  EXPECT_EQ(result("aum").hits, 2);
  EXPECT_EQ(result("aum").precision, 1.0);
  EXPECT_EQ(result("aum").roc_fpr.front(), 0.0);
  EXPECT_EQ(result("aum").roc_tpr.back(), 1.0);
  // Without an analysis every training sample is scored, and the gmm detectors are left out: loss,
  // aum, forgetting, misclassified epochs and cartography remain.
  const NoiseDetectorEvaluation all = evaluate_detectors(detector_scores(h, 3, nullptr), replaced, "listed", 3);
  EXPECT_EQ(all.samples, 4);
  EXPECT_EQ(all.detectors.size(), 5u);
}

TEST(LabelNoise, SampleFilesRoundTripAndRefuseDamage) {
  const SampleEpoch e = history()[1];
  const SampleEpoch back = SampleEpoch::from_csv(e.to_csv(), 2, "s.csv");
  EXPECT_EQ(back.to_csv(), e.to_csv());
  EXPECT_EQ(back.margin, e.margin);
  std::string text = e.to_csv();
  text.replace(text.find("\n1,11,"), 6, "\n1,11,x");
  EXPECT_NE(testing::error_of([&] { SampleEpoch::from_csv(text, 2, "RUN/samples/epoch-002.csv"); })
                .find("RUN/samples/epoch-002.csv: line 3 is malformed"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { SampleEpoch::from_csv("a,b\n", 2, "s.csv"); }).find("not a samples file"),
            std::string::npos);
  testing::TempDir dir;
  EXPECT_NE(testing::error_of([&] { read_sample_history(dir.path(), 1); }).find("epoch-001.csv: missing"),
            std::string::npos);
}

SeedOutcome seed_outcome(int64_t seed, double effect, int direction, double p) {
  SeedOutcome o;
  o.seed = seed;
  o.verdict = "inconclusive";
  o.effect = effect;
  o.direction = direction;
  o.p_value = p;
  return o;
}

TEST(SeedStudy, TheAcrossSeedRule) {
  std::vector<SeedOutcome> five;
  for (int s = 1; s <= 5; ++s) five.push_back(seed_outcome(s, 0.1 * s, 1, 0.04));
  HypothesisAcrossSeeds h = hypothesis_across_seeds("2", "x", "ratio", five, 0.05);
  EXPECT_EQ(h.positive, 5);
  EXPECT_DOUBLE_EQ(h.sign_test_p, 1.0 / 32);
  EXPECT_NEAR(h.combined_p, fisher_combined_p({0.04, 0.04, 0.04, 0.04, 0.04}), 1e-15);
  EXPECT_DOUBLE_EQ(h.effect_median, 0.3);
  EXPECT_DOUBLE_EQ(h.effect_min, 0.1);
  EXPECT_DOUBLE_EQ(h.effect_max, 0.5);
  EXPECT_EQ(h.verdict, "supported");
  // All five the same way, but the per-seed tests are weak: Fisher's p stays above alpha.
  for (auto& o : five) o.p_value = 0.6;
  EXPECT_EQ(hypothesis_across_seeds("2", "x", "ratio", five, 0.05).verdict, "inconclusive");
  // Four of five: the sign test gives 0.19.
  five[0].direction = -1;
  for (auto& o : five) o.p_value = NAN;
  h = hypothesis_across_seeds("1", "x", "rho", five, 0.05);
  EXPECT_DOUBLE_EQ(h.sign_test_p, 0.1875);
  EXPECT_EQ(h.verdict, "inconclusive");
  // Two of five, or one of two: not supported. A tie (unmeasurable seed) is left out.
  five[1].direction = five[2].direction = -1;
  EXPECT_EQ(hypothesis_across_seeds("1", "x", "rho", five, 0.05).verdict, "not supported");
  std::vector<SeedOutcome> two = {seed_outcome(1, 0.5, 1, NAN), seed_outcome(2, -0.1, -1, NAN),
                                  seed_outcome(3, NAN, 0, NAN)};
  h = hypothesis_across_seeds("1", "x", "rho", two, 0.05);
  EXPECT_EQ(h.ties, 1);
  EXPECT_EQ(h.verdict, "not supported");
  EXPECT_NE(h.reason.find("1 of 2 seeds in the hypothesised direction (1 not measurable)"), std::string::npos) << h.reason;
  // Nothing measurable at all.
  EXPECT_EQ(hypothesis_across_seeds("1", "x", "rho", {seed_outcome(1, NAN, 0, NAN)}, 0.05).verdict, "inconclusive");
}

}  // namespace
}  // namespace filterscope
