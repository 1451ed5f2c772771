#include "cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.h"
#include "filterscope/core/error.h"
#include "filterscope/core/runtime.h"

namespace filterscope::cli {

void build_app(CLI::App& app, Commands& commands) {
  app.description(
      "filterscope: finds the filters of a CNN that signal overfitting (GMM clustering of each "
      "filter's feature maps) and the training samples behind them, the class-wise activation patterns "
      "of its layers, how well its activations tell inputs it was not trained for, and what its filters "
      "respond to.");
  app.name("filterscope");
  app.require_subcommand(1);
  app.set_version_flag("--version", "filterscope 0.1.0");
  register_train(app, commands);
  register_cluster(app, commands);
  register_analyze(app, commands);
  register_track(app, commands);
  register_gradients(app, commands);
  register_mask(app, commands);
  register_verdict(app, commands);
  register_activations(app, commands);
  register_ood(app, commands);
  register_visualize(app, commands);
  register_hierarchy(app, commands);
  register_report(app, commands);
  register_record(app, commands);
  register_serve(app, commands);
  register_docs(app, commands);
}

int run(int argc, const char* const* argv) {
  CLI::App app;
  tune_allocator();
  Commands commands;
  build_app(app, commands);
  try {
    app.parse(argc, argv);
    commands.action();
    return 0;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const Error& e) {
    std::fprintf(stderr, "filterscope: error: %s\n", e.what());
  } catch (const std::exception& e) {
    // LibTorch errors carry a backtrace; the first line says what went wrong.
    std::fprintf(stderr, "filterscope: error: %s\n", describe_exception(e).c_str());
  }
  return 1;
}

int run(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"filterscope"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return run(static_cast<int>(argv.size()), argv.data());
}

}  // namespace filterscope::cli
