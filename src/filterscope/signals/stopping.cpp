#include "filterscope/signals/stopping.h"

#include <cmath>

#include "filterscope/core/error.h"

namespace filterscope {

std::string stop_rule_name(StopRule rule) {
  switch (rule) {
    case StopRule::MinWithPatience: return "min-with-patience";
    case StopRule::MaxWithPatience: return "max-with-patience";
    case StopRule::FirstAbove: return "first-above";
    case StopRule::FirstBelow: return "first-below";
    case StopRule::Plateau: return "plateau";
  }
  return "?";
}

std::vector<double> trailing_average(const std::vector<double>& curve, int64_t window) {
  FS_ASSERT(window >= 1);
  std::vector<double> out(curve.size(), NAN);
  for (size_t e = 0; e < curve.size(); ++e) {
    double sum = 0;
    int64_t count = 0;
    const size_t first = e + 1 >= static_cast<size_t>(window) ? e + 1 - static_cast<size_t>(window) : 0;
    for (size_t i = first; i <= e; ++i)  // one fixed order: the same sum live and offline
      if (std::isfinite(curve[i])) {
        sum += curve[i];
        ++count;
      }
    if (count > 0) out[e] = sum / static_cast<double>(count);
  }
  return out;
}

StopDecision decide_stop(const std::vector<double>& curve, const StopRuleOptions& o) {
  FS_ASSERT(o.window >= 1 && o.patience >= 1);
  StopDecision d;
  d.smoothed = trailing_average(curve, o.window);
  const std::vector<double>& s = d.smoothed;
  const int64_t n = static_cast<int64_t>(s.size());
  auto at = [&](int64_t epoch) { return s[static_cast<size_t>(epoch - 1)]; };
  if (o.rule == StopRule::MinWithPatience || o.rule == StopRule::MaxWithPatience) {
    const double sign = o.rule == StopRule::MinWithPatience ? 1.0 : -1.0;
    int64_t best = 0;
    for (int64_t t = 1; t <= n; ++t) {
      const double v = at(t);
      if (std::isfinite(v) && (best == 0 || sign * v < sign * at(best))) best = t;
      if (best > 0 && t - best >= o.patience) {
        d.fired = true;
        d.fired_at = t;
        d.predicted = best;
        return d;
      }
    }
    d.predicted = best;
    return d;
  }
  bool any = false;
  for (int64_t t = 1; t <= n; ++t) {
    const double v = at(t);
    if (!std::isfinite(v)) continue;
    any = true;
    bool met = false;
    if (o.rule == StopRule::FirstAbove) met = v > o.threshold;
    if (o.rule == StopRule::FirstBelow) met = v < o.threshold;
    if (o.rule == StopRule::Plateau && t - o.patience >= 1) {
      const double before = at(t - o.patience);
      met = std::isfinite(before) && before - v < o.threshold * std::abs(before);
    }
    if (met) {
      d.fired = true;
      d.fired_at = t;
      d.predicted = t;
      return d;
    }
  }
  d.predicted = any ? n : 0;
  return d;
}

}  // namespace filterscope
