#include "filterscope/io/zip_archive.h"

#include <zlib.h>

#include <limits>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"

namespace filterscope {

namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;

// Little-endian reads that never go past the end: `ok` turns false instead.
struct Cursor {
  std::string_view bytes;
  bool ok = true;
  uint64_t read(uint64_t offset, int width) {
    if (offset > bytes.size() || bytes.size() - offset < static_cast<uint64_t>(width)) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v |= uint64_t{static_cast<unsigned char>(bytes[offset + i])} << (8 * i);
    return v;
  }
  uint16_t u16(uint64_t offset) { return static_cast<uint16_t>(read(offset, 2)); }
  uint32_t u32(uint64_t offset) { return static_cast<uint32_t>(read(offset, 4)); }
  uint64_t u64(uint64_t offset) { return read(offset, 8); }
};

// The end-of-central-directory record sits in the last 22 + 65,535 (comment) bytes.
uint64_t find_end_of_directory(std::string_view bytes, const std::string& where) {
  FS_CHECK(bytes.size() >= 22, where, ": ", bytes.size(),
           " bytes is too short for a zip archive");
  Cursor c{bytes};
  const uint64_t last = bytes.size() - 22;
  const uint64_t first = last > 65535 ? last - 65535 : 0;
  for (uint64_t pos = last + 1; pos-- > first;) {
    if (c.u32(pos) == kEndOfDirectory && pos + 22 + c.u16(pos + 20) == bytes.size()) return pos;
  }
  throw Error(where + ": no zip end-of-central-directory record: the file is cut short");
}

// A directory entry whose size or offset reads 0xFFFFFFFF (the zip64 sentinel) has the real 64-bit
// value in its zip64 extra field: read it from there.
void apply_zip64_extra(Cursor& c, uint64_t extra, uint64_t extra_len, ZipEntry& e, uint64_t& local_offset,
                       bool size_ff, bool csize_ff, bool offset_ff, const std::string& where) {
  uint64_t pos = extra;
  const uint64_t end = extra + extra_len;
  while (pos + 4 <= end) {
    const uint16_t id = c.u16(pos);
    const uint16_t len = c.u16(pos + 2);
    FS_CHECK(c.ok && pos + 4 + len <= end, where, ": the zip directory's extra field of ", e.name, " runs past its entry");
    if (id == 0x0001) {
      uint64_t field = pos + 4;
      const uint64_t field_end = field + len;
      auto take = [&](uint64_t& value) {
        FS_CHECK(field + 8 <= field_end, where, ": the zip64 extra field of ", e.name, " is cut short");
        value = c.u64(field);
        field += 8;
      };
      if (size_ff) take(e.size);
      if (csize_ff) take(e.compressed_size);
      if (offset_ff) take(local_offset);
      return;
    }
    pos += 4 + len;
  }
  FS_CHECK(!size_ff && !csize_ff && !offset_ff, where, ": directory entry ", e.name, " needs a zip64 field it lacks");
}

// Inflates a raw deflate stream, returning its CRC-32; the bytes go to `out` when it is given.
uint32_t inflated_crc(std::string_view data, uint64_t expected_size, const std::string& where,
                      const std::string& name, std::string* out_bytes = nullptr) {
  z_stream s{};
  FS_CHECK(inflateInit2(&s, -MAX_WBITS) == Z_OK, where, ": cannot start zlib");
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t produced = 0;
  unsigned char buffer[1 << 15];
  int status = Z_OK;
  size_t consumed = 0;
  while (status != Z_STREAM_END) {
    const size_t chunk = std::min<size_t>(data.size() - consumed, std::numeric_limits<uInt>::max());
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
    s.avail_in = static_cast<uInt>(chunk);
    const uInt before_in = s.avail_in;
    s.next_out = buffer;
    s.avail_out = sizeof buffer;
    status = inflate(&s, Z_NO_FLUSH);
    consumed += before_in - s.avail_in;
    const size_t out = sizeof buffer - s.avail_out;
    crc = crc32(crc, buffer, static_cast<uInt>(out));
    if (out_bytes != nullptr) out_bytes->append(reinterpret_cast<const char*>(buffer), out);
    produced += out;
    if (status != Z_OK && status != Z_STREAM_END) break;
    if (status == Z_OK && out == 0 && before_in == s.avail_in) break;  // no progress: input ended early
    if (produced > expected_size) break;
  }
  inflateEnd(&s);
  FS_CHECK(status == Z_STREAM_END && produced == expected_size, where,
           ": record ", name, " does not inflate to its ", expected_size, " bytes");
  return static_cast<uint32_t>(crc);
}

}  // namespace

