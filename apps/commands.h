// Each subcommand registers its flags and sets the action to run after parsing.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace filterscope::cli {

struct Commands {
  std::function<void()> action = [] {};
};

/// The whole command tree: every subcommand registered on `app`.
void build_app(CLI::App& app, Commands& commands);

void register_train(CLI::App& app, Commands& commands);
void register_cluster(CLI::App& app, Commands& commands);
void register_analyze(CLI::App& app, Commands& commands);
void register_track(CLI::App& app, Commands& commands);
void register_gradients(CLI::App& app, Commands& commands);
void register_mask(CLI::App& app, Commands& commands);
void register_verdict(CLI::App& app, Commands& commands);
void register_clean(CLI::App& app, Commands& commands);
void register_overfit(CLI::App& app, Commands& commands);
void register_grid(CLI::App& app, Commands& commands);
void register_study(CLI::App& app, Commands& commands);
void register_report(CLI::App& app, Commands& commands);
void register_activations(CLI::App& app, Commands& commands);
void register_ood(CLI::App& app, Commands& commands);
void register_visualize(CLI::App& app, Commands& commands);
void register_hierarchy(CLI::App& app, Commands& commands);
void register_record(CLI::App& app, Commands& commands);
void register_serve(CLI::App& app, Commands& commands);
void register_docs(CLI::App& app, Commands& commands);

}  // namespace filterscope::cli

namespace filterscope::cli {
/// The Markdown of docs/options.md.
std::string options_markdown();
}  // namespace filterscope::cli
