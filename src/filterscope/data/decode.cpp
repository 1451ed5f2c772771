#include "filterscope/data/decode.h"

#include <climits>
#include <cstdio>
#include <cstring>

#include "filterscope/core/error.h"

#include <png.h>
#include <turbojpeg.h>

#include <csetjmp>
#include <cstdlib>

namespace filterscope {

namespace {

uint32_t big_endian_u32(std::string_view bytes, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void check_magic(std::string_view bytes, uint32_t magic, size_t header, const char* what, const std::string& where) {
  FS_CHECK(bytes.size() >= header, where, ": truncated IDX header (", bytes.size(), " bytes; ", what, " need ",
           header, ")");
  FS_CHECK(big_endian_u32(bytes, 0) == magic, where, ": wrong magic number 0x", std::hex, big_endian_u32(bytes, 0),
           " (expected 0x", magic, ", ", what, ")");
}

bool is_png(std::string_view bytes) { return bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0; }
bool is_jpeg(std::string_view bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF && static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}

// libpng reports errors by longjmp: everything between setjmp and the end of decoding is plain C
// (no C++ object is created or destroyed there), and the message is copied out before returning.
struct PngSource {
  const unsigned char* data;
  size_t size;
  size_t offset;
  char message[200];
};

void png_read_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > src->size - src->offset) png_error(png, "the file is cut short");
  std::memcpy(out, src->data + src->offset, length);
  src->offset += length;
}

void png_on_error(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", message != nullptr ? message : "unknown");
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}

// Reads a PNG header (pixels == nullptr) or the whole image into `pixels` as `channels` 8-bit
// channels. Returns false with `src.message` set on any problem.
bool png_decode(PngSource& src, ImageHeader& header, int channels, unsigned char** pixels) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  unsigned char* volatile buffer = nullptr;
  png_bytep* volatile rows = nullptr;
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
    std::free(buffer);
    std::free(rows);
    return false;
  }
  png_set_read_fn(png, &src, png_read_memory);
  png_set_user_limits(png, kMaxImageSide, kMaxImageSide);
  png_read_info(png, info);
  header.width = static_cast<int>(png_get_image_width(png, info));
  header.height = static_cast<int>(png_get_image_height(png, info));
  const int color = png_get_color_type(png, info);
  const bool gray = (color & PNG_COLOR_MASK_COLOR) == 0;
  const bool alpha = (color & PNG_COLOR_MASK_ALPHA) != 0 || png_get_valid(png, info, PNG_INFO_tRNS);
  header.channels = (gray ? 1 : 3) + (alpha ? 1 : 0);
  if (pixels != nullptr) {
    // To 8-bit gray or RGB without alpha, as the dataset stores images: 16-bit samples keep their
    // high byte, palettes and low bit depths expand, alpha is dropped (not composited).
    png_set_strip_16(png);
    png_set_packing(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (gray) png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    if (channels == 1 && !gray) png_set_rgb_to_gray_fixed(png, 1, 21268, 71514);
    if (channels == 3 && gray) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const size_t row_bytes = png_get_rowbytes(png, info);
    if (row_bytes != static_cast<size_t>(header.width) * channels) png_error(png, "unexpected row layout");
    buffer = static_cast<unsigned char*>(std::malloc(row_bytes * static_cast<size_t>(header.height)));
    rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * static_cast<size_t>(header.height)));
    if (buffer == nullptr || rows == nullptr) png_error(png, "out of memory");
    for (int y = 0; y < header.height; ++y) rows[y] = buffer + row_bytes * static_cast<size_t>(y);
    png_read_image(png, rows);
    png_read_end(png, nullptr);
    *pixels = buffer;
    buffer = nullptr;
  }
  png_destroy_read_struct(&png, &info, nullptr);
  std::free(rows);
  return true;
}

}  // namespace

IdxArray parse_idx_images(std::string_view bytes, const std::string& where) {
  check_magic(bytes, 0x00000803, 16, "unsigned bytes in 3 dimensions", where);
  IdxArray a;
  a.count = big_endian_u32(bytes, 4);
  a.rows = big_endian_u32(bytes, 8);
  a.cols = big_endian_u32(bytes, 12);
  FS_CHECK(a.count > 0 && a.rows > 0 && a.cols > 0, where, ": empty image set (", a.count, "x", a.rows, "x", a.cols, ")");
  FS_CHECK(a.rows <= kMaxImageSide && a.cols <= kMaxImageSide, where, ": images of ", a.rows, "x", a.cols,
           " pixels; the limit is ", kMaxImageSide, " a side");
  // count < 2^32 and rows, cols <= 2^14: the product fits in 64 bits.
  const uint64_t need = static_cast<uint64_t>(a.count) * static_cast<uint64_t>(a.rows) * static_cast<uint64_t>(a.cols);
  FS_CHECK(bytes.size() - 16 >= need, where, ": truncated: header says ", a.count, " images of ", a.rows, "x", a.cols,
           " (", need, " bytes), file has ", bytes.size() - 16);
  a.data = bytes.substr(16, need);
  return a;
}

