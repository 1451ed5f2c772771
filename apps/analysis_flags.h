// The flags every command that analyses checkpoints shares: probe set, layers, clustering, PCA,
// criteria and capture.
#pragma once
#include "cli_params.h"
#include "filterscope/anomaly/run_analysis.h"

namespace filterscope::cli {

inline void add_analysis_flags(CLI::App* sub, AnalyzeOptions& analyze, ProbeSetOptions& probe) {
  sub->add_option("--split", probe.split, "where the probe set comes from: val or train (training samples)")
      ->capture_default_str();
  sub->add_option("--probe-size", probe.size, "samples in the probe set (N)")->capture_default_str();
  sub->add_option("--probe-seed", probe.seed, "seed of the probe set's draw from the split")->capture_default_str();
  sub->add_option("--layers", analyze.layers,
                  "probe points: comma-separated names (features.3, layer1.0.conv1), kinds (conv, relu, maxpool) or all")
      ->capture_default_str();
  add_params(sub, analyze.anomaly, AnomalyOptions::params());
  add_params(sub, analyze.gmm, GmmOptions::params());
  add_params(sub, analyze.pca, PcaOptions::params());
  add_params(sub, analyze.capture, CaptureOptions::params());
}

inline void validate_analysis_flags(const AnalyzeOptions& analyze) {
  validate_params(analyze.anomaly, AnomalyOptions::params());
  validate_params(analyze.gmm, GmmOptions::params());
  validate_params(analyze.pca, PcaOptions::params());
  validate_params(analyze.capture, CaptureOptions::params());
}

}  // namespace filterscope::cli
