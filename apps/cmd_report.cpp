// filterscope report: one self-contained HTML page for a run directory.
#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/core/runtime.h"
#include "filterscope/report/html_report.h"

namespace filterscope::cli {

namespace {
struct ReportArgs {
  std::string run_dir;
  ReportOptions report;
  RuntimeOptions runtime;
};
}  // namespace

void register_report(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* sub = app.add_subcommand(
      "report",
      "Write one self-contained HTML page for a run directory (scripts, styles and images inline; it opens "
      "offline): the run, training curves with the anomaly-filter count per epoch, per-layer CH and activation "
      "distributions, 2-D projections of anomaly and normal filters, top outlier samples, the tables of track, "
      "gradients and mask, and the verdicts. Parts not yet run are named on the page.");
  sub->add_option("run", args->run_dir, "run directory")->required();
  add_params(sub, args->report, ReportOptions::params());
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope report runs/study-simple-cnn-fashion-mnist-noise20 --thumbnails 48");
  sub->callback([&commands, args] {
    commands.action = [args] {
      const c10::Device device = apply_runtime(args->runtime);
      validate_params(args->report, ReportOptions::params());
      const bool quiet = args->runtime.quiet;
      const ReportResult r = write_report(args->run_dir, args->report, device,
                                          [quiet](const std::string& line) {
                                            if (!quiet) std::fprintf(stderr, "report: %s\n", line.c_str());
                                          });
      for (const auto& m : r.missing) std::printf("not in the report yet: %s\n", m.c_str());
      std::printf("wrote %s (%.1f KB)\n", r.file.string().c_str(), static_cast<double>(r.bytes) / 1024.0);
    };
  });
}

}  // namespace filterscope::cli
