#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/conv.h>
#include <torch/utils.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "filterscope/anomaly/analyze.h"
#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/analysis_files.h"
#include "filterscope/io/npy.h"
#include "filterscope/runs/layout.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::read_json;
using testing::run_cli;
using testing::run_export_script;
using testing::TempDir;
using testing::test_model;

// A clustering result made by hand: filter 0 has three small clusters of five, filter 1 is
// balanced, filter 2 has no K (constant maps).
ClusterResult hand_made(int64_t n) {
  ClusterResult r;
  const int64_t kmax = 5;
  r.k_values = at::arange(2, 6, at::kLong);
  r.best_k = at::tensor(std::vector<int64_t>{5, 2, 0});
  r.best_ch = at::tensor({300.0, 100.0, NAN}, at::kDouble);
  r.sizes = at::zeros({3, kmax}, at::kLong);
  r.sizes[0] = at::tensor(std::vector<int64_t>{n - 25, 10, 5, 5, 5});
  r.sizes[1] = at::tensor(std::vector<int64_t>{n / 2, n - n / 2, 0, 0, 0});
  r.labels = at::full({3, n}, -1, at::kLong);
  r.labels[0].fill_(0);
  for (int64_t i = 0; i < 25; ++i) r.labels[0][i] = i < 10 ? 1 : 2 + (i - 10) / 5;
  r.labels[1].narrow(0, 0, n / 2).fill_(0);
  r.labels[1].narrow(0, n / 2, n - n / 2).fill_(1);
  r.ch = at::full({3, 4}, NAN, at::kDouble);
  r.notes = {"", "", "all points identical"};
  return r;
}

TEST(Criteria, KnownAnswerOnAHandMadeLayer) {
  const int64_t n = 1000;
  const ClusterResult r = hand_made(n);
  AnomalyOptions o;
  o.small_cluster = 0.005;  // lambda = 5 at N = 1000
  o.alpha = 0.2;
  o.beta = 1.4;
  o.theta = 0.5;
  const LayerCriteria c = apply_criteria(r, at::tensor({2.0, 1.0, 0.0}, at::kDouble), o);
  EXPECT_EQ(c.lambda, 5);
  EXPECT_EQ(c.small_clusters[0].item<int64_t>(), 3);  // the three clusters of 5 (10 is not small)
  EXPECT_DOUBLE_EQ(c.small_share[0].item<double>(), 15.0 / n);
  EXPECT_DOUBLE_EQ(c.smallest_share[0].item<double>(), 5.0 / n);
  EXPECT_DOUBLE_EQ(c.unbalance[0].item<double>(), 3.0 - 0.2 * 5);
  EXPECT_DOUBLE_EQ(c.mean_ch, 200.0);  // filter 2 has none and is left out
  EXPECT_DOUBLE_EQ(c.ch_ratio[0].item<double>(), 1.5);
  EXPECT_DOUBLE_EQ(c.activation_ratio[0].item<double>(), 2.0);
  EXPECT_TRUE(c.unbalanced[0].item<bool>() && c.high_ch[0].item<bool>() && c.active[0].item<bool>());
  EXPECT_TRUE(c.anomaly[0].item<bool>());
  EXPECT_FALSE(c.anomaly[1].item<bool>());
  EXPECT_FALSE(c.anomaly[2].item<bool>());  // no K, dead
  EXPECT_FALSE(c.active[2].item<bool>());
  EXPECT_EQ(c.small_member[0].sum().item<int64_t>(), 15);
  EXPECT_TRUE(c.small_member[0].narrow(0, 10, 15).all().item<bool>());
  EXPECT_EQ(c.small_member[1].sum().item<int64_t>(), 0);
  // lambda scales with N: at N = 2000 the same share gives 10, and the cluster of 10 is small.
  EXPECT_EQ(o.lambda(2000), 10);
  // Raising beta past the ratio leaves nothing, and the miss is explained.
  o.beta = 1.6;
  const LayerCriteria none = apply_criteria(r, at::tensor({2.0, 1.0, 0.0}, at::kDouble), o);
  EXPECT_FALSE(none.anomaly.any().item<bool>());
  const std::string miss = closest_miss(none, r, o, 2);
  EXPECT_NE(miss.find("no filter passes criterion 2 (high CH); the closest, filter 0, has CH 1.5 x the layer mean "
                      "(needs more than 1.6)"),
            std::string::npos)
      << miss;
  EXPECT_EQ(closest_miss(none, r, o, 1), "");  // filter 0 passes criterion 1
  o.alpha = 1.5;
  EXPECT_THROW(apply_criteria(r, at::tensor({2.0, 1.0, 0.0}, at::kDouble), o), Error);
}

