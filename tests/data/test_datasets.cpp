#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <fstream>

#include "filterscope/core/error.h"
#include "filterscope/data/dataset.h"
#include "test_util.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace filterscope {
namespace {

using testing::error_of;
using testing::TempDir;
using testing::write_bytes;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// An IDX image file of n images of rows x cols whose pixel values are (i + r + c) % 256.
std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  std::string out = be32(magic) + be32(n) + be32(rows) + be32(cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c) out += static_cast<char>((i + r + c) % 256);
  return out;
}
std::string idx_labels(uint32_t n, int classes = 10) {
  std::string out = be32(0x801) + be32(n);
  for (uint32_t i = 0; i < n; ++i) out += static_cast<char>(i % classes);
  return out;
}
void write_gz(const std::filesystem::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(Idx, ReadsRawAndGzipped) {
  TempDir dir;
  write_bytes(dir / "img", idx_images(5, 4, 3));
  write_bytes(dir / "lab", idx_labels(5));
  write_gz(dir / "img.gz", idx_images(5, 4, 3));
  write_gz(dir / "lab.gz", idx_labels(5));
  for (const char* suffix : {"", ".gz"}) {
    Dataset d = read_idx(dir / (std::string("img") + suffix), dir / (std::string("lab") + suffix), "t");
    ASSERT_EQ(d.images.sizes(), at::IntArrayRef({5, 1, 4, 3}));
    EXPECT_EQ(d.images[2][0][1][2].item<uint8_t>(), 5);  // 2 + 1 + 2
    EXPECT_EQ(d.labels[3].item<int64_t>(), 3);
    EXPECT_EQ(d.indices[4].item<int64_t>(), 4);
  }
}

TEST(Idx, BadFilesNameTheFileAndTheProblem) {
  TempDir dir;
  write_bytes(dir / "lab", idx_labels(5));
  write_bytes(dir / "magic", idx_images(5, 4, 3, 0x801));
  EXPECT_NE(error_of([&] { read_idx(dir / "magic", dir / "lab", "t"); }).find("magic: wrong magic number 0x801"),
            std::string::npos);
  std::string truncated = idx_images(5, 4, 3);
  truncated.resize(truncated.size() - 7);
  write_bytes(dir / "short", truncated);
  EXPECT_NE(error_of([&] { read_idx(dir / "short", dir / "lab", "t"); }).find("short: truncated"),
            std::string::npos);
  write_bytes(dir / "six", idx_images(6, 4, 3));
  EXPECT_NE(error_of([&] { read_idx(dir / "six", dir / "lab", "t"); }).find("holds 6 images but"),
            std::string::npos);
  write_bytes(dir / "img", idx_images(5, 4, 3));
  std::string bad_label = idx_labels(5);
  bad_label[8 + 2] = 11;
  write_bytes(dir / "lab12", bad_label);
  EXPECT_NE(error_of([&] { read_idx(dir / "img", dir / "lab12", "t", 10); }).find("label 11 out of range"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_idx(dir / "nothing", dir / "lab", "t"); }).find("nothing: no such file"),
            std::string::npos);
  write_bytes(dir / "bad.gz", std::string("\x1f\x8b\x08\x00garbage-that-is-not-deflate", 31));
  EXPECT_NE(error_of([&] { read_idx(dir / "bad.gz", dir / "lab", "t"); }).find("bad.gz"), std::string::npos);
}

std::string cifar_records(int n, bool cifar100, int label_offset = 0) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (cifar100) out += static_cast<char>(i % 20);
    out += static_cast<char>((i + label_offset) % (cifar100 ? 100 : 10));
    for (int p = 0; p < 3072; ++p) out += static_cast<char>((i * 7 + p) % 256);
  }
  return out;
}

