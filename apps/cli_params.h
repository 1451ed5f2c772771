// Turns parameter tables (core/params.h) into CLI11 flags, and declares the flag groups that several
// commands share, so that each flag is declared once: runtime (device, threads, quiet), the model
// argument (run directory, checkpoint or TorchScript with the dataset flags), the probe set and the
// analysis settings.
#pragma once
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <functional>

#include "filterscope/core/params.h"
#include "filterscope/core/runtime.h"

namespace filterscope::cli {

/// "INT in [1, 1000]", "FLOAT > 0", "{val,train}": the value column of --help and docs/options.md.
template <class O>
std::string value_type(const Param<O>& p) {
  std::string type;
  std::visit(
      [&](auto member) {
        using T = std::decay_t<decltype(std::declval<O>().*member)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
          type = std::is_same_v<T, int64_t> ? "INT" : "FLOAT";
          const std::string range = p.bounds.describe();
          if (range != "any number") type += " " + range;
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (p.choices.empty()) {
            type = "TEXT";
          } else {
            type = "{";
            for (size_t i = 0; i < p.choices.size(); ++i) type += (i ? "," : "") + p.choices[i];
            type += "}";
          }
        }
      },
      p.field);
  return type;
}

/// Checks a number flag's text before CLI11 converts it: CLI11 would saturate an overflowing value
/// (99999999999999999999 becomes 9223372036854775807, a number the user never typed).
template <class T>
CLI::Validator strict_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::string shown = text.size() > 40 ? text.substr(0, 40) + "..." : text;
        if constexpr (std::is_same_v<T, int64_t>) {
          int64_t v = 0;
          const char* end = text.data() + text.size();
          const char* start = text.data() + (text.size() > 1 && text[0] == '+' ? 1 : 0);
          const auto [ptr, ec] = std::from_chars(start, end, v);
          if (ec == std::errc::result_out_of_range) return shown + " is out of range for an integer";
          if (ec != std::errc() || ptr != end || text.empty()) return "'" + shown + "' is not an integer";
        } else {
          errno = 0;
          char* stop = nullptr;
          const double v = std::strtod(text.c_str(), &stop);
          if (text.empty() || stop != text.c_str() + text.size()) return "'" + shown + "' is not a number";
          if (errno == ERANGE && std::abs(v) > 1.0) return shown + " is out of range for a number";
          if (!std::isfinite(v)) return shown + " is not a finite number";
        }
        return "";
      },
      "");  // no description: --help shows the type and range of value_type()
}

/// Adds the table's parameters as flags (only those named in `only`, when it is not empty).
template <class O>
void add_params(CLI::App* app, O& options, const ParamTable<O>& table, const std::vector<std::string>& only = {}) {
  for (const auto& p : table) {
    if (!only.empty() && std::find(only.begin(), only.end(), p.name) == only.end()) continue;
    std::visit(
        [&](auto member) {
          auto& value = options.*member;
          using T = std::decay_t<decltype(value)>;
          const std::string flag = "--" + p.name;
          if constexpr (std::is_same_v<T, bool>) {
            app->add_flag(flag, value, p.help);
          } else {
            auto* option = app->add_option(flag, value, p.help)->capture_default_str();
            if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) option->check(strict_number<T>());
            option->type_name(value_type(p));
          }
        },
        p.field);
  }
}

/// Puts the table's flags that the command has under a heading of their own in --help.
template <class O>
void group_params(CLI::App* app, const ParamTable<O>& table, const std::string& heading) {
  for (const auto& p : table)
    if (CLI::Option* option = app->get_option_no_throw("--" + p.name)) option->group(heading);
}

/// Throws Error when one of the table's flags was given on the command line.
template <class O>
void reject_given(const CLI::App* app, const ParamTable<O>& table, const std::vector<std::string>& allowed,
                  const std::string& why) {
  for (const auto& p : table) {
    if (std::find(allowed.begin(), allowed.end(), p.name) != allowed.end()) continue;
    if (app->get_option_no_throw("--" + p.name) == nullptr) continue;
    FS_CHECK_USAGE(app->count("--" + p.name) == 0, "--", p.name, " ", why);
  }
}

/// --device, --threads, --quiet (all of them, or those named in `only`).
inline void add_runtime_flags(CLI::App* app, RuntimeOptions& runtime, const std::vector<std::string>& only = {}) {
  add_params(app, runtime, RuntimeOptions::params(), only);
}

/// A progress logger that prints "command: line" on stderr unless quiet.
inline std::function<void(const std::string&)> stderr_log(const std::string& command, bool quiet) {
  return [command, quiet](const std::string& line) {
    if (!quiet) std::fprintf(stderr, "%s: %s\n", command.c_str(), line.c_str());
  };
}

/// The --help footer with one example command line.
inline void add_example(CLI::App* app, const std::string& example) { app->footer("\nExample:\n  " + example); }

}  // namespace filterscope::cli