std::vector<std::string> small_train_args(const std::filesystem::path& out) {
  return {"train", "--dataset", "synthetic", "--synthetic-size", "1200", "--train-size", "600", "--val-size", "200",
          "--epochs", "2", "--quiet", "--label-noise", "0.2", "--out", out.string()};
}

TEST(Analyze, WritesTheFilesAndTheSameSeedGivesTheSameAnswer) {
  TempDir dir;
  const auto run = dir / "run";
  ASSERT_EQ(run_cli(small_train_args(run)).code, 0);
  const std::vector<std::string> common = {"analyze", run.string(), "--probe-size", "150", "--quiet",
                                           "--small-cluster", "0.05", "--beta", "1.1", "--split", "train"};
  auto args = common;
  args.insert(args.end(), {"--save-projections"});
  const auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = RunLayout(run).analysis_dir(2);
  const nlohmann::json a = read_json(out / "analysis.json");
  EXPECT_EQ(a["format"], kAnalysisFormat);
  EXPECT_EQ(a["model"]["epoch"], 2);
  EXPECT_EQ(a["probe_set"]["dataset_indices"].size(), 150u);
  ASSERT_EQ(a["layers"].size(), 8u);  // simple-cnn: 3 conv, 3 relu, 2 pool
  int64_t filters = 0, anomalies = 0;
  for (const auto& layer : a["layers"]) {
    filters += static_cast<int64_t>(layer["filters"].size());
    anomalies += layer["anomaly_count"].get<int64_t>();
    EXPECT_EQ(layer["lambda"], 8);  // round(0.05 x 150)
    for (const auto& f : layer["filters"]) {
      EXPECT_EQ(f["ch_by_k"].size(), 9u);
      if (f["anomaly"].get<bool>()) {
        EXPECT_TRUE(f["criteria"]["unbalanced"].get<bool>() && f["criteria"]["high_ch"].get<bool>() &&
                    f["criteria"]["active"].get<bool>());
        EXPECT_FALSE(f["small_cluster_members"].empty());
      }
    }
  }
  EXPECT_EQ(a["summary"]["filters"], filters);
  EXPECT_EQ(a["summary"]["anomaly_filters"], anomalies);
  EXPECT_EQ(a["layers"][4]["owner_conv"], "features.3");
  // These loose criteria flag filters on this small, noisy run; the outliers are their members.
  EXPECT_GT(anomalies, 0);
  ASSERT_FALSE(a["outliers"].empty());
  EXPECT_TRUE(a["outliers"][0].contains("label_replaced"));
  // filters.csv: a header and one row per filter; outliers.csv: one row per outlier.
  const std::string filters_csv = read_file(out / "filters.csv");
  EXPECT_EQ(std::count(filters_csv.begin(), filters_csv.end(), '\n'), filters + 1);
  const std::string outliers_csv = read_file(out / "outliers.csv");
  EXPECT_EQ(std::count(outliers_csv.begin(), outliers_csv.end(), '\n'),
            static_cast<int64_t>(a["outliers"].size()) + 1);
  const at::Tensor points = read_npy(out / "projections" / "features.3.points.npy");
  EXPECT_EQ(points.sizes(), (std::vector<int64_t>{64, 150, 2}));
  EXPECT_EQ(read_npy(out / "projections" / "features.3.labels.npy").sizes(), (std::vector<int64_t>{64, 150}));
  EXPECT_NE(r.out.find("anomaly filter(s)"), std::string::npos) << r.out;
  // Again into another folder: identical files (timings aside).
  args = common;
  args.insert(args.end(), {"--out", (dir / "again").string()});
  ASSERT_EQ(run_cli(args).code, 0);
  EXPECT_EQ(read_file(dir / "again" / "filters.csv"), filters_csv);
  EXPECT_EQ(read_file(dir / "again" / "outliers.csv"), outliers_csv);
  // Within --max-memory 4 (3 MiB for maps: seven of features.0's 32 filters a pass, and the
  // analysis of a piece in runs of filters): the same answer, bit for bit.
  args = common;
  args.insert(args.end(), {"--out", (dir / "small").string(), "--max-memory", "4", "--save-projections"});
  const auto small = run_cli(args);
  ASSERT_EQ(small.code, 0) << small.err;
  EXPECT_EQ(read_file(dir / "small" / "filters.csv"), filters_csv);
  EXPECT_EQ(read_file(dir / "small" / "outliers.csv"), outliers_csv);
  EXPECT_EQ(read_file(dir / "small" / "projections" / "features.0.points.npy"),
            read_file(out / "projections" / "features.0.points.npy"));
}

