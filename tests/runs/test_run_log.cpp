// The run log (runs/run_log.h) on synthetic records: what goes in comes out, aggregated queries
// agree with a brute-force pass over the same numbers, a resume drops exactly the replayed rows, a
// reader sees a writer's commits (WAL) and never creates a file.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <set>

#include "filterscope/core/error.h"
#include "filterscope/runs/run_log.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::TempDir;

constexpr int64_t kSteps = 10, kEvery = 5, kImages = 30;

RunLogSetup setup() {
  RunLogSetup s;
  // A layer of 1,000 units spans three of the log's 480-unit chunks.
  s.layers = {{"features.0", "conv", 6, 9}, {"classifier.0", "linear", 3, 16}, {"classifier.2", "linear", 1000, 3}};
  for (int64_t i = 0; i < kImages; ++i) {
    s.val_dataset_indices.push_back(100 + i);
    s.val_labels.push_back(i % 3);
  }
  s.class_names = {"a", "b", "c"};
  s.steps_per_epoch = kSteps;
  s.log_every = kEvery;
  s.source = "test";
  return s;
}

// A deterministic value for (layer, unit, iteration, statistic).
double value(int64_t l, int64_t u, int64_t it, int k) { return std::sin(0.37 * it + 1.3 * u + 2.1 * l + k) + 0.01 * k * it; }

WeightRecord record_at(int64_t it) {
  WeightRecord r;
  r.iteration = it;
  r.epoch = static_cast<double>(it) / kSteps;
  r.epoch_end = it % kSteps == 0;
  r.train_loss = 1.0 / (1 + it);
  const auto layers = setup().layers;
  for (size_t li = 0; li < layers.size(); ++li) {
    const LogLayer& l = layers[li];
    LayerWeightStats s;
    for (int64_t u = 0; u < l.units; ++u)
      s.units.push_back({value(static_cast<int64_t>(li), u, it, 0), value(static_cast<int64_t>(li), u, it, 1),
                         std::abs(value(static_cast<int64_t>(li), u, it, 2)), std::abs(value(static_cast<int64_t>(li), u, it, 3))});
    s.hist_lo = -1;
    s.hist_hi = 1;
    s.hist_counts = {it, 2, 3};
    r.layers.push_back(s);
  }
  return r;
}

// Right/wrong of image i at epoch e: a fixed pattern per image.
int64_t prediction(int64_t i, int64_t e) {
  const int64_t label = i % 3;
  switch (i % 5) {
    case 0: return label;                                // always right
    case 1: return e >= 2 ? label : (label + 1) % 3;     // learned
    case 2: return e <= 2 ? label : (label + 1) % 3;     // forgotten
    case 3: return e % 2 ? label : (label + 2) % 3;      // fluctuating
    default: return (label + 1) % 3;                     // never learned
  }
}

void write_epochs(RunLogWriter& w, int64_t first, int64_t last) {
  for (int64_t e = first; e <= last; ++e) {
    for (int64_t step = kEvery; step <= kSteps; step += kEvery) w.add_record(record_at((e - 1) * kSteps + step));
    EpochOutcomes o;
    o.epoch = e;
    for (int64_t i = 0; i < kImages; ++i) {
      o.predicted.push_back(prediction(i, e));
      o.true_prob.push_back(0.1 * (i % 10));
    }
    w.add_epoch({e, e * kSteps, 0.5, 0.8, 0.6, 0.7, 1.0}, o);
  }
}

std::set<std::string> listing(const std::filesystem::path& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.insert(e.path().filename().string() + ":" + std::to_string(std::filesystem::file_size(e.path())));
  return out;
}

