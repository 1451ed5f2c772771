#include <gtest/gtest.h>

#include "filterscope/core/files.h"
#include "filterscope/report/html_report.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::run_cli;
using testing::TempDir;

TEST(Report, DataCannotCloseTheScriptElement) {
  const std::string page = render_report({{"note", "</script><script>alert(1)</script>"}});
  // The template has exactly three closing script tags of its own (data, chart library, page); the data adds none.
  size_t count = 0;
  for (size_t at = page.find("</script>"); at != std::string::npos; at = page.find("</script>", at + 1)) ++count;
  EXPECT_EQ(count, 3u);
  EXPECT_NE(page.find("<\\/script>"), std::string::npos);
  EXPECT_EQ(page.find("/*FILTERSCOPE_DATA*/"), std::string::npos);
}

TEST(Report, NamesWhatARunLacksAndWritesAtomically) {
  TempDir dir;
  const auto run = dir / "run";
  ASSERT_EQ(run_cli({"train", "--dataset", "synthetic", "--synthetic-size", "300", "--train-size", "100", "--val-size",
                     "50", "--epochs", "2", "--quiet", "--out", run.string()})
                .code,
            0);
  const auto r = run_cli({"report", run.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("not in the report yet: anomaly filters per epoch: no track.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no mask.json"), std::string::npos);
  const std::string page = read_file(run / "report.html");
  EXPECT_NE(page.find("\"format\":\"filterscope-report-1\""), std::string::npos);
  for (const auto& entry : std::filesystem::directory_iterator(run))  // no temp file left behind
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();

  const auto missing = run_cli({"report", (dir / "nowhere").string()});
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.err.find("no such run directory"), std::string::npos) << missing.err;
  std::filesystem::create_directories(dir / "empty");
  const auto empty = run_cli({"report", (dir / "empty").string()});
  EXPECT_NE(empty.err.find("not a run directory (no run.json)"), std::string::npos) << empty.err;
}

}  // namespace
}  // namespace filterscope
