// filterscope train: flags -> RunSettings -> train_run.
#include <cstdio>
#include <memory>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/train/trainer.h"

namespace filterscope::cli {

namespace {
struct TrainArgs {
  RunSettings settings;
  std::string out;
  bool resume = false;
  bool quiet = false;
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
  sub->add_option("--out", args->out,
                  "run directory; default runs/<model>-<dataset>-s<seed>");
  sub->add_flag("--resume", args->resume,
                "continue the run in --out from its last complete checkpoint; settings come from "
                "its run.json (only --epochs, --threads and --device may change)");
  sub->add_flag("--quiet", args->quiet, "no progress output");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      RunSettings settings = args->settings;
      if (args->out.empty()) {
        FS_CHECK(!args->resume, "--resume needs --out RUN_DIR");
        args->out = "runs/" + settings.train.model + "-" + settings.data.dataset + "-s" +
                    std::to_string(settings.train.seed);
      }
      if (args->resume) {
        const std::string why = "cannot change when resuming (it is in run.json)";
        reject_given(sub, DataOptions::params(), {}, why);
        reject_given(sub, SplitOptions::params(), {}, why);
        reject_given(sub, TrainOptions::params(), {"epochs", "threads", "device"}, why);
        RunSettings stored = read_run_settings(args->out);
        if (sub->count("--epochs") > 0) stored.train.epochs = settings.train.epochs;
        stored.train.threads = settings.train.threads;
        stored.train.device = settings.train.device;
        settings = stored;
      }
      validate_params(settings.data, DataOptions::params());
      validate_params(settings.split, SplitOptions::params());
      validate_params(settings.train, TrainOptions::params());
      const PreparedRun run = prepare_run(settings);
      TrainRunOptions options;
      options.resume = args->resume;
      options.progress = !args->quiet;
      const TrainResult result = train_run(run, args->out, options);
      if (!result.metrics.empty()) {
        const EpochMetrics& last = result.metrics.back();
        std::printf("trained %s on %s: %lld epochs, last train acc %.1f%%, val acc %.1f%%\n",
                    settings.train.model.c_str(), settings.data.dataset.c_str(),
                    static_cast<long long>(last.epoch), 100 * last.train_acc, 100 * last.val_acc);
      }
      std::printf("run directory: %s\n", args->out.c_str());
    };
  });
}

}  // namespace filterscope::cli
