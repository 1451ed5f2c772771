#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "filterscope/core/error.h"
#include "filterscope/models/network.h"

namespace filterscope {
namespace {

struct Layout {
  std::string name;
  int64_t in_channels, classes, side;
  std::vector<std::string> kinds;   // probe kinds in order
  std::vector<int64_t> channels;
};

TEST(Network, ProbePointsOfThePapersNetworks) {
  const std::vector<Layout> layouts = {
      {"simple-cnn", 1, 10, 28, {"conv", "relu", "maxpool", "conv", "relu", "maxpool", "conv", "relu"},
       {32, 32, 32, 64, 64, 64, 64, 64}},
      {"lenet5", 1, 10, 28, {"conv", "relu", "maxpool", "conv", "relu", "maxpool"}, {6, 6, 6, 16, 16, 16}},
      {"alexnet", 3, 100, 227,
       {"conv", "relu", "maxpool", "conv", "relu", "maxpool", "conv", "relu", "conv", "relu", "conv", "relu", "maxpool"},
       {64, 64, 64, 192, 192, 192, 384, 384, 256, 256, 256, 256, 256}},
  };
  for (const auto& l : layouts) {
    Network net = make_network(l.name, l.in_channels, l.classes, l.side);
    const auto& all = net->probe_points();
    // The feature maps first; after them the average pool (AlexNet) and the classifier's 2-D probes.
    std::vector<ProbePoint> probes;
    for (const auto& p : all)
      if (p.name.rfind("features.", 0) == 0) probes.push_back(p);
    ASSERT_EQ(probes.size(), l.kinds.size()) << l.name;
    for (size_t i = probes.size(); i < all.size(); ++i)
      EXPECT_TRUE(all[i].name == "avgpool" || all[i].dims == 2) << all[i].name;
    std::string owner;
    for (size_t i = 0; i < probes.size(); ++i) {
      EXPECT_EQ(probes[i].name, "features." + std::to_string(i));
      EXPECT_EQ(probe_kind_name(probes[i].kind), l.kinds[i]) << l.name << " " << i;
      EXPECT_EQ(probes[i].channels, l.channels[i]) << l.name << " " << i;
      if (probes[i].kind == ProbeKind::Conv) owner = probes[i].name;
      EXPECT_EQ(probes[i].owner_conv, owner);
    }
    // Parameter names follow torchvision's.
    EXPECT_TRUE(net->named_parameters().contains("features.0.weight"));
    torch::NoGradGuard no_grad;
    net->eval();
    at::Tensor x = at::randn({2, l.in_channels, l.side, l.side});
    EXPECT_EQ(net->forward(x).sizes(), at::IntArrayRef({2, l.classes}));
  }
}

TEST(Network, ProbeOutputsMatchTheForwardPass) {
  torch::manual_seed(0);
  Network net = make_network("simple-cnn", 1, 10, 28);
  net->eval();
  torch::NoGradGuard no_grad;
  at::Tensor x = at::randn({3, 1, 28, 28});
  ProbeOutputs all = net->forward_probes(x, {"features.0", "features.4", "features.7"}, true);
  ASSERT_EQ(all.outputs.size(), 3u);
  EXPECT_EQ(all.outputs[0].first, "features.0");
  EXPECT_EQ(all.outputs[1].second.sizes(), at::IntArrayRef({3, 64, 11, 11}));
  EXPECT_TRUE(at::allclose(all.logits, net->forward(x)));
  EXPECT_TRUE(at::equal(all.outputs[1].second, all.outputs[1].second.clamp_min(0)));  // a ReLU output
  ProbeOutputs early = net->forward_probes(x, {"features.2"});
  EXPECT_FALSE(early.logits.defined());
  EXPECT_EQ(early.outputs[0].second.sizes(), at::IntArrayRef({3, 32, 13, 13}));
  EXPECT_THROW(net->forward_probes(x, {"features.99"}), Error);
}

TEST(Network, MaskingZeroesChannelsDownstream) {
  torch::manual_seed(1);
  Network net = make_network("lenet5", 1, 10, 28);
  net->eval();
  torch::NoGradGuard no_grad;
  at::Tensor x = at::randn({4, 1, 28, 28});
  const at::Tensor before = net->forward(x);
  at::Tensor mask = at::ones({6});
  mask[2] = 0;
  net->set_channel_mask("features.0", mask);
  ProbeOutputs out = net->forward_probes(x, {"features.0", "features.1", "features.2"}, true);
  for (const auto& [name, t] : out.outputs) {
    EXPECT_EQ(t.select(1, 2).abs().max().item<float>(), 0.0f) << name;
    EXPECT_GT(t.select(1, 3).abs().max().item<float>(), 0.0f) << name;
  }
  EXPECT_FALSE(at::allclose(out.logits, before));
  net->clear_channel_masks();
  EXPECT_TRUE(at::allclose(net->forward(x), before));
  EXPECT_THROW(net->set_channel_mask("features.1", mask), Error);  // a ReLU: mask its conv
  EXPECT_THROW(net->set_channel_mask("features.0", at::ones({5})), Error);
}

TEST(Network, BadNamesAndSizes) {
  try {
    make_network("resnet", 1, 10, 28);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown network \"resnet\""), std::string::npos);
  }
  EXPECT_THROW(make_network("alexnet", 3, 10, 28), Error);  // 28x28 vanishes in AlexNet
  EXPECT_THROW(make_network("lenet5", 1, 1, 28), Error);
  EXPECT_EQ(network_input_size("alexnet", 28), 227);
  EXPECT_EQ(network_input_size("lenet5", 32), 32);
}

}  // namespace
}  // namespace filterscope
