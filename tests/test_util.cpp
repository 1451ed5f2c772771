#include "test_util.h"

#include "filterscope/core/error.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include <ATen/ATen.h>

#include "cli.h"
#include "filterscope/io/npy.h"

extern char** environ;

namespace filterscope::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "tmp";
  for (auto& ch : name)
    if (ch == '/') ch = '_';
  path_ = std::filesystem::temp_directory_path() /
          ("filterscope-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int spawn_cli(std::vector<std::string> args) {
  args.insert(args.begin(), FILTERSCOPE_BINARY);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, FILTERSCOPE_BINARY, nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

CliRun run_cli(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  const int code = cli::run(args);
  CliRun r;
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  r.code = code;
  return r;
}

std::filesystem::path test_model(const std::string& name) {
  return std::filesystem::path(FILTERSCOPE_TEST_MODELS) / name;
}

int run_export_script(const std::vector<std::string>& args) {
  std::string command = std::string(FILTERSCOPE_REFERENCE_PYTHON) + " '" + FILTERSCOPE_SOURCE_DIR +
                        "/tests/models/export_torchscript.py'";
  for (const auto& a : args) command += " '" + a + "'";
  command += " >/dev/null";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path << ": cannot open";
  return nlohmann::json::parse(in);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::vector<std::string> names_of(const ProbedModel& model) {
  std::vector<std::string> names;
  for (const auto& p : model.probe_points()) names.push_back(p.name);
  return names;
}

void expect_matches_hooks(ProbedModel& model, const std::string& reference, double tolerance) {
  const auto prefix = test_model(reference).string();
  const auto hooked = lines_of(prefix + ".names");
  ASSERT_FALSE(hooked.empty());
  const at::Tensor x = read_npy(prefix + ".input.npy");
  const ProbeOutputs out = model.forward_probes(x, hooked, true);
  ASSERT_EQ(out.outputs.size(), hooked.size());
  for (const auto& [name, got] : out.outputs) {
    const at::Tensor want = read_npy(prefix + "." + name + ".npy");
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    EXPECT_TRUE(at::allclose(got, want, tolerance, tolerance))
        << name << " max diff " << (got - want).abs().max().item<double>();
  }
  EXPECT_TRUE(at::allclose(out.logits, read_npy(prefix + ".logits.npy"), tolerance, tolerance));
}

}  // namespace filterscope::testing
