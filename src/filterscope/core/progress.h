// Progress on long work: a bar with rate and ETA when stderr is a terminal, plain lines otherwise
// (logs and CI stay readable).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace filterscope {

class Progress {
 public:
  /// total: units of work (e.g. images); label: what is being done; unit: what a unit is.
  Progress(std::string label, int64_t total, std::string unit = "it", bool enabled = true);
  ~Progress();
  /// Adds `done` units; `status` is appended (e.g. the running loss).
  void advance(int64_t done, const std::string& status = "");
  /// Prints the final line (always, also when not a terminal).
  void finish(const std::string& status = "");
  double elapsed_seconds() const;

 private:
  void draw(bool final_line, const std::string& status);
  std::string label_;
  std::string unit_;
  int64_t total_;
  int64_t done_ = 0;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace filterscope
