// The paper's own signal (Dou et al., hypothesis 1): anomaly filters rise as the model overfits.
// Read off the epoch's GMM analysis of a training probe set: the anomaly-filter count, and its
// continuous form, the mean share of probe samples in small clusters over all filters.
#include <cmath>

#include "filterscope/runs/analysis_record.h"
#include "filterscope/signals/signal_kinds.h"

namespace filterscope::signal_kinds {

namespace {
class AnomalyCount : public TrainingSignal {
 public:
  SignalValue observe(const SignalEpoch& e) override {
    SignalValue v;
    if (e.analysis == nullptr) return v;
    int64_t count = 0;
    for (const auto& layer : e.analysis->layers) {
      count += layer.anomaly_count;
      v.parts.emplace_back(layer.name, static_cast<double>(layer.anomaly_count));
    }
    v.value = static_cast<double>(count);
    return v;
  }
};

class SmallClusterShare : public TrainingSignal {
 public:
  SignalValue observe(const SignalEpoch& e) override {
    SignalValue v;
    if (e.analysis == nullptr) return v;
    double sum = 0;
    int64_t filters = 0;
    for (const auto& layer : e.analysis->layers)
      for (const auto& f : layer.filters) {
        sum += std::isfinite(f.small_share) ? f.small_share : 0.0;  // as track's mean_small_share
        ++filters;
      }
    if (filters > 0) v.value = sum / static_cast<double>(filters);
    return v;
  }
};
}  // namespace

SignalInfo anomaly_count() {
  SignalInfo s;
  s.name = "anomaly_count";
  s.definition = "anomaly filters of the epoch's GMM analysis on a training probe set (the paper's criteria)";
  s.source = "Dou et al., Explaining Model Overfitting in CNNs via GMM Clustering (hypothesis 1)";
  s.needs.analysis = true;
  s.rule = [](const SignalOptions& o) { return StopRuleOptions{StopRule::MinWithPatience, o.window, o.patience, 0.0}; };
  s.make = [](const SignalOptions&) { return std::make_unique<AnomalyCount>(); };
  return s;
}

SignalInfo small_cluster_share() {
  SignalInfo s;
  s.name = "small_cluster_share";
  s.definition = "mean over every filter of the share of probe samples in its small clusters (the count's continuous form)";
  s.source = "Dou et al. (continuous form of the anomaly criteria; docs/anomaly.md)";
  s.needs.analysis = true;
  s.rule = [](const SignalOptions& o) { return StopRuleOptions{StopRule::MinWithPatience, o.window, o.patience, 0.0}; };
  s.make = [](const SignalOptions&) { return std::make_unique<SmallClusterShare>(); };
  return s;
}

}  // namespace filterscope::signal_kinds
