#include "cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "commands.h"
#include "filterscope/core/error.h"
#include "filterscope/core/ranks.h"
#include "filterscope/core/runtime.h"
#include "filterscope/core/text.h"
#include "filterscope_version.h"

namespace filterscope::cli {

void build_app(CLI::App& app, Commands& commands) {
  app.description(
      "filterscope: finds the filters of a CNN that signal overfitting (GMM clustering of each "
      "filter's feature maps) and the training samples behind them, the class-wise activation patterns "
      "of its layers, how well its activations tell inputs it was not trained for, and what its filters "
      "respond to.");
  app.name("filterscope");
  app.require_subcommand(1);
  app.set_version_flag("--version", "filterscope " FILTERSCOPE_VERSION);
  register_train(app, commands);
  register_cluster(app, commands);
  register_analyze(app, commands);
  register_track(app, commands);
  register_gradients(app, commands);
  register_mask(app, commands);
  register_verdict(app, commands);
  register_clean(app, commands);
  register_overfit(app, commands);
  register_grid(app, commands);
  register_study(app, commands);
  register_activations(app, commands);
  register_ood(app, commands);
  register_visualize(app, commands);
  register_hierarchy(app, commands);
  register_report(app, commands);
  register_record(app, commands);
  register_serve(app, commands);
  register_docs(app, commands);
}

namespace {
// Exit codes: 0 done, 1 the input or the work failed, 2 the command line is wrong (as in getopt tools).
constexpr int kUsageExit = 2;

// "; did you mean --epochs?" for the first --flag on the command line that the chosen command does
// not have, when one of its flags is close; "" otherwise.
std::string flag_suggestion(CLI::App& app, int argc, const char* const* argv) {
  if (argc < 2) return "";
  CLI::App* sub = nullptr;
  try {
    sub = app.get_subcommand(argv[1]);
  } catch (const CLI::OptionNotFound&) {
    return "";
  }
  std::vector<std::string> flags;
  for (const CLI::Option* o : sub->get_options())
    for (const std::string& name : o->get_lnames()) flags.push_back("--" + name);
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) continue;
    arg = arg.substr(0, arg.find('='));
    if (std::find(flags.begin(), flags.end(), arg) != flags.end()) continue;
    const std::string guess = closest_match(arg, flags);
    return guess.empty() ? "" : "; did you mean " + guess + "?";
  }
  return "";
}
}  // namespace

int run(int argc, const char* const* argv) {
  CLI::App app;
  tune_allocator();
  Commands commands;
  build_app(app, commands);
  try {
    // CLI11 would say only "A subcommand is required" for a mistyped command.
    if (argc > 1 && argv[1][0] != '-') {
      const auto commands = app.get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); });
      std::string names;
      std::vector<std::string> list;
      bool known = false;
      for (const CLI::App* sub : commands) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
        list.push_back(sub->get_name());
        known = known || sub->get_name() == argv[1];
      }
      const std::string guess = closest_match(argv[1], list);
      if (!known)
        throw UsageError(std::string("unknown command '") + argv[1] + "'" +
                         (guess.empty() ? "" : "; did you mean '" + guess + "'?") + " (one of " + names + ")");
    }
    app.parse(argc, argv);
    // Under mpirun only the commands that share their work take several ranks; any other would run
    // once per rank and write the same files.
    if (Ranks::world().sharded()) {
      for (const CLI::App* sub : app.get_subcommands()) {
        const std::string& name = sub->get_name();
        if (name != "analyze" && name != "track" && name != "study" && name != "grid")
          throw UsageError("'" + name + "' runs as one process; under mpirun only analyze, track, grid and study share work (" +
                           std::to_string(Ranks::world().size()) + " ranks were started)");
      }
    }
    commands.action();
    return 0;
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as parse errors with exit code 0: CLI11 prints them.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string message = e.what();
    for (char& ch : message)
      if (ch == '\n') ch = ' ';
    std::fprintf(stderr, "filterscope: error: %s%s (see --help)\n", message.c_str(), flag_suggestion(app, argc, argv).c_str());
    return kUsageExit;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "filterscope: error: %s\n", e.what());
    return kUsageExit;
  } catch (const Error& e) {
    std::fprintf(stderr, "filterscope: error: %s%s\n", rank_prefix().c_str(), e.what());
  } catch (const std::exception& e) {
    // LibTorch errors carry a backtrace; the first line says what went wrong.
    std::fprintf(stderr, "filterscope: error: %s%s\n", rank_prefix().c_str(), describe_exception(e).c_str());
  }
  return 1;
}

int run(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"filterscope"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return run(static_cast<int>(argv.size()), argv.data());
}

}  // namespace filterscope::cli
