#include "filterscope/experiments/seed_study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/statistics.h"
#include "filterscope/runs/layout.h"
#include "filterscope/train/run_record.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

int sign_of(double v) { return !std::isfinite(v) || v == 0 ? 0 : (v > 0 ? 1 : -1); }

std::string fmt(double v, const char* format = "%.3g") {
  if (!std::isfinite(v)) return "n/a";
  char text[48];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

// What one run says about each hypothesis, from its typed records.
struct RunEvidence {
  int64_t seed = 0;
  std::optional<TrackRecord> track;
  std::optional<GradientsRecord> gradients;
  std::optional<MaskRecord> mask;
  std::optional<CleanRecord> clean;
  VerdictsRecord verdicts;
};

std::string verdict_of(const VerdictsRecord& v, const std::string& id) {
  for (const auto& h : v.hypotheses)
    if (h.id == id) return h.verdict;
  return "not run";
}

SeedOutcome outcome_h1(const RunEvidence& r) {
  SeedOutcome o{r.seed, verdict_of(r.verdicts, "1")};
  if (!r.track) return o;
  const auto it = r.track->spearman.find("anomaly_filters");
  o.effect = it == r.track->spearman.end() ? NAN : it->second.generalisation_gap;
  // A run whose validation accuracy never dropped did not overfit: it says nothing either way.
  o.direction = r.track->val_acc_dropped ? sign_of(o.effect) : 0;
  return o;
}

SeedOutcome outcome_h2(const RunEvidence& r, const VerdictRules& rules) {
  SeedOutcome o{r.seed, verdict_of(r.verdicts, "2")};
  const GradientTable* t = r.gradients ? r.gradients->table("overfit") : nullptr;
  if (t == nullptr) return o;
  o.effect = t->overall.ratio;
  o.p_value = t->p_greater;
  o.direction = t->outlier_samples >= rules.min_outliers ? sign_of(o.effect - 1) : 0;
  return o;
}

SeedOutcome outcome_h2b(const RunEvidence& r, const VerdictRules& rules) {
  SeedOutcome o{r.seed, verdict_of(r.verdicts, "2b")};
  if (!r.track || !r.track->overfit.enrichment || r.track->overfit.enrichment->replaced == 0) return o;
  const Enrichment& e = *r.track->overfit.enrichment;
  o.effect = e.ratio;
  o.p_value = e.p_value;
  o.direction = e.outliers >= rules.min_outliers ? sign_of(o.effect - 1) : 0;
  return o;
}

SeedOutcome outcome_h3(const RunEvidence& r, const VerdictRules& rules) {
  SeedOutcome o{r.seed, verdict_of(r.verdicts, "3")};
  if (!r.mask || r.mask->anomaly_filters == 0 || r.mask->baseline_filters == 0) return o;
  const MaskRecord& m = *r.mask;
  o.effect = static_cast<double>(m.val_up_significant) / static_cast<double>(m.anomaly_filters) -
             static_cast<double>(m.baseline_val_up_significant) / static_cast<double>(m.baseline_filters);
  o.p_value = m.val_up_enrichment_p;
  o.direction = m.anomaly_filters >= rules.min_masked ? sign_of(o.effect) : 0;
  return o;
}

}  // namespace

