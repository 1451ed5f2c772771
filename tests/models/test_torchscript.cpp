#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "filterscope/capture/capture.h"
#include "filterscope/core/error.h"
#include "filterscope/models/torchscript.h"
#include "filterscope/io/npy.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/trainer.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::run_cli;
using testing::run_export_script;
using testing::TempDir;
using testing::expect_matches_hooks;
using testing::lines_of;
using testing::kCpu;
using testing::names_of;
using testing::test_model;


TEST(TorchScript, ResNet18ProbesAreFoundAndNamedByModulePath) {
  auto model = load_torchscript_model(test_model("resnet18.pt"), {1, 28, 28}, kCpu);
  const auto names = names_of(*model);
  // 17 + 3 downsample convolutions, 1 + 2 x 8 ReLU outputs (each block calls its relu twice), 2 pools,
  // the fully connected layer.
  EXPECT_EQ(names.size(), 40u);
  EXPECT_EQ(names[0], "conv1");
  EXPECT_EQ(names[1], "relu");
  EXPECT_EQ(names[2], "maxpool");
  EXPECT_EQ(names[3], "layer1.0.conv1");
  EXPECT_EQ(names[4], "layer1.0.relu");
  EXPECT_EQ(names[5], "layer1.0.conv2");
  EXPECT_EQ(names[6], "layer1.0.relu@2");
  EXPECT_NE(std::find(names.begin(), names.end(), "layer2.0.downsample.0"), names.end());
  EXPECT_EQ(model->probe("layer1.0.relu@2").owner_conv, "layer1.0.conv2");  // main branch of the add
  EXPECT_EQ(model->probe("relu").owner_conv, "conv1");                      // through batch norm
  EXPECT_EQ(model->probe("layer4.1.conv2").channels, 512);
  EXPECT_EQ(model->probe("maxpool").kind, ProbeKind::MaxPool);
  // Hook names and ours are the same list.
  EXPECT_EQ(names, lines_of(test_model("resnet18-reference.names")));
  expect_matches_hooks(*model, "resnet18-reference", 1e-5);
}

TEST(TorchScript, FunctionalCallsAreProbesToo) {
  auto model = load_torchscript_model(test_model("functional.pt"), {1, 28, 28}, kCpu);
  EXPECT_EQ(names_of(*model), (std::vector<std::string>{"conv1", "relu", "max_pool2d", "conv2", "relu@2",
                                                         "max_pool2d@2", "fc"}));
  EXPECT_EQ(model->probe("max_pool2d@2").owner_conv, "conv2");
  expect_matches_hooks(*model, "functional-reference", 1e-5);
  // Asking for one early probe only: the rest of the graph is not needed and the answer is the same.
  const at::Tensor x = read_npy(test_model("functional-reference.input.npy"));
  const ProbeOutputs one = model->forward_probes(x, {"relu"}, false);
  ASSERT_EQ(one.outputs.size(), 1u);
  EXPECT_FALSE(one.logits.defined());
  EXPECT_EQ(one.outputs[0].second.sizes(), (std::vector<int64_t>{2, 8, 26, 26}));
}

TEST(TorchScript, ExportOfABuiltInNetworkCapturesTheSameMaps) {
  TempDir dir;
  const auto run = dir / "run";
  ASSERT_EQ(run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "400", "--train-size", "200",
                     "--val-size", "50", "--epochs", "1", "--quiet", "--out", run.string()})
                .code,
            0);
  for (const bool trace : {false, true}) {
    const auto file = dir / (trace ? "traced.pt" : "scripted.pt");
    std::vector<std::string> args = {"checkpoint", run.string(), "1", file.string()};
    if (trace) args.push_back("--trace");
    ASSERT_EQ(run_export_script(args), 0);
    EXPECT_TRUE(is_torchscript_archive(file));
    EXPECT_EQ(read_torchscript_info(file).input_side.value_or(0), 28);
    auto exported = load_torchscript_model(file, {1, 28, 28}, kCpu);
    Network net = load_checkpoint(checkpoint_path(run, 1));
    auto builtin = probed_network(net);
    ASSERT_EQ(names_of(*exported), names_of(*builtin)) << (trace ? "traced" : "scripted");
    for (size_t i = 0; i < builtin->probe_points().size(); ++i) {
      EXPECT_EQ(exported->probe_points()[i].owner_conv, builtin->probe_points()[i].owner_conv);
      EXPECT_EQ(exported->probe_points()[i].channels, builtin->probe_points()[i].channels);
    }
    const at::Tensor x = at::randn({5, 1, 28, 28}, at::TensorOptions().dtype(at::kFloat));
    const auto names = names_of(*builtin);
    const ProbeOutputs a = exported->forward_probes(x, names, true);
    const ProbeOutputs b = builtin->forward_probes(x, names, true);
    for (size_t i = 0; i < names.size(); ++i)
      EXPECT_TRUE(at::equal(a.outputs[i].second, b.outputs[i].second)) << names[i];
    EXPECT_TRUE(at::allclose(a.logits, b.logits, 1e-6, 1e-6));
  }
}

TEST(TorchScript, BadModelsGetOneClearLine) {
  TempDir dir;
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  testing::write_bytes(dir / "junk.pt", "this is not a model");
  EXPECT_NE(message([&] { load_torchscript_model(dir / "junk.pt", {1, 28, 28}, kCpu); })
                .find("junk.pt: not a TorchScript file"),
            std::string::npos);
  EXPECT_NE(message([&] { load_torchscript_model(dir / "missing.pt", {1, 28, 28}, kCpu); }).find("no such file"),
            std::string::npos);
  EXPECT_NE(message([&] { load_torchscript_model(test_model("mlp.pt"), {1, 28, 28}, kCpu); })
                .find("mlp.pt: the model has no convolution"),
            std::string::npos);
  const std::string shape = message([&] { load_torchscript_model(test_model("resnet18.pt"), {3, 32, 32}, kCpu); });
  EXPECT_NE(shape.find("resnet18.pt: the model rejects inputs of shape [N, 3, 32, 32]"), std::string::npos) << shape;
  EXPECT_NE(shape.find("its first convolution (conv1.weight) takes 1 input channel"), std::string::npos) << shape;
  EXPECT_EQ(shape.find('\n'), std::string::npos) << shape;
}

}  // namespace
}  // namespace filterscope