TEST(Cifar, ReadsTenAndHundred) {
  TempDir dir;
  write_bytes(dir / "data_batch_1.bin", cifar_records(3, false));
  write_bytes(dir / "data_batch_2.bin", cifar_records(2, false, 3));
  write_bytes(dir / "test_batch.bin", cifar_records(4, false));
  DataOptions o;
  o.dataset = "cifar10";
  o.data_dir = dir.path();
  // Batches 3 to 5 are missing: an error unless asked for (tests/io/test_hardening.cpp).
  o.partial_data = true;
  DatasetSplits s = load_dataset(o);
  ASSERT_EQ(s.train.images.sizes(), at::IntArrayRef({5, 3, 32, 32}));
  EXPECT_EQ(s.train.labels[4].item<int64_t>(), 4);
  EXPECT_EQ(s.test.size(), 4);
  EXPECT_EQ(s.train.class_names[0], "airplane");
  // Pixel layout: channel-major 32x32 planes, as CIFAR stores them.
  EXPECT_EQ(s.train.images[1][1][0][0].item<uint8_t>(), (7 + 1024) % 256);

  write_bytes(dir / "train.bin", cifar_records(3, true, 95));
  Dataset hundred = read_cifar_binary({dir / "train.bin"}, true, "c100");
  EXPECT_EQ(hundred.num_classes, 100);
  EXPECT_EQ(hundred.labels[2].item<int64_t>(), 97);  // the fine label, not the coarse one
}

TEST(Cifar, TruncatedAndOutOfRange) {
  TempDir dir;
  std::string bytes = cifar_records(2, false);
  bytes.pop_back();
  write_bytes(dir / "cut.bin", bytes);
  EXPECT_NE(error_of([&] { read_cifar_binary({dir / "cut.bin"}, false, "x"); }).find("cut.bin: truncated"),
            std::string::npos);
  bytes = cifar_records(2, false);
  bytes[3073] = 42;  // second record's label
  write_bytes(dir / "label.bin", bytes);
  EXPECT_NE(error_of([&] { read_cifar_binary({dir / "label.bin"}, false, "x"); }).find("label 42"),
            std::string::npos);
  DataOptions o;
  o.dataset = "cifar10";
  o.data_dir = (dir / "empty").string();
  std::filesystem::create_directories(dir / "empty");
  EXPECT_NE(error_of([&] { load_dataset(o); }).find("CIFAR-10 is incomplete: data_batch_1.bin, data_batch_2.bin"),
            std::string::npos);
}

// A JPEG written by libjpeg-turbo (stb's JPEG writer shifts negative values, undefined behaviour that
// the sanitizer run stops at).
void write_jpeg(const std::filesystem::path& file, const unsigned char* rgb, int width, int height) {
  tjhandle handle = tjInitCompress();
  ASSERT_NE(handle, nullptr);
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(handle, rgb, width, width * 3, height, TJPF_RGB, &jpeg, &size, TJSAMP_444, 95, 0);
  ASSERT_EQ(rc, 0) << tjGetErrorStr2(handle);
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(jpeg), static_cast<std::streamsize>(size));
  tjFree(jpeg);
  tjDestroy(handle);
}

