#include "filterscope/core/params.h"

namespace filterscope {

std::string Bounds::describe() const {
  const bool has_lo = std::isfinite(lo);
  const bool has_hi = std::isfinite(hi);
  std::ostringstream out;
  if (has_lo && has_hi) {
    out << "in " << (lo_open ? "(" : "[") << lo << ", " << hi << (hi_open ? ")" : "]");
  } else if (has_lo) {
    out << (lo_open ? "> " : ">= ") << lo;
  } else if (has_hi) {
    out << (hi_open ? "< " : "<= ") << hi;
  } else {
    out << "any number";
  }
  return out.str();
}

}  // namespace filterscope