TEST(RunLog, PatternsOfRightWrongSequences) {
  EXPECT_EQ(classify_outcomes({true, true, true}), OutcomePattern::AlwaysRight);
  EXPECT_EQ(classify_outcomes({false, false}), OutcomePattern::NeverLearned);
  EXPECT_EQ(classify_outcomes({false, true, true}), OutcomePattern::Learned);
  EXPECT_EQ(classify_outcomes({true, true, false}), OutcomePattern::Forgotten);
  EXPECT_EQ(classify_outcomes({true, false, true}), OutcomePattern::Fluctuating);
  EXPECT_EQ(classify_outcomes({false, true, false, true}), OutcomePattern::Fluctuating);
  for (int p = 0; p < kOutcomePatterns; ++p)
    EXPECT_EQ(parse_outcome_pattern(outcome_pattern_name(static_cast<OutcomePattern>(p))), static_cast<OutcomePattern>(p));
  EXPECT_FALSE(parse_outcome_pattern("sometimes"));
}

TEST(RunLog, QueriesAgreeWithABruteForcePass) {
  TempDir dir;
  const auto file = dir / "run.sqlite";
  {
    RunLogWriter w(file, setup(), 0);
    w.add_record(record_at(0));
    write_epochs(w, 1, 4);
    w.close();
  }
  const auto before = listing(dir.path());
  RunLogReader r(file);
  const RunLogSummary s = r.summary();
  EXPECT_EQ(s.records, 1 + 4 * 2);
  EXPECT_EQ(s.first_iteration, 0);
  EXPECT_EQ(s.last_iteration, 40);
  EXPECT_EQ(s.epochs, 4);
  EXPECT_EQ(s.images, kImages);
  EXPECT_EQ(s.class_names, setup().class_names);
  ASSERT_EQ(r.layers().size(), 3u);
  EXPECT_EQ(r.layers()[1].name, "classifier.0");

  std::vector<int64_t> iterations = {0};
  for (int64_t it = kEvery; it <= 40; it += kEvery) iterations.push_back(it);
  // One unit, one statistic, 3 buckets over the 31 iterations [5, 35]: bucket = (it - 5) * 3 / 31.
  for (int k = 0; k < 4; ++k) {
    const auto b = r.series(0, static_cast<UnitStat>(k), 5, 35, 3, {2});
    std::map<int64_t, std::vector<double>> expected;
    for (int64_t it : iterations)
      if (it >= 5 && it <= 35) {
        const double v = k >= 2 ? std::abs(value(0, 2, it, k)) : value(0, 2, it, k);
        expected[(it - 5) * 3 / 31].push_back(v);
      }
    ASSERT_EQ(b.size(), expected.size());
    size_t i = 0;
    for (const auto& [bucket, values] : expected) {
      double sum = 0;
      for (double v : values) sum += v;
      EXPECT_NEAR(b[i].min, *std::min_element(values.begin(), values.end()), 1e-12);
      EXPECT_NEAR(b[i].max, *std::max_element(values.begin(), values.end()), 1e-12);
      EXPECT_NEAR(b[i].mean, sum / values.size(), 1e-12);
      EXPECT_EQ(b[i].count, static_cast<int64_t>(values.size()));
      ++i;
    }
  }
  // A group of many units (read from the record-major blobs) and of a few (from the unit rows).
  const std::vector<std::pair<int64_t, std::vector<int64_t>>> groups = {
      {0, {0, 1, 2, 3, 4, 5}}, {0, {1, 4}}, {2, {3, 479, 480, 481, 959, 960, 999}}};
  for (const auto& [layer_index, units] : groups) {
    const auto b = r.series(layer_index, UnitStat::Std, 0, 40, 4, units);
    std::map<int64_t, std::vector<double>> expected;
    for (int64_t it : iterations)
      for (int64_t u : units) expected[it * 4 / 41].push_back(std::abs(value(layer_index, u, it, 2)));
    ASSERT_EQ(b.size(), expected.size());
    size_t i = 0;
    for (const auto& [bucket, values] : expected) {
      double sum = 0;
      for (double v : values) sum += v;
      EXPECT_NEAR(b[i].min, *std::min_element(values.begin(), values.end()), 1e-12) << units.size();
      EXPECT_NEAR(b[i].max, *std::max_element(values.begin(), values.end()), 1e-12) << units.size();
      EXPECT_NEAR(b[i].mean, sum / values.size(), 1e-12) << units.size();
      EXPECT_EQ(b[i].count, static_cast<int64_t>(values.size()));
      ++i;
    }
  }
  // The whole layer, one bucket per record: min over units of the norm.
  const auto layer = r.series(1, UnitStat::Norm, 0, 40, 1000);
  ASSERT_EQ(layer.size(), iterations.size());
  for (size_t i = 0; i < iterations.size(); ++i) {
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (int64_t u = 0; u < 3; ++u) {
      const double v = value(1, u, iterations[i], 0);
      lo = std::min(lo, v), hi = std::max(hi, v), sum += v;
    }
    EXPECT_NEAR(layer[i].min, lo, 1e-12);
    EXPECT_NEAR(layer[i].max, hi, 1e-12);
    EXPECT_NEAR(layer[i].mean, sum / 3, 1e-12);
  }
  // Movement between iterations 10 and 30 = the sum of the changes recorded in (10, 30].
  const auto moved = r.changes(-1, 12, 30);
  ASSERT_EQ(moved.size(), 6u + 3u + 1000u);  // every unit of every layer, or the loop checks nothing
  for (const UnitChange& c : moved) {
    double expected = 0;
    for (int64_t it : iterations)
      if (it > 10 && it <= 30) expected += std::abs(value(c.layer, c.unit, it, 3));
    EXPECT_NEAR(c.change, expected, 1e-9) << c.layer << ":" << c.unit;
  }
  EXPECT_EQ(r.changes(1, 0, 40).size(), 3u);
  EXPECT_EQ(r.changes(-1, 0, 40).size(), 6u + 3u + 1000u);
  // Path = cumulative change: the series of "path" at the last record is the whole sum.
  const auto path = r.series(0, UnitStat::Path, 40, 40, 1, {1});
  double total = 0;
  for (int64_t it : iterations) total += std::abs(value(0, 1, it, 3));
  ASSERT_EQ(path.size(), 1u);
  EXPECT_NEAR(path[0].max, total, 1e-9);

  // The cube: every image's pattern by construction, pages in pattern order.
  const CubePage all = r.cube(-1, std::nullopt, 0, 1000);
  EXPECT_EQ(all.epochs, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(all.total, kImages);
  for (int p = 0; p < kOutcomePatterns; ++p) EXPECT_EQ(all.pattern_counts[static_cast<size_t>(p)], kImages / 5);
  for (const CubeImage& im : all.images) {
    const int expected[] = {0, 1, 2, 3, 4};
    EXPECT_EQ(static_cast<int>(im.pattern), expected[im.image % 5]) << im.image;
    EXPECT_EQ(im.dataset_index, 100 + im.image);
    for (size_t k = 0; k < 4; ++k) EXPECT_EQ(im.predicted[k], prediction(im.image, static_cast<int64_t>(k) + 1));
  }
  const CubePage page = r.cube(1, OutcomePattern::Learned, 1, 1);
  EXPECT_EQ(page.total, 2);  // images 1 and 16 have label 1 and learn
  ASSERT_EQ(page.images.size(), 1u);
  EXPECT_EQ(page.images[0].image, 16);
  ASSERT_TRUE(r.image(7));
  EXPECT_DOUBLE_EQ(r.image(7)->true_prob[2], 0.7);
  EXPECT_FALSE(r.image(kImages));
  const auto hist = r.histogram(0, 27);
  ASSERT_TRUE(hist);
  EXPECT_EQ(hist->iteration, 25);
  EXPECT_EQ(hist->counts, (std::vector<int64_t>{25, 2, 3}));
  EXPECT_FALSE(r.histogram(0, -1));
  EXPECT_EQ(r.metrics().size(), 4u);
  // Reading changed nothing in the folder and created no file.
  EXPECT_EQ(listing(dir.path()), before);
}

TEST(RunLog, ResumeDropsTheReplayedEpochsAndRebuildsPatterns) {
  TempDir dir;
  const auto file = dir / "run.sqlite";
  {
    RunLogWriter whole(dir / "whole.sqlite", setup(), 0);
    whole.add_record(record_at(0));
    write_epochs(whole, 1, 4);
    whole.close();
  }
  {
    RunLogWriter w(file, setup(), 0);
    w.add_record(record_at(0));
    write_epochs(w, 1, 3);  // killed after epoch 3's log rows, before its checkpoint: resume from 2
  }
  {
    RunLogSetup other = setup();
    other.log_every = 1;  // the stored interval wins
    RunLogWriter w(file, other, 2);
    EXPECT_EQ(w.setup().log_every, kEvery);
    EXPECT_FALSE(w.has_record(25));
    EXPECT_TRUE(w.has_record(20));
    write_epochs(w, 3, 4);
    w.close();
  }
  RunLogReader a(file), b(dir / "whole.sqlite");
  EXPECT_EQ(a.summary().records, b.summary().records);
  const CubePage ca = a.cube(-1, std::nullopt, 0, 1000), cb = b.cube(-1, std::nullopt, 0, 1000);
  ASSERT_EQ(ca.images.size(), cb.images.size());
  for (size_t i = 0; i < ca.images.size(); ++i) {
    EXPECT_EQ(ca.images[i].pattern, cb.images[i].pattern);
    EXPECT_EQ(ca.images[i].predicted, cb.images[i].predicted);
  }
  const auto pa = a.series(0, UnitStat::Path, 0, 40, 100, {0, 1, 2, 3}), pb = b.series(0, UnitStat::Path, 0, 40, 100, {0, 1, 2, 3});
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_NEAR(pa[i].mean, pb[i].mean, 1e-12);
}

TEST(RunLog, AReaderSeesTheWritersCommitsWhileItWrites) {
  TempDir dir;
  const auto file = dir / "run.sqlite";
  RunLogWriter w(file, setup(), 0);
  w.add_record(record_at(0));
  RunLogReader r(file);
  EXPECT_EQ(r.summary().records, 1);
  write_epochs(w, 1, 1);
  EXPECT_EQ(r.summary().records, 3);
  EXPECT_EQ(r.summary().epochs, 1);
  write_epochs(w, 2, 2);
  EXPECT_EQ(r.cube(-1, std::nullopt, 0, 5).epochs.size(), 2u);
}

TEST(RunLog, BadFilesGetOneClearLine) {
  TempDir dir;
  const auto expect_error = [](const std::filesystem::path& file, const std::string& part) {
    try {
      RunLogReader r(file);
      ADD_FAILURE() << file << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
  };
  expect_error(dir / "missing.sqlite", "no such database file");
  testing::write_bytes(dir / "garbage.sqlite", std::string(5000, 'x'));
  expect_error(dir / "garbage.sqlite", "not a filterscope run log");
  testing::write_bytes(dir / "empty.sqlite", "");
  expect_error(dir / "empty.sqlite", "not a filterscope run log");
  {
    RunLogWriter w(dir / "truncated.sqlite", setup(), 0);
    write_epochs(w, 1, 3);
    w.close();
  }
  std::filesystem::resize_file(dir / "truncated.sqlite", 4096);
  try {
    RunLogReader r(dir / "truncated.sqlite");
    r.cube(-1, std::nullopt, 0, 100);
    r.series(0, UnitStat::Norm, 0, 40, 10, {0});
    ADD_FAILURE() << "a truncated log was read without an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated.sqlite"), std::string::npos) << e.what();
  }
  // A log of another run's network is refused on resume.
  RunLogSetup other = setup();
  other.layers[0].units = 5;
  {
    RunLogWriter w(dir / "run.sqlite", setup(), 0);
  }
  try {
    RunLogWriter w(dir / "run.sqlite", other, 0);
    ADD_FAILURE() << "a log of other layers was continued";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("belongs to another run"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace filterscope
