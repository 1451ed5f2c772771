// A checkpoint's container and metadata: the zip directory, every record's CRC-32, and the
// "filterscope" record's JSON. The input is a zip archive; when it holds a record named
// .../filterscope.json its text is parsed as checkpoint metadata, and the rest of the input is
// also parsed as metadata text directly so that the JSON side is reached without a valid zip.
#include "filterscope/io/zip_archive.h"
#include "filterscope/train/checkpoint_info.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace filterscope;
  const std::string_view bytes = fuzz::as_text(data, size);
  fuzz::parse_or_refuse([&] {
    verify_zip_checksums(bytes, "epoch-001.pt");
    for (const ZipEntry& e : read_zip_directory(bytes, "epoch-001.pt")) {
      if (e.data_offset + e.compressed_size > size) std::abort();
      if (e.size <= (1u << 20)) {
        const std::string content = read_zip_record(bytes, e, "epoch-001.pt");
        if (content.size() != e.size) std::abort();
        if (e.name.size() >= 16 && e.name.compare(e.name.size() - 16, 16, "filterscope.json") == 0)
          fuzz::parse_or_refuse([&] { CheckpointInfo::parse(content, "epoch-001.pt"); });
      }
    }
  });
  fuzz::parse_or_refuse([&] {
    const CheckpointInfo info = CheckpointInfo::parse(std::string(bytes), "epoch-001.pt");
    const CheckpointInfo again = CheckpointInfo::parse(info.to_text(), "again");
    if (again.to_text() != info.to_text()) std::abort();
  });
  return 0;
}
