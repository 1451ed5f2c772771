#include <gtest/gtest.h>

#include "filterscope/core/error.h"
#include "filterscope/experiments/mask.h"
#include "filterscope/experiments/verdicts.h"

namespace filterscope {
namespace {

TrackRecord track(int64_t well, int64_t overfit, double rho, bool dropped, std::optional<Enrichment> enrichment = {}) {
  TrackRecord t;
  t.well_trained.epoch = 10;
  t.well_trained.anomaly_filters = well;
  t.overfit.epoch = 30;
  t.overfit.anomaly_filters = overfit;
  t.overfit.enrichment = enrichment;
  t.val_acc_dropped = dropped;
  t.spearman["anomaly_filters"].generalisation_gap = rho;
  t.spearman["mean_small_share"].generalisation_gap = 0.9;
  return t;
}

GradientsRecord gradients(int64_t outliers, double ratio, double p) {
  GradientsRecord g;
  GradientTable well, overfit;
  well.role = "well_trained";
  well.epoch = 10;
  overfit.role = "overfit";
  overfit.epoch = 30;
  overfit.outlier_samples = outliers;
  overfit.normal_samples = 1000 - outliers;
  overfit.layers_outliers_larger = 2;
  overfit.layers.resize(3);
  overfit.overall.ratio = ratio;
  overfit.p_greater = p;
  g.epochs = {well, overfit};
  return g;
}

// `passing` of `filters` anomaly filters and `random_passing` of `random` random ones raised
// validation accuracy by McNemar's test.
MaskRecord mask(int64_t filters, int64_t passing, int64_t random, int64_t random_passing) {
  MaskRecord m;
  m.epoch = 30;
  m.anomaly_filters = filters;
  m.before.val_acc = 0.7;
  m.val_up_significant = passing;
  m.baseline_filters = random;
  m.baseline_val_up_significant = random_passing;
  m.val_up_enrichment_p = paired_test_enrichment_p(filters, passing, random, random_passing);
  m.share_val_up = filters > 0 ? static_cast<double>(passing) / static_cast<double>(filters) : NAN;
  m.baseline_share_val_up = {0.1, 0.05};
  if (filters > 0) m.all_at_once = AllAtOnce{0.9, 0.71, 10, "true labels", 0, 0, 0, 0};
  return m;
}

std::string outcome(const VerdictsRecord& v, const std::string& id) {
  for (const auto& h : v.hypotheses)
    if (h.id == id) return h.verdict;
  return "missing";
}

constexpr std::nullopt_t none = std::nullopt;

TEST(Verdicts, HypothesisOneFollowsTheRule) {
  EXPECT_EQ(outcome(compute_verdicts(track(2, 6, 0.5, true), none, none), "1"), "supported");
  EXPECT_EQ(outcome(compute_verdicts(track(6, 2, -0.2, true), none, none), "1"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(track(2, 2, 0.1, true), none, none), "1"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(track(2, 6, 0.1, true), none, none), "1"), "inconclusive");
  // Without a drop in validation accuracy the run is not overfit in the paper's sense.
  EXPECT_EQ(outcome(compute_verdicts(track(2, 6, 0.9, false), none, none), "1"), "inconclusive");
  EXPECT_EQ(outcome(compute_verdicts(none, none, none), "1"), "not run");
}

TEST(Verdicts, HypothesisTwoNeedsASignificantlyLargerGradient) {
  EXPECT_EQ(outcome(compute_verdicts(none, gradients(40, 1.6, 0.001), none), "2"), "supported");
  EXPECT_EQ(outcome(compute_verdicts(none, gradients(40, 1.6, 0.2), none), "2"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(none, gradients(40, 0.7, 0.99), none), "2"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(none, gradients(3, 3.0, 0.001), none), "2"), "inconclusive");
  EXPECT_EQ(outcome(compute_verdicts(none, none, none), "2"), "not run");
}

TEST(Verdicts, EnrichmentOnlyWhereLabelsWereReplaced) {
  Enrichment enriched;
  enriched.probe_size = 1000;
  enriched.replaced = 200;
  enriched.outliers = 40;
  enriched.replaced_outliers = 30;
  enriched.precision = 0.75;
  enriched.recall = 0.15;
  enriched.base_rate = 0.2;
  enriched.ratio = 3.75;
  enriched.p_value = 1e-9;
  EXPECT_EQ(outcome(compute_verdicts(track(1, 2, 0.5, true, enriched), none, none), "2b"), "supported");
  Enrichment weak = enriched;
  weak.ratio = 1.2;
  weak.p_value = 0.3;
  EXPECT_EQ(outcome(compute_verdicts(track(1, 2, 0.5, true, weak), none, none), "2b"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(track(1, 2, 0.5, true), none, none), "2b"), "not applicable");
  // Why it does not apply: a validation probe set (the fix is track --split train), not "no label noise".
  auto reason_2b = [](const TrackRecord& t) {
    for (const auto& h : compute_verdicts(t, std::nullopt, std::nullopt).hypotheses)
      if (h.id == "2b") return h.reason;
    return std::string("missing");
  };
  TrackRecord on_val = track(1, 2, 0.5, true);
  on_val.request = {{"probe_set", {{"split", "val"}, {"size", 200}, {"seed", 1}}}};
  EXPECT_NE(reason_2b(on_val).find("validation probe set"), std::string::npos) << reason_2b(on_val);
  EXPECT_NE(reason_2b(on_val).find("--split train"), std::string::npos);
  TrackRecord on_train = on_val;
  on_train.request["probe_set"]["split"] = "train";
  EXPECT_NE(reason_2b(on_train).find("without --label-noise"), std::string::npos) << reason_2b(on_train);
}

TEST(Verdicts, HypothesisThreeByPairedTestsAgainstTheRandomBaseline) {
  // 4 of 8 anomaly filters pass McNemar's test against 2 of 40 random ones: Fisher p = 0.0046 (scipy fisher_exact).
  EXPECT_NEAR(mask(8, 4, 40, 2).val_up_enrichment_p, 0.004634147772499428, 1e-12);
  EXPECT_NEAR(mask(8, 2, 40, 2).val_up_enrichment_p, 0.12411347517730498, 1e-12);
  EXPECT_EQ(outcome(compute_verdicts(none, none, mask(8, 4, 40, 2)), "3"), "supported");
  // 2 of 8 against 2 of 40 (the shape of an earlier one-seed "support"): more, but p = 0.12.
  EXPECT_EQ(outcome(compute_verdicts(none, none, mask(8, 2, 40, 2)), "3"), "inconclusive");
  EXPECT_EQ(outcome(compute_verdicts(none, none, mask(8, 0, 40, 0)), "3"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(none, none, mask(8, 1, 40, 5)), "3"), "not supported");
  EXPECT_EQ(outcome(compute_verdicts(none, none, mask(2, 2, 10, 0)), "3"), "inconclusive");
  EXPECT_EQ(outcome(compute_verdicts(none, none, mask(0, 0, 0, 0)), "3"), "inconclusive");
}

// Each record survives its JSON form, so that what verdicts read is what the experiments wrote.
TEST(Verdicts, RecordsRoundTripThroughJson) {
  const TrackRecord t = track(2, 6, 0.5, true);
  EXPECT_EQ(TrackRecord::from_json(t.to_json(), "t").to_json(), t.to_json());
  const GradientsRecord g = gradients(40, 1.6, 0.001);
  EXPECT_EQ(GradientsRecord::from_json(g.to_json(), "g").to_json(), g.to_json());
  const MaskRecord m = mask(8, 4, 40, 2);
  EXPECT_EQ(MaskRecord::from_json(m.to_json(), "m").to_json(), m.to_json());
  const VerdictsRecord v = compute_verdicts(t, g, m);
  EXPECT_EQ(VerdictsRecord::from_json(v.to_json(), "v").to_json(), v.to_json());
  // Another format is refused with the file's name.
  try {
    TrackRecord::from_json(m.to_json(), "RUN/track.json");
    ADD_FAILURE() << "a mask record was read as a track record";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RUN/track.json: not a filterscope record of format filterscope-track-1"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace filterscope
