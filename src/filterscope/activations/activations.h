// `filterscope activations`: the class-wise activation patterns of a model (Khaitan, sections
// 3-7) on its in-distribution images and a covariate-shifted copy of them, optionally beside a
// second model (the same network untrained). Writes activations.json (ActivationsRecord) and the
// arrays it names: frequencies/, histograms/, kl/, interactions/ (see docs/activations.md).
#pragma once
#include <filesystem>
#include <functional>
#include <string>

#include "filterscope/runs/model_passes.h"
#include "filterscope/activations/records.h"
#include "filterscope/core/params.h"
#include "filterscope/runs/model_source.h"

namespace filterscope {

struct PatternOptions {
  std::string layers = "";           ///< probe points, comma-separated; "" = every hidden activation
  std::string reduce = "mean";       ///< how a channel's map becomes one value: mean or max
  double epsilon = 1000;             ///< S2: the ratio between neighbouring order statistics that marks a gap
  std::string shift = "invert";      ///< the covariate shift of the shifted set; "none" = no shifted set
  int64_t kl_layers = 3;             ///< divergences on the last this-many layers analysed
  double kl_smoothing = 1e-6;        ///< added to every frequency before a pattern becomes a distribution
  int64_t interaction_layers = 3;    ///< section 6 on the last this-many fully connected layers; 0 = none
  int64_t max_interaction_values = 16000000;  ///< interaction frequencies are written when classes x outputs x inputs is at most this

  static const ParamTable<PatternOptions>& params();
};

struct ActivationsRequest {
  PatternOptions patterns;
  EvalSetOptions set;
};

/// Runs `model` (and `against`, when given: same probe points and classes) over the sets and
/// writes everything into `out`. log gets one line per pass.
ActivationsRecord run_activations(ModelSource& model, ModelSource* against, const ActivationsRequest& request,
                                  const std::filesystem::path& out,
                                  const std::function<void(const std::string&)>& log);

}  // namespace filterscope
