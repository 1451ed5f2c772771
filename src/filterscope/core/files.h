// Writing outputs so that a killed process never leaves a half-written file behind.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>
#include <string_view>

namespace filterscope {

namespace fs = std::filesystem;

/// Writes `content` to `path` through a temporary file in the same folder and a rename.
void write_file_atomic(const fs::path& path, const std::string& content);

/// Calls `write(temp_path)` and renames the temporary file onto `path` only if it returned normally.
void write_atomic_with(const fs::path& path, const std::function<void(const fs::path&)>& write);

/// The whole content of a file; throws Error naming the file when it cannot be read.
std::string read_file(const fs::path& path);

/// A list of whole numbers, one per line ('#' starts a comment; blank lines and a first line of
/// text, a header, are skipped). Throws Error naming the file and line of anything else.
std::vector<int64_t> read_index_list(const fs::path& path);

/// The same on text already read; `source` names it in errors.
std::vector<int64_t> parse_index_list(const std::string& text, const std::string& source);

/// A whole file mapped read-only into memory (for large inputs read once: checkpoints): no copy,
/// pages read ahead. Throws Error naming the file when it cannot be opened or mapped.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

/// Creates `dir` and its parents; throws Error naming the folder when that fails.
void ensure_directory(const fs::path& dir);

}  // namespace filterscope
