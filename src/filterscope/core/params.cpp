#include "filterscope/core/params.h"

#include <cmath>

namespace filterscope {

namespace {
// Whole numbers print in full (4294967295, not 4.29497e+09).
std::string number(double v) {
  std::ostringstream out;
  if (std::abs(v) < 1e15 && v == std::floor(v)) out << static_cast<long long>(v);
  else out << v;
  return out.str();
}
}  // namespace

std::string Bounds::describe() const {
  const bool has_lo = std::isfinite(lo);
  const bool has_hi = std::isfinite(hi);
  std::ostringstream out;
  if (has_lo && has_hi) {
    out << "in " << (lo_open ? "(" : "[") << number(lo) << ", " << number(hi) << (hi_open ? ")" : "]");
  } else if (has_lo) {
    out << (lo_open ? "> " : ">= ") << number(lo);
  } else if (has_hi) {
    out << (hi_open ? "< " : "<= ") << number(hi);
  } else {
    out << "any number";
  }
  return out.str();
}

}  // namespace filterscope