TEST(ImageFolder, ReadsPngAndJpegClasses) {
  TempDir dir;
  for (const char* cls : {"cat", "dog"}) std::filesystem::create_directories(dir / cls);
  unsigned char rgb[6 * 5 * 3];
  for (int i = 0; i < 90; ++i) rgb[i] = static_cast<unsigned char>(i * 2);
  stbi_write_png((dir / "cat/a.png").c_str(), 6, 5, 3, rgb, 6 * 3);
  stbi_write_png((dir / "cat/b.png").c_str(), 6, 5, 3, rgb, 6 * 3);
  write_jpeg(dir / "dog/c.jpg", rgb, 6, 5);
  write_bytes(dir / "dog/notes.txt", "not an image");
  Dataset d = read_image_folder(dir.path(), "f");
  ASSERT_EQ(d.images.sizes(), at::IntArrayRef({3, 3, 5, 6}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(d.labels[2].item<int64_t>(), 1);
  EXPECT_EQ(d.images[0][1][0][0].item<uint8_t>(), 2);  // green of the first pixel, channel-major
}

TEST(ImageFolder, Errors) {
  TempDir dir;
  std::filesystem::create_directories(dir / "empty_class");
  EXPECT_NE(error_of([&] { read_image_folder(dir.path(), "f"); }).find("no PNG or JPEG images"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_image_folder(dir / "missing", "f"); }).find("not a folder"), std::string::npos);
  std::filesystem::create_directories(dir / "b");
  unsigned char px[16] = {0};
  stbi_write_png((dir / "b/one.png").c_str(), 4, 4, 1, px, 4);
  stbi_write_png((dir / "b/two.png").c_str(), 2, 2, 1, px, 2);
  EXPECT_NE(error_of([&] { read_image_folder(dir.path(), "f"); }).find("must have one size"), std::string::npos);
  write_bytes(dir / "b/two.png", "\x89PNG broken");
  EXPECT_NE(error_of([&] { read_image_folder(dir.path(), "f"); }).find("two.png"), std::string::npos);
}

TEST(Synthetic, SameSeedSameData) {
  Dataset a = make_synthetic(200, 3), b = make_synthetic(200, 3), c = make_synthetic(200, 4);
  EXPECT_TRUE(at::equal(a.images, b.images));
  EXPECT_TRUE(at::equal(a.labels, b.labels));
  EXPECT_FALSE(at::equal(a.images, c.images));
  EXPECT_EQ(a.images.sizes(), at::IntArrayRef({200, 1, 28, 28}));
  // Every class occurs.
  EXPECT_EQ(at::bincount(a.labels, {}, 10).gt(0).sum().item<int64_t>(), 10);
}

TEST(Splits, SeededSubsetsCarryIndices) {
  DataOptions o;
  o.dataset = "synthetic";
  o.synthetic_size = 600;
  DatasetSplits s = load_dataset(o);
  SplitOptions split;
  split.train_size = 100;
  split.val_size = 50;
  RunData a = make_run_data(s, split), b = make_run_data(s, split);
  EXPECT_TRUE(at::equal(a.train.indices, b.train.indices));
  EXPECT_EQ(a.train.size(), 100);
  EXPECT_EQ(a.val.size(), 50);
  // Indices name the samples in their source split.
  const int64_t i = a.train.indices[10].item<int64_t>();
  EXPECT_TRUE(at::equal(a.train.images[10], s.train.images[i]));
  split.split_seed = 1;
  EXPECT_FALSE(at::equal(make_run_data(s, split).train.indices, a.train.indices));
  split.train_size = 100000;
  EXPECT_NE(error_of([&] { make_run_data(s, split); }).find("--train-size 100000 exceeds"), std::string::npos);
  split.train_size = -1;
  EXPECT_NE(error_of([&] { make_run_data(s, split); }).find("--train-size must be >= 0, got -1"),
            std::string::npos);
}

TEST(Splits, NoTestSplitHoldsValidationOut) {
  Dataset all = make_synthetic(300, 1);
  DatasetSplits s;
  s.train = all;
  SplitOptions split;
  split.val_size = 60;
  RunData r = make_run_data(s, split);
  EXPECT_EQ(r.val.size(), 60);
  EXPECT_EQ(r.train.size(), 240);
  const at::Tensor both = at::cat({r.train.indices, r.val.indices});
  EXPECT_EQ(std::get<0>(at::_unique(both)).numel(), 300);  // disjoint
}

TEST(Transform, NormalisesAndResizesBicubic) {
  Dataset d = make_synthetic(50, 2);
  InputTransform t = fit_normalisation(d);
  at::Tensor x = make_input(d, t);
  EXPECT_NEAR(x.mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(x.std().item<double>(), 1.0, 1e-3);
  t.resize = 64;
  at::Tensor big = make_input(d, t, at::arange(3, at::kLong));
  EXPECT_EQ(big.sizes(), at::IntArrayRef({3, 1, 64, 64}));
  EXPECT_EQ(InputTransform::from_json(t.to_json()).resize, 64);
}

TEST(FashionMnist, DebianPackageIsFoundByName) {
  if (!std::filesystem::exists(kFashionMnistDir)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  DataOptions o;  // defaults: fashion-mnist from the Debian package
  DatasetSplits s = load_dataset(o);
  EXPECT_EQ(s.train.images.sizes(), at::IntArrayRef({60000, 1, 28, 28}));
  EXPECT_EQ(s.test.size(), 10000);
  EXPECT_EQ(s.train.class_names[9], "Ankle boot");
  o.dataset = "mnist";
  EXPECT_NE(error_of([&] { load_dataset(o); }).find("--data-dir is required"), std::string::npos);
}

}  // namespace
}  // namespace filterscope
