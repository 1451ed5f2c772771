// One declaration per parameter (the LightGBM way): name, field, description and valid range live
// in one table per options struct, and the CLI flags, the validation, the JSON in run.json and the
// documented tables are all derived from it, so they cannot drift apart.
#pragma once
#include <cmath>
#include <functional>
#include <type_traits>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"

namespace filterscope {

/// Inclusive or exclusive numeric bounds of a parameter.
struct Bounds {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;  ///< true: value must be > lo, false: >= lo
  bool hi_open = false;  ///< true: value must be < hi, false: <= hi

  static Bounds at_least(double lo) { return {lo, std::numeric_limits<double>::infinity()}; }
  static Bounds positive() { return above(0.0); }
  static Bounds above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true}; }
  static Bounds closed(double lo, double hi) { return {lo, hi}; }
  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  std::string describe() const;
};

template <class O>
struct Param {
  using Field = std::variant<int64_t O::*, double O::*, std::string O::*, bool O::*>;
  std::string name;                      ///< flag (--name) and JSON key
  Field field;                           ///< the member of O it sets
  std::string help;                      ///< one line: meaning, unit, sentinels
  Bounds bounds{};                       ///< numbers only
  std::vector<std::string> choices{};    ///< strings only; empty means any string
  bool persist = true;                   ///< false: left out of run.json (paths of this session)
};

template <class O>
using ParamTable = std::vector<Param<O>>;

/// A check across parameters, declared beside the table (O::rules()): `problem` returns an empty
/// string when the options are fine, else the message ("--kmin (6) must not exceed --kmax (3)").
template <class O>
struct ParamRule {
  std::string description;                            ///< one line for docs: "kmin <= kmax"
  std::function<std::string(const O&)> problem;
};

namespace detail {
template <class O, class = void>
struct has_rules : std::false_type {};
template <class O>
struct has_rules<O, std::void_t<decltype(O::rules())>> : std::true_type {};
}  // namespace detail

/// A value formatted as it is shown in docs and error messages.
template <class T>
std::string format_value(const T& value) {
  std::ostringstream out;
  if constexpr (std::is_same_v<T, bool>) {
    out << (value ? "true" : "false");
  } else if constexpr (std::is_same_v<T, std::string>) {
    out << '"' << value << '"';
  } else {
    out << value;
  }
  return out.str();
}

/// Throws UsageError "--name must be ..., got X" for the first parameter out of its range or choices.
template <class O>
void validate_params(const O& options, const ParamTable<O>& table) {
  for (const auto& p : table) {
    std::visit(
        [&](auto member) {
          const auto& value = options.*member;
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
            FS_CHECK_USAGE(std::isfinite(static_cast<double>(value)), "--", p.name,
                     " must be a finite number, got ", value);
            FS_CHECK_USAGE(p.bounds.contains(static_cast<double>(value)), "--", p.name, " must be ",
                     p.bounds.describe(), ", got ", value);
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (!p.choices.empty()) {
              bool found = false;
              std::string list;
              for (const auto& c : p.choices) {
                found = found || c == value;
                list += (list.empty() ? "" : ", ") + c;
              }
              FS_CHECK_USAGE(found, "--", p.name, " must be one of {", list, "}, got \"", value, "\"");
            }
          }
        },
        p.field);
  }
  if constexpr (detail::has_rules<O>::value) {
    for (const auto& rule : O::rules()) {
      const std::string problem = rule.problem(options);
      FS_CHECK_USAGE(problem.empty(), problem);
    }
  }
}

template <class O>
nlohmann::json params_to_json(const O& options, const ParamTable<O>& table) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& p : table) {
    if (!p.persist) continue;
    std::visit([&](auto member) { out[p.name] = options.*member; }, p.field);
  }
  return out;
}

/// Sets the fields named in `json`; keys the table does not know are an error naming `source`.
template <class O>
void params_from_json(O& options, const nlohmann::json& json, const ParamTable<O>& table,
                      const std::string& source) {
  FS_CHECK(json.is_object(), source, ": expected a JSON object of settings");
  for (auto it = json.begin(); it != json.end(); ++it) {
    const Param<O>* param = nullptr;
    for (const auto& p : table)
      if (p.name == it.key()) param = &p;
    FS_CHECK(param != nullptr, source, ": unknown setting \"", printable(it.key(), 60), "\"");
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(options.*member)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            // Only JSON integers: the JSON library casts a float such as 8.9e99 (undefined behaviour).
            const auto& v = it.value();
            FS_CHECK(v.is_number_integer() && (!v.is_number_unsigned() ||
                                               v.template get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)),
                     source, ": setting \"", it.key(), "\" is not a whole number");
          }
          try {
            options.*member = it.value().template get<T>();
          } catch (const nlohmann::json::exception&) {
            throw Error(detail::concat(source, ": setting \"", it.key(), "\" has the wrong type"));
          }
        },
        param->field);
  }
}

/// A Markdown table of the parameters with their defaults, for docs/.
template <class O>
std::string params_markdown(const ParamTable<O>& table, const O& defaults = O{}) {
  std::ostringstream out;
  out << "| flag | default | valid | meaning |\n|---|---|---|---|\n";
  for (const auto& p : table) {
    std::string def, valid;
    std::visit(
        [&](auto member) {
          const auto& value = defaults.*member;
          using T = std::decay_t<decltype(value)>;
          def = format_value(value);
          if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
            valid = p.bounds.describe();
          } else if constexpr (std::is_same_v<T, std::string>) {
            for (const auto& c : p.choices) valid += (valid.empty() ? "" : ", ") + c;
          } else {
            valid = "flag";
          }
        },
        p.field);
    out << "| `--" << p.name << "` | `" << def << "` | " << valid << " | " << p.help << " |\n";
  }
  return out.str();
}

}  // namespace filterscope
