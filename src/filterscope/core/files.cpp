#include "filterscope/core/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"

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
  // One allocation of the file's size and one read: a stream copy grows and copies twice, which
  // took seconds on a 700 MB checkpoint.
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  std::string bytes;
  if (!ec) {
    bytes.resize(static_cast<size_t>(size));
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<size_t>(in.gcount()));
  }
  // Whatever follows the size seen (a file still growing, or one without a size such as a pipe).
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) bytes.append(chunk, static_cast<size_t>(in.gcount()));
  return bytes;
}

MappedFile::MappedFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FS_CHECK(fd >= 0, "cannot open ", path.string(), ": ", fs::exists(path) ? "permission denied" : "no such file");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(detail::concat("cannot read ", path.string(), ": not a regular file"));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw Error(detail::concat("cannot map ", path.string(), " into memory"));
    }
    data_ = static_cast<const char*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

void ensure_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  FS_CHECK(!ec, "cannot create folder ", dir.string(), ": ", ec.message());
}

}  // namespace filterscope

namespace filterscope {

std::vector<int64_t> read_index_list(const fs::path& path) { return parse_index_list(read_file(path), path.string()); }

std::vector<int64_t> parse_index_list(const std::string& text, const std::string& source) {
  std::vector<int64_t> out;
  size_t at = 0;
  int64_t line = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string row = text.substr(at, end - at);
    at = end + 1;
    ++line;
    if (const size_t hash = row.find('#'); hash != std::string::npos) row.resize(hash);
    while (!row.empty() && std::isspace(static_cast<unsigned char>(row.back()))) row.pop_back();
    size_t first = 0;
    while (first < row.size() && std::isspace(static_cast<unsigned char>(row[first]))) ++first;
    row = row.substr(first);
    if (row.empty()) continue;
    const bool digits = std::all_of(row.begin(), row.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits && out.empty() && line == 1) continue;  // a header such as "dataset_index"
    FS_CHECK(digits && row.size() <= 18, source, ": line ", line, " is not a whole number (\"",
             printable(row, 40), "\")");
    out.push_back(std::stoll(row));
  }
  return out;
}

}  // namespace filterscope
