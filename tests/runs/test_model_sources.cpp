// Model arguments resolved in one place: relative checkpoint paths from any working directory, and
// `gradients` and `mask` on a TorchScript export giving the tables of the checkpoint it came from.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "filterscope/core/files.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/model_source.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::read_json;
using testing::run_cli;
using testing::with;
using testing::run_export_script;
using testing::TempDir;
using testing::test_model;

// The data flags of the runs below, for a TorchScript export to see the same data.
const std::vector<std::string> kData = {"--dataset", "synthetic", "--synthetic-size", "900", "--train-size", "300",
                                        "--val-size", "120"};

std::filesystem::path train_run(const TempDir& dir, int epochs) {
  const auto run = dir / "run";
  const auto trained = run_cli(with(with({"train"}, kData), {"--epochs", std::to_string(epochs), "--quiet", "--out", run.string()}));
  EXPECT_EQ(trained.code, 0) << trained.err;
  return run;
}

// Runs a test body in another working directory and comes back.
struct InDirectory {
  explicit InDirectory(const std::filesystem::path& dir) : previous(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~InDirectory() { std::filesystem::current_path(previous); }
  std::filesystem::path previous;
};

TEST(Layout, EpochNamesRoundTripPastThreeDigits) {
  EXPECT_EQ(epoch_name(7), "epoch-007");
  EXPECT_EQ(epoch_name(1234), "epoch-1234");
  EXPECT_EQ(parse_epoch_name("epoch-010"), 10);
  EXPECT_EQ(parse_epoch_name("epoch-1234.pt", ".pt"), 1234);
  EXPECT_FALSE(parse_epoch_name("epoch-x.pt", ".pt"));
  EXPECT_FALSE(parse_epoch_name("epoch-.pt", ".pt"));
  EXPECT_FALSE(parse_epoch_name("epoch-003", ".pt"));
  const RunLayout layout("runs/a");
  EXPECT_EQ(layout.checkpoint(12), std::filesystem::path("runs/a/checkpoints/epoch-012.pt"));
  EXPECT_EQ(layout.analysis_json(3), std::filesystem::path("runs/a/analysis/epoch-003/analysis.json"));
}

TEST(ModelSources, RelativeCheckpointPathWorksFromAnyDirectory) {
  TempDir dir;
  const auto run = train_run(dir, 2);
  const std::vector<std::string> flags = {"--probe-size", "40", "--quiet"};
  struct Case {
    std::filesystem::path cwd;
    std::string model;
  };
  const std::vector<Case> cases = {{run / "checkpoints", "epoch-002.pt"},
                                   {run / "checkpoints", "./epoch-002.pt"},
                                   {run, "checkpoints/epoch-002.pt"},
                                   {dir.path(), "run/checkpoints/epoch-002.pt"},
                                   {run / "analysis", "../checkpoints/epoch-002.pt"}};
  for (const auto& c : cases) {
    std::filesystem::create_directories(c.cwd);
    const auto out = dir / ("out-" + std::to_string(&c - cases.data()));
    InDirectory here(c.cwd);
    const auto r = run_cli(with({"analyze", c.model, "--out", out.string()}, flags));
    ASSERT_EQ(r.code, 0) << c.cwd << " " << c.model << ": " << r.err;
    const auto a = read_json(out / "analysis.json");
    EXPECT_EQ(a["model"]["epoch"], 2);
    // The run it names is the run, whatever the working directory was.
    EXPECT_TRUE(std::filesystem::equivalent(a["model"]["run_dir"].get<std::string>(), run)) << c.model;
  }
  // Without --out, the analysis of a run's checkpoint goes into the run.
  {
    InDirectory here(run / "checkpoints");
    ASSERT_EQ(run_cli(with({"analyze", "epoch-001.pt"}, flags)).code, 0);
  }
  EXPECT_TRUE(std::filesystem::exists(RunLayout(run).analysis_json(1)));
  // A checkpoint copied out of its run still knows its data (the settings it carries).
  std::filesystem::copy_file(RunLayout(run).checkpoint(2), dir / "copied.pt");
  {
    InDirectory here(dir.path());
    const auto r = run_cli(with({"analyze", "copied.pt", "--out", "copied-analysis"}, flags));
    ASSERT_EQ(r.code, 0) << r.err;
  }
  EXPECT_EQ(read_json(dir / "copied-analysis" / "analysis.json")["probe_set"]["dataset_indices"],
            read_json(dir / "out-0" / "analysis.json")["probe_set"]["dataset_indices"]);
  // The kinds are told apart without loading.
  EXPECT_EQ(classify_model_path(run), ModelSourceKind::RunDirectory);
  EXPECT_EQ(classify_model_path(RunLayout(run).checkpoint(1)), ModelSourceKind::Checkpoint);
  EXPECT_EQ(classify_model_path(test_model("resnet18.pt")), ModelSourceKind::TorchScript);
  const auto missing = run_cli(with({"analyze", "nowhere/epoch-001.pt"}, flags));
  EXPECT_NE(missing.err.find("nowhere/epoch-001.pt: no such run directory or model file"), std::string::npos)
      << missing.err;
}

// Tables 3-6 of a TorchScript export equal those of the checkpoint it was exported from.
TEST(ModelSources, GradientsAndMaskOfATorchScriptExportEqualTheCheckpoints) {
  TempDir dir;
  const auto run = train_run(dir, 3);
  const auto exported = dir / "exported.pt";
  ASSERT_EQ(run_export_script({"checkpoint", run.string(), "3", exported.string()}), 0);
  const std::vector<std::string> analysis = {"--split", "val", "--probe-size", "100", "--theta", "1",
                                             "--beta", "1", "--quiet"};
  const std::string checkpoint = RunLayout(run).checkpoint(3).string();
  for (const std::string command : {"gradients", "mask"}) {
    const auto a = run_cli(with({command, checkpoint, "--out", (dir / "from-checkpoint").string()}, analysis));
    ASSERT_EQ(a.code, 0) << a.err;
    const auto b = run_cli(with(with({command, exported.string(), "--out", (dir / "from-torchscript").string()}, analysis), kData));
    ASSERT_EQ(b.code, 0) << b.err;
  }
  const auto ga = read_json(dir / "from-checkpoint" / "gradients.json")["epochs"][0];
  const auto gb = read_json(dir / "from-torchscript" / "gradients.json")["epochs"][0];
  EXPECT_EQ(ga["outlier_samples"], gb["outlier_samples"]);
  ASSERT_GT(ga["outlier_samples"].get<int64_t>(), 0) << "the test's criteria should flag filters";
  ASSERT_EQ(ga["layers"].size(), gb["layers"].size());
  auto close = [](const nlohmann::json& x, const nlohmann::json& y) {
    if (x.is_null() || y.is_null()) return x.is_null() && y.is_null();
    return std::abs(x.get<double>() - y.get<double>()) <= 1e-6 * std::max(1e-12, std::abs(x.get<double>()));
  };
  for (size_t l = 0; l < ga["layers"].size(); ++l) {
    EXPECT_EQ(ga["layers"][l]["name"], gb["layers"][l]["name"]);
    EXPECT_EQ(ga["layers"][l]["parameters"], gb["layers"][l]["parameters"]);
    for (const char* key : {"outlier_mean", "normal_mean", "ratio"})
      EXPECT_TRUE(close(ga["layers"][l][key], gb["layers"][l][key])) << ga["layers"][l]["name"] << " " << key;
  }
  EXPECT_TRUE(close(ga["overall"]["ratio"], gb["overall"]["ratio"]));

  const auto ma = read_json(dir / "from-checkpoint" / "mask.json");
  const auto mb = read_json(dir / "from-torchscript" / "mask.json");
  for (const char* key : {"before", "anomaly_filters", "one_at_a_time", "random_baseline", "all_at_once"})
    EXPECT_EQ(ma[key], mb[key]) << key;
  ASSERT_GT(ma["anomaly_filters"].get<int64_t>(), 0);
  // Masking changed the accuracy of at least one filter's model, on both.
  bool changed = false;
  for (const auto& f : ma["one_at_a_time"]["filters"])
    changed = changed || f["val_acc"] != ma["before"]["val_acc"] || f["train_acc"] != ma["before"]["train_acc"];
  EXPECT_TRUE(changed);
  // The run's own tables stay where they are: one model's go beside its analysis.
  EXPECT_FALSE(std::filesystem::exists(RunLayout(run).mask_json()));

  // --save of a TorchScript model writes a TorchScript model with the filters zeroed.
  const auto saved = dir / "masked.pt";
  const auto s = run_cli(with(with({"mask", exported.string(), "--out", (dir / "from-torchscript").string(), "--save",
                                    saved.string()}, analysis), kData));
  ASSERT_EQ(s.code, 0) << s.err;
  const auto again = run_cli(with(with({"analyze", saved.string(), "--out", (dir / "masked-analysis").string()}, analysis), kData));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(read_json(dir / "masked-analysis" / "analysis.json")["probe_set"]["predictions"].size(), 100u);
}

TEST(ModelSources, GradientsAndMaskRunOnAResNet18Export) {
  TempDir dir;
  const std::vector<std::string> flags = {"--dataset", "synthetic", "--synthetic-size", "900", "--val-size", "100",
                                          "--probe-size", "60", "--layers", "conv1,layer1.0.conv1", "--theta", "0.5",
                                          "--beta", "0.5", "--quiet"};
  const auto g = run_cli(with({"gradients", test_model("resnet18.pt").string(), "--out", dir.path().string()}, flags));
  ASSERT_EQ(g.code, 0) << g.err;
  // The file carries no filterscope.json: the normalisation fitted here is said, with its numbers.
  EXPECT_NE(g.out.find("note: resnet18.pt carries no filterscope.json with \"mean\" and \"std\": its inputs are normalised "
                       "by the mean / std per channel of "),
            std::string::npos)
      << g.out;
  const auto table = read_json(dir / "gradients.json")["epochs"][0];
  EXPECT_EQ(table["layers"][0]["name"], "conv1");
  EXPECT_EQ(table["layers"].back()["name"], "fc");
  const auto m = run_cli(with({"mask", test_model("resnet18.pt").string(), "--out", dir.path().string(),
                               "--baseline-seeds", "2"}, flags));
  ASSERT_EQ(m.code, 0) << m.err;
  const auto mask = read_json(dir / "mask.json");
  EXPECT_TRUE(mask.contains("before"));
  EXPECT_EQ(mask["model"]["kind"], "torchscript");
}

TEST(ModelSources, FlagsThatDoNotFitTheModelAreRefused) {
  TempDir dir;
  const auto run = train_run(dir, 1);
  const std::string checkpoint = RunLayout(run).checkpoint(1).string();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"gradients", checkpoint, "--dataset", "mnist"}, "--dataset is for TorchScript models; a checkpoint has its run's"},
      {{"mask", run.string(), "--out", "x"}, "--out is for one model"},
      {{"mask", checkpoint, "--epoch", "1"}, "--epoch needs a run directory"},
      {{"gradients", checkpoint, "--overfit-epoch", "1"}, "--overfit-epoch needs a run directory"},
      {{"analyze", checkpoint, "--epoch", "1"}, "--epoch needs a run directory"},
      {{"analyze", run.string(), "--input-size", "32"}, "--input-size is for TorchScript models"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_NE(r.code, 0) << c.args[0];
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace filterscope
