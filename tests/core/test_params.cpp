#include <gtest/gtest.h>

#include "cli.h"
#include "commands.h"
#include "filterscope/cluster/gmm.h"
#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/train/trainer.h"

namespace filterscope {
namespace {

TEST(Params, ValidationNamesTheFlagAndQuotesTheValue) {
  TrainOptions o;
  o.lr = -1;
  try {
    validate_params(o, TrainOptions::params());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--lr must be > 0, got -1");
  }
  o = TrainOptions{};
  o.model = "resnet";
  EXPECT_THROW(validate_params(o, TrainOptions::params()), Error);
}

TEST(Params, BoundsJustBelowAtAndAbove) {
  TrainOptions o;
  for (double v : {-1e-9, 0.0, 0.5, 0.999999}) {
    o.label_noise = v;
    if (v < 0)
      EXPECT_THROW(validate_params(o, TrainOptions::params()), Error) << v;
    else
      EXPECT_NO_THROW(validate_params(o, TrainOptions::params())) << v;
  }
  o.label_noise = 1.0;  // the upper bound is open: every label replaced is no training set
  EXPECT_THROW(validate_params(o, TrainOptions::params()), Error);
}

TEST(Params, JsonRoundTrip) {
  RunSettings s;
  s.train.epochs = 7;
  s.train.model = "lenet5";
  s.split.train_size = 123;
  s.data.dataset = "synthetic";
  const RunSettings back = RunSettings::from_json(s.to_json(), "test");
  EXPECT_EQ(back.to_json(), s.to_json());
  EXPECT_FALSE(s.to_json()["train"].contains("threads"));  // machine settings are not recorded
}

TEST(Params, UnknownJsonKeyIsAnError) {
  nlohmann::json j = RunSettings{}.to_json();
  j["train"]["learning_rate"] = 0.1;
  EXPECT_THROW(RunSettings::from_json(j, "run.json"), Error);
}

TEST(Params, DocsOptionsFileIsCurrent) {
  const std::string committed = read_file(std::string(FILTERSCOPE_SOURCE_DIR) + "/docs/options.md");
  EXPECT_EQ(committed, cli::options_markdown())
      << "docs/options.md is stale: regenerate it with `filterscope docs > docs/options.md`";
}

}  // namespace
}  // namespace filterscope