TEST(Analyze, CheckpointAndItsTorchScriptExportGiveIdenticalResults) {
  TempDir dir;
  const auto run = dir / "run";
  ASSERT_EQ(run_cli(small_train_args(run)).code, 0);
  const auto exported = dir / "exported.pt";
  ASSERT_EQ(run_export_script({"checkpoint", run.string(), "2", exported.string()}), 0);
  ASSERT_EQ(run_cli({"analyze", run.string(), "--probe-size", "120", "--quiet", "--out", (dir / "a").string()}).code, 0);
  const auto r = run_cli({"analyze", exported.string(), "--dataset", "synthetic", "--synthetic-size", "1200",
                          "--train-size", "600", "--val-size", "200", "--probe-size", "120", "--quiet", "--out",
                          (dir / "b").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "a" / "filters.csv"), read_file(dir / "b" / "filters.csv"));
  EXPECT_EQ(read_file(dir / "a" / "outliers.csv"), read_file(dir / "b" / "outliers.csv"));
  const auto a = read_json(dir / "a" / "analysis.json"), b = read_json(dir / "b" / "analysis.json");
  EXPECT_EQ(a["probe_set"]["dataset_indices"], b["probe_set"]["dataset_indices"]);
  EXPECT_EQ(a["probe_set"]["predictions"], b["probe_set"]["predictions"]);
  EXPECT_EQ(b["model"]["kind"], "torchscript");
}

