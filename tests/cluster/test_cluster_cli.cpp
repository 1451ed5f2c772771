#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "filterscope/core/files.h"
#include "filterscope/io/npy.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::run_cli;
using testing::TempDir;

TEST(ClusterCli, WritesJsonAndLabels) {
  TempDir dir;
  at::Tensor centres = at::tensor({0.0, 0.0, 10.0, 0.0}, at::kDouble).view({2, 1, 2});
  at::Tensor pts = (at::randn({2, 50, 2}, at::kDouble) * 0.5 + centres).reshape({1, 100, 2});
  write_npy(dir / "p.npy", pts.to(at::kFloat));
  const auto r = run_cli({"cluster", (dir / "p.npy").string(), "--kmax", "4", "--labels-out",
                          (dir / "l.npy").string(), "--all-labels-out", (dir / "all.npy").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto json = nlohmann::json::parse(read_file(dir / "p.clusters.json"));
  EXPECT_EQ(json["format"], "filterscope-cluster-1");
  EXPECT_EQ(json["sets"][0]["k"], 2);
  // The console says the answer too.
  EXPECT_NE(r.out.find("\n  K = 2 (Calinski-Harabasz "), std::string::npos) << r.out;
  EXPECT_EQ(json["sets"][0]["fits"].size(), 3u);
  EXPECT_TRUE(json["sets"][0]["ch_by_k"].contains("4"));
  EXPECT_EQ(json["settings"]["kmax"], 4);
  EXPECT_EQ(read_npy(dir / "l.npy").sizes(), at::IntArrayRef({1, 100}));
  EXPECT_EQ(read_npy(dir / "all.npy").sizes(), at::IntArrayRef({1, 3, 100}));
}

TEST(ClusterCli, EveryBadInputHasItsMessage) {
  TempDir dir;
  write_npy(dir / "ok.npy", at::randn({20, 2}, at::kDouble));
  write_npy(dir / "int.npy", at::ones({20, 2}, at::kLong));
  write_npy(dir / "shape.npy", at::ones({20, 3}, at::kDouble));
  at::Tensor nan = at::randn({2, 20, 2}, at::kDouble);
  nan[1][7][0] = NAN;
  write_npy(dir / "nan.npy", nan);
  at::Tensor inf = at::randn({20, 2}, at::kFloat);
  inf[3][1] = INFINITY;
  write_npy(dir / "inf.npy", inf);
  const std::string ok = (dir / "ok.npy").string();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"cluster", (dir / "int.npy").string()}, "int.npy: dtype int64 (<i8) is not supported; points must be float32 (<f4) or float64 (<f8)"},
      {{"cluster", (dir / "shape.npy").string()}, "shape.npy: shape [20, 3] is not [N, 2] or [F, N, 2]"},
      {{"cluster", (dir / "nan.npy").string()}, "nan.npy: contains NaN or Inf (first at set 1, point 7)"},
      {{"cluster", (dir / "inf.npy").string()}, "inf.npy: contains NaN or Inf (first at set 0, point 3)"},
      {{"cluster", (dir / "missing.npy").string()}, "missing.npy: no such file"},
      {{"cluster", ok, "--kmin", "0"}, "--kmin must be in [1, 16], got 0"},
      {{"cluster", ok, "--kmax", "17"}, "--kmax must be in [1, 16], got 17"},
      {{"cluster", ok, "--kmin", "6", "--kmax", "3"}, "--kmin (6) must not exceed --kmax (3)"},
      {{"cluster", ok, "--tol", "0"}, "--tol must be > 0, got 0"},
      {{"cluster", ok, "--reg-covar", "-1e-6"}, "--reg-covar must be >= 0, got -1e-06"},
      {{"cluster", ok, "--max-iter", "0"}, "--max-iter must be in [1, 1000000], got 0"},
      {{"cluster", ok, "--n-init", "0"}, "--n-init must be in [1, 1000], got 0"},
      {{"cluster", ok, "--seed", "-1"}, "--seed must be in [0, 4294967295], got -1"},
      {{"cluster", ok, "--backend", "gpu"}, "--backend must be one of {auto, fused, tensor}, got \"gpu\""},
      {{"cluster", ok, "--device", "cuda:7"}, "--device cuda:7"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_NE(r.code, 0) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "expected \"" << c.message << "\" in: " << r.err;
  }
}

TEST(ClusterCli, HelpDocumentsEveryOption) {
  const auto r = run_cli({"cluster", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* flag : {"--kmin", "--kmax", "--max-iter", "--tol", "--reg-covar", "--n-init",
                           "--kmeans-max-iter", "--kmeans-tol", "--seed", "--max-batch-mb", "--device",
                           "--backend", "--threads", "--out", "--labels-out", "--all-labels-out"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace filterscope
