#include "filterscope/core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace filterscope {

Progress::Progress(std::string label, int64_t total, std::string unit, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (tty_ && enabled_ && !finished_ && done_ > 0) std::fputc('\n', stderr);
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(int64_t done, const std::string& status) {
  done_ += done;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ > std::chrono::milliseconds(100) || done_ >= total_) {
      last_draw_ = now;
      draw(false, status);
    }
  } else if (total_ > 0) {
    // Without a terminal: one line per tenth of the work, so logs stay short.
    const int decile = static_cast<int>(10 * done_ / total_);
    if (decile != last_decile_ && decile < 10) {
      last_decile_ = decile;
      if (decile > 0) draw(false, status);
    }
  }
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true, status);
}

void Progress::draw(bool final_line, const std::string& status) {
  const double seconds = elapsed_seconds();
  const double rate = seconds > 0 ? done_ / seconds : 0.0;
  const double eta = rate > 0 && total_ > done_ ? (total_ - done_) / rate : 0.0;
  const double fraction = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / total_) : 1.0;
  char numbers[160];
  std::snprintf(numbers, sizeof numbers, "%3.0f%% %lld/%lld %.1f %s/s %s %.0fs", 100 * fraction,
                static_cast<long long>(done_), static_cast<long long>(total_), rate, unit_.c_str(),
                final_line ? "in" : "eta", final_line ? seconds : eta);
  if (tty_) {
    const int width = 24;
    std::string bar(static_cast<size_t>(width * fraction), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %s %s", label_.c_str(), bar.c_str(), numbers,
                 status.c_str());
    if (final_line) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "%s %s %s\n", label_.c_str(), numbers, status.c_str());
  }
  std::fflush(stderr);
}

}  // namespace filterscope
