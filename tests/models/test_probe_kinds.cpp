// Probe points beyond convolution, ReLU and max-pool: every elementwise activation, average pools
// and fully connected outputs, on torchvision exports and the built-in networks; differentiable
// probes against PyTorch autograd; channel masks on TorchScript models.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "filterscope/anomaly/analyze.h"
#include "filterscope/capture/capture.h"
#include "filterscope/core/error.h"
#include "filterscope/io/npy.h"
#include "filterscope/models/torchscript.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/trainer.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::kCpu;
using testing::run_cli;
using testing::run_export_script;
using testing::TempDir;
using testing::expect_matches_hooks;
using testing::lines_of;
using testing::names_of;
using testing::test_model;


std::map<ProbeKind, int> kind_counts(const ProbedModel& model) {
  std::map<ProbeKind, int> counts;
  for (const auto& p : model.probe_points()) ++counts[p.kind];
  return counts;
}

TEST(ProbeKinds, EfficientNetListsItsSiLUSigmoidAndAveragePools) {
  auto model = load_torchscript_model(test_model("efficientnet_b0.pt"), {3, 32, 32}, kCpu);
  const auto counts = kind_counts(*model);
  EXPECT_EQ(counts.at(ProbeKind::Conv), 81);        // 16 MBConv blocks, stem and head
  EXPECT_EQ(counts.at(ProbeKind::SiLU), 49);  // after every expansion, depthwise conv and SE reduction
  EXPECT_EQ(counts.at(ProbeKind::Sigmoid), 16);     // one squeeze-and-excitation gate per block
  EXPECT_EQ(counts.at(ProbeKind::AvgPool), 17);     // 16 SE pools + the head's
  EXPECT_EQ(counts.at(ProbeKind::Linear), 1);
  const ProbePoint& stem = model->probe("features.0.2");
  EXPECT_EQ(stem.kind, ProbeKind::SiLU);
  EXPECT_EQ(stem.owner_conv, "features.0.0");  // through batch norm
  EXPECT_EQ(stem.channels, 32);
  EXPECT_TRUE(stem.is_map());
  const ProbePoint& fc = model->probe("classifier.1");
  EXPECT_EQ(fc.kind, ProbeKind::Linear);
  EXPECT_EQ(fc.dims, 2);
  EXPECT_EQ(fc.channels, 10);
  EXPECT_EQ(names_of(*model), lines_of(test_model("efficientnet_b0-reference.names")));
  expect_matches_hooks(*model, "efficientnet_b0-reference", 1e-4);
  // --layers silu selects exactly the SiLU maps.
  const auto silu = select_layers(*model, "silu");
  EXPECT_EQ(static_cast<int>(silu.size()), counts.at(ProbeKind::SiLU));
}

TEST(ProbeKinds, MobileNetV2ListsItsReLU6) {
  auto model = load_torchscript_model(test_model("mobilenet_v2.pt"), {3, 32, 32}, kCpu);
  const auto counts = kind_counts(*model);
  EXPECT_EQ(counts.at(ProbeKind::ReLU6), 35);  // stem, 2 per inverted residual block (1 in the first), head
  EXPECT_EQ(counts.at(ProbeKind::Conv), 52);
  const ProbePoint& relu6 = model->probe("features.0.2");
  EXPECT_EQ(relu6.kind, ProbeKind::ReLU6);
  EXPECT_STREQ(probe_kind_name(relu6.kind), "relu6");
  EXPECT_EQ(relu6.owner_conv, "features.0.0");
  // The head's functional adaptive average pool is a probe named after its op.
  EXPECT_EQ(model->probe("adaptive_avg_pool2d").kind, ProbeKind::AvgPool);
  EXPECT_EQ(names_of(*model).size(), lines_of(test_model("mobilenet_v2-reference.names")).size() + 1);
  expect_matches_hooks(*model, "mobilenet_v2-reference", 1e-4);
  EXPECT_EQ(static_cast<int>(select_layers(*model, "relu6").size()), 35);
}

