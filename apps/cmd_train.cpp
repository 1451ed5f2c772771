// filterscope train: flags -> RunSettings -> train_run.
#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/core/runtime.h"
#include "filterscope/models/probed_model.h"
#include "filterscope/signals/overfit.h"
#include "filterscope/train/trainer.h"
#include "filterscope/runs/layout.h"

namespace filterscope::cli {

namespace {
// The flags only this command has.
struct TrainCommandOptions {
  std::string out;      ///< run directory
  bool resume = false;  ///< continue from the last complete checkpoint
  int64_t log_every = 0;     ///< steps between weight records in the run log
  bool no_run_log = false;   ///< train without RUN/run.sqlite
  bool no_sample_log = false;  ///< train without RUN/samples/

  static const ParamTable<TrainCommandOptions>& params() {
    static const ParamTable<TrainCommandOptions> table = {
        {"out", &TrainCommandOptions::out, "run directory; empty = runs/<model>-<dataset>-s<seed>"},
        {"resume", &TrainCommandOptions::resume,
         "continue the run in --out from its last complete checkpoint; settings come from its run.json (only "
         "--epochs, --threads and --device may change)"},
        {"log-every", &TrainCommandOptions::log_every,
         "steps between weight records in RUN/run.sqlite (besides every epoch end); 0 = four times an epoch. "
         "A resumed run keeps the interval it started with",
         Bounds::closed(0, 1e9)},
        {"no-run-log", &TrainCommandOptions::no_run_log,
         "do not record RUN/run.sqlite (the explorer's log of weights and validation outcomes)"},
        {"no-sample-log", &TrainCommandOptions::no_sample_log,
         "do not record RUN/samples/ (every training sample's loss, margin and prediction per epoch, which "
         "`filterscope clean` reads)"},
    };
    return table;
  }
};

struct TrainArgs {
  RunSettings settings;
  TrainCommandOptions command;
  RuntimeOptions runtime;  // --quiet; threads and device are training settings
  SignalOptions alarm = live_alarm_defaults();
};
}  // namespace

void register_train(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand(
      "train",
      "Train a network and write a run directory: run.json (settings, sample indices, label "
      "noise), metrics.csv (per epoch), checkpoints/epoch-NNN.pt. Resumable with --resume.");
  add_params(sub, args->settings.data, DataOptions::params());
  add_params(sub, args->settings.split, SplitOptions::params());
  add_params(sub, args->settings.train, TrainOptions::params());
  add_params(sub, args->command, TrainCommandOptions::params());
  add_runtime_flags(sub, args->runtime, {"quiet"});
  add_params(sub, args->alarm, SignalOptions::params());
  add_example(sub, "filterscope train --model lenet5 --train-size 2000 --label-noise 0.2 --epochs 30 --out runs/lenet");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      RunSettings settings = args->settings;
      if (args->command.out.empty()) {
        FS_CHECK(!args->command.resume, "--resume needs --out RUN_DIR");
        args->command.out =
            default_run_dir(settings.train.model, settings.data.dataset, settings.train.seed).string();
      }
      if (args->command.resume) {
        const std::string why = "cannot change when resuming (it is in run.json)";
        reject_given(sub, DataOptions::params(), {}, why);
        reject_given(sub, SplitOptions::params(), {}, why);
        reject_given(sub, TrainOptions::params(), {"epochs", "threads", "device"}, why);
        RunSettings stored = read_run_settings(args->command.out);
        if (sub->count("--epochs") > 0) stored.train.epochs = settings.train.epochs;
        stored.train.threads = settings.train.threads;
        stored.train.device = settings.train.device;
        settings = stored;
      }
      validate_params(settings.data, DataOptions::params());
      validate_params(settings.split, SplitOptions::params());
      validate_params(settings.train, TrainOptions::params());
      validate_live_signals(args->alarm, !args->command.no_sample_log);
      parse_device(settings.train.device);  // a mistyped --device is refused before the data is read
      const PreparedRun run = prepare_run(settings);
      TrainRunOptions options;
      options.resume = args->command.resume;
      options.progress = !args->runtime.quiet;
      options.run_log = !args->command.no_run_log;
      options.sample_log = !args->command.no_sample_log;
      options.log_every = args->command.log_every;
      // The live overfitting alarm: the cheap training signals after every epoch (--signals none: off).
      std::unique_ptr<LiveOverfitAlarm> alarm;
      const std::string alarm_off = live_alarm_off_reason(args->alarm, options.sample_log);
      if (!alarm_off.empty() && !args->runtime.quiet) std::fprintf(stderr, "train: %s\n", alarm_off.c_str());
      if (live_alarm_runs(args->alarm, options.sample_log)) {
        alarm = std::make_unique<LiveOverfitAlarm>(args->command.out, args->alarm, signal_run_info(settings),
                                                   run.data.train, run.transform, options.sample_log);
        const c10::Device device = parse_device(settings.train.device);
        const bool quiet = args->runtime.quiet;
        options.on_epoch_end = [&alarm, device, quiet](const EpochEnd& end) {
          for (const std::string& line : alarm->on_epoch_end(*end.metrics, end.samples, *end.model, device))
            if (!quiet) std::fprintf(stderr, "train: %s\n", line.c_str());
        };
      }
      const TrainResult result = train_run(run, args->command.out, options);
      if (!result.metrics.empty()) {
        const EpochMetrics& last = result.metrics.back();
        std::printf("trained %s on %s: %lld epochs, last train acc %.1f%%, val acc %.1f%%\n",
                    settings.train.model.c_str(), settings.data.dataset.c_str(),
                    static_cast<long long>(last.epoch), 100 * last.train_acc, 100 * last.val_acc);
      }
      std::printf("run directory: %s\n", args->command.out.c_str());
    };
  });
}

}  // namespace filterscope::cli
