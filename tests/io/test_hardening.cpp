// The findings of the bad-input corpus (issue "Hardening"), each with the behaviour it now has:
// one clear line naming the file, flag or key, exit 2 for command-line mistakes, and no silent
// partial dataset or corrupt checkpoint.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/script.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <functional>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/data/dataset.h"
#include "filterscope/data/decode.h"
#include "filterscope/io/gzip.h"
#include "filterscope/io/npy.h"
#include "filterscope/io/zip_archive.h"
#include "filterscope/models/export_info.h"
#include "filterscope/runs/model_source.h"
#include "filterscope/io/sqlite.h"
#include "filterscope/runs/run_log.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/sample_log.h"
#include "filterscope/train/trainer.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::run_cli;
using testing::error_of;
using testing::TempDir;
using testing::write_bytes;

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

int lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

std::string cifar_batch(int records) {
  std::string out;
  for (int i = 0; i < records; ++i) {
    out += static_cast<char>(i % 10);
    out += std::string(3072, static_cast<char>(i));
  }
  return out;
}

std::vector<std::string> train_args(const std::filesystem::path& out, int epochs) {
  return {"train", "--dataset", "synthetic", "--synthetic-size", "240", "--train-size", "100",
          "--val-size", "40", "--batch-size", "32", "--epochs", std::to_string(epochs), "--quiet",
          "--out", out.string()};
}

