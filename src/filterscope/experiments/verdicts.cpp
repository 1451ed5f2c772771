#include "filterscope/experiments/verdicts.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/experiments/run_analyses.h"
#include "filterscope/experiments/stats.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {
double value_or_nan(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; }

std::string fixed(double v, int digits = 2) {
  if (!std::isfinite(v)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

std::string pvalue(double p) {
  if (!std::isfinite(p)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, p < 1e-3 ? "%.1e" : "%.3f", p);
  return text;
}

nlohmann::json verdict(const std::string& id, const std::string& statement, const std::string& rule,
                       const std::string& outcome, const std::string& reason, nlohmann::json numbers) {
  return {{"id", id},         {"statement", statement}, {"rule", rule},
          {"verdict", outcome}, {"reason", reason},     {"numbers", std::move(numbers)}};
}

nlohmann::json hypothesis1(const nlohmann::json& track, const VerdictRules& r) {
  const std::string statement = "Anomaly filters rise as the model overfits (paper Fig. 4, Table 2)";
  const std::string rule = detail::concat(
      "supported when the overfit epoch has more anomaly filters than the well-trained one and their count's "
      "Spearman correlation with the train-val accuracy gap across epochs is at least ",
      r.min_rank_correlation, "; not supported when it has no more and the correlation is below ",
      r.min_rank_correlation, "; inconclusive otherwise, or when validation accuracy did not drop");
  if (track.is_null()) return verdict("1", statement, rule, "not run", "no track.json: run `filterscope track`", {});
  const auto& w = track.at("well_trained");
  const auto& o = track.at("overfit");
  const int64_t a = w.at("anomaly_filters").get<int64_t>(), b = o.at("anomaly_filters").get<int64_t>();
  const double rho = value_or_nan(track.at("spearman").at("anomaly_filters").at("generalisation_gap"));
  const double rho_share = value_or_nan(track.at("spearman").at("mean_small_share").at("generalisation_gap"));
  const bool dropped = track.at("val_acc_dropped").get<bool>();
  const nlohmann::json numbers = {{"well_trained_epoch", w.at("epoch")}, {"overfit_epoch", o.at("epoch")},
                                  {"well_trained_anomaly_filters", a},   {"overfit_anomaly_filters", b},
                                  {"spearman_anomaly_gap", json_number(rho)},
                                  {"spearman_mean_small_share_gap", json_number(rho_share)},
                                  {"val_acc_dropped", dropped}};
  const std::string facts = detail::concat("anomaly filters ", a, " at epoch ", w.at("epoch").get<int64_t>(), " -> ", b,
                                           " at epoch ", o.at("epoch").get<int64_t>(), "; Spearman with the gap ",
                                           fixed(rho), " (mean small-cluster share: ", fixed(rho_share), ")");
  if (!dropped)
    return verdict("1", statement, rule, "inconclusive",
                   "validation accuracy did not drop from the well-trained to the overfit epoch, so the run did not "
                   "overfit by the paper's definition; " + facts,
                   numbers);
  const double rho0 = std::isfinite(rho) ? rho : 0.0;
  std::string outcome = "inconclusive";
  if (b > a && rho0 >= r.min_rank_correlation) outcome = "supported";
  if (b <= a && rho0 < r.min_rank_correlation) outcome = "not supported";
  return verdict("1", statement, rule, outcome, facts, numbers);
}

nlohmann::json hypothesis2(const nlohmann::json& gradients, const VerdictRules& r) {
  const std::string statement = "Outlier samples have larger gradients than normal samples (paper Table 3)";
  const std::string rule = detail::concat(
      "on the overfit checkpoint: supported when the outliers' mean absolute gradient over all parameters exceeds "
      "the normal samples' and a one-sided Mann-Whitney test gives p < ", r.max_p_value,
      "; not supported otherwise; inconclusive with fewer than ", r.min_outliers, " outlier samples");
  if (gradients.is_null())
    return verdict("2", statement, rule, "not run", "no gradients.json: run `filterscope gradients`", {});
  const nlohmann::json* overfit = nullptr;
  for (const auto& e : gradients.at("epochs"))
    if (e.at("role") == "overfit") overfit = &e;
  FS_CHECK(overfit != nullptr, "gradients.json has no overfit epoch");
  const int64_t n = overfit->at("outlier_samples").get<int64_t>();
  const auto& overall = overfit->at("overall");
  const double ratio = value_or_nan(overall.at("ratio"));
  const double p = value_or_nan(overall.at("mann_whitney").at("p_greater"));
  const nlohmann::json numbers = {{"epoch", overfit->at("epoch")},
                                  {"outlier_samples", n},
                                  {"normal_samples", overfit->at("normal_samples")},
                                  {"ratio", json_number(ratio)},
                                  {"p_value", json_number(p)},
                                  {"layers_outliers_larger", overfit->at("layers_outliers_larger")},
                                  {"layers", overfit->at("layers").size()}};
  const std::string facts = detail::concat(n, " outlier samples at epoch ", overfit->at("epoch").get<int64_t>(),
                                           ": mean absolute gradient ", fixed(ratio), "x the normal samples', p = ", pvalue(p),
                                           "; larger in ", overfit->at("layers_outliers_larger").get<int64_t>(), " of ",
                                           overfit->at("layers").size(), " layers");
  if (n < r.min_outliers) return verdict("2", statement, rule, "inconclusive", "too few outlier samples: " + facts, numbers);
  const bool holds = ratio > 1 && p < r.max_p_value;
  return verdict("2", statement, rule, holds ? "supported" : "not supported", facts, numbers);
}

nlohmann::json hypothesis2b(const nlohmann::json& track, const VerdictRules& r) {
  const std::string statement = "Outlier samples are enriched in the training samples whose label was replaced";
  const std::string rule = detail::concat(
      "at the overfit epoch, on a training probe set of a run with label noise: supported when the share of "
      "replaced labels among outliers exceeds their share in the probe set and a one-sided hypergeometric test "
      "gives p < ", r.max_p_value, "; not supported otherwise; inconclusive with fewer than ", r.min_outliers,
      " outlier samples");
  if (track.is_null()) return verdict("2b", statement, rule, "not run", "no track.json: run `filterscope track`", {});
  const auto& e = track.at("overfit").value("enrichment", nlohmann::json());
  if (e.is_null() || e.at("replaced").get<int64_t>() == 0)
    return verdict("2b", statement, rule, "not applicable",
                   "the probe set has no replaced labels (no --label-noise, or a validation probe set)", {});
  const int64_t n = e.at("outliers").get<int64_t>();
  const double ratio = value_or_nan(e.at("ratio")), p = value_or_nan(e.at("p_value"));
  const std::string facts = detail::concat(
      e.at("replaced_outliers").get<int64_t>(), " of ", n, " outliers have a replaced label (precision ",
      fixed(value_or_nan(e.at("precision"))), ", recall ", fixed(value_or_nan(e.at("recall"))), ", base rate ",
      fixed(value_or_nan(e.at("base_rate"))), "): ", fixed(ratio), "x the base rate, p = ", pvalue(p));
  if (n < r.min_outliers) return verdict("2b", statement, rule, "inconclusive", "too few outlier samples: " + facts, e);
  return verdict("2b", statement, rule, ratio > 1 && p < r.max_p_value ? "supported" : "not supported", facts, e);
}

nlohmann::json hypothesis3(const nlohmann::json& mask, const VerdictRules& r) {
  const std::string statement = "Masking anomaly filters improves generalisation (paper Tables 4-6)";
  const std::string rule = detail::concat(
      "supported when the share of anomaly filters whose masking alone raises validation accuracy exceeds the "
      "random baseline's mean share by more than ", r.baseline_sds,
      " standard deviations across seeds; not supported when it does not exceed the mean; inconclusive otherwise, "
      "or with fewer than ", r.min_masked, " anomaly filters");
  if (mask.is_null()) return verdict("3", statement, rule, "not run", "no mask.json: run `filterscope mask`", {});
  const int64_t n = mask.at("anomaly_filters").get<int64_t>();
  if (n == 0)
    return verdict("3", statement, rule, "inconclusive",
                   detail::concat("epoch ", mask.at("epoch").get<int64_t>(), " has no anomaly filters: nothing to mask"),
                   {{"anomaly_filters", 0}});
  const double share = value_or_nan(mask.at("one_at_a_time").at("share_val_up"));
  const auto& base = mask.at("random_baseline").at("share_val_up");
  const double m = value_or_nan(base.at("mean")), sd = value_or_nan(base.at("sd"));
  const double sd0 = std::isfinite(sd) ? sd : 0.0;
  const auto& all = mask.at("all_at_once");
  const nlohmann::json numbers = {{"epoch", mask.at("epoch")},
                                  {"anomaly_filters", n},
                                  {"share_val_up", json_number(share)},
                                  {"baseline_share_val_up_mean", json_number(m)},
                                  {"baseline_share_val_up_sd", json_number(sd)},
                                  {"val_acc_before", mask.at("before").at("val_acc")},
                                  {"val_acc_all_masked", all.at("val_acc")}};
  const std::string facts = detail::concat(
      "masking one of ", n, " anomaly filters raised validation accuracy in ", fixed(100 * share, 0),
      "% of cases against ", fixed(100 * m, 0), "% ± ", fixed(100 * sd0, 0), "% for random filters; all at once: ",
      fixed(100 * mask.at("before").at("val_acc").get<double>(), 1), "% -> ",
      fixed(100 * all.at("val_acc").get<double>(), 1), "%");
  if (n < r.min_masked) return verdict("3", statement, rule, "inconclusive", "too few anomaly filters: " + facts, numbers);
  std::string outcome = "inconclusive";
  if (share > m + r.baseline_sds * sd0) outcome = "supported";
  if (!(share > m)) outcome = "not supported";
  return verdict("3", statement, rule, outcome, facts, numbers);
}
}  // namespace

nlohmann::json compute_verdicts(const nlohmann::json& track, const nlohmann::json& gradients,
                                const nlohmann::json& mask, const VerdictRules& rules) {
  return {{"format", "filterscope-verdicts-1"},
          {"hypotheses",
           {hypothesis1(track, rules), hypothesis2(gradients, rules), hypothesis2b(track, rules),
            hypothesis3(mask, rules)}}};
}

nlohmann::json run_verdicts(const fs::path& run_dir, const VerdictRules& rules) {
  FS_CHECK(fs::is_directory(run_dir), run_dir.string(), ": no such run directory");
  nlohmann::json out;
  try {
    out = compute_verdicts(read_json_file_if_exists(run_dir / "track.json"), read_json_file_if_exists(run_dir / "gradients.json"),
                           read_json_file_if_exists(run_dir / "mask.json"), rules);
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(run_dir.string(), ": track.json, gradients.json or mask.json lacks a field (", e.what(),
                               "); were they written by another version? Run the experiments again"));
  }
  out["run_dir"] = run_dir.string();
  write_file_atomic(run_dir / "verdicts.json", out.dump(1) + "\n");
  return out;
}

}  // namespace filterscope
