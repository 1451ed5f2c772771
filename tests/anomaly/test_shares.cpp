// A rank of a sharded analysis captures and clusters some of a layer's filters; what it computes for
// them must be the bits one process computes for the whole layer, or the files of P ranks would
// differ from one process's.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <cstring>

#include "filterscope/capture/capture.h"
#include "filterscope/cluster/engine.h"
#include "filterscope/cluster/pca.h"
#include "filterscope/core/error.h"

namespace filterscope {
namespace {

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  // equal() is false for NaN == NaN; undefined CH is NaN on both sides.
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

TEST(Shares, SomeFiltersGiveTheBitsOfTheWholeLayer) {
  torch::manual_seed(5);
  Network net = make_network("simple-cnn", 1, 10, 28);
  Dataset data = make_synthetic(60, 1);
  InputTransform t = fit_normalisation(data);
  auto model = probed_network(net);
  const at::Tensor positions = at::arange(60, at::kLong);
  const std::vector<std::string> probes = {"features.0", "features.3"};
  std::vector<at::Tensor> whole;
  capture_probes(*model, data, t, positions, probes, CaptureOptions{},
                 [&](const CapturePiece&, const at::Tensor& maps) { whole.push_back(maps); });
  PcaOptions pca;
  pca.exact_max_dim = 20;  // the iterative path, whose random starts are seeded per filter
  GmmOptions gmm;
  gmm.kmax = 5;
  for (size_t l = 0; l < probes.size(); ++l) {
    const int64_t c = whole[l].size(1);
    const PcaResult all = pca_feature_maps(whole[l], pca);
    const ClusterResult all_clusters = cluster_point_sets(all.points, gmm);
    const at::Tensor all_mean = mean_abs_activation(whole[l]);
    // Two uneven shares, each captured on its own.
    for (const auto& [first, count] : std::vector<std::pair<int64_t, int64_t>>{{0, 7}, {7, c - 7}}) {
      at::Tensor part;
      capture_probes(*model, data, t, positions, {probes[l]}, CaptureOptions{},
                     [&](const CapturePiece&, const at::Tensor& maps) { part = maps; }, nullptr,
                     {ChannelRange{first, count}});
      ASSERT_EQ(part.size(1), count);
      EXPECT_TRUE(same_bits(part, whole[l].narrow(1, first, count).contiguous())) << probes[l];
      EXPECT_TRUE(same_bits(mean_abs_activation(part), all_mean.narrow(0, first, count))) << probes[l];
      const PcaResult some = pca_feature_maps(part, pca, first);
      EXPECT_GT(some.iterations.max().item<int64_t>(), 0) << "the iterative path ran";
      EXPECT_TRUE(same_bits(some.points, all.points.narrow(0, first, count))) << probes[l] << " from " << first;
      EXPECT_TRUE(same_bits(some.explained_variance, all.explained_variance.narrow(0, first, count)));
      const ClusterResult clusters = cluster_point_sets(some.points, gmm);
      EXPECT_TRUE(same_bits(clusters.labels, all_clusters.labels.narrow(0, first, count)));
      EXPECT_TRUE(same_bits(clusters.best_ch, all_clusters.best_ch.narrow(0, first, count)));
      EXPECT_TRUE(same_bits(clusters.ch, all_clusters.ch.narrow(0, first, count)));
      EXPECT_TRUE(same_bits(clusters.fit.means, all_clusters.fit.means.narrow(0, first, count)));
    }
  }
  // Without first_filter the starts differ: the offset is what keeps the shares equal.
  const PcaResult unshifted = pca_feature_maps(whole[0].narrow(1, 7, 5).contiguous(), pca);
  EXPECT_FALSE(same_bits(unshifted.points, pca_feature_maps(whole[0], pca).points.narrow(0, 7, 5)));
}

TEST(Shares, ChannelRangesAreCheckedAndCountedInTheBudget) {
  torch::manual_seed(1);
  auto model = probed_network(make_network("simple-cnn", 1, 10, 28));
  Dataset data = make_synthetic(20, 1);
  InputTransform t = fit_normalisation(data);
  const at::Tensor positions = at::arange(20, at::kLong);
  auto capture = [&](const std::vector<ChannelRange>& ranges, const CaptureOptions& o) {
    int64_t kept = 0;
    capture_probes(*model, data, t, positions, {"features.0"}, o,
                   [&](const CapturePiece&, const at::Tensor& maps) { kept = maps.size(1); }, nullptr, ranges);
    return kept;
  };
  EXPECT_EQ(capture({ChannelRange{30, -1}}, CaptureOptions{}), 2);
  EXPECT_THROW(capture({ChannelRange{30, 3}}, CaptureOptions{}), Error);
  EXPECT_THROW(capture({ChannelRange{-1, 2}}, CaptureOptions{}), Error);
  EXPECT_THROW(capture({ChannelRange{0, 1}, ChannelRange{1, 1}}, CaptureOptions{}), Error);
  // 5,000 images of one 26x26 filter take 12.9 MiB: --max-memory 18 leaves 13.5 MiB for maps (a
  // quarter is kept for the forward pass and the analysis), room for one filter a pass.
  Dataset many = make_synthetic(5000, 1);
  CaptureOptions small;
  small.max_memory_mb = 18;
  int64_t kept = 0;
  capture_probes(*model, many, t, at::arange(5000, at::kLong), {"features.0"}, small,
                 [&](const CapturePiece&, const at::Tensor& maps) { kept = maps.size(1); }, nullptr, {ChannelRange{4, 1}});
  EXPECT_EQ(kept, 1);
  // A range of three filters comes as three pieces, one filter each, in order.
  std::vector<CapturePiece> pieces;
  capture_probes(*model, many, t, at::arange(5000, at::kLong), {"features.0"}, small,
                 [&](const CapturePiece& piece, const at::Tensor& maps) {
                   EXPECT_EQ(maps.size(1), piece.count);
                   pieces.push_back(piece);
                 },
                 nullptr, {ChannelRange{5, 3}});
  EXPECT_EQ(pieces, (std::vector<CapturePiece>{{"features.0", 5, 1}, {"features.0", 6, 1}, {"features.0", 7, 1}}));
  small.max_memory_mb = 16;  // 12 MiB for maps: not even one filter
  try {
    capture_probes(*model, many, t, at::arange(5000, at::kLong), {"features.0"}, small,
                   [](const CapturePiece&, const at::Tensor&) { FAIL() << "work started"; });
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("probe features.0: one filter's maps need 13 MB for 5000 images, more than "
                                         "the 12 MB of --max-memory 16 MB left for maps"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace filterscope
