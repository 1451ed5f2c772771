// Objectives, activation maximisation, fooling, Grad-CAM, top images and the two hierarchies of
// `filterscope visualize` and `filterscope hierarchy`: known answers on hand-made vectors, the
// commands end to end on a small trained run, and one clear error per kind of bad input.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/explain/hierarchy.h"
#include "filterscope/explain/objective.h"
#include "filterscope/explain/visualize.h"
#include "filterscope/io/npy.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::read_json;
using testing::run_cli;
using testing::error_of;
using testing::TempDir;

std::vector<std::string> ten_classes() {
  std::vector<std::string> names;
  for (int c = 0; c < 10; ++c) names.push_back("c" + std::to_string(c));
  return names;
}

TEST(Objectives, ParseEvaluateAndNameWhatExists) {
  auto model = probed_network(make_network("simple-cnn", 1, 10, 28));
  const auto names = ten_classes();
  const Objective o = parse_objective("logit:3+0.5*channel:features.3:17+unit:features.7:2:1:1+prob:c4", *model, names);
  ASSERT_EQ(o.terms.size(), 4u);
  EXPECT_EQ(o.terms[1].weight, 0.5);
  EXPECT_EQ(o.terms[3].index, 4);
  EXPECT_FALSE(o.target_class().has_value());
  EXPECT_EQ(parse_objective("logit:c7", *model, names).target_class(), 7);
  // The value is the weighted sum of the named outputs.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const at::Tensor x = at::randn({3, 1, 28, 28}, gen);
  at::NoGradGuard no_grad;
  const ProbeOutputs out = model->forward_probes(x, {"features.3", "features.7"}, true);
  const at::Tensor expected = out.logits.select(1, 3) + 0.5 * out.outputs[0].second.select(1, 17).flatten(1).mean(1) +
                              out.outputs[1].second.select(1, 2).select(1, 1).select(1, 1) +
                              at::softmax(out.logits, 1).select(1, 4);
  EXPECT_TRUE(at::allclose(evaluate_objective(o, out), expected, 1e-6, 1e-6));
  // Bad objectives say what exists.
  EXPECT_NE(error_of([&] { parse_objective("channel:features.99:1", *model, names); }).find("features.7"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_objective("channel:features.3:64", *model, names); }).find("has channels 0-63"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_objective("unit:features.7:0:3:0", *model, names); }).find("outside features.7's 3x3 maps"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_objective("logit:dog", *model, names); }).find("the classes: 0 c0"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_objective("pixel:3", *model, names); }).find("unknown term"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_objective("x*logit:3", *model, names); }).find("is not a weight"), std::string::npos);
}

