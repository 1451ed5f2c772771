#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/layout.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/sample_log.h"
#include "filterscope/train/trainer.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::run_cli;
using testing::TempDir;

RunSettings small_run() {
  RunSettings s;
  s.data.dataset = "synthetic";
  s.data.synthetic_size = 720;
  s.split.train_size = 300;
  s.split.val_size = 100;
  s.train.epochs = 3;
  s.train.batch_size = 32;
  return s;
}

std::vector<std::string> train_args(const std::filesystem::path& out, int epochs) {
  return {"train", "--dataset", "synthetic", "--synthetic-size", "720", "--train-size", "300",
          "--val-size", "100", "--batch-size", "32", "--epochs", std::to_string(epochs), "--quiet",
          "--label-noise", "0.1", "--out", out.string()};
}

void expect_same_metrics(const std::vector<EpochMetrics>& a, const std::vector<EpochMetrics>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_DOUBLE_EQ(a[i].train_loss, b[i].train_loss) << "epoch " << a[i].epoch;
    EXPECT_DOUBLE_EQ(a[i].train_acc, b[i].train_acc);
    EXPECT_DOUBLE_EQ(a[i].val_loss, b[i].val_loss);
    EXPECT_DOUBLE_EQ(a[i].val_acc, b[i].val_acc);
  }
}

TEST(Train, WritesARunDirectory) {
  TempDir dir;
  const auto r = run_cli(train_args(dir / "run", 3));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("run directory: " + (dir / "run").string()), std::string::npos);
  const auto metrics = read_metrics(dir / "run");
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_LT(metrics[2].train_loss, metrics[0].train_loss);  // it learns
  EXPECT_GT(metrics[2].val_acc, 0.3);                        // well above chance (0.1)
  EXPECT_EQ(list_checkpoint_epochs(dir / "run"), (std::vector<int64_t>{1, 2, 3}));
  // Every training sample's outcome per epoch, from the training passes: their mean loss and
  // accuracy are the epoch's metrics.
  const std::vector<SampleEpoch> samples = read_sample_history(dir / "run", 3);
  for (const SampleEpoch& e : samples) {
    ASSERT_EQ(e.size(), 300u);
    double loss = 0;
    int64_t right = 0;
    for (size_t i = 0; i < e.size(); ++i) {
      loss += e.loss[i];
      right += e.correct(i) ? 1 : 0;
      EXPECT_EQ(e.margin[i] > 0, e.correct(i)) << "epoch " << e.epoch << " sample " << i;
    }
    const EpochMetrics& m = metrics[static_cast<size_t>(e.epoch - 1)];
    EXPECT_NEAR(loss / 300, m.train_loss, 1e-5);
    EXPECT_NEAR(static_cast<double>(right) / 300, m.train_acc, 1e-8);  // metrics.csv keeps 9 digits
  }
  const auto run = nlohmann::json::parse(read_file(dir / "run/run.json"));
  EXPECT_EQ(run["dataset"]["train_indices"].size(), 300u);
  EXPECT_EQ(run["label_noise"]["count"], 30);
  EXPECT_EQ(run["network"]["name"], "simple-cnn");
  EXPECT_EQ(run["settings"]["train"]["epochs"], 3);
  // Label noise: every recorded sample has a new label that differs from its original.
  for (size_t i = 0; i < 30; ++i)
    EXPECT_NE(run["label_noise"]["original_labels"][i], run["label_noise"]["new_labels"][i]);
  const CheckpointInfo info = read_checkpoint_info(checkpoint_path(dir / "run", 2));
  EXPECT_EQ(info.epoch, 2);
  EXPECT_EQ(info.network, "simple-cnn");
  // The typed record reads back everything the file holds.
  const RunRecord record = read_run_record(dir / "run");
  EXPECT_EQ(record.to_json(), run);
  EXPECT_EQ(record.label_noise.count, 30);
  EXPECT_EQ(record.network.probe_points.size(), 8u);
  testing::write_bytes(dir / "run/run.json", R"({"format": "filterscope-run-1", "settings": {}})");
  try {
    read_run_record(dir / "run");
    ADD_FAILURE() << "an incomplete run.json was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run.json: settings need \"data\", \"split\" and \"train\""), std::string::npos) << e.what();
  }
}

TEST(Train, SameSeedSameRun) {
  TempDir dir;
  ASSERT_EQ(run_cli(train_args(dir / "a", 2)).code, 0);
  ASSERT_EQ(run_cli(train_args(dir / "b", 2)).code, 0);
  expect_same_metrics(read_metrics(dir / "a"), read_metrics(dir / "b"));
}