TEST(Analyze, ResNet18FromTorchScriptIsAnalysed) {
  TempDir dir;
  const auto r = run_cli({"analyze", test_model("resnet18.pt").string(), "--dataset", "synthetic",
                          "--synthetic-size", "600", "--val-size", "100", "--probe-size", "60", "--layers",
                          "layer1.0.conv1,layer1.0.relu@2,layer4.1.relu@2", "--quiet", "--out", (dir / "out").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto a = read_json(dir / "out" / "analysis.json");
  ASSERT_EQ(a["layers"].size(), 3u);
  EXPECT_EQ(a["layers"][1]["name"], "layer1.0.relu@2");
  EXPECT_EQ(a["layers"][1]["owner_conv"], "layer1.0.conv2");
  EXPECT_EQ(a["layers"][2]["shape"], (std::vector<int64_t>{512, 1, 1}));
  EXPECT_EQ(a["layers"][0]["filters"].size(), 64u);
}

// `--list-layers` prints the names --layers takes (activations' --help points here) and analyses
// nothing. ResNet-18's widths are known: 64 channels in layer1, 512 in layer4.
TEST(Analyze, ListLayersPrintsTheProbePointsAndStops) {
  TempDir dir;
  const auto out = dir / "out";
  const auto r = run_cli({"analyze", test_model("resnet18.pt").string(), "--dataset", "synthetic", "--synthetic-size",
                          "600", "--val-size", "100", "--list-layers", "--out", out.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  auto row = [&](const std::string& name) {
    const size_t at = r.out.find("\n" + name + " ");
    return at == std::string::npos ? std::string() : r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(row("layer1.0.conv1").find(" conv "), std::string::npos) << r.out;
  EXPECT_NE(row("layer1.0.conv1").find(" 64 "), std::string::npos) << row("layer1.0.conv1");
  EXPECT_NE(row("layer4.1.conv2").find(" 512 "), std::string::npos) << row("layer4.1.conv2");
  EXPECT_NE(row("layer1.0.relu@2").find("relu"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out)) << "--list-layers wrote an analysis";
}

TEST(Analyze, DeadAndNaNFiltersAreReportedNotFatal) {
  torch::manual_seed(0);
  Network net = make_network("lenet5", 1, 10, 28);
  {
    torch::NoGradGuard no_grad;
    auto* conv = net->named_modules()["features.0"]->as<torch::nn::Conv2d>();
    conv->weight[2].zero_();  // filter 2 is dead: zero weights and bias
    conv->bias[2].zero_();
    conv->bias[4].fill_(NAN);  // filter 4 outputs NaN
  }
  auto model = probed_network(net);
  const Dataset data = make_synthetic(80, 3);
  AnalyzeOptions o;
  o.layers = "features.0";
  o.progress = false;
  const Analysis a = analyze_model(*model, data, fit_normalisation(data), o);
  ASSERT_EQ(a.layers.size(), 1u);
  const LayerAnalysis& layer = a.layers[0];
  EXPECT_EQ(layer.mean_activation[2].item<double>(), 0.0);
  EXPECT_EQ(layer.clusters.best_k[2].item<int64_t>(), 0);
  EXPECT_EQ(layer.clusters.best_k[4].item<int64_t>(), 0);
  EXPECT_FALSE(layer.criteria.anomaly[2].item<bool>());
  EXPECT_FALSE(layer.criteria.anomaly[4].item<bool>());
  EXPECT_GT(layer.clusters.best_k[0].item<int64_t>(), 0);  // the others are analysed as usual
  AnalysisContext context;
  context.probe_set = &data;
  const AnalysisRecord r = analysis_record(a, context);
  EXPECT_EQ(r.layers[0].filters[2].status, "dead");
  EXPECT_EQ(r.layers[0].filters[4].status, "non-finite");
  // The record survives its JSON form: NaN scores become null and come back as NaN.
  const AnalysisRecord back = AnalysisRecord::from_json(r.to_json(), "test");
  EXPECT_EQ(back.to_json(), r.to_json());
  EXPECT_TRUE(std::isnan(back.layers[0].filters[4].mean_activation));
  // A float where a whole number belongs is refused with the file's name (the JSON library would
  // cast 8.9e99 to an integer: undefined behaviour, garbage counts).
  nlohmann::json bad = r.to_json();
  bad["layers"][0]["anomaly_count"] = 8.9e99;
  EXPECT_EQ(testing::error_of([&] { AnalysisRecord::from_json(bad, "epoch-003/analysis.json"); }),
            "epoch-003/analysis.json: 8.9e+99 is not a whole number");
  bad = r.to_json();
  bad["probe_set"]["dataset_indices"][0] = 1.5;
  EXPECT_EQ(testing::error_of([&] { AnalysisRecord::from_json(bad, "analysis.json"); }),
            "analysis.json: 1.5 is not a whole number");
}

TEST(Analyze, BadInputGetsOneClearLine) {
  TempDir dir;
  const auto run = dir / "run";
  ASSERT_EQ(run_cli(small_train_args(run)).code, 0);
  testing::write_bytes(dir / "junk.pt", "PK not really a zip");
  const std::string data_flags[] = {"--dataset", "synthetic", "--synthetic-size", "600", "--val-size", "100"};
  auto ts = [&](const std::string& model, std::vector<std::string> extra) {
    std::vector<std::string> args = {"analyze", model};
    args.insert(args.end(), std::begin(data_flags), std::end(data_flags));
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"analyze", (dir / "nothing").string()}, "no such run directory or model file"},
      {ts((dir / "junk.pt").string(), {}), "junk.pt: corrupt or truncated checkpoint or TorchScript file (19 bytes is too short for a zip archive)"},
      {ts(test_model("mlp.pt").string(), {}), "mlp.pt: the model has no convolution"},
      {ts(test_model("functional.pt").string(), {"--input-size", "32", "--probe-size", "50"}),
       "functional.pt: the model rejects inputs of shape [N, 1, 32, 32]"},
      {{"analyze", run.string(), "--probe-size", "5000"},
       "--probe-size 5000 exceeds the 200 samples of the validation set"},
      {{"analyze", run.string(), "--layers", ",", "--probe-size", "50"}, "--layers selects no probe point"},
      {{"analyze", run.string(), "--layers", "features.9", "--probe-size", "50"}, "has no probe point \"features.9\""},
      {{"analyze", run.string(), "--alpha", "2"}, "--alpha must be in [0, 1], got 2"},
      {{"analyze", run.string(), "--small-cluster", "0"}, "--small-cluster must be in (0, 0.5]"},
      {{"analyze", run.string(), "--epoch", "7"}, "no checkpoint for epoch 7 (there are epochs 1 to 2)"},
      {{"analyze", run.string(), "--dataset", "mnist"}, "--dataset is for TorchScript models"},
      {{"analyze", run.string(), "--split", "test"}, "--split must be one of {val, train}, got \"test\""},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_NE(r.code, 0) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "expected \"" << c.message << "\" in: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(RunLayout(run).analyses_dir()));
}

}  // namespace
}  // namespace filterscope