HypothesisAcrossSeeds hypothesis_across_seeds(const std::string& id, const std::string& statement,
                                              const std::string& effect, std::vector<SeedOutcome> seeds, double alpha) {
  HypothesisAcrossSeeds h;
  h.id = id;
  h.statement = statement;
  h.effect = effect;
  h.seeds = std::move(seeds);
  std::vector<double> effects, p_values;
  std::map<std::string, int64_t> verdicts;
  for (const auto& o : h.seeds) {
    (o.direction > 0 ? h.positive : o.direction < 0 ? h.negative : h.ties) += 1;
    if (std::isfinite(o.effect)) effects.push_back(o.effect);
    if (o.direction != 0) p_values.push_back(o.p_value);
    ++verdicts[o.verdict];
  }
  if (!effects.empty()) {
    h.effect_median = median(effects);
    h.effect_min = *std::min_element(effects.begin(), effects.end());
    h.effect_max = *std::max_element(effects.begin(), effects.end());
  }
  const int64_t untied = h.positive + h.negative;
  h.sign_test_p = untied > 0 ? sign_test_greater(h.positive, h.negative) : NAN;
  h.combined_p = fisher_combined_p(p_values);
  std::string per_seed;
  for (const auto& [v, count] : verdicts) per_seed += (per_seed.empty() ? "" : ", ") + std::to_string(count) + " " + v;
  h.reason = detail::concat(h.positive, " of ", untied, " seeds in the hypothesised direction", h.ties ? " (" : "",
                            h.ties ? std::to_string(h.ties) + " not measurable)" : "", ", sign test p = ",
                            fmt(h.sign_test_p), "; effect median ", fmt(h.effect_median), " (range ", fmt(h.effect_min),
                            " to ", fmt(h.effect_max), ")",
                            std::isfinite(h.combined_p) ? "; Fisher-combined p = " + fmt(h.combined_p) : "",
                            "; per-seed verdicts: ", per_seed);
  const bool combined_ok = !std::isfinite(h.combined_p) || h.combined_p <= alpha;
  if (untied == 0)
    h.verdict = "inconclusive";
  else if (h.sign_test_p <= alpha && combined_ok)
    h.verdict = "supported";
  else if (2 * h.positive <= untied)
    h.verdict = "not supported";
  else
    h.verdict = "inconclusive";
  return h;
}

const ParamTable<SeedStudyOptions>& SeedStudyOptions::params() {
  static const ParamTable<SeedStudyOptions> table = {
      {"alpha", &SeedStudyOptions::alpha, "level of the sign test across seeds and of Fisher's combined test",
       Bounds::closed(1e-9, 0.5)},
  };
  return table;
}

std::string seed_study_rule(double alpha) {
  return detail::concat(
      "per seed, the effect's sign says whether that seed points the hypothesised way (a tie when it is exactly 0 or "
      "cannot be measured: no overfitting, too few outliers or anomaly filters); supported when the one-sided sign test over the untied "
      "seeds gives p <= ", alpha, " and, where seeds have their own tests, Fisher's combination of them gives p <= ",
      alpha, "; not supported when at most half of the untied seeds point the hypothesised way; inconclusive otherwise");
}