TEST(ProbeKinds, ResNet18HasItsPoolAndFullyConnectedLayer) {
  auto model = load_torchscript_model(test_model("resnet18.pt"), {1, 28, 28}, kCpu);
  EXPECT_EQ(model->probe("avgpool").kind, ProbeKind::AvgPool);
  EXPECT_EQ(model->probe("fc").dims, 2);
  EXPECT_EQ(model->probe("fc").owner_conv, "fc");
  // The GMM analysis keeps to maps: "all" leaves the fully connected output out.
  const auto all = select_layers(*model, "all");
  EXPECT_EQ(std::find(all.begin(), all.end(), "fc"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "avgpool"), all.end());
  try {
    select_layers(*model, "fc");
    ADD_FAILURE() << "a 2-D probe was accepted for clustering";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fc is a fully connected output [N, 10]"), std::string::npos) << e.what();
  }
}

TEST(ProbeKinds, LeNetsFullyConnectedHiddenLayersAre2DProbes) {
  torch::manual_seed(0);
  Network net = make_network("lenet5", 1, 10, 28);
  auto model = probed_network(net);
  struct Want {
    std::string name;
    ProbeKind kind;
    int64_t units;
    std::string owner;
  };
  const std::vector<Want> want = {{"classifier.0", ProbeKind::Linear, 120, "classifier.0"},
                                  {"classifier.1", ProbeKind::ReLU, 120, "classifier.0"},
                                  {"classifier.2", ProbeKind::Linear, 84, "classifier.2"},
                                  {"classifier.3", ProbeKind::ReLU, 84, "classifier.2"},
                                  {"classifier.4", ProbeKind::Linear, 10, "classifier.4"}};
  for (const auto& w : want) {
    const ProbePoint& p = model->probe(w.name);
    EXPECT_EQ(p.kind, w.kind) << w.name;
    EXPECT_EQ(p.dims, 2) << w.name;
    EXPECT_EQ(p.channels, w.units) << w.name;
    EXPECT_EQ(p.owner_conv, w.owner) << w.name;
  }
  const at::Tensor x = at::randn({4, 1, 28, 28});
  const ProbeOutputs out = model->forward_probes(x, {"features.4", "classifier.1", "classifier.3", "classifier.4"}, true);
  ASSERT_EQ(out.outputs.size(), 4u);
  EXPECT_EQ(out.outputs[1].second.sizes(), at::IntArrayRef({4, 120}));
  EXPECT_EQ(out.outputs[2].second.sizes(), at::IntArrayRef({4, 84}));
  EXPECT_TRUE(at::equal(out.outputs[2].second, out.outputs[2].second.clamp_min(0)));  // a ReLU output
  EXPECT_TRUE(at::equal(out.outputs[3].second, out.logits));  // the last linear layer gives the logits
  {
    torch::NoGradGuard no_grad;
    net->eval();
    EXPECT_TRUE(at::equal(out.logits, net->forward(x)));
  }
  // Only the 2-D probe asked for: the pass stops there and gives the same values.
  const ProbeOutputs one = model->forward_probes(x, {"classifier.1"}, false);
  EXPECT_TRUE(at::equal(one.outputs[0].second, out.outputs[1].second));
  // The capture within a memory budget hands 2-D probes over as [N, units].
  Dataset data = make_synthetic(30, 3);
  std::map<std::string, std::vector<int64_t>> shapes;
  capture_probes(*model, data, fit_normalisation(data), at::arange(30, at::kLong), {"classifier.1", "classifier.3"},
                 CaptureOptions{}, [&](const CapturePiece& piece, const at::Tensor& maps) { shapes[piece.probe] = maps.sizes().vec(); });
  EXPECT_EQ(shapes["classifier.1"], (std::vector<int64_t>{30, 120}));
  EXPECT_EQ(shapes["classifier.3"], (std::vector<int64_t>{30, 84}));
  // The GMM analysis's selection leaves them out.
  const auto all = select_layers(*model, "all");
  EXPECT_EQ(all.size(), 6u);
}

// The differentiable probed forward gives PyTorch autograd's input gradient.
TEST(ProbeKinds, DifferentiableProbesMatchPyTorchAutograd) {
  for (const std::string name : {"functional", "resnet18", "mobilenet_v2"}) {
    const std::vector<int64_t> shape = name == "mobilenet_v2" ? std::vector<int64_t>{3, 32, 32}
                                                              : std::vector<int64_t>{1, 28, 28};
    auto model = load_torchscript_model(test_model(name + ".pt"), shape, kCpu);
    const auto prefix = test_model(name + "-reference").string();
    const at::Tensor x = read_npy(prefix + ".input.npy").requires_grad_(true);
    const ProbeOutputs out = model->forward_probes_with_grad(x, {}, true);
    out.logits.select(1, 0).sum().backward();
    const at::Tensor want = read_npy(prefix + ".input_grad.npy");
    ASSERT_TRUE(x.grad().defined()) << name;
    EXPECT_TRUE(at::allclose(x.grad(), want, 1e-4, 1e-5))
        << name << " max diff " << (x.grad() - want).abs().max().item<double>();
    // The plain forward records nothing.
    const ProbeOutputs plain = model->forward_probes(x, {}, true);
    EXPECT_FALSE(plain.logits.requires_grad()) << name;
  }
}