TEST(Hardening, PartialCifarIsAnErrorUnlessAskedFor) {
  TempDir dir;
  for (const char* f : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_4.bin", "data_batch_5.bin"})
    write_bytes(dir / f, cifar_batch(2));
  write_bytes(dir / "test_batch.bin", cifar_batch(3));
  DataOptions o;
  o.dataset = "cifar10";
  o.data_dir = dir.path().string();
  EXPECT_HAS(error_of([&] { load_dataset(o); }),
             ": CIFAR-10 is incomplete: data_batch_3.bin missing (pass --partial-data to use the files present)");
  // Through the CLI: one line, nothing trained, exit 1 (the data is wrong, not the command line).
  auto r = run_cli({"train", "--dataset", "cifar10", "--data-dir", dir.path().string(), "--epochs", "1", "--out",
                    (dir / "run").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_HAS(r.err, "data_batch_3.bin missing");
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
  o.partial_data = true;
  DatasetSplits s = load_dataset(o);
  EXPECT_EQ(s.train.size(), 8);
  EXPECT_EQ(s.test.size(), 3);
  // A missing test batch likewise (another folder: loaded datasets are cached by their options).
  std::filesystem::create_directories(dir / "no-test");
  for (const char* f : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"})
    write_bytes(dir / "no-test" / f, cifar_batch(2));
  o.data_dir = (dir / "no-test").string();
  o.partial_data = false;
  EXPECT_HAS(error_of([&] { load_dataset(o); }), "CIFAR-10 is incomplete: test_batch.bin missing");
  o.partial_data = true;
  s = load_dataset(o);
  EXPECT_EQ(s.train.size(), 10);
  EXPECT_EQ(s.test.size(), 0);
}

TEST(Hardening, ChangedBytesInACheckpointAreFoundAndResumeFallsBack) {
  TempDir dir;
  ASSERT_EQ(run_cli(train_args(dir / "whole", 3)).code, 0);
  ASSERT_EQ(run_cli(train_args(dir / "part", 2)).code, 0);
  const auto path = checkpoint_path(dir / "part", 2);
  std::string bytes = read_file(path);
  // 64 flipped bytes inside the largest stored tensor: the archive reader alone accepts this.
  ZipEntry largest;
  for (const ZipEntry& e : read_zip_directory(bytes, "x"))
    if (e.method == 0 && e.size > largest.size) largest = e;
  ASSERT_GE(largest.size, 1000u);
  for (size_t i = 0; i < 64; ++i) bytes[largest.data_offset + 500 + i] ^= 0x5a;
  write_bytes(path, bytes);
  const std::string error = error_of([&] { load_checkpoint(path); });
  EXPECT_HAS(error, path.string() + ": corrupt or truncated checkpoint (checksum mismatch in record ");
  EXPECT_HAS(error, largest.name);
  // Resume skips it as it skips a truncated one, and replays epoch 2 to the same metrics.
  const auto r = run_cli({"train", "--resume", "--out", (dir / "part").string(), "--epochs", "3", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_HAS(r.err, "skipping");
  const auto a = read_metrics(dir / "part"), b = read_metrics(dir / "whole");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i].val_loss, b[i].val_loss) << "epoch " << a[i].epoch;
}

TEST(Hardening, ATruncatedCheckpointHasOneWordingWhicheverWayItIsNamed) {
  TempDir dir;
  ASSERT_EQ(run_cli(train_args(dir / "run", 1)).code, 0);
  const auto path = checkpoint_path(dir / "run", 1);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  const auto by_file = run_cli({"analyze", path.string(), "--quiet", "--out", (dir / "a").string()});
  const auto by_run = run_cli({"analyze", (dir / "run").string(), "--epoch", "1", "--quiet", "--out", (dir / "b").string()});
  for (const auto& r : {by_file, by_run}) {
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_HAS(r.err, "epoch-001.pt: corrupt or truncated checkpoint (no zip end-of-central-directory record");
  }
  // Outside its run the file could be either kind, and the message says so.
  std::filesystem::copy_file(path, dir / "copy.pt");
  const auto copy = run_cli({"analyze", (dir / "copy.pt").string(), "--quiet", "--out", (dir / "c").string()});
  EXPECT_EQ(copy.code, 1);
  EXPECT_HAS(copy.err, "copy.pt: corrupt or truncated checkpoint or TorchScript file (no zip end-of-central-directory");
}

TEST(Hardening, CommandLineMistakesAreOneLineAndExitTwo) {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"train", "--train-size", "abc"}, "--train-size: 'abc' is not an integer"},
      {{"train", "--train-size", "99999999999999999999"}, "--train-size: 99999999999999999999 is out of range for an integer"},
      {{"train", "--lr", "1e999"}, "--lr: 1e999 is out of range for a number"},
      {{"train", "--lr", "fast"}, "--lr: 'fast' is not a number"},
      {{"train", "--no-such-flag"}, "--no-such-flag"},
      {{"train", "--train-size", "-5"}, "--train-size must be >= 0, got -5"},
      {{"cluster"}, "required"},
      {{"no-such-command"}, "unknown command 'no-such-command' (one of train, cluster, analyze,"},
      {{"analyse"}, "unknown command 'analyse'; did you mean 'analyze'? (one of train,"},
      {{"train", "--epoch", "3"}, "not expected: 3 --epoch; did you mean --epochs? (see --help)"},
      {{"train", "--device", "gpu"}, "--device must be cpu, cuda or cuda:N, got \"gpu\""},
      {{"train", "--dataset", "mnist"}, "--data-dir is required for --dataset mnist"},
  };
  for (const auto& c : cases) {
    auto args = c.args;
    args.insert(args.end(), {"--out", (dir / "x").string()});
    if (c.args[0] == "cluster" || c.args[0] == "no-such-command" || c.args[0] == "analyse") args = c.args;
    const auto r = run_cli(args);
    EXPECT_EQ(r.code, 2) << c.message << ": " << r.err;
    EXPECT_EQ(r.err.rfind("filterscope: error: ", 0), 0u) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_HAS(r.err, c.message);
    EXPECT_EQ(r.err.find("9223372036854775807"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));
  // --help is not an error.
  EXPECT_EQ(run_cli({"train", "--help"}).code, 0);
}

std::string npy_with_header(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST(Hardening, NpyMessagesSayWhatIsWrongInNumPysWords) {
  TempDir dir;
  const auto refuse = [&](const std::string& dict, const std::string& data) {
    write_bytes(dir / "a.npy", npy_with_header(dict, data));
    return error_of([&] { read_npy(dir / "a.npy"); });
  };
  EXPECT_HAS(refuse("{'descr': '<f4', 'fortran_order': False, 'shape': (-5, 2), }", std::string(40, '\0')),
             "'shape' (-5, 2) has a negative dimension -5");
  EXPECT_HAS(refuse("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", std::string(16, '\0')),
             "unsupported dtype '>f8' (big-endian float64) (supported: float32 (<f4), float64 (<f8), int32 (<i4), "
             "int64 (<i8), uint8 (|u1), bool (|b1))");
  EXPECT_HAS(refuse("{'descr': '<f4', 'fortran_order': Flase, 'shape': (2,), }", std::string(8, '\0')),
             "'fortran_order' is Flase, not True or False");
  EXPECT_HAS(refuse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", std::string(8, '\0')),
             "'shape' is (2, x), not a tuple of whole numbers");
  EXPECT_HAS(refuse("{'descr': <f4, 'fortran_order': False, 'shape': (2,), }", std::string(8, '\0')),
             "'descr' is <f4, not a quoted type code");
  EXPECT_HAS(refuse("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", ""),
             "needs more than 2^64 bytes");
  // An int64 array is read, and the clustering says which dtypes it takes in the same words.
  write_bytes(dir / "pts.npy", npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2), }",
                                               std::string(48, '\0')));
  EXPECT_EQ(read_npy(dir / "pts.npy").scalar_type(), at::kLong);
  const auto r = run_cli({"cluster", (dir / "pts.npy").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_HAS(r.err, "pts.npy: dtype int64 (<i8) is not supported; points must be float32 (<f4) or float64 (<f8)");
}

std::string png_chunk(const std::string& kind, const std::string& data) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  const std::string body = kind + data;
  return be32(static_cast<uint32_t>(data.size())) + body +
         be32(static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

// A gray PNG of width x height whose pixel data is `rows` deflated.
std::string png(uint32_t width, uint32_t height, const std::string& rows) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  std::string compressed(compressBound(rows.size()), '\0');
  uLongf n = compressed.size();
  compress(reinterpret_cast<Bytef*>(compressed.data()), &n, reinterpret_cast<const Bytef*>(rows.data()), rows.size());
  compressed.resize(n);
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x00\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", compressed) + png_chunk("IEND", "");
}

TEST(Hardening, ImageFolderMessagesNameTheProblem) {
  TempDir dir;
  std::filesystem::create_directories(dir / "f/a");
  std::filesystem::create_directories(dir / "f/b");
  std::string rows;
  for (int y = 0; y < 4; ++y) rows += std::string(1, '\0') + std::string(4, static_cast<char>(y * 40));
  for (const char* name : {"a/1.png", "a/2.png", "a/3.png", "a/4.png", "a/5.png", "b/ok.png"})
    write_bytes(dir / "f" / name, png(4, 4, rows));
  EXPECT_EQ(read_image_folder(dir / "f", "f").size(), 6);
  // A header claiming 100,000 x 100,000 pixels: too large, with the limit.
  write_bytes(dir / "f/b/huge.png", png(100000, 100000, rows));
  EXPECT_HAS(error_of([&] { read_image_folder(dir / "f", "f"); }),
             "huge.png: the image is larger than 16384 pixels a side (the limit; its header says 100000x100000)");
  std::filesystem::remove(dir / "f/b/huge.png");
  // Cut short inside its pixel data.
  const std::string whole = png(4, 4, rows);
  write_bytes(dir / "f/b/cut.png", whole.substr(0, 45));
  EXPECT_HAS(error_of([&] { read_image_folder(dir / "f", "f"); }),
             "cut.png: cannot decode: the image data is cut short or corrupt");
  std::filesystem::remove(dir / "f/b/cut.png");
  // One class: the error names the data, not the network.
  std::filesystem::remove_all(dir / "f/b");
  const auto r = run_cli({"train", "--dataset", "folder", "--data-dir", (dir / "f").string(), "--val-size", "0",
                          "--epochs", "1", "--quiet", "--out", (dir / "run").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_HAS(r.err, "--data-dir " + (dir / "f").string() +
                        ": the training data has 1 class (a); training a classifier needs at least two (one sub-folder per class)");
  EXPECT_FALSE(std::filesystem::exists(dir / "run/run.json"));
}

// The JPEG with an oversized Huffman table that made Debian's stb_image write past its table
// (fuzz/regressions/image): decoded by libjpeg-turbo now, and refused with one line.
TEST(Hardening, FuzzFoundJpegIsRefusedCleanly) {
  std::ifstream in(std::string(FILTERSCOPE_SOURCE_DIR) + "/fuzz/regressions/image/stb-jpeg-dht-overflow.hex");
  ASSERT_TRUE(in.good());
  std::string hex, line;
  while (in >> line) hex += line;
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  ASSERT_EQ(bytes.size(), 654u);
  const std::string jpeg = bytes.substr(1);  // the harness's first byte chooses gray or RGB
  for (int channels : {1, 3}) {
    const std::string e = error_of([&] { decode_image(jpeg, channels, "crash.jpg"); });
    EXPECT_EQ(e.rfind("crash.jpg: ", 0), 0u) << e;
    EXPECT_EQ(lines(e), 0) << e;
  }
}

// run.json whose "format" is a number (fuzz/regressions/run_json): json::value threw the JSON
// library's type error past every reader of a record; now the run is refused by name.
TEST(Hardening, FuzzFoundRunJsonWithANumericFormatIsRefusedByName) {
  TempDir dir;
  std::filesystem::create_directories(dir / "run");
  write_bytes(dir / "run/run.json", R"({"format":88888888888888888888})");
  EXPECT_HAS(error_of([&] { read_run_record(dir / "run"); }), "run.json: not a filterscope run (format filterscope-run-1)");
  const auto r = run_cli({"analyze", (dir / "run").string(), "--quiet"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
  // A float where a whole number belongs (fuzz/regressions/run_json/float-too-large-for-an-integer):
  // the JSON library's cast of 8.9e99 to int64 is undefined; now it is refused by name.
  nlohmann::json settings = {{"data", {{"dataset", "synthetic"}}}, {"split", {{"train-size", 8.9e99}}}, {"train", nlohmann::json::object()}};
  EXPECT_HAS(error_of([&] { RunSettings::from_json(settings, "run.json"); }),
             "run.json: setting \"train-size\" is not a whole number");
  settings["split"]["train-size"] = 8;
  const nlohmann::json record = {{"format", "filterscope-run-1"}, {"settings", settings},
                                 {"dataset", {{"name", "s"}, {"num_classes", 1e300}}}};
  EXPECT_HAS(error_of([&] { RunRecord::from_json(record, "run.json"); }), "run.json: 1e+300 is not a whole number");
}

// Checkpoint metadata whose format holds a line break (fuzz/regressions/checkpoint): the refusal
// quoted it and took two lines; text from a file is now shown printable.
TEST(Hardening, FuzzFoundCheckpointFormatWithALineBreakStaysOneLine) {
  const std::string e = error_of([] {
    CheckpointInfo::parse(R"({"format": "filterscope-checkpoi\nt-1", "epoch": 3})", "epoch-001.pt");
  });
  EXPECT_HAS(e, "epoch-001.pt: unsupported checkpoint format \"filterscope-checkpoi?t-1\"");
  EXPECT_EQ(lines(e), 0) << e;
  const std::string name = error_of([] {
    CheckpointInfo::parse(R"({"format": "filterscope-checkpoint-1", "epoch": 3, "network": "a\nb", "in_channels": 1,
                              "num_classes": 10, "input_size": 28, "settings": {}})", "c.pt");
  });
  EXPECT_HAS(name, "c.pt: corrupt checkpoint metadata (\"network\" is a?b, not a network name)");
  const std::string key = error_of([] {
    DataOptions d;
    params_from_json(d, nlohmann::json::parse(R"({"data\ndir": 1})"), DataOptions::params(), "run.json");
  });
  EXPECT_HAS(key, "run.json: unknown setting \"data?dir\"");
}

// A samples file whose malformed row holds a carriage return (fuzz/regressions/samples, found by
// fuzz.smoke the day the format came in): the refusal quoted the row and took two lines.
TEST(Hardening, FuzzFoundSamplesRowWithACarriageReturnStaysOneLine) {
  const std::string text = std::string("position,dataset_index,label,prediction,loss,margin,correct\n") +
                           "0,17,3,3,0.125,2.5,1\n1,4,0\r" + std::string(7, '\0') + "-1.75,0\n";
  const std::string e = error_of([&] { SampleEpoch::from_csv(text, 3, "RUN/samples/epoch-003.csv"); });
  EXPECT_HAS(e, "RUN/samples/epoch-003.csv: line 3 is malformed (\"1,4,0?");
  EXPECT_EQ(lines(e), 0) << e;
}

// A run log with one layer, two validation images and no records yet.
void write_small_run_log(const std::filesystem::path& file) {
  RunLogSetup setup;
  setup.layers = {{"features.0", "conv", 2, 9}};
  setup.val_dataset_indices = {0, 1};
  setup.val_labels = {0, 1};
  setup.class_names = {"a", "b"};
  setup.steps_per_epoch = 2;
  setup.log_every = 1;
  setup.source = "train";
  RunLogWriter(file, setup, 0).close();
}

// The run_log harness (issue 30) found in its first 30 seconds that one byte of a run log's schema
// text, overwritten with a quote, made SQLite's message quote the damaged CREATE statement, line
// breaks and all, into serve's refusal. SQLite's messages now go through printable.
TEST(Hardening, FuzzFoundRunLogWithADamagedSchemaStaysOneLine) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "run.sqlite";
  write_small_run_log(file);
  std::string bytes = read_file(file);
  const size_t table = bytes.find("layer_stats(layer INTEGER");
  ASSERT_NE(table, std::string::npos);
  const size_t space = bytes.find(" REAL", table);
  ASSERT_NE(space, std::string::npos);
  ASSERT_NE(bytes.find('\n', table), std::string::npos) << "the schema text has no line break to quote";
  bytes[space] = '\'';
  write_bytes(file, bytes);
  const std::string e = error_of([&] { RunLogReader(file).summary(); });
  EXPECT_HAS(e, file.string() + ": not a filterscope run log (");
  EXPECT_HAS(e, "malformed database schema (layer_stats)");
  EXPECT_EQ(lines(e), 0) << e;
}

// Its next finds, in the same minute: a meta value holding a line break was quoted raw, and a
// layer's unit count of 2^62 sized a vector (std::length_error, an uncaught exception in serve).
TEST(Hardening, FuzzFoundRunLogMetaAndLayerDamageIsRefusedByName) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "run.sqlite";
  write_small_run_log(file);
  const std::string original = read_file(file);
  {
    SqliteDatabase db(file, SqliteDatabase::Mode::kReadWrite);
    db.exec("UPDATE meta SET value = '2\n3' WHERE key = 'log_every'");
  }
  std::string e = error_of([&] { RunLogReader(file).summary(); });
  EXPECT_HAS(e, file.string() + ": meta value log_every is not a whole number (\"2?3\")");
  EXPECT_EQ(lines(e), 0) << e;

  write_bytes(file, original);
  {
    SqliteDatabase db(file, SqliteDatabase::Mode::kReadWrite);
    db.exec("UPDATE layers SET units = 4611686018427387904");
  }
  e = error_of([&] { RunLogReader(file).layers(); });
  EXPECT_HAS(e, file.string() + ": the layers table is damaged (layer 0 has 4611686018427387904 units and fan-in 9)");
}

TEST(Hardening, FilterscopeJsonTakesAShapeAndNamesItsKeys) {
  const ExportInfo shape = ExportInfo::parse(R"({"input_size": [3, 64, 64], "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]})", "m");
  EXPECT_EQ(shape.input_side.value_or(0), 64);
  EXPECT_EQ(shape.input_channels.value_or(0), 3);
  EXPECT_EQ(ExportInfo::parse(R"({"input_size": [32, 32]})", "m").input_side.value_or(0), 32);
  EXPECT_EQ(ExportInfo::parse(R"({"input_size": 28})", "m").input_side.value_or(0), 28);
  EXPECT_HAS(error_of([] { ExportInfo::parse(R"({"input_size": [3, 64, 48]})", "m.pt: filterscope.json"); }),
             "m.pt: filterscope.json: \"input_size\" is [3,64,48]: the input must be square");
  EXPECT_HAS(error_of([] { ExportInfo::parse(R"({"input_size": "big"})", "m.pt: filterscope.json"); }),
             "m.pt: filterscope.json: \"input_size\" is \"big\" (expected a side such as 28, or a shape [C, H, W]");
  EXPECT_HAS(error_of([] { ExportInfo::parse(R"({"mean": [0.5]})", "j"); }), "j: gives \"mean\" without \"std\"");
  EXPECT_HAS(error_of([] { ExportInfo::parse(R"({"mean": [0.5], "std": [0]})", "j"); }),
             "j: \"std\" holds 0 (expected a list of positive numbers, one per channel)");
  EXPECT_HAS(error_of([] { ExportInfo::parse("[1, 2", "j"); }), "j: not valid JSON");

  // A user's TorchScript file with the shape form: accepted, and its channels checked against the data.
  TempDir dir;
  torch::jit::Module module = torch::jit::load(testing::test_model("functional.pt").string());
  const auto save_with = [&](const std::string& name, const std::string& json) {
    torch::jit::ExtraFilesMap extra{{"filterscope.json", json}};
    module.save((dir / name).string(), extra);
    return dir / name;
  };
  ModelSourceOptions o;
  o.data.dataset = "synthetic";
  o.data.synthetic_size = 120;
  o.split.val_size = 20;
  o.path = save_with("shape.pt", R"({"input_size": [1, 28, 28]})");
  const ModelSource s = open_model_source(o, c10::Device("cpu"));
  EXPECT_EQ(s.record.input_shape, (std::vector<int64_t>{1, 28, 28}));
  o.path = save_with("rgb.pt", R"({"input_size": [3, 28, 28]})");
  EXPECT_HAS(error_of([&] { open_model_source(o, c10::Device("cpu")); }),
             "rgb.pt: filterscope.json: \"input_size\" says 3 channel(s); the dataset synthetic");
  o.path = save_with("bad.pt", R"({"input_size": {"side": 28}})");
  const auto r = run_cli({"analyze", o.path.string(), "--dataset", "synthetic", "--quiet", "--out", (dir / "x").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_HAS(r.err, "bad.pt: filterscope.json: \"input_size\" is {\"side\":28}");
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
}

TEST(Hardening, GzipMessagesNameThePathOnce) {
  TempDir dir;
  std::string gz("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  gz += std::string("\x01\x05\x00\x00\x00", 5);  // a stored block whose length check fails
  gz += "abcde";
  write_bytes(dir / "train-images-idx3-ubyte.gz", gz);
  const std::string where = (dir / "train-images-idx3-ubyte.gz").string();
  const std::string e = error_of([&] { read_idx(dir / "train-images-idx3-ubyte.gz", dir / "train-images-idx3-ubyte.gz", "x"); });
  EXPECT_HAS(e, where + ": corrupt gzip data (invalid stored block lengths)");
  EXPECT_EQ(e.find(where), e.rfind(where)) << e;
  EXPECT_HAS(error_of([] { maybe_gunzip(std::string("\x1f\x8b\x08\x00", 4), "t.gz"); }),
             "t.gz: corrupt gzip data (the stream is cut short)");
  // Concatenated members inflate as gzip -d does.
  const auto gzip = [](const std::string& text) {
    z_stream s{};
    deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(256 + text.size() * 2, '\0');
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    s.avail_in = static_cast<uInt>(text.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    deflate(&s, Z_FINISH);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
  };
  EXPECT_EQ(maybe_gunzip(gzip("hello ") + gzip("world"), "two.gz"), "hello world");
  EXPECT_EQ(maybe_gunzip("plain bytes", "p"), "plain bytes");
}

TEST(Hardening, ZipReaderChecksEveryRecordOfAPyTorchArchive) {
  TempDir dir;
  ASSERT_EQ(run_cli(train_args(dir / "run", 1)).code, 0);
  const std::string bytes = read_file(checkpoint_path(dir / "run", 1));
  const auto entries = read_zip_directory(bytes, "c");
  EXPECT_GT(entries.size(), 10u);
  EXPECT_TRUE(std::any_of(entries.begin(), entries.end(), [](const ZipEntry& e) { return e.method == 8; }))
      << "PyTorch deflates some code records: the inflating path is exercised";
  verify_zip_checksums(bytes, "c");
  // Every truncation is refused with a reason, never a crash.
  for (size_t cut : {size_t{0}, size_t{21}, bytes.size() / 3, bytes.size() - 1})
    EXPECT_NE(error_of([&] { read_zip_directory(std::string_view(bytes).substr(0, cut), "c"); }), "(no error)") << cut;
}

}  // namespace
}  // namespace filterscope
