// Turns a parameter table (core/params.h) into CLI11 flags.
#pragma once
#include <CLI/CLI.hpp>

#include "filterscope/core/params.h"

namespace filterscope::cli {

template <class O>
void add_params(CLI::App* app, O& options, const ParamTable<O>& table) {
  for (const auto& p : table) {
    std::visit(
        [&](auto member) {
          auto& value = options.*member;
          using T = std::decay_t<decltype(value)>;
          const std::string flag = "--" + p.name;
          if constexpr (std::is_same_v<T, bool>) {
            app->add_flag(flag, value, p.help);
          } else {
            std::string help = p.help;
            if constexpr (std::is_same_v<T, std::string>) {
              if (!p.choices.empty()) {
                help += " {";
                for (size_t i = 0; i < p.choices.size(); ++i) help += (i ? "," : "") + p.choices[i];
                help += "}";
              }
            }
            app->add_option(flag, value, help)->capture_default_str();
          }
        },
        p.field);
  }
}

/// Throws Error when one of the table's flags was given on the command line.
template <class O>
void reject_given(const CLI::App* app, const ParamTable<O>& table, const std::vector<std::string>& allowed,
                  const std::string& why) {
  for (const auto& p : table) {
    if (std::find(allowed.begin(), allowed.end(), p.name) != allowed.end()) continue;
    FS_CHECK(app->count("--" + p.name) == 0, "--", p.name, " ", why);
  }
}

}  // namespace filterscope::cli
