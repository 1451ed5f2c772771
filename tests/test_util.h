// Helpers shared by the tests: temporary folders and running the CLI.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace filterscope::testing {

/// A fresh folder under the build tree's temp, removed when the fixture ends.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Runs the CLI in-process; returns the exit code and what it printed to stderr.
struct CliRun {
  int code;
  std::string err;
  std::string out;
};
CliRun run_cli(const std::vector<std::string>& args);

/// Starts the filterscope binary as a child process (to be killed or waited for); returns its pid.
int spawn_cli(std::vector<std::string> args);

/// A TorchScript model exported at build time by tests/models/export_torchscript.py
/// (resnet18, mlp, functional; "<name>-reference" is the prefix of its hook outputs).
std::filesystem::path test_model(const std::string& name);

/// Runs tests/models/export_torchscript.py with Debian's Python; returns its exit status.
int run_export_script(const std::vector<std::string>& args);

/// Writes raw bytes to a file.
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

/// The non-empty lines of a text file.
std::vector<std::string> lines_of(const std::filesystem::path& path);

/// A JSON file's content.
nlohmann::json read_json(const std::filesystem::path& path);

/// The message of the filterscope::Error that f throws, or "(no error)" when it throws none.
std::string error_of(const std::function<void()>& f);

/// args followed by more: a command line with extra flags.
std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more);

/// A run directory trained once for a whole test suite (Suite: the fixture itself, so that every
/// suite has its own): SetUpTestSuite calls train(args), the tests read run().
template <class Suite>
class SuiteRun : public ::testing::Test {
 protected:
  static void train(const std::vector<std::string>& args) {
    dir_ = new TempDir();
    require(run_cli(with(args, {"--out", run().string()})), "training the suite's run");
  }
  /// A set-up step of the suite. When one fails, every test of the suite fails with its message: an
  /// assertion in SetUpTestSuite would only skip them, and a skipped suite reads as a pass.
  static void require(const CliRun& r, const std::string& what) {
    if (r.code != 0 && failure_.empty())
      failure_ = what + " failed (exit " + std::to_string(r.code) + "): " + r.err;
  }
  void SetUp() override {
    if (!failure_.empty()) FAIL() << failure_;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
    failure_.clear();
  }
  static std::filesystem::path run() { return *dir_ / "run"; }
  static inline TempDir* dir_ = nullptr;
  static inline std::string failure_;
};

}  // namespace filterscope::testing

#include "filterscope/models/probed_model.h"

namespace filterscope::testing {

/// The device most tests run on.
inline const c10::Device kCpu(c10::kCPU);

/// The names of a model's probe points, in order.
std::vector<std::string> names_of(const ProbedModel& model);

/// Every probe output and the logits of the model equal what PyTorch's forward hooks saw on the
/// reference images `reference` (tests/models/export_torchscript.py --reference), within tolerance.
void expect_matches_hooks(ProbedModel& model, const std::string& reference, double tolerance);

}  // namespace filterscope::testing
