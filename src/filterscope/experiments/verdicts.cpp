#include "filterscope/experiments/verdicts.h"
#include "filterscope/runs/layout.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/run_analyses.h"
#include "filterscope/runs/stats.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

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

Verdict verdict(const std::string& id, const std::string& statement, const std::string& rule,
                const std::string& outcome, const std::string& reason, nlohmann::json numbers) {
  return {id, statement, rule, outcome, reason, std::move(numbers)};
}

Verdict hypothesis1(const std::optional<TrackRecord>& track, const VerdictRules& r) {
  const std::string statement = "Anomaly filters rise as the model overfits (paper Fig. 4, Table 2)";
  const std::string rule = detail::concat(
      "supported when the overfit epoch has more anomaly filters than the well-trained one and their count's "
      "Spearman correlation with the train-val accuracy gap across epochs is at least ",
      r.min_rank_correlation, "; not supported when it has no more and the correlation is below ",
      r.min_rank_correlation, "; inconclusive otherwise, or when validation accuracy did not drop");
  if (!track) return verdict("1", statement, rule, "not run", "no track.json: run `filterscope track`", {});
  const auto& w = track->well_trained;
  const auto& o = track->overfit;
  const int64_t a = w.anomaly_filters, b = o.anomaly_filters;
  auto gap_correlation = [&](const std::string& score) {
    const auto it = track->spearman.find(score);
    return it == track->spearman.end() ? NAN : it->second.generalisation_gap;
  };
  const double rho = gap_correlation("anomaly_filters");
  const double rho_share = gap_correlation("mean_small_share");
  const bool dropped = track->val_acc_dropped;
  const nlohmann::json numbers = {{"well_trained_epoch", w.epoch}, {"overfit_epoch", o.epoch},
                                  {"well_trained_anomaly_filters", a},   {"overfit_anomaly_filters", b},
                                  {"spearman_anomaly_gap", json_number(rho)},
                                  {"spearman_mean_small_share_gap", json_number(rho_share)},
                                  {"val_acc_dropped", dropped}};
  const std::string facts = detail::concat("anomaly filters ", a, " at epoch ", w.epoch, " -> ", b,
                                           " at epoch ", o.epoch, "; Spearman correlation of the count with the "
                                           "train-val accuracy gap ", fixed(rho), " (of the mean small-cluster share "
                                           "with the gap: ", fixed(rho_share), ")");
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

Verdict hypothesis2(const std::optional<GradientsRecord>& gradients, const VerdictRules& r) {
  const std::string statement = "Outlier samples have larger gradients than normal samples (paper Table 3)";
  const std::string rule = detail::concat(
      "on the overfit checkpoint: supported when the outliers' mean absolute gradient over all parameters exceeds "
      "the normal samples' and a one-sided Mann-Whitney test gives p < ", r.max_p_value,
      "; not supported otherwise; inconclusive with fewer than ", r.min_outliers, " outlier samples");
  if (!gradients)
    return verdict("2", statement, rule, "not run", "no gradients.json: run `filterscope gradients`", {});
  const GradientTable* overfit = gradients->table("overfit");
  FS_CHECK(overfit != nullptr, "gradients.json has no overfit epoch");
  const int64_t n = overfit->outlier_samples;
  const double ratio = overfit->overall.ratio;
  const double p = overfit->p_greater;
  const nlohmann::json numbers = {{"epoch", overfit->epoch},
                                  {"outlier_samples", n},
                                  {"normal_samples", overfit->normal_samples},
                                  {"ratio", json_number(ratio)},
                                  {"p_value", json_number(p)},
                                  {"layers_outliers_larger", overfit->layers_outliers_larger},
                                  {"layers", overfit->layers.size()}};
  const std::string facts = detail::concat(n, " outlier samples at epoch ", overfit->epoch,
                                           ": mean absolute gradient ", fixed(ratio), "x the normal samples', p = ", pvalue(p),
                                           "; larger in ", overfit->layers_outliers_larger, " of ",
                                           overfit->layers.size(), " layers");
  if (n < r.min_outliers) return verdict("2", statement, rule, "inconclusive", "too few outlier samples: " + facts, numbers);
  const bool holds = ratio > 1 && p < r.max_p_value;
  return verdict("2", statement, rule, holds ? "supported" : "not supported", facts, numbers);
}

Verdict hypothesis2b(const std::optional<TrackRecord>& track, const VerdictRules& r) {
  const std::string statement = "Outlier samples are enriched in the training samples whose label was replaced";
  const std::string rule = detail::concat(
      "at the overfit epoch, on a training probe set of a run with label noise: supported when the share of "
      "replaced labels among outliers exceeds their share in the probe set and a one-sided hypergeometric test "
      "gives p < ", r.max_p_value, "; not supported otherwise; inconclusive with fewer than ", r.min_outliers,
      " outlier samples");
  if (!track) return verdict("2b", statement, rule, "not run", "no track.json: run `filterscope track`", {});
  const std::optional<Enrichment>& e = track->overfit.enrichment;
  if (!e || e->replaced == 0) {
    // Say which of the two causes it is: replaced labels exist only in the training split.
    const std::string split = track->probe_split();
    const std::string why =
        split == "val" ? "track analysed a validation probe set, whose labels are never replaced: run `filterscope "
                         "track RUN --split train --reanalyse` to test it on training samples"
        : split == "train" ? "the training probe set holds no replaced label (the run was trained without "
                             "--label-noise, or the noise missed the probe set)"
                           : "the probe set has no replaced labels (no --label-noise, or a validation probe set)";
    return verdict("2b", statement, rule, "not applicable", why, {});
  }
  const int64_t n = e->outliers;
  const double ratio = e->ratio, p = e->p_value;
  const std::string facts = detail::concat(
      e->replaced_outliers, " of ", n, " outliers have a replaced label (precision ", fixed(e->precision), ", recall ",
      fixed(e->recall), ", base rate ", fixed(e->base_rate), "): ", fixed(ratio), "x the base rate, p = ", pvalue(p));
  if (n < r.min_outliers)
    return verdict("2b", statement, rule, "inconclusive", "too few outlier samples: " + facts, e->to_json());
  return verdict("2b", statement, rule, ratio > 1 && p < r.max_p_value ? "supported" : "not supported", facts,
                 e->to_json());
}

Verdict hypothesis3(const std::optional<MaskRecord>& mask, const VerdictRules& r) {
  const std::string statement = "Masking anomaly filters improves generalisation (paper Tables 4-6)";
  const std::string rule = detail::concat(
      "a masked filter raises validation accuracy when McNemar's exact one-sided test on the paired validation "
      "predictions (before and after, the same images) gives p < the mask run's alpha; supported when anomaly "
      "filters pass that test more often than random filters of the same convolutions (pooled over the baseline "
      "seeds), by Fisher's exact one-sided test at p < ", r.max_p_value,
      "; not supported when their share of passes does not exceed the random filters'; inconclusive otherwise, or "
      "with fewer than ", r.min_masked, " anomaly filters");
  if (!mask) return verdict("3", statement, rule, "not run", "no mask.json: run `filterscope mask`", {});
  const int64_t n = mask->anomaly_filters;
  const int64_t epoch = mask->epoch.value_or(0);
  if (n == 0 || !mask->all_at_once)
    return verdict("3", statement, rule, "inconclusive",
                   detail::concat("epoch ", epoch, " has no anomaly filters: nothing to mask"), {{"anomaly_filters", 0}});
  const double share = static_cast<double>(mask->val_up_significant) / static_cast<double>(n);
  const double random_share = mask->baseline_filters > 0 ? static_cast<double>(mask->baseline_val_up_significant) /
                                                               static_cast<double>(mask->baseline_filters)
                                                         : NAN;
  const double p = mask->val_up_enrichment_p;
  const AllAtOnce& all = *mask->all_at_once;
  const nlohmann::json numbers = {{"epoch", epoch},
                                  {"anomaly_filters", n},
                                  {"alpha", mask->alpha},
                                  {"val_up_significant", mask->val_up_significant},
                                  {"share_val_up_significant", json_number(share)},
                                  {"baseline_filters", mask->baseline_filters},
                                  {"baseline_val_up_significant", mask->baseline_val_up_significant},
                                  {"baseline_share_val_up_significant", json_number(random_share)},
                                  {"effect", json_number(share - random_share)},
                                  {"p_value", json_number(p)},
                                  {"share_val_up", json_number(mask->share_val_up)},
                                  {"baseline_share_val_up_mean", json_number(mask->baseline_share_val_up.mean)},
                                  {"val_acc_before", mask->before.val_acc},
                                  {"val_acc_all_masked", all.val_acc}};
  const std::string facts = detail::concat(
      mask->val_up_significant, " of ", n, " anomaly filters raised validation accuracy by McNemar's test (",
      fixed(100 * share, 0), "%) against ", mask->baseline_val_up_significant, " of ", mask->baseline_filters,
      " random filters (", fixed(100 * random_share, 0), "%), p = ", pvalue(p), "; without the test: ",
      fixed(100 * mask->share_val_up, 0), "% vs ", fixed(100 * mask->baseline_share_val_up.mean, 0),
      "%; all at once: ", fixed(100 * mask->before.val_acc, 1), "% -> ", fixed(100 * all.val_acc, 1), "%");
  if (n < r.min_masked) return verdict("3", statement, rule, "inconclusive", "too few anomaly filters: " + facts, numbers);
  std::string outcome = "inconclusive";
  if (share > random_share && p < r.max_p_value) outcome = "supported";
  if (!(share > random_share)) outcome = "not supported";
  return verdict("3", statement, rule, outcome, facts, numbers);
}
}  // namespace

