#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "cli.h"

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

}  // namespace filterscope::testing
