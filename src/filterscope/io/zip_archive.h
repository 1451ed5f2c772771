// The zip container of PyTorch's files (checkpoints and TorchScript models), read far enough to
// check it: LibTorch's reader does not verify the CRC-32 that the zip format stores for every
// record, so flipped bytes inside a weight tensor would load silently. Plain std + zlib, no
// tensors, so that it can be fuzzed on its own.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace filterscope {

/// One record of a zip archive, from its central directory.
struct ZipEntry {
  std::string name;               ///< printable: control bytes shown as '?'
  uint16_t method = 0;            ///< 0 stored, 8 deflate (the only two PyTorch writes)
  uint32_t crc32 = 0;             ///< as stored in the central directory
  uint64_t compressed_size = 0;
  uint64_t size = 0;              ///< uncompressed
  uint64_t data_offset = 0;       ///< where the record's bytes start in the archive
};

/// The records of a zip archive held in `bytes` (zip64 included). Throws Error starting with
/// `where` when the archive is cut short or malformed: no end-of-central-directory record, a
/// directory or record outside the file, an unsupported compression method.
std::vector<ZipEntry> read_zip_directory(std::string_view bytes, const std::string& where);

/// The uncompressed bytes of one record (a small one: the whole record is returned). Throws Error
/// naming `where` when a deflated record does not inflate to its size or its CRC-32 differs.
std::string read_zip_record(std::string_view bytes, const ZipEntry& entry, const std::string& where);

/// Recomputes every record's CRC-32 (inflating deflated ones) and compares it with the stored
/// one. Throws Error naming `where` and the first record whose bytes do not match.
void verify_zip_checksums(std::string_view bytes, const std::string& where);

}  // namespace filterscope
