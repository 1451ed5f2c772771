#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

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
  // For 1000 images: features.0 and .1 take 32x26x26 floats = 82.5 MB each, features.3
  // 64x11x11 = 29.5 MB, features.6 64x3x3 = 2.2 MB.
  o.max_memory_mb = 100;
  const auto passes = plan_capture(net, probes, 1000, o);
  ASSERT_EQ(passes.size(), 3u);
  EXPECT_EQ(passes[0], (std::vector<std::string>{"features.0"}));
  EXPECT_EQ(passes[1], (std::vector<std::string>{"features.1"}));
  EXPECT_EQ(passes[2], (std::vector<std::string>{"features.3", "features.6"}));
  o.max_memory_mb = 150;
  EXPECT_EQ(plan_capture(net, probes, 1000, o)[1],
            (std::vector<std::string>{"features.1", "features.3", "features.6"}));
  o.max_memory_mb = 200;
  EXPECT_EQ(plan_capture(net, probes, 1000, o).size(), 1u);
  o.max_memory_mb = 50;
  try {
    plan_capture(net, probes, 1000, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("probe features.0 needs 83 MB for 1000 images"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(plan_capture(net, {}, 10, CaptureOptions{}), Error);
}

TEST(Capture, MatchesOneBigForwardPass) {
  torch::manual_seed(3);
  Network net = make_network("lenet5", 1, 10, 28);
  Dataset data = make_synthetic(37, 1);
  InputTransform t = fit_normalisation(data);
  const std::vector<std::string> probes = {"features.0", "features.2", "features.5"};
  CaptureOptions o;
  o.batch_size = 10;     // batches that do not divide N
  o.max_memory_mb = 1;   // one probe a pass
  std::vector<std::pair<std::string, at::Tensor>> got;
  const at::Tensor positions = at::arange(3, 37, at::kLong);
  auto model = probed_network(net);
  at::Tensor predictions;
  capture_probes(*model, data, t, positions, probes, o,
                 [&](const std::string& name, const at::Tensor& maps) { got.emplace_back(name, maps); },
                 &predictions);
  ASSERT_EQ(got.size(), 3u);
  torch::NoGradGuard no_grad;
  net->eval();
  const ProbeOutputs all = net->forward_probes(make_input(data, t, positions), probes, true);
  EXPECT_TRUE(at::equal(predictions, all.logits.argmax(1)));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].first, probes[i]);
    EXPECT_TRUE(at::allclose(got[i].second, all.outputs[i].second, 1e-5, 1e-6)) << probes[i];
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