VerdictsRecord compute_verdicts(const std::optional<TrackRecord>& track,
                                const std::optional<GradientsRecord>& gradients, const std::optional<MaskRecord>& mask,
                                const VerdictRules& rules) {
  VerdictsRecord out;
  out.hypotheses = {hypothesis1(track, rules), hypothesis2(gradients, rules), hypothesis2b(track, rules),
                    hypothesis3(mask, rules)};
  return out;
}

VerdictsRecord run_verdicts(const fs::path& run_dir, const VerdictRules& rules) {
  FS_CHECK(fs::is_directory(run_dir), run_dir.string(), ": no such run directory");
  const RunLayout layout(run_dir);
  // A folder of something else gets no verdicts.json written into it.
  FS_CHECK(fs::exists(layout.run_json()) || fs::exists(layout.track_json()) || fs::exists(layout.gradients_json()) ||
               fs::exists(layout.mask_json()),
           run_dir.string(), ": not a run directory (no run.json, track.json, gradients.json or mask.json); "
           "give the folder `filterscope train --out` wrote");
  VerdictsRecord out = compute_verdicts(read_track_record(layout.track_json()),
                                        read_gradients_record(layout.gradients_json()),
                                        read_mask_record(layout.mask_json()), rules);
  out.run_dir = run_dir.string();
  write_file_atomic(layout.verdicts_json(), out.to_json().dump(1) + "\n");
  return out;
}

}  // namespace filterscope
