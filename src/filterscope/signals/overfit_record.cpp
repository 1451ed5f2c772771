#include "filterscope/signals/overfit_record.h"

#include <cstdio>

#include "filterscope/core/error.h"
#include "filterscope/io/json.h"

namespace filterscope {

namespace {

using json = nlohmann::json;

std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

json curve_json(const SignalCurve& c) {
  json parts = json::object();
  for (const auto& [name, values] : c.parts) parts[name] = json_numbers(values);
  return {{"name", c.name},
          {"definition", c.definition},
          {"source", c.source},
          {"rule", c.rule},
          {"rule_text", c.rule_text},
          {"window", c.window},
          {"patience", c.patience},
          {"threshold", json_number(c.threshold)},
          {"curve", json_numbers(c.values)},
          {"smoothed", json_numbers(c.smoothed)},
          {"parts", parts},
          {"fired", c.fired},
          {"fired_at", c.fired_at},
          {"predicted_epoch", c.predicted_epoch},
          {"val_acc_at_predicted", json_number(c.val_acc_at_predicted)},
          {"val_loss_at_predicted", json_number(c.val_loss_at_predicted)},
          {"val_acc_lost", json_number(c.val_acc_lost)},
          {"epochs_from_oracle", c.epochs_from_oracle ? json(*c.epochs_from_oracle) : json(nullptr)},
          {"seconds_per_epoch", json_number(c.seconds_per_epoch)},
          {"cost_share", json_number(c.cost_share)},
          {"assumption", c.assumption}};
}

SignalCurve curve_from(const json& j) {
  SignalCurve c;
  c.name = j.at("name").get<std::string>();
  c.definition = j.at("definition").get<std::string>();
  c.source = j.at("source").get<std::string>();
  c.rule = j.at("rule").get<std::string>();
  c.rule_text = j.at("rule_text").get<std::string>();
  c.window = json_whole(j.at("window"));
  c.patience = json_whole(j.at("patience"));
  c.threshold = number_or_nan(j.at("threshold"));
  c.values = numbers_or_nan(j.at("curve"));
  c.smoothed = numbers_or_nan(j.at("smoothed"));
  FS_CHECK(j.at("parts").is_object(), "\"parts\" of signal ", c.name, " is not an object");
  for (auto it = j.at("parts").begin(); it != j.at("parts").end(); ++it)
    c.parts.emplace_back(it.key(), numbers_or_nan(it.value()));
  c.fired = j.at("fired").get<bool>();
  c.fired_at = json_whole(j.at("fired_at"));
  c.predicted_epoch = json_whole(j.at("predicted_epoch"));
  c.val_acc_at_predicted = number_or_nan(j.at("val_acc_at_predicted"));
  c.val_loss_at_predicted = number_or_nan(j.at("val_loss_at_predicted"));
  c.val_acc_lost = number_or_nan(j.at("val_acc_lost"));
  if (!j.at("epochs_from_oracle").is_null()) c.epochs_from_oracle = json_whole(j.at("epochs_from_oracle"));
  c.seconds_per_epoch = number_or_nan(j.at("seconds_per_epoch"));
  c.cost_share = number_or_nan(j.at("cost_share"));
  c.assumption = j.at("assumption").get<std::string>();
  return c;
}

// A signal named like a metrics column (train_loss) is that column: it is not written twice.
bool is_metric_column(const std::string& name) {
  return name == "train_loss" || name == "train_acc" || name == "val_loss" || name == "val_acc";
}

}  // namespace

const SignalCurve* OverfitRecord::signal(const std::string& name) const {
  for (const auto& s : signals)
    if (s.name == name) return &s;
  return nullptr;
}

json OverfitRecord::to_json() const {
  json j = {{"format", kOverfitFormat},
            {"run_dir", run_dir},
            {"source", source},
            {"epochs", epochs},
            {"train_loss", json_numbers(train_loss)},
            {"train_acc", json_numbers(train_acc)},
            {"val_loss", json_numbers(val_loss)},
            {"val_acc", json_numbers(val_acc)},
            {"has_validation", has_validation},
            {"oracle", oracle_epoch ? json{{"epoch", *oracle_epoch},
                                           {"val_acc", json_number(oracle_val_acc)},
                                           {"val_loss", json_number(oracle_val_loss)},
                                           {"rule", "lowest validation loss"}}
                                    : json(nullptr)},
            {"epoch_seconds", json_number(epoch_seconds)},
            {"options", params_to_json(options, SignalOptions::params())},
            {"gradient_subsample", gradient_subsample},
            {"analysis_request", analysis_request}};
  json list = json::array();
  for (const auto& c : signals) list.push_back(curve_json(c));
  j["signals"] = list;
  return j;
}

OverfitRecord OverfitRecord::from_json(const json& j, const std::string& source) {
  FS_CHECK(json_format_of(j) == kOverfitFormat, source, ": not a filterscope record of format ", kOverfitFormat,
           " (written by another version? run `filterscope overfit` again)");
  try {
    OverfitRecord r;
    r.run_dir = j.at("run_dir").get<std::string>();
    r.source = j.at("source").get<std::string>();
    r.epochs = json_wholes(j.at("epochs"));
    r.train_loss = numbers_or_nan(j.at("train_loss"));
    r.train_acc = numbers_or_nan(j.at("train_acc"));
    r.val_loss = numbers_or_nan(j.at("val_loss"));
    r.val_acc = numbers_or_nan(j.at("val_acc"));
    const size_t n = r.epochs.size();
    FS_CHECK(r.train_loss.size() == n && r.train_acc.size() == n && r.val_loss.size() == n && r.val_acc.size() == n,
             "the per-epoch lists differ in length");
    r.has_validation = j.at("has_validation").get<bool>();
    const json& oracle = j.at("oracle");
    if (!oracle.is_null()) {
      r.oracle_epoch = json_whole(oracle.at("epoch"));
      r.oracle_val_acc = number_or_nan(oracle.at("val_acc"));
      r.oracle_val_loss = number_or_nan(oracle.at("val_loss"));
    }
    r.epoch_seconds = number_or_nan(j.at("epoch_seconds"));
    params_from_json(r.options, j.at("options"), SignalOptions::params(), source + ": options");
    r.gradient_subsample = json_wholes(j.at("gradient_subsample"));
    r.analysis_request = j.at("analysis_request");
    for (const auto& c : j.at("signals")) {
      r.signals.push_back(curve_from(c));
      FS_CHECK(r.signals.back().values.size() == n, "signal ", r.signals.back().name, " has ",
               r.signals.back().values.size(), " values for ", n, " epochs");
    }
    return r;
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  } catch (const json::exception& e) {
    throw Error(detail::concat(source, ": a field is missing or of the wrong type (", json_error_text(e),
                               "); run `filterscope overfit` again"));
  }
}

std::string OverfitRecord::to_csv() const {
  std::string out = "epoch,train_loss,train_acc,val_loss,val_acc";
  for (const auto& s : signals)
    if (!is_metric_column(s.name)) out += "," + s.name;
  out += "\n";
  for (size_t i = 0; i < epochs.size(); ++i) {
    out += std::to_string(epochs[i]) + "," + csv_number(train_loss[i]) + "," + csv_number(train_acc[i]) + "," +
           csv_number(val_loss[i]) + "," + csv_number(val_acc[i]);
    for (const auto& s : signals)
      if (!is_metric_column(s.name)) out += "," + csv_number(s.values[i]);
    out += "\n";
  }
  return out;
}

std::optional<OverfitRecord> read_overfit_record(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) return std::nullopt;
  return OverfitRecord::from_json(read_json_file(file), file.string());
}

}  // namespace filterscope
