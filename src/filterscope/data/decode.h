// The dataset file formats decoded from bytes, before any tensor exists: IDX (MNIST's layout),
// CIFAR's binary records and PNG/JPEG images (libpng and libjpeg-turbo, which OSS-Fuzz fuzzes; the
// copy of stb_image in Debian 12 writes past a Huffman table on a crafted JPEG, found by fuzz/).
// Plain std otherwise, so that each decoder can be fuzzed on its own (fuzz/); the readers in
// dataset.h turn the results into tensors.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace filterscope {

/// An IDX file of unsigned bytes: images [n, rows, cols] (magic 0x803) or labels [n] (0x801).
struct IdxArray {
  int64_t count = 0;
  int64_t rows = 0, cols = 0;  ///< images only
  std::string_view data;       ///< count * rows * cols (or count) bytes, inside the parsed bytes
};

/// Parses IDX images (3 dimensions) or labels (1 dimension); throws Error naming `where` for a
/// short header, another magic number, an empty set or data shorter than the header says.
IdxArray parse_idx_images(std::string_view bytes, const std::string& where);
IdxArray parse_idx_labels(std::string_view bytes, const std::string& where);

/// CIFAR-10 (1 label byte) or CIFAR-100 (coarse and fine label bytes) records of 3x32x32 pixels.
struct CifarRecords {
  int64_t count = 0;
  std::vector<int64_t> labels;       ///< the fine label for CIFAR-100
  std::vector<std::string_view> pixels;  ///< 3,072 bytes each (planar R, G, B)
};

/// Throws Error naming `where` for an empty file, a size that is not a whole number of records,
/// or a label outside the classes.
CifarRecords parse_cifar_records(std::string_view bytes, bool cifar100, const std::string& where);

/// Images larger than this on a side are refused before decoding (a header may claim anything).
inline constexpr int kMaxImageSide = 16384;

struct ImageHeader {
  int width = 0, height = 0, channels = 0;  ///< channels as stored: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
};

/// Reads a PNG or JPEG header; throws Error naming `where` for another format, a damaged header or
/// a side over kMaxImageSide.
ImageHeader read_image_header(std::string_view bytes, const std::string& where);

/// Decodes a PNG or JPEG into `channels` (1 or 3) interleaved 8-bit channels, height * width *
/// channels bytes: 16-bit samples keep their high byte, palettes expand, alpha is dropped. Throws Error naming `where` for anything read_image_header refuses and for
/// image data that is cut short or corrupt.
std::vector<uint8_t> decode_image(std::string_view bytes, int channels, const std::string& where,
                                  ImageHeader* header = nullptr);

}  // namespace filterscope