std::vector<ZipEntry> read_zip_directory(std::string_view bytes, const std::string& where) {
  Cursor c{bytes};
  const uint64_t eocd = find_end_of_directory(bytes, where);
  uint64_t count = c.u16(eocd + 10);
  uint64_t dir_size = c.u32(eocd + 12);
  uint64_t dir_offset = c.u32(eocd + 16);
  if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {
    FS_CHECK(eocd >= 20 && c.u32(eocd - 20) == kZip64Locator, where,
             ": zip64 archive without its locator");
    const uint64_t eocd64 = c.u64(eocd - 20 + 8);
    FS_CHECK(c.u32(eocd64) == kZip64EndOfDirectory && c.ok, where,
             ": zip64 end-of-central-directory record missing");
    count = c.u64(eocd64 + 32);
    dir_size = c.u64(eocd64 + 40);
    dir_offset = c.u64(eocd64 + 48);
    FS_CHECK(c.ok, where, ": zip64 end-of-central-directory record cut short");
  }
  FS_CHECK(dir_offset <= bytes.size() && dir_size <= bytes.size() - dir_offset, where,
           ": the zip directory lies outside the file");
  // Each directory entry takes at least 46 bytes: a count larger than that allows is corrupt.
  FS_CHECK(count <= dir_size / 46, where, ": the zip directory cannot hold ", count, " entries in ", dir_size, " bytes");
  std::vector<ZipEntry> entries;
  entries.reserve(static_cast<size_t>(count));
  uint64_t pos = dir_offset;
  const uint64_t dir_end = dir_offset + dir_size;
  for (uint64_t i = 0; i < count; ++i) {
    FS_CHECK(pos + 46 <= dir_end && c.u32(pos) == kDirectoryEntry, where, ": zip directory entry ", i, " of ", count, " is malformed");
    ZipEntry e;
    e.method = c.u16(pos + 10);
    e.crc32 = c.u32(pos + 16);
    e.compressed_size = c.u32(pos + 20);
    e.size = c.u32(pos + 24);
    const uint64_t name_len = c.u16(pos + 28);
    const uint64_t extra_len = c.u16(pos + 30);
    const uint64_t comment_len = c.u16(pos + 32);
    uint64_t local = c.u32(pos + 42);
    FS_CHECK(pos + 46 + name_len + extra_len + comment_len <= dir_end, where,
             ": zip directory entry ", i, " runs past the directory");
    e.name = printable(bytes.substr(pos + 46, name_len), 120);
    apply_zip64_extra(c, pos + 46 + name_len, extra_len, e, local, e.size == 0xFFFFFFFF,
                      e.compressed_size == 0xFFFFFFFF, local == 0xFFFFFFFF, where);
    FS_CHECK(e.method == 0 || e.method == 8, where, ": record ", e.name, " uses zip compression method ",
             e.method, " (PyTorch writes only 0 and 8)");
    FS_CHECK(local <= bytes.size() && bytes.size() - local >= 30 && c.u32(local) == kLocalHeader, where,
             ": record ", e.name, " has no local header where the directory says");
    e.data_offset = local + 30 + c.u16(local + 26) + c.u16(local + 28);
    FS_CHECK(e.data_offset <= bytes.size() && e.compressed_size <= bytes.size() - e.data_offset, where,
             ": record ", e.name, " runs past the end of the file");
    FS_CHECK(e.method != 0 || e.compressed_size == e.size, where, ": stored record ",
             e.name, " has two sizes");
    entries.push_back(std::move(e));
    pos += 46 + name_len + extra_len + comment_len;
  }
  return entries;
}

std::string read_zip_record(std::string_view bytes, const ZipEntry& e, const std::string& where) {
  const std::string_view data = bytes.substr(e.data_offset, e.compressed_size);
  FS_CHECK(e.size <= (1u << 30), where, ": record ", e.name, " is too large to read whole (", e.size, " bytes)");
  std::string content;
  uint32_t crc = 0;
  if (e.method == 0) {
    content = std::string(data);
    crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(content.data()), static_cast<uInt>(content.size())));
  } else {
    crc = inflated_crc(data, e.size, where, e.name, &content);
  }
  FS_CHECK(crc == e.crc32, where, ": checksum mismatch in record ", e.name, " (its bytes changed after it was written)");
  return content;
}

void verify_zip_checksums(std::string_view bytes, const std::string& where) {
  for (const ZipEntry& e : read_zip_directory(bytes, where)) {
    const std::string_view data = bytes.substr(e.data_offset, e.compressed_size);
    uint32_t crc = 0;
    if (e.method == 0) {
      uLong c = crc32(0L, Z_NULL, 0);
      for (size_t done = 0; done < data.size();) {
        const size_t chunk = std::min<size_t>(data.size() - done, 1u << 30);
        c = crc32(c, reinterpret_cast<const Bytef*>(data.data() + done), static_cast<uInt>(chunk));
        done += chunk;
      }
      crc = static_cast<uint32_t>(c);
    } else {
      crc = inflated_crc(data, e.size, where, e.name);
    }
    FS_CHECK(crc == e.crc32, where, ": checksum mismatch in record ", e.name, " (its bytes changed after it was written)");
  }
}

}  // namespace filterscope
