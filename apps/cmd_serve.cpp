// filterscope serve: the training-run explorer over one or more run logs, until Ctrl-C.
#include <pthread.h>
#include <signal.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli_params.h"
#include "commands.h"
#include "filterscope/serve/server.h"

namespace filterscope::cli {

namespace {
struct ServeArgs {
  std::vector<std::string> run_dirs;
  ServeOptions serve;
};
}  // namespace

void register_serve(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* sub = app.add_subcommand(
      "serve",
      "Serve the training-run explorer for run directories (their run.sqlite, recorded by train or imported "
      "by record) on a local web page: per-layer small multiples of the filters' weights over iterations, "
      "drilling into groups and single filters, the validation image x epoch cube, and track's anomaly counts. "
      "Read-only: it never writes into a run. Stops on Ctrl-C.");
  sub->add_option("runs", args->run_dirs, "run directories (two or more are shown side by side)")->required();
  add_params(sub, args->serve, ServeOptions::params());
  add_example(sub, "filterscope serve runs/clean runs/noise20 --port 8080");
  sub->callback([&commands, args] {
    commands.action = [args] {
      validate_params(args->serve, ServeOptions::params());
      std::vector<std::filesystem::path> dirs(args->run_dirs.begin(), args->run_dirs.end());
      Explorer explorer(dirs);
      // SIGINT/SIGTERM go to one waiting thread, which stops the server; the workers never see them.
      sigset_t stop_signals;
      sigemptyset(&stop_signals);
      sigaddset(&stop_signals, SIGINT);
      sigaddset(&stop_signals, SIGTERM);
      pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
      ExplorerServer server(explorer, args->serve);
      server.bind();
      std::printf("filterscope serve: %s (%zu run%s; Ctrl-C stops)\n", server.url().c_str(), explorer.runs().size(),
                  explorer.runs().size() == 1 ? "" : "s");
      std::fflush(stdout);
      std::atomic<bool> signalled{false};
      std::thread waiter([&server, &signalled, stop_signals] {
        int signal_number = 0;
        sigwait(&stop_signals, &signal_number);
        signalled = true;
        server.stop();
      });
      server.run();
      // run() also returns when listening fails: wake the waiter (the signal is blocked everywhere
      // but in its sigwait) so that it can be joined.
      if (!signalled) kill(getpid(), SIGTERM);
      waiter.join();
      std::printf("filterscope serve: stopped\n");
    };
  });
}

}  // namespace filterscope::cli
