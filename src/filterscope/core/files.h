// Writing outputs so that a killed process never leaves a half-written file behind.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace filterscope {

namespace fs = std::filesystem;

/// Writes `content` to `path` through a temporary file in the same folder and a rename.
void write_file_atomic(const fs::path& path, const std::string& content);

/// Calls `write(temp_path)` and renames the temporary file onto `path` only if it returned normally.
void write_atomic_with(const fs::path& path, const std::function<void(const fs::path&)>& write);

/// The whole content of a file; throws Error naming the file when it cannot be read.
std::string read_file(const fs::path& path);

/// Creates `dir` and its parents; throws Error naming the folder when that fails.
void ensure_directory(const fs::path& dir);

}  // namespace filterscope
