#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "filterscope/cluster/calinski_harabasz.h"
#include "filterscope/cluster/engine.h"
#include "filterscope/cluster/pca.h"
#include "filterscope/core/error.h"

namespace filterscope {
namespace {

std::vector<int64_t> to_vec(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

at::Generator gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// Three well-separated blobs of `per` points each, [1, 3 per, 2] float64.
at::Tensor blobs(int64_t per, uint64_t seed) {
  auto g = gen(seed);
  at::Tensor centres = at::tensor({0.0, 0.0, 8.0, 0.0, 0.0, 8.0}, at::kDouble).view({3, 1, 2});
  return (at::randn({3, per, 2}, g, at::kDouble) * 0.6 + centres).reshape({1, 3 * per, 2});
}

TEST(CalinskiHarabasz, HandComputedAnswer) {
  // Points (0,0), (0,2) | (4,0), (4,2): overall mean (2,1); centroids (0,1), (4,1).
  // extra = 2*4 + 2*4 = 16; intra = 4 * 1 = 4; CH = 16 (N-k) / (4 (k-1)) = 16*2/4 = 8.
  at::Tensor x = at::tensor({0.0, 0.0, 0.0, 2.0, 4.0, 0.0, 4.0, 2.0}, at::kDouble).view({1, 4, 2});
  at::Tensor l = at::tensor({0, 0, 1, 1}, at::kLong).view({1, 4});
  CalinskiHarabasz ch = calinski_harabasz(x, l, 2);
  EXPECT_DOUBLE_EQ(ch.score[0].item<double>(), 8.0);
  // Labels are re-encoded: gaps in the label values change nothing.
  CalinskiHarabasz gap = calinski_harabasz(x, at::tensor({1, 1, 4, 4}, at::kLong).view({1, 4}), 5);
  EXPECT_DOUBLE_EQ(gap.score[0].item<double>(), 8.0);
  EXPECT_EQ(gap.n_labels[0].item<int64_t>(), 2);
}

TEST(CalinskiHarabasz, ScikitLearnEdgeCases) {
  at::Tensor x = at::tensor({0.0, 0.0, 0.0, 0.0, 3.0, 3.0, 3.0, 3.0}, at::kDouble).view({1, 4, 2});
  // Zero within-cluster dispersion: 1.0, as scikit-learn.
  EXPECT_DOUBLE_EQ(calinski_harabasz(x, at::tensor({0, 0, 1, 1}, at::kLong).view({1, 4}), 2).score[0].item<double>(), 1.0);
  // One cluster, or one cluster per point: undefined (scikit-learn raises).
  CalinskiHarabasz one = calinski_harabasz(x, at::zeros({1, 4}, at::kLong), 1);
  EXPECT_FALSE(one.defined[0].item<bool>());
  EXPECT_TRUE(std::isnan(one.score[0].item<double>()));
  EXPECT_FALSE(calinski_harabasz(x, at::arange(4, at::kLong).view({1, 4}), 4).defined[0].item<bool>());
  EXPECT_TRUE(calinski_harabasz(x, at::tensor({0, 1, 2, 2}, at::kLong).view({1, 4}), 3).defined[0].item<bool>());
}

TEST(Gmm, RecoversADrawnMixture) {
  // 0.6 N((0,0), diag(1, 0.25)) + 0.4 N((6,3), [[1, 0.5], [0.5, 1]]), 4000 points.
  auto g = gen(11);
  const int64_t n1 = 2400, n2 = 1600;
  at::Tensor a = at::randn({n1, 2}, g, at::kDouble) * at::tensor({1.0, 0.5}, at::kDouble);
  at::Tensor chol = at::tensor({1.0, 0.0, 0.5, std::sqrt(0.75)}, at::kDouble).view({2, 2});
  at::Tensor b = at::matmul(at::randn({n2, 2}, g, at::kDouble), chol.t()) + at::tensor({6.0, 3.0}, at::kDouble);
  at::Tensor x = at::cat({a, b}).unsqueeze(0);
  GmmOptions o;
  o.kmin = o.kmax = 2;
  o.tol = 1e-6;
  GmmFit fit = fit_gmm(x, o);
  const at::Tensor w = fit.weights[0][0], mu = fit.means[0][0], cov = fit.covariances[0][0];
  const int64_t big = w[0].item<double>() > w[1].item<double>() ? 0 : 1, small = 1 - big;
  EXPECT_NEAR(w[big].item<double>(), 0.6, 0.02);
  EXPECT_NEAR(mu[small][0].item<double>(), 6.0, 0.1);
  EXPECT_NEAR(mu[small][1].item<double>(), 3.0, 0.1);
  EXPECT_NEAR(cov[small][0][1].item<double>(), 0.5, 0.1);
  EXPECT_NEAR(cov[big][1][1].item<double>(), 0.25, 0.03);
  EXPECT_TRUE(fit.converged[0][0].item<bool>());
}

TEST(Engine, ChoosesTheTrueKOnSeparatedBlobs) {
  ClusterResult r = cluster_point_sets(blobs(150, 1), GmmOptions{});
  EXPECT_EQ(r.best_k[0].item<int64_t>(), 3);
  EXPECT_EQ(to_vec(std::get<0>(r.sizes[0].narrow(0, 0, 3).sort())), std::vector<int64_t>({150, 150, 150}));
  EXPECT_TRUE(r.notes[0].empty());
  // Padding components of smaller K are zero.
  EXPECT_EQ(r.fit.weights[0][0].narrow(0, 2, 8).abs().sum().item<double>(), 0.0);
}

TEST(Engine, SameSeedSameAnswerAndSeedMatters) {
  at::Tensor x = at::cat({blobs(100, 2), blobs(100, 3) * 0.2}, 0);
  GmmOptions o;
  ClusterResult a = cluster_point_sets(x, o), b = cluster_point_sets(x, o);
  EXPECT_TRUE(at::equal(a.fit.labels, b.fit.labels));
  EXPECT_TRUE(at::equal(a.fit.log_likelihood, b.fit.log_likelihood));
  o.seed = 99;
  ClusterResult c = cluster_point_sets(x, o);
  EXPECT_FALSE(at::equal(a.fit.labels, c.fit.labels));
}

TEST(Engine, FusedAndTensorBackendsAgree) {
  at::Tensor x = at::cat({blobs(60, 4), blobs(60, 5) * at::tensor({1.0, 0.1}, at::kDouble)}, 0);
  GmmOptions o;
  o.kmax = 6;
  ClusterResult fused = cluster_point_sets(x, o, GmmBackend::Fused);
  ClusterResult tensor = cluster_point_sets(x, o, GmmBackend::Tensor);
  EXPECT_TRUE(at::equal(fused.best_k, tensor.best_k));
  // Same draws, same algorithm: fits agree up to floating-point order.
  const at::Tensor same = fused.fit.labels.eq(tensor.fit.labels).all(2);
  EXPECT_GE(same.to(at::kDouble).mean().item<double>(), 0.9);
  EXPECT_LT((fused.fit.log_likelihood - tensor.fit.log_likelihood).abs().masked_select(same).max().item<double>(), 1e-8);
}

TEST(Engine, DegenerateSetsGetAReasonNotACrash) {
  at::Tensor x = blobs(10, 6).repeat({4, 1, 1});
  x[1].fill_(2.5);                     // all points identical
  x[2][3][0] = std::nan("");           // NaN
  x[3].narrow(0, 0, 25).fill_(1.0);    // 25 duplicates among 30 points
  x[3].narrow(0, 25, 5).fill_(-1.0);
  ClusterResult r = cluster_point_sets(x, GmmOptions{});
  EXPECT_EQ(r.best_k[0].item<int64_t>(), 3);
  EXPECT_EQ(r.notes[1], "all points identical");
  EXPECT_EQ(r.best_k[1].item<int64_t>(), 0);
  EXPECT_EQ(r.notes[2], "points contain NaN or Inf");
  EXPECT_FALSE(r.fit.fitted[2].any().item<bool>());
  EXPECT_EQ(r.best_k[3].item<int64_t>(), 2);  // two distinct values: two clusters
  EXPECT_TRUE(at::isfinite(r.fit.log_likelihood[3]).all().item<bool>());
}

TEST(Engine, FewerPointsThanComponents) {
  at::Tensor x = at::tensor({0.0, 0.0, 0.1, 0.0, 5.0, 5.0, 5.1, 5.0, 9.0, 0.0}, at::kDouble).view({1, 5, 2});
  ClusterResult r = cluster_point_sets(x, GmmOptions{});
  // K = 6..10 cannot be fitted on 5 points; K = 5 leaves CH undefined (5 clusters of 5 points).
  EXPECT_EQ(r.fit.fitted[0].sum().item<int64_t>(), 4);
  EXPECT_TRUE(std::isnan(r.ch[0][8].item<double>()));
  EXPECT_GE(r.best_k[0].item<int64_t>(), 2);
  EXPECT_LE(r.best_k[0].item<int64_t>(), 4);
}

TEST(Engine, InvalidOptions) {
  GmmOptions o;
  o.kmin = 5;
  o.kmax = 3;
  EXPECT_THROW(cluster_point_sets(blobs(10, 1), o), Error);
  EXPECT_THROW(cluster_point_sets(at::zeros({2, 10, 3}, at::kDouble), GmmOptions{}), Error);
  o = GmmOptions{};
  o.reg_covar = -1;
  EXPECT_THROW(cluster_point_sets(blobs(10, 1), o), Error);
}

TEST(Pca, MatchesAnExactSvd) {
  auto g = gen(21);
  // 4 filters, 300 samples, 50-dim maps of decaying variance.
  at::Tensor scales = at::exp(-at::arange(50, at::kDouble) * 0.3);
  at::Tensor maps = at::randn({4, 300, 50}, g, at::kDouble) * scales + 3.0;
  for (int64_t exact_max : {200, 8}) {  // eigendecomposition, then block Krylov
    PcaOptions o;
    o.exact_max_dim = exact_max;
    PcaResult r = pca_2d(maps.to(at::kFloat), o);
    for (int64_t c = 0; c < 4; ++c) {
      at::Tensor xc = maps[c] - maps[c].mean(0, true);
      auto [u, s, vh] = at::linalg_svd(xc, false);
      at::Tensor expected = u.narrow(1, 0, 2) * s.narrow(0, 0, 2);
      at::Tensor got = r.points[c];
      for (int64_t j = 0; j < 2; ++j) {
        const double sign = (got.select(1, j) * expected.select(1, j)).sum().item<double>() > 0 ? 1 : -1;
        EXPECT_LT((got.select(1, j) - sign * expected.select(1, j)).abs().max().item<double>(), 1e-4)
            << "filter " << c << " component " << j << " exact_max_dim " << exact_max;
      }
      EXPECT_NEAR(r.explained_variance[c][0].item<double>(), s[0].item<double>() * s[0].item<double>() / 299, 1e-6);
      // Sign rule: the largest-magnitude coordinate is positive.
      const at::Tensor col = got.select(1, 0);
      EXPECT_GT(col[col.abs().argmax()].item<double>(), 0);
    }
    EXPECT_TRUE(r.status.eq(0).all().item<bool>());
  }
}

TEST(Pca, WideMapsUseTheGramSide) {
  auto g = gen(5);
  at::Tensor maps = at::randn({2, 40, 900}, g, at::kDouble);
  PcaResult r = pca_2d(maps, PcaOptions{});
  at::Tensor xc = maps[1] - maps[1].mean(0, true);
  auto s = at::linalg_svdvals(xc);
  EXPECT_NEAR(r.points[1].select(1, 0).norm().item<double>(), s[0].item<double>(), 1e-8);
}

TEST(Pca, DegenerateFiltersAreMarked) {
  auto g = gen(8);
  at::Tensor maps = at::randn({4, 30, 16}, g, at::kDouble);
  maps[1].fill_(0.5);                                                           // constant
  maps[2] = at::randn({30, 1}, g, at::kDouble) * at::randn({1, 16}, g, at::kDouble) + 1;  // rank 1
  maps[3][4][5] = INFINITY;
  PcaResult r = pca_2d(maps, PcaOptions{});
  EXPECT_EQ(to_vec(r.status), std::vector<int64_t>({0, 1, 2, 3}));
  EXPECT_TRUE(at::isfinite(r.points).all().item<bool>());
  EXPECT_EQ(r.points[1].abs().max().item<double>(), 0.0);
  EXPECT_EQ(r.points[2].select(1, 1).abs().max().item<double>(), 0.0);
  EXPECT_GT(r.points[2].select(1, 0).abs().max().item<double>(), 0.0);
  EXPECT_STREQ(pca_status_text(PcaStatus::Constant), "constant feature maps");
  // From a layer's [N, C, H, W] maps.
  PcaResult layer = pca_feature_maps(maps.permute({1, 0, 2}).reshape({30, 4, 4, 4}), PcaOptions{});
  EXPECT_TRUE(at::equal(layer.status, r.status));
}

TEST(Pca, FloatMapsAreReadInPlaceAndAgreeWithTheCopiedRoute) {
  auto g = gen(13);
  // A layer's maps [N, C, H, W] float32 as capture hands them over: 300 samples, 5 filters of 8x8.
  at::Tensor scales = at::exp(-at::arange(64, at::kDouble) * 0.2).view({8, 8});
  at::Tensor maps = (at::randn({300, 5, 8, 8}, g, at::kDouble) * scales + 2.0).to(at::kFloat);
  maps.select(1, 1).fill_(0.25);                                                      // constant
  maps.select(1, 2).copy_(at::randn({300, 1, 1}, g, at::kFloat) * at::randn({1, 8, 8}, g, at::kFloat));  // rank 1
  maps[7][3][2][2] = NAN;
  PcaOptions o;
  o.exact_max_dim = 8;  // the iterative route
  ASSERT_TRUE(pca_reads_maps_in_place(300, 64, o));
  const PcaResult in_place = pca_feature_maps(maps, o);
  // The float64 copy of the same numbers takes the route that copies and centres in place.
  const PcaResult copied = pca_2d(maps.flatten(2).transpose(0, 1).to(at::kDouble), o);
  EXPECT_EQ(to_vec(in_place.status), std::vector<int64_t>({0, 1, 2, 3, 0}));
  EXPECT_TRUE(at::equal(in_place.status, copied.status));
  EXPECT_GT(in_place.iterations[0].item<int64_t>(), 0);
  const double scale = copied.points.abs().max().item<double>();
  EXPECT_LT((in_place.points - copied.points).abs().max().item<double>(), 1e-7 * scale);
  EXPECT_TRUE(at::allclose(in_place.explained_variance, copied.explained_variance, 1e-9, 0));
  EXPECT_EQ(in_place.points[1].abs().max().item<double>(), 0.0);
  EXPECT_EQ(in_place.points[3].abs().max().item<double>(), 0.0);
  // Maps of rank 1, below the Krylov block: the dependent directions are dropped, so the top
  // eigenvalue is the exact one and the iteration stops after one cycle (it ran to the 1,000
  // products of --pca-max-iter, with a wrong eigenvalue, before).
  const at::Tensor x2 = maps.select(1, 2).flatten(1).to(at::kDouble);
  const double top = at::linalg_svdvals(x2 - x2.mean(0, true))[0].item<double>();
  EXPECT_NEAR(in_place.explained_variance[2][0].item<double>(), top * top / 299, 1e-9 * top * top);
  EXPECT_LT(in_place.iterations[2].item<int64_t>(), 20);
  // Strided (as the layer lies) or contiguous: the same bits.
  const PcaResult contiguous = pca_2d(maps.flatten(2).transpose(0, 1).contiguous(), o);
  EXPECT_TRUE(at::equal(in_place.points, contiguous.points));
}

TEST(Cuda, EngineAndPcaRunUnchangedOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device here";
  const c10::Device cuda(c10::kCUDA);
  at::Tensor x = at::cat({blobs(80, 12), blobs(80, 13) * at::tensor({1.0, 0.2}, at::kDouble)}, 0);
  GmmOptions o;
  ClusterResult cpu = cluster_point_sets(x, o, GmmBackend::Tensor);
  ClusterResult gpu = cluster_point_sets(x.to(cuda), o);  // Auto picks the tensor backend on CUDA
  EXPECT_TRUE(at::equal(cpu.best_k, gpu.best_k));
  const at::Tensor same = cpu.fit.labels.eq(gpu.fit.labels).all(2);
  EXPECT_GE(same.to(at::kDouble).mean().item<double>(), 0.9);
  EXPECT_LT((cpu.fit.log_likelihood - gpu.fit.log_likelihood).abs().masked_select(same).max().item<double>(), 1e-8);
  EXPECT_THROW(cluster_point_sets(x.to(cuda), o, GmmBackend::Fused), Error);

  auto g = gen(3);
  at::Tensor maps = at::randn({6, 200, 300}, g, at::kDouble) * at::exp(-at::arange(300, at::kDouble) * 0.05);
  for (int64_t exact_max : {400, 8}) {
    PcaOptions p;
    p.exact_max_dim = exact_max;
    PcaResult a = pca_2d(maps, p), b = pca_2d(maps.to(cuda), p);
    EXPECT_EQ(b.points.device().type(), c10::kCUDA);
    EXPECT_LT((a.points - b.points.cpu()).abs().max().item<double>(), 1e-6) << exact_max;
  }
}

}  // namespace
}  // namespace filterscope