StudyRecord aggregate_seeds(const std::vector<fs::path>& runs, const SeedStudyOptions& options,
                            const VerdictRules& rules) {
  validate_params(options, SeedStudyOptions::params());
  FS_CHECK(!runs.empty(), "a study needs at least one run directory");
  std::vector<RunEvidence> evidence;
  std::set<int64_t> seen;
  StudyRecord out;
  out.alpha = options.alpha;
  out.rule = seed_study_rule(options.alpha);
  for (const auto& run : runs) {
    const RunLayout layout(run);
    FS_CHECK(layout.is_run(), run.string(), ": not a run directory (no run.json)");
    RunEvidence e;
    e.seed = read_run_settings(run).train.seed;
    FS_CHECK(seen.insert(e.seed).second, run.string(), ": seed ", e.seed, " appears twice in the study");
    e.track = read_track_record(layout.track_json());
    e.gradients = read_gradients_record(layout.gradients_json());
    e.mask = read_mask_record(layout.mask_json());
    e.clean = read_clean_record(layout.clean_json());
    e.verdicts = compute_verdicts(e.track, e.gradients, e.mask, rules);
    out.runs.push_back(run.string());
    out.seeds.push_back(e.seed);
    SeedRunSummary summary;
    summary.seed = e.seed;
    summary.run_dir = run.string();
    if (e.track) {
      const TrackEpochRecord& w = e.track->well_trained;
      const TrackEpochRecord& o = e.track->overfit;
      summary.well_trained_epoch = w.epoch;
      summary.overfit_epoch = o.epoch;
      summary.well_trained_val_loss = w.val_loss;
      summary.well_trained_val_acc = w.val_acc;
      summary.overfit_val_acc = o.val_acc;
      summary.overfit_train_acc = o.train_acc;
      summary.well_trained_anomaly_filters = w.anomaly_filters;
      summary.overfit_anomaly_filters = o.anomaly_filters;
    }
    out.seed_runs.push_back(summary);
    evidence.push_back(std::move(e));
  }
  std::vector<SeedOutcome> h1, h2, h2b, h3;
  for (const auto& e : evidence) {
    h1.push_back(outcome_h1(e));
    h2.push_back(outcome_h2(e, rules));
    h2b.push_back(outcome_h2b(e, rules));
    h3.push_back(outcome_h3(e, rules));
  }
  const VerdictsRecord& any = evidence.front().verdicts;
  auto statement = [&](const std::string& id) {
    for (const auto& h : any.hypotheses)
      if (h.id == id) return h.statement;
    return std::string();
  };
  out.hypotheses = {
      hypothesis_across_seeds("1", statement("1"), "Spearman correlation of the anomaly-filter count with the train-val gap across epochs (> 0)",
             h1, options.alpha),
      hypothesis_across_seeds("2", statement("2"), "outliers' mean absolute gradient / normal samples' at the overfit epoch (> 1)", h2,
             options.alpha),
      hypothesis_across_seeds("2b", statement("2b"), "share of replaced labels among outliers / their share in the probe set (> 1)",
             h2b, options.alpha),
      hypothesis_across_seeds("3", statement("3"),
             "share of anomaly filters whose masking raises validation accuracy by McNemar's test minus the random "
             "filters' share (> 0)",
             h3, options.alpha),
  };

  // Detectors: every (role, detector) any seed evaluated, values per seed (NaN where a seed lacks it).
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& e : evidence)
    if (e.clean)
      for (const auto& ev : e.clean->evaluations)
        for (const auto& d : ev.detectors)
          if (std::find(keys.begin(), keys.end(), std::make_pair(ev.role, d.name)) == keys.end())
            keys.push_back({ev.role, d.name});
  for (const auto& [role, name] : keys) {
    DetectorAcrossSeeds d;
    d.role = role;
    d.name = name;
    for (const auto& e : evidence) {
      double a = NAN, ap = NAN, p = NAN;
      if (e.clean)
        for (const auto& ev : e.clean->evaluations)
          if (ev.role == role)
            for (const auto& r : ev.detectors)
              if (r.name == name) a = r.auroc, ap = r.average_precision, p = r.precision;
      d.auroc.push_back(a);
      d.average_precision.push_back(ap);
      d.precision.push_back(p);
    }
    d.auroc_median = median(d.auroc);
    std::vector<double> finite;
    for (double v : d.auroc)
      if (std::isfinite(v)) finite.push_back(v);
    if (!finite.empty()) {
      d.auroc_min = *std::min_element(finite.begin(), finite.end());
      d.auroc_max = *std::max_element(finite.begin(), finite.end());
    }
    d.average_precision_median = median(d.average_precision);
    d.precision_median = median(d.precision);
    out.detectors.push_back(std::move(d));
  }
  return out;
}