// Masks on a TorchScript export act as they do on the built-in network it came from.
TEST(ProbeKinds, TorchScriptMasksEqualBuiltInMasks) {
  TempDir dir;
  const auto run = dir / "run";
  ASSERT_EQ(run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "400", "--train-size", "200",
                     "--val-size", "50", "--epochs", "1", "--quiet", "--out", run.string()})
                .code,
            0);
  const auto file = dir / "scripted.pt";
  ASSERT_EQ(run_export_script({"checkpoint", run.string(), "1", file.string()}), 0);
  auto exported = load_torchscript_model(file, {1, 28, 28}, kCpu);
  auto builtin = probed_network(load_checkpoint(checkpoint_path(run, 1)));
  const at::Tensor x = at::randn({6, 1, 28, 28});
  const ProbeOutputs unmasked = exported->forward_probes(x, {}, true);
  at::Tensor mask = at::ones({64});
  mask[1] = 0;
  mask[5] = 0;
  for (auto* m : {exported.get(), builtin.get()}) m->set_channel_mask("features.3", mask);
  const std::vector<std::string> probes = {"features.3", "features.4", "classifier.0"};
  const ProbeOutputs a = exported->forward_probes(x, probes, true);
  const ProbeOutputs b = builtin->forward_probes(x, probes, true);
  for (size_t i = 0; i < probes.size(); ++i)
    EXPECT_TRUE(at::allclose(a.outputs[i].second, b.outputs[i].second, 1e-6, 1e-6)) << probes[i];
  EXPECT_TRUE(at::allclose(a.logits, b.logits, 1e-6, 1e-6));
  EXPECT_EQ(a.outputs[0].second.select(1, 5).abs().max().item<double>(), 0.0);
  EXPECT_FALSE(at::allclose(a.logits, unmasked.logits));
  // Gradients flow through the masked graph, and none reaches a masked channel's filter.
  exported->forward_probes_with_grad(x, {}, true).logits.sum().backward();
  for (const auto& [name, p] : exported->named_parameters())
    if (name == "features.3.weight") EXPECT_EQ(p.grad().select(0, 5).abs().max().item<double>(), 0.0);
  // Clearing the masks gives the unmasked model back.
  exported->clear_channel_masks();
  EXPECT_TRUE(at::equal(exported->forward_probes(x, {}, true).logits, unmasked.logits));
  // Only convolutions are masked, and the mask must fit.
  EXPECT_THROW(exported->set_channel_mask("features.4", mask), Error);
  EXPECT_THROW(exported->set_channel_mask("features.3", at::ones({3})), Error);
}

// On a torchvision ResNet-18 a filter that matters changes the accuracy when it is masked.
TEST(ProbeKinds, MaskingAResNetFilterChangesItsAccuracy) {
  auto model = load_torchscript_model(test_model("resnet18.pt"), {1, 28, 28}, kCpu);
  Dataset data = make_synthetic(200, 11);
  const InputTransform transform = fit_normalisation(data);
  // Labels: the unmasked model's own predictions, so that its accuracy is 1 and any flip shows.
  data.labels = evaluate(*model, data, transform).predictions;
  ASSERT_DOUBLE_EQ(evaluate(*model, data, transform).accuracy, 1.0);
  double lowest = 1.0;
  for (int64_t c = 0; c < 64; c += 4) {
    at::Tensor mask = at::ones({64});
    mask[c] = 0;
    model->set_channel_mask("conv1", mask);
    lowest = std::min(lowest, evaluate(*model, data, transform).accuracy);
  }
  model->clear_channel_masks();
  EXPECT_LT(lowest, 1.0);
  EXPECT_DOUBLE_EQ(evaluate(*model, data, transform).accuracy, 1.0);
}

}  // namespace
}  // namespace filterscope
