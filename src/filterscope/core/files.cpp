#include "filterscope/core/files.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "filterscope/core/error.h"

namespace filterscope {

namespace {
fs::path temp_path_for(const fs::path& path) {
  // The pid keeps two processes writing the same output from trampling each other's temp file.
  return path.string() + ".tmp." + std::to_string(::getpid());
}
}  // namespace

void write_atomic_with(const fs::path& path, const std::function<void(const fs::path&)>& write) {
  if (path.has_parent_path()) ensure_directory(path.parent_path());
  const fs::path temp = temp_path_for(path);
  try {
    write(temp);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw Error(detail::concat("cannot write ", path.string(), ": ", ec.message()));
  }
}

void write_file_atomic(const fs::path& path, const std::string& content) {
  write_atomic_with(path, [&](const fs::path& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    FS_CHECK(out, "cannot open ", temp.string(), " for writing");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    FS_CHECK(out, "cannot write ", temp.string(), " (disk full?)");
  });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  FS_CHECK(in, "cannot open ", path.string(), ": ",
           fs::exists(path) ? "permission denied or not a file" : "no such file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void ensure_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  FS_CHECK(!ec, "cannot create folder ", dir.string(), ": ", ec.message());
}

}  // namespace filterscope