std::string study_markdown(const StudyRecord& s) {
  std::string seeds;
  for (int64_t seed : s.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(seed);
  std::string md = "Seeds " + seeds + " (" + std::to_string(s.seeds.size()) + " runs). Rule: " + s.rule + ".\n\n";
  md += "| hypothesis | effect per seed | median (range) | seeds in direction | sign test p | Fisher p | verdict |\n";
  md += "|---|---|---|---|---|---|---|\n";
  for (const auto& h : s.hypotheses) {
    std::string per;
    for (const auto& o : h.seeds)
      per += (per.empty() ? "" : ", ") + fmt(o.effect, "%.2f") + (o.direction == 0 ? "°" : "");
    md += "| H" + h.id + " | " + per + " | " + fmt(h.effect_median, "%.2f") + " (" + fmt(h.effect_min, "%.2f") + " to " +
          fmt(h.effect_max, "%.2f") + ") | " + std::to_string(h.positive) + " of " + std::to_string(h.positive + h.negative) +
          " | " + fmt(h.sign_test_p) + " | " + fmt(h.combined_p) + " | **" + h.verdict + "** |\n";
  }
  md += "\nPer seed (the run's own verdicts by the per-seed rules; p is the run's one-sided test):\n\n";
  md += "| seed | well-trained epoch: val loss, acc | overfit epoch: val acc, train acc | anomaly filters | H1 ρ | H2 ratio (p) | H2b ratio (p) | H3 effect (p) | verdicts H1 · H2 · H2b · H3 |\n";
  md += "|---|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < s.seed_runs.size(); ++i) {
    const SeedRunSummary& r = s.seed_runs[i];
    auto cell = [&](size_t h, bool with_p) {
      if (h >= s.hypotheses.size() || i >= s.hypotheses[h].seeds.size()) return std::string("n/a");
      const SeedOutcome& o = s.hypotheses[h].seeds[i];
      return fmt(o.effect, "%.2f") + (with_p ? " (" + fmt(o.p_value, "%.2g") + ")" : "");
    };
    std::string verdicts;
    for (const auto& h : s.hypotheses) verdicts += (verdicts.empty() ? "" : " · ") + (i < h.seeds.size() ? h.seeds[i].verdict : "");
    md += "| " + std::to_string(r.seed) + " | " + std::to_string(r.well_trained_epoch) + ": " +
          fmt(r.well_trained_val_loss, "%.3f") + ", " + fmt(100 * r.well_trained_val_acc, "%.1f") + " % | " +
          std::to_string(r.overfit_epoch) + ": " + fmt(100 * r.overfit_val_acc, "%.1f") + " %, " +
          fmt(100 * r.overfit_train_acc, "%.1f") + " % | " + std::to_string(r.well_trained_anomaly_filters) + " → " +
          std::to_string(r.overfit_anomaly_filters) + " | " + cell(0, false) + " | " + cell(1, true) + " | " +
          cell(2, true) + " | " + cell(3, true) + " | " + verdicts + " |\n";
  }
  md += "\nEffects: ";
  for (const auto& h : s.hypotheses) md += "H" + h.id + ": " + h.effect + ". ";
  md += "° marks a seed left out of the sign test: no effect either way (exactly 0), or none measurable (no "
        "overfitting, fewer than 5 outliers or 3 anomaly filters).\n";
  if (!s.detectors.empty()) {
    md += "\n| epoch | detector | AUROC median (range) | average precision (median) | precision at the noise rate (median) |\n";
    md += "|---|---|---|---|---|\n";
    for (const auto& d : s.detectors)
      md += "| " + d.role + " | " + d.name + " | " + fmt(d.auroc_median, "%.3f") + " (" + fmt(d.auroc_min, "%.3f") + " to " +
            fmt(d.auroc_max, "%.3f") + ") | " + fmt(d.average_precision_median, "%.3f") + " | " +
            fmt(d.precision_median, "%.3f") + " |\n";
  }
  return md;
}

StudyRecord seed_study(const std::vector<fs::path>& runs, const fs::path& out_dir, const SeedStudyOptions& options,
                       const std::function<void(const std::string&)>& log) {
  StudyRecord s = aggregate_seeds(runs, options);
  ensure_directory(out_dir);
  write_file_atomic(out_dir / study_files::kJson, s.to_json().dump(1) + "\n");
  write_file_atomic(out_dir / study_files::kMarkdown, study_markdown(s));
  log(detail::concat("aggregated ", runs.size(), " seed(s) into ", (out_dir / study_files::kJson).string()));
  return s;
}

}  // namespace filterscope
