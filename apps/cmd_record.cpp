// filterscope record: a run log (RUN/run.sqlite) for a run trained without one, from its checkpoints.
#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/core/runtime.h"
#include "filterscope/runs/run_log_import.h"

namespace filterscope::cli {

namespace {
struct RecordCommandOptions {
  bool replace = false;
  static const ParamTable<RecordCommandOptions>& params() {
    static const ParamTable<RecordCommandOptions> table = {
        {"replace", &RecordCommandOptions::replace, "rebuild RUN/run.sqlite when it exists (the log train wrote is lost)"},
    };
    return table;
  }
};
struct RecordArgs {
  std::string run_dir;
  RecordCommandOptions command;
  RuntimeOptions runtime;
};
}  // namespace

void register_record(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<RecordArgs>();
  CLI::App* sub = app.add_subcommand(
      "record",
      "Write the explorer's run log (RUN/run.sqlite) for a run trained without one: per epoch, each filter's and "
      "unit's weight statistics from the checkpoints, every validation image's prediction, the metrics, and "
      "track.json when present. Runs trained by this filterscope record it while training.");
  sub->add_option("run", args->run_dir, "run directory of `filterscope train`")->required();
  add_params(sub, args->command, RecordCommandOptions::params());
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope record runs/old-run && filterscope serve runs/old-run");
  sub->callback([&commands, args] {
    commands.action = [args] {
      const c10::Device device = apply_runtime(args->runtime);
      RecordLogOptions options;
      options.replace = args->command.replace;
      options.device = device.str();
      const RecordLogResult r = record_run_log(args->run_dir, options, stderr_log("record", args->runtime.quiet));
      std::printf("wrote %s: %lld epochs, %lld layers (%lld units), %lld validation images%s\n", r.file.string().c_str(),
                  static_cast<long long>(r.epochs), static_cast<long long>(r.layers), static_cast<long long>(r.units),
                  static_cast<long long>(r.images), r.track ? ", track" : "");
    };
  });
}

}  // namespace filterscope::cli