TEST(Hierarchy, GreedyMergeAveragesDistancesAndPrimFindsTheMst) {
  // Four categories: 0 and 1 close, 2 nearer to them than 3 is.
  const at::Tensor d = at::tensor({0.0, 0.1, 0.4, 0.9,  //
                                   0.1, 0.0, 0.3, 0.8,  //
                                   0.4, 0.3, 0.0, 0.6,  //
                                   0.9, 0.8, 0.6, 0.0}, at::kDouble).view({4, 4});
  const CategoryHierarchy h = build_hierarchy(d, {"a", "b", "c", "d"});
  ASSERT_EQ(h.nodes.size(), 7u);
  EXPECT_EQ(h.nodes[4].children, (std::vector<int64_t>{0, 1}));
  EXPECT_DOUBLE_EQ(h.nodes[4].height, 0.1);
  // (0,1) to 2: (0.4 + 0.3) / 2 = 0.35; to 3: 0.85; 2 to 3: 0.6 -> merge (2, node 4) at 0.35.
  EXPECT_EQ(h.nodes[5].children, (std::vector<int64_t>{2, 4}));
  EXPECT_DOUBLE_EQ(h.nodes[5].height, 0.35);
  // Then 3 with node 5 at (0.6 + 0.85) / 2.
  EXPECT_EQ(h.nodes[6].children, (std::vector<int64_t>{3, 5}));
  EXPECT_DOUBLE_EQ(h.nodes[6].height, 0.725);
  EXPECT_EQ(h.nodes[6].leaves, 4);
  // MST: 0-1 (0.1), 1-2 (0.3), 2-3 (0.6).
  ASSERT_EQ(h.mst.size(), 3u);
  EXPECT_NEAR(h.mst_weight, 1.0, 1e-12);
  EXPECT_THROW(build_hierarchy(d.narrow(0, 0, 1).narrow(1, 0, 1), {"a"}), Error);
  // Cosine distances: opposite vectors are 1 apart, orthogonal 1/2, equal 0.
  const at::Tensor c = cosine_distances(at::tensor({1.0, 0.0, -2.0, 0.0, 0.0, 3.0}, at::kDouble).view({3, 2}));
  EXPECT_NEAR(c[0][1].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(c[0][2].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(c[2][2].item<double>(), 0.0, 1e-12);
}

TEST(Hierarchy, PredictionTreeFollowsAlgorithmTwoStepByStep) {
  // Three images, two filters of 1x1 maps: u0 = (1, 0), u1 = (1, 0.1), u2 = (0, 1).
  const at::Tensor maps = at::tensor({1.0, 0.0, 1.0, 0.1, 0.0, 1.0}, at::kDouble).view({3, 2, 1, 1});
  const PredictionTree t = build_prediction_tree(maps, {10, 11, 12});
  ASSERT_EQ(t.nodes.size(), 6u);
  // Step 1: u0 and u1 are closest (cos 0.995). Removing filter 0 leaves cos 0 (ratio 0), removing
  // filter 1 leaves cos 1 (ratio 1.005): filter 0 is critical; the node keeps filter 1.
  EXPECT_EQ(t.nodes[3].children, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(t.nodes[3].critical, 0);
  EXPECT_EQ(t.nodes[3].filters, (std::vector<int64_t>{1}));
  EXPECT_NEAR(t.nodes[3].distance, 0.5 * (1 - 1 / std::sqrt(1.01)), 1e-12);
  // Step 2: u2 still has two filters; it merges with node 3 (vector (1, 0.05), filter 1 only:
  // cos 1, distance 0); filter 1 is critical and nothing is left.
  EXPECT_EQ(t.nodes[4].children, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.nodes[4].critical, 1);
  EXPECT_TRUE(t.nodes[4].filters.empty());
  EXPECT_NEAR(t.nodes[4].distance, 0.0, 1e-12);
  EXPECT_EQ(t.root, 5);
  EXPECT_EQ(t.nodes[5].children, (std::vector<int64_t>{4}));
  EXPECT_EQ(t.nodes[0].image, 10);
}

TEST(Hierarchy, ClassWithoutImagesIsNamed) {
  auto model = probed_network(make_network("simple-cnn", 1, 10, 28));
  Dataset d = make_synthetic(200, 3);
  d = subset(d, d.labels.ne(4).nonzero().view(-1), d.name);
  InputTransform t;
  t.mean = {0.1};
  t.std = {0.3};
  const std::string e = error_of([&] { class_representatives(*model, d, t, "features.7", 64); });
  EXPECT_NE(e.find("class 4"), std::string::npos) << e;
  EXPECT_NE(e.find("has no images"), std::string::npos) << e;
}

class ExplainCommands : public testing::SuiteRun<ExplainCommands> {
 protected:
  static void SetUpTestSuite() {
    train({"train", "--dataset", "synthetic", "--synthetic-size", "1500", "--classes", "0-5", "--train-size", "500",
           "--val-size", "120", "--epochs", "4", "--quiet"});
  }
};

TEST_F(ExplainCommands, VisualizeRaisesObjectivesFoolsAndExplains) {
  const auto out = *dir_ / "vis";
  const auto r = run_cli({"visualize", run().string(), "--steps", "60", "--seeds", "2", "--lr", "0.05", "--objective",
                          "logit:1", "--objective", "logit:4", "--objective", "channel:features.3:5+0.1*logit:0",
                          "--fool", "2:3", "--fool-images", "6", "--fool-lr", "0.02", "--gradcam-images", "10",
                          "--top-k", "4", "--top-channels", "0,3", "--noise-images", "50", "--out", out.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = read_json(out / "visualize.json");
  const auto& images = j["maximisation"]["images"];
  ASSERT_EQ(images.size(), 6u);
  for (const auto& im : images) EXPECT_GT(im["after"].get<double>(), im["before"].get<double>()) << im.dump();
  EXPECT_GE(j["maximisation"]["class_success_rate"].get<double>(), 0.5);
  const at::Tensor am = read_npy(out / "am_images.npy");
  EXPECT_EQ(am.sizes(), (std::vector<int64_t>{6, 1, 28, 28}));
  EXPECT_GE(am.min().item<float>(), 0.0f);
  EXPECT_LE(am.max().item<float>(), 1.0f);
  // Fooling: every flipped image has its step count; the difference map is the per-pixel distance.
  ASSERT_EQ(j["fooling"]["images"].size(), 6u);
  EXPECT_GT(j["fooling"]["flipped"].get<int64_t>(), 0);
  const at::Tensor start = read_npy(out / "fool_start.npy"), fooled = read_npy(out / "fool_images.npy");
  EXPECT_TRUE(at::allclose(read_npy(out / "fool_difference.npy"), (fooled - start).pow(2).sum(1).sqrt(), 1e-6, 1e-6));
  // Grad-CAM maps of features.7 (3x3), non-negative.
  const at::Tensor cam = read_npy(out / "gradcam.npy");
  EXPECT_EQ(cam.sizes(), (std::vector<int64_t>{10, 3, 3}));
  EXPECT_GE(cam.min().item<double>(), 0);
  // Top images: the listed values are the largest of the channel, in order.
  const auto& ch = j["top"]["channels"];
  ASSERT_EQ(ch.size(), 2u);
  const auto values = ch[1]["values"].get<std::vector<double>>();
  EXPECT_TRUE(std::is_sorted(values.rbegin(), values.rend()));
  int64_t counted = 0;
  for (int64_t v : ch[1]["histogram"].get<std::vector<int64_t>>()) counted += v;
  EXPECT_EQ(counted, 120);
  // Out of sample: the four classes left out of training and noise, shares summing to 1.
  const auto& rows = j["out_of_sample"]["rows"];
  ASSERT_EQ(rows.size(), 5u);
  for (const auto& row : rows) {
    double sum = 0;
    for (double v : row["shares"].get<std::vector<double>>()) sum += v;
    EXPECT_NEAR(sum, 1.0, 1e-9);
  }
  for (const char* f : {"am_grid.png", "fool.png", "gradcam.png", "top_images.png", "visualize.html"})
    EXPECT_TRUE(std::filesystem::exists(out / f)) << f;
}

TEST_F(ExplainCommands, FourierParameterisationAndJitterAlsoRaiseTheObjective) {
  const auto out = *dir_ / "vis-fourier";
  auto r = run_cli({"visualize", run().string(), "--parts", "am", "--steps", "40", "--fourier", "--lr", "0.05",
                    "--objective", "logit:2", "--out", out.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto im = read_json(out / "visualize.json")["maximisation"]["images"][0];
  EXPECT_GT(im["after"].get<double>(), im["before"].get<double>());
  r = run_cli({"visualize", run().string(), "--parts", "am", "--steps", "40", "--grad-blur", "1", "--grad-translate", "2",
               "--grad-rotate", "10", "--tv-weight", "0.01", "--alpha-weight", "0.01", "--objective", "logit:2", "--out",
               out.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  im = read_json(out / "visualize.json")["maximisation"]["images"][0];
  EXPECT_GT(im["after"].get<double>(), im["before"].get<double>());
}

TEST_F(ExplainCommands, HierarchyAndPredictionTree) {
  const auto out = *dir_ / "hier";
  const auto r = run_cli({"hierarchy", run().string(), "--noise-class", "40", "--tree-class", "2", "--tree-images", "12",
                          "--out", out.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto h = read_json(out / "hierarchy.json");
  EXPECT_EQ(h["labels"].size(), 7u);  // six classes and noise
  EXPECT_EQ(h["labels"].back(), "noise");
  EXPECT_EQ(h["nodes"].size(), 13u);
  EXPECT_EQ(h["mst"].size(), 6u);
  const at::Tensor d = read_npy(out / "distances.npy");
  double total = 0;
  for (const auto& e : h["mst"]) {
    EXPECT_NEAR(e["weight"].get<double>(), d[e["a"].get<int64_t>()][e["b"].get<int64_t>()].item<double>(), 1e-12);
    total += e["weight"].get<double>();
  }
  EXPECT_NEAR(total, h["mst_weight"].get<double>(), 1e-12);
  const auto t = read_json(out / "tree-2.json");
  EXPECT_EQ(t["nodes"][t["root"].get<int64_t>()]["filters"].size(), 64u);
  int64_t leaves = 0;
  for (const auto& n : t["nodes"]) leaves += n["children"].empty();
  EXPECT_EQ(leaves, 12);
  EXPECT_FALSE(t["critical_top_images"].empty());
  EXPECT_TRUE(std::filesystem::exists(out / "hierarchy.html"));
}

TEST_F(ExplainCommands, BadInputGetsOneClearError) {
  const auto x = (*dir_ / "x").string();
  auto r = run_cli({"visualize", run().string(), "--parts", "gradcam", "--gradcam-layer", "classifier.1", "--out", x, "--quiet"});
  EXPECT_NE(r.err.find("Grad-CAM needs spatial maps"), std::string::npos) << r.err;
  r = run_cli({"visualize", run().string(), "--parts", "am", "--objective", "channel:features.3:99", "--out", x, "--quiet"});
  EXPECT_NE(r.err.find("has channels 0-63"), std::string::npos) << r.err;
  r = run_cli({"visualize", run().string(), "--parts", "am", "--objective", "logit:8", "--out", x, "--quiet"});
  EXPECT_NE(r.err.find("no class \"8\""), std::string::npos) << r.err;
  r = run_cli({"visualize", run().string(), "--fool", "2-3", "--parts", "fool", "--out", x, "--quiet"});
  EXPECT_NE(r.err.find("write FROM:TO"), std::string::npos) << r.err;
  r = run_cli({"visualize", run().string(), "--parts", "movie", "--out", x, "--quiet"});
  EXPECT_NE(r.err.find("--parts: unknown part"), std::string::npos) << r.err;
  r = run_cli({"hierarchy", run().string(), "--tree-class", "9", "--out", x, "--quiet"});
  EXPECT_NE(r.err.find("--tree-class: no class \"9\""), std::string::npos) << r.err;
  // One class: no hierarchy.
  const auto resnet = testing::test_model("resnet18.pt");
  r = run_cli({"hierarchy", resnet.string(), "--dataset", "synthetic", "--synthetic-size", "600", "--classes", "3",
               "--val-size", "8", "--out", x, "--quiet"});
  EXPECT_NE(r.err.find("the hierarchy needs at least 2 classes"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace filterscope