TEST(Train, KilledRunResumesToTheSameMetrics) {
  TempDir dir;
  const int epochs = 8;
  ASSERT_EQ(run_cli(train_args(dir / "whole", epochs)).code, 0);

  // The same run in a child process, killed with SIGKILL just after its second checkpoint: while
  // it writes that epoch's metrics row or trains epoch 3.
  const std::filesystem::path killed = dir / "killed";
  const pid_t pid = testing::spawn_cli(train_args(killed, epochs));
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(checkpoint_path(killed, 2)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed; make the run longer";
  const auto partial = read_metrics(killed);
  ASSERT_GE(partial.size(), 1u);
  ASSERT_LT(partial.size(), static_cast<size_t>(epochs));

  const auto resumed = run_cli({"train", "--resume", "--out", killed.string(), "--quiet"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  expect_same_metrics(read_metrics(killed), read_metrics(dir / "whole"));
  // The per-sample records too, byte for byte.
  for (int64_t e = 1; e <= epochs; ++e)
    EXPECT_EQ(read_file(RunLayout(killed).sample_epoch_csv(e)), read_file(RunLayout(dir / "whole").sample_epoch_csv(e)))
        << "epoch " << e;
}

TEST(Train, ExcludeLeavesSamplesOutAfterTheNoiseDraw) {
  TempDir dir;
  ASSERT_EQ(run_cli(train_args(dir / "whole", 1)).code, 0);
  const RunRecord whole = read_run_record(dir / "whole");
  // Leave out two replaced samples and one clean one (the list may have a header and comments).
  const int64_t noisy_a = whole.label_noise.dataset_indices[0], noisy_b = whole.label_noise.dataset_indices[1];
  int64_t clean_one = -1;
  for (int64_t i : whole.dataset.train_indices)
    if (std::find(whole.label_noise.dataset_indices.begin(), whole.label_noise.dataset_indices.end(), i) ==
        whole.label_noise.dataset_indices.end()) {
      clean_one = i;
      break;
    }
  testing::write_bytes(dir / "out.txt", "dataset_index\n" + std::to_string(noisy_a) + "\n" + std::to_string(noisy_b) +
                                            "  # replaced\n\n" + std::to_string(clean_one) + "\n");
  auto args = train_args(dir / "part", 1);
  args.insert(args.end(), {"--exclude", (dir / "out.txt").string()});
  const auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const RunRecord part = read_run_record(dir / "part");
  EXPECT_EQ(part.dataset.train_indices.size(), 297u);
  EXPECT_EQ(part.label_noise.count, 28);
  // The others keep the noise they had.
  std::vector<int64_t> expected_noisy;
  for (size_t k = 2; k < whole.label_noise.dataset_indices.size(); ++k) expected_noisy.push_back(whole.label_noise.dataset_indices[k]);
  EXPECT_EQ(part.label_noise.dataset_indices, expected_noisy);
  EXPECT_EQ(read_sample_history(dir / "part", 1)[0].size(), 297u);
  // A changed list cannot be resumed into the run; an unknown index or a bad line is named.
  testing::write_bytes(dir / "out.txt", std::to_string(noisy_a) + "\n");
  const auto changed = run_cli({"train", "--resume", "--out", (dir / "part").string(), "--epochs", "2", "--quiet"});
  EXPECT_EQ(changed.code, 1);
  EXPECT_NE(changed.err.find("did the --exclude file change?"), std::string::npos) << changed.err;
  testing::write_bytes(dir / "bad.txt", "dataset_index\n99999\n");
  auto bad = train_args(dir / "bad", 1);
  bad.insert(bad.end(), {"--exclude", (dir / "bad.txt").string()});
  EXPECT_NE(run_cli(bad).err.find("dataset index 99999 is not among the run's training samples"), std::string::npos);
  testing::write_bytes(dir / "bad.txt", "12\nseven\n");
  EXPECT_NE(run_cli(bad).err.find("bad.txt: line 2 is not a whole number (\"seven\")"), std::string::npos);
  // A file with no index (a lone line of text reads as a header) and a folder exclude nothing: both
  // are refused rather than trained on as if --exclude had not been given.
  testing::write_bytes(dir / "bad.txt", "abc\n");
  const auto empty = run_cli(bad);
  EXPECT_EQ(empty.code, 1);
  EXPECT_NE(empty.err.find("bad.txt: holds no dataset index"), std::string::npos) << empty.err;
  auto folder = train_args(dir / "folder", 1);
  folder.insert(folder.end(), {"--exclude", dir.path().string()});
  const auto f = run_cli(folder);
  EXPECT_EQ(f.code, 1);
  EXPECT_NE(f.err.find(": not a file (expected a file of dataset indices"), std::string::npos) << f.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "folder" / "metrics.csv"));
}

TEST(Train, ResumeGoesOnToMoreEpochsAndSkipsACorruptCheckpoint) {
  TempDir dir;
  ASSERT_EQ(run_cli(train_args(dir / "whole", 3)).code, 0);
  ASSERT_EQ(run_cli(train_args(dir / "part", 2)).code, 0);
  // Damage the last checkpoint: resume falls back to epoch 1 and replays epoch 2.
  std::filesystem::resize_file(checkpoint_path(dir / "part", 2), 100);
  const auto r = run_cli({"train", "--resume", "--out", (dir / "part").string(), "--epochs", "3", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("skipping"), std::string::npos);
  expect_same_metrics(read_metrics(dir / "part"), read_metrics(dir / "whole"));
}

TEST(Train, BadInputGetsOneClearLine) {
  TempDir dir;
  ASSERT_EQ(run_cli(train_args(dir / "run", 1)).code, 0);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"train", "--model", "vgg", "--out", (dir / "x").string()}, "--model must be one of {simple-cnn, lenet5, alexnet}, got \"vgg\""},
      {{"train", "--dataset", "imagenet", "--out", (dir / "x").string()}, "--dataset must be one of"},
      {{"train", "--train-size", "-5", "--out", (dir / "x").string()}, "--train-size must be >= 0, got -5"},
      {{"train", "--batch-size", "0", "--out", (dir / "x").string()}, "--batch-size must be in [1, 1000000], got 0"},
      {{"train", "--epochs", "0", "--out", (dir / "x").string()}, "--epochs must be in [1, 100000], got 0"},
      {{"train", "--lr", "0", "--out", (dir / "x").string()}, "--lr must be > 0, got 0"},
      {{"train", "--label-noise", "1.5", "--out", (dir / "x").string()}, "--label-noise must be in [0, 1), got 1.5"},
      {{"train", "--dataset", "mnist", "--data-dir", (dir / "none").string(), "--out", (dir / "x").string()}, "not a folder"},
      {{"train", "--dataset", "synthetic", "--val-size", "100", "--out", (dir / "run").string(), "--quiet"}, "already holds a run"},
      {{"train", "--resume", "--out", (dir / "nothing").string()}, "not a run directory (no run.json)"},
      {{"train", "--resume", "--lr", "0.5", "--out", (dir / "run").string()}, "--lr cannot change when resuming"},
      {{"train", "--device", "tpu", "--out", (dir / "x").string()}, "--device must be cpu, cuda or cuda:N"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_NE(r.code, 0) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "expected \"" << c.message << "\" in: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));  // nothing half-written
}

TEST(Checkpoint, OtherNetworkAndCorruptFilesAreRejected) {
  TempDir dir;
  RunSettings s = small_run();
  s.train.epochs = 1;
  const PreparedRun run = prepare_run(s);
  TrainRunOptions o;
  o.progress = false;
  train_run(run, dir / "run", o);
  const auto path = checkpoint_path(dir / "run", 1);
  Network lenet = make_network("lenet5", 1, 10, 28);
  try {
    load_checkpoint_into(path, lenet, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint is of simple-cnn"), std::string::npos) << e.what();
  }
  Network loaded = load_checkpoint(path);
  EXPECT_EQ(loaded->name(), "simple-cnn");
  testing::write_bytes(dir / "junk.pt", "this is not a zip archive");
  try {
    load_checkpoint(dir / "junk.pt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.pt: corrupt or truncated checkpoint"), std::string::npos);
  }
  EXPECT_THROW(load_checkpoint(dir / "missing.pt"), Error);
}

TEST(Train, AlexNetTrainsOnBicubicResizedInput) {
  TempDir dir;
  const auto r = run_cli({"train", "--model", "alexnet", "--dataset", "synthetic", "--synthetic-size", "120",
                          "--train-size", "48", "--val-size", "16", "--epochs", "1", "--quiet", "--out",
                          (dir / "ax").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto run = nlohmann::json::parse(read_file(dir / "ax/run.json"));
  EXPECT_EQ(run["network"]["input_size"], 227);
  EXPECT_EQ(run["dataset"]["normalisation"]["resize"], 227);
  Network net = load_checkpoint(checkpoint_path(dir / "ax", 1));
  EXPECT_EQ(net->input_size(), 227);
  EXPECT_EQ(net->probe_points().size(), 19u);  // 13 in features, avgpool, 5 in the classifier
}

TEST(LabelNoise, ChangesTheRequestedShareToOtherClasses) {
  at::Tensor labels = at::arange(1000, at::kLong).remainder(10);
  const at::Tensor original = labels.clone();
  const at::Tensor changed = apply_label_noise(labels, 10, 0.2, 5);
  EXPECT_EQ(changed.numel(), 200);
  EXPECT_EQ(labels.ne(original).sum().item<int64_t>(), 200);
  EXPECT_TRUE(labels.index_select(0, changed).ne(original.index_select(0, changed)).all().item<bool>());
  at::Tensor again = original.clone();
  EXPECT_TRUE(at::equal(apply_label_noise(again, 10, 0.2, 5), changed));
}

}  // namespace
}  // namespace filterscope
