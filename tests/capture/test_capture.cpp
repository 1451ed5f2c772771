#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <map>

#include "filterscope/capture/capture.h"
#include "filterscope/core/error.h"

namespace filterscope {
namespace {

TEST(Capture, PlansPassesWithinTheBudget) {
  auto model = probed_network(make_network("simple-cnn", 1, 10, 28));
  ProbedModel& net = *model;
  const std::vector<std::string> probes = {"features.0", "features.1", "features.3", "features.6"};
  EXPECT_EQ(probe_shapes(net, probes)[2], (std::vector<int64_t>{64, 11, 11}));
  CaptureOptions o;
  // For 1000 images: features.0 and .1 take 32x26x26 floats = 82.5 MiB each (2.58 MiB a filter),
  // features.3 64x11x11 = 29.5 MiB, features.6 64x3x3 = 2.2 MiB. --max-memory 100 leaves 75 MiB
  // for maps: 29 filters of features.0 fill the first pass.
  o.max_memory_mb = 100;
  const CapturePlan plan = plan_capture(net, probes, 1000, o);
  ASSERT_EQ(plan.passes.size(), 3u);
  EXPECT_EQ(plan.passes[0], (std::vector<CapturePiece>{{"features.0", 0, 29}}));
  EXPECT_EQ(plan.passes[1], (std::vector<CapturePiece>{{"features.0", 29, 3}, {"features.1", 0, 26}}));
  EXPECT_EQ(plan.passes[2], (std::vector<CapturePiece>{{"features.1", 26, 6}, {"features.3", 0, 64}, {"features.6", 0, 64}}));
  // The second pass's batch holds the input (784 floats), both 32x26x26 outputs whole, and two of
  // the largest on the way: 349,248 bytes an image, 75 images in the 25 MiB kept for it.
  EXPECT_EQ(plan.batch_size, 75);
  // Filters of the given ranges only.
  const CapturePlan some = plan_capture(net, probes, 1000, o, {{30, 2}, {0, 0}, {0, 64}, {60, 4}});
  ASSERT_EQ(some.passes.size(), 1u);
  EXPECT_EQ(some.passes[0], (std::vector<CapturePiece>{{"features.0", 30, 2}, {"features.3", 0, 64}, {"features.6", 60, 4}}));
  o.max_memory_mb = 300;
  EXPECT_EQ(plan_capture(net, probes, 1000, o).passes.size(), 1u);
  // One pass holds all four outputs whole: 382,528 bytes an image, 205 images in 75 MiB.
  EXPECT_EQ(plan_capture(net, probes, 1000, o).batch_size, 205);
  o.max_memory_mb = 2048;
  EXPECT_EQ(plan_capture(net, probes, 1000, o).batch_size, 250);
  o.max_memory_mb = 16;  // 12 MiB for maps: one filter of 10,000 images needs 25.8 MiB
  try {
    plan_capture(net, probes, 10000, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("probe features.0: one filter's maps need 26 MB for 10000 images"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(plan_capture(net, {}, 10, CaptureOptions{}), Error);
}

TEST(Capture, MatchesOneBigForwardPass) {
  torch::manual_seed(3);
  Network net = make_network("lenet5", 1, 10, 28);
  Dataset data = make_synthetic(60, 1);
  InputTransform t = fit_normalisation(data);
  const std::vector<std::string> probes = {"features.0", "features.2", "features.5"};
  CaptureOptions o;
  o.batch_size = 10;     // batches that do not divide N
  o.max_memory_mb = 1;   // 768 KiB for maps: features.0 (6 x 28 x 28 floats, 1 MiB for 57 images) comes in pieces
  std::map<std::string, std::vector<at::Tensor>> got;
  std::vector<CapturePiece> pieces;
  const at::Tensor positions = at::arange(3, 60, at::kLong);
  auto model = probed_network(net);
  at::Tensor predictions;
  capture_probes(*model, data, t, positions, probes, o,
                 [&](const CapturePiece& piece, const at::Tensor& maps) {
                   pieces.push_back(piece);
                   got[piece.probe].push_back(maps);
                 },
                 &predictions);
  EXPECT_GT(got["features.0"].size(), 1u);
  EXPECT_EQ(pieces.front().probe, "features.0");
  EXPECT_EQ(pieces.back().probe, "features.5");
  torch::NoGradGuard no_grad;
  net->eval();
  const ProbeOutputs all = net->forward_probes(make_input(data, t, positions), probes, true);
  EXPECT_TRUE(at::equal(predictions, all.logits.argmax(1)));
  for (size_t i = 0; i < 3; ++i) {
    const at::Tensor joined = at::cat(got[probes[i]], 1);
    EXPECT_TRUE(at::allclose(joined, all.outputs[i].second, 1e-5, 1e-6)) << probes[i];
  }
}

TEST(Capture, MeanAbsoluteActivation) {
  at::Tensor maps = at::zeros({2, 3, 1, 2});
  maps[0][0][0][0] = -4;  // filter 0: |-4| + |2| over 4 values = 1.5
  maps[1][0][0][1] = 2;
  maps[0][2].fill_(1);    // filter 2: two of four values are 1 = 0.5
  const at::Tensor m = mean_abs_activation(maps);
  EXPECT_DOUBLE_EQ(m[0].item<double>(), 1.5);
  EXPECT_DOUBLE_EQ(m[1].item<double>(), 0.0);  // a dead filter
  EXPECT_DOUBLE_EQ(m[2].item<double>(), 0.5);
  EXPECT_THROW(mean_abs_activation(at::zeros({2, 3})), Error);
}

}  // namespace
}  // namespace filterscope