IdxArray parse_idx_labels(std::string_view bytes, const std::string& where) {
  check_magic(bytes, 0x00000801, 8, "unsigned bytes in 1 dimension", where);
  IdxArray a;
  a.count = big_endian_u32(bytes, 4);
  FS_CHECK(a.count > 0, where, ": empty label set");
  FS_CHECK(bytes.size() - 8 >= static_cast<uint64_t>(a.count), where, ": truncated: header says ", a.count,
           " labels, file has ", bytes.size() - 8);
  a.data = bytes.substr(8, static_cast<size_t>(a.count));
  return a;
}

CifarRecords parse_cifar_records(std::string_view bytes, bool cifar100, const std::string& where) {
  const size_t label_bytes = cifar100 ? 2 : 1;
  const size_t pixel_bytes = 3 * 32 * 32;
  const size_t record = label_bytes + pixel_bytes;
  const int64_t num_classes = cifar100 ? 100 : 10;
  FS_CHECK(!bytes.empty(), where, ": empty file");
  FS_CHECK(bytes.size() % record == 0, where, ": truncated or not CIFAR-", num_classes, " binary (", bytes.size(),
           " bytes is not a multiple of the ", record, "-byte record)");
  CifarRecords out;
  out.count = static_cast<int64_t>(bytes.size() / record);
  out.labels.reserve(static_cast<size_t>(out.count));
  out.pixels.reserve(static_cast<size_t>(out.count));
  for (size_t offset = 0; offset < bytes.size(); offset += record) {
    // CIFAR-100 records carry the coarse label first and the fine label second.
    const int64_t label = static_cast<unsigned char>(bytes[offset + label_bytes - 1]);
    FS_CHECK(label < num_classes, where, ": record ", offset / record, " has label ", label, ", out of range 0..",
             num_classes - 1);
    out.labels.push_back(label);
    out.pixels.push_back(bytes.substr(offset + label_bytes, pixel_bytes));
  }
  return out;
}

ImageHeader read_image_header(std::string_view bytes, const std::string& where) {
  ImageHeader h;
  if (is_png(bytes)) {
    // The size from IHDR (the first chunk) first: libpng's own refusal would only say "Invalid IHDR data".
    if (bytes.size() >= 24 && bytes.substr(12, 4) == "IHDR") {
      const uint32_t w = big_endian_u32(bytes, 16), height = big_endian_u32(bytes, 20);
      FS_CHECK(w <= static_cast<uint32_t>(kMaxImageSide) && height <= static_cast<uint32_t>(kMaxImageSide), where,
               ": the image is larger than ", kMaxImageSide, " pixels a side (the limit; its header says ", w, "x",
               height, ")");
    }
    PngSource src{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0, {}};
    FS_CHECK(png_decode(src, h, 0, nullptr), where, ": not a readable PNG (", src.message, ")");
  } else if (is_jpeg(bytes)) {
    tjhandle tj = tjInitDecompress();
    FS_CHECK(tj != nullptr, where, ": cannot start the JPEG decoder");
    int subsampling = 0, colorspace = 0;
    const int status = tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(bytes.data()),
                                           static_cast<unsigned long>(bytes.size()), &h.width, &h.height,
                                           &subsampling, &colorspace);
    const std::string reason = status != 0 ? tjGetErrorStr2(tj) : "";
    tjDestroy(tj);
    FS_CHECK(status == 0, where, ": not a readable JPEG (", reason, ")");
    h.channels = colorspace == TJCS_GRAY ? 1 : 3;
  } else {
    throw Error(where + ": not a PNG or JPEG file (unknown signature)");
  }
  FS_CHECK(h.width > 0 && h.height > 0, where, ": the image has no pixels");
  FS_CHECK(h.width <= kMaxImageSide && h.height <= kMaxImageSide, where, ": the image is ", h.width, "x", h.height,
           " pixels; the limit is ", kMaxImageSide, " a side");
  return h;
}

std::vector<uint8_t> decode_image(std::string_view bytes, int channels, const std::string& where, ImageHeader* header) {
  FS_ASSERT(channels == 1 || channels == 3);
  const ImageHeader h = read_image_header(bytes, where);
  if (header != nullptr) *header = h;
  std::vector<uint8_t> out;
  if (is_png(bytes)) {
    PngSource src{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0, {}};
    ImageHeader decoded;
    unsigned char* pixels = nullptr;
    FS_CHECK(png_decode(src, decoded, channels, &pixels), where,
             ": cannot decode: the image data is cut short or corrupt (", src.message, ")");
    out.assign(pixels, pixels + static_cast<size_t>(h.width) * h.height * channels);
    std::free(pixels);
    return out;
  }
  out.resize(static_cast<size_t>(h.width) * h.height * channels);
  tjhandle tj = tjInitDecompress();
  FS_CHECK(tj != nullptr, where, ": cannot start the JPEG decoder");
  // Warnings (a premature end, corrupt data) stop decoding: a damaged image is refused, not
  // completed with gray; a progressive file may not take more than 500 scans (a known DoS).
  const int status = tjDecompress2(tj, reinterpret_cast<const unsigned char*>(bytes.data()),
                                   static_cast<unsigned long>(bytes.size()), out.data(), h.width, 0, h.height,
                                   channels == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS);
  const std::string reason = status != 0 ? tjGetErrorStr2(tj) : "";
  tjDestroy(tj);
  FS_CHECK(status == 0, where, ": cannot decode: the image data is cut short or corrupt (", reason, ")");
  return out;
}

}  // namespace filterscope
