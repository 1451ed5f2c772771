// Confident learning against a NumPy implementation of the paper's rules
// (tests/experiments/confident_learning_reference.py) on fixed probabilities, and cleanlab's
// sum-preserving rounding on hand-made rows.
#include <gtest/gtest.h>

#include <cstdlib>

#include "filterscope/experiments/confident_learning.h"
#include "filterscope/io/npy.h"
#include "test_util.h"

namespace filterscope {
namespace {

std::vector<int64_t> ints(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

std::vector<double> doubles(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::vector<std::vector<int64_t>> matrix(const at::Tensor& t) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t r = 0; r < t.size(0); ++r) out.push_back(ints(t[r]));
  return out;
}

TEST(ConfidentLearning, RoundingPreservesTheRowSum) {
  EXPECT_EQ(round_preserving_sum({0.5, 1.5, 2.5}), (std::vector<int64_t>{0, 2, 2}));  // half to even, sum 4.5 -> 4
  EXPECT_EQ(round_preserving_sum({0.4, 0.4, 0.4, 0.4, 0.4}), (std::vector<int64_t>{0, 0, 0, 1, 1}));
  EXPECT_EQ(round_preserving_sum({1.6, 1.6, 1.8}), (std::vector<int64_t>{1, 2, 2}));  // sum 5: the smallest remainder goes down
}

TEST(ConfidentLearning, MatchesTheNumpyReference) {
  testing::TempDir dir;
  const std::string command = std::string(FILTERSCOPE_REFERENCE_PYTHON) + " '" + FILTERSCOPE_SOURCE_DIR +
                              "/tests/experiments/confident_learning_reference.py' '" + dir.path().string() +
                              "' > '" + (dir / "cases.txt").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const int cases = std::stoi(testing::lines_of(dir / "cases.txt").at(0));
  ASSERT_GE(cases, 6);
  int64_t flagged_total = 0;
  for (int c = 0; c < cases; ++c) {
    const auto d = dir / ("case-" + std::to_string(c));
    const at::Tensor probs = read_npy(d / "probs.npy");
    const std::vector<int64_t> labels = ints(read_npy(d / "labels.npy"));
    const ConfidentLearningResult r = confident_learning(labels, doubles(probs), probs.size(1));
    const std::vector<double> t = doubles(read_npy(d / "thresholds.npy"));
    ASSERT_EQ(r.thresholds.size(), t.size());
    for (size_t j = 0; j < t.size(); ++j) EXPECT_NEAR(r.thresholds[j], t[j], 1e-12) << "case " << c;
    EXPECT_EQ(r.confident_joint, matrix(read_npy(d / "joint.npy"))) << "case " << c;
    EXPECT_EQ(r.calibrated_joint, matrix(read_npy(d / "calibrated.npy"))) << "case " << c;
    EXPECT_EQ(r.prune_counts, matrix(read_npy(d / "prune.npy"))) << "case " << c;
    const std::vector<int64_t> expected = ints(read_npy(d / "issues.npy"));
    std::vector<int64_t> got(r.label_issue.begin(), r.label_issue.end());
    EXPECT_EQ(got, expected) << "case " << c;
    for (int64_t v : got) flagged_total += v;
  }
  EXPECT_GT(flagged_total, 0);  // the cases do flag samples: the comparison is not of empty sets
}

TEST(ConfidentLearning, RefusesBadInput) {
  EXPECT_NE(testing::error_of([] { confident_learning({0, 3}, {0.5, 0.5, 0.5, 0.5}, 2); }).find("label 3 of sample 1"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { confident_learning({0}, {0.5, 0.5, 0.5}, 2); }).find("3 probabilities for 1 samples"),
            std::string::npos);
}

}  // namespace
}  // namespace filterscope
