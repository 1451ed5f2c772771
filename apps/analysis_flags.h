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

#include <cstdio>

#include "filterscope/core/runtime.h"
#include "filterscope/experiments/run_analyses.h"

namespace filterscope::cli {

/// What `gradients` and `mask` share: a run directory whose epochs are analysed (or whose analyses
/// are reused) with the analysis flags.
struct RunStudyArgs {
  std::string run_dir;
  ProbeSetOptions probe;
  AnalyzeOptions analyze;
  std::string device = "cpu";
  int64_t threads = 0;
  bool reanalyse = false;
  bool quiet = false;
};

inline void add_run_study_flags(CLI::App* sub, RunStudyArgs& args) {
  sub->add_option("run", args.run_dir, "run directory of `filterscope train`")->required();
  add_analysis_flags(sub, args.analyze, args.probe);
  sub->add_flag("--reanalyse", args.reanalyse,
                "analyse again an epoch whose analysis was made with other settings (default: stop with an error)");
  sub->add_option("--device", args.device, "cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--threads", args.threads, "CPU threads; 0 = all cores")->capture_default_str();
  sub->add_flag("--quiet", args.quiet, "no progress output");
}

/// Applies the thread and device flags and opens the run.
inline RunAnalyses open_run_study(const RunStudyArgs& args) {
  configure_threads(args.threads);
  const c10::Device device = parse_device(args.device);
  validate_analysis_flags(args.analyze);
  AnalyzeOptions analyze = args.analyze;
  analyze.progress = false;
  return RunAnalyses(args.run_dir, args.probe, analyze, device, args.reanalyse);
}

/// A progress logger that prints "command: line" on stderr unless quiet.
inline std::function<void(const std::string&)> stderr_log(const char* command, bool quiet) {
  return [command, quiet](const std::string& line) {
    if (!quiet) std::fprintf(stderr, "%s: %s\n", command, line.c_str());
  };
}

}  // namespace filterscope::cli
