#include "filterscope/experiments/gradients.h"
#include "filterscope/runs/layout.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>

#include <map>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/stats.h"
#include "filterscope/train/checkpoint.h"

namespace filterscope {

namespace fs = std::filesystem;

const ParamTable<GradientOptions>& GradientOptions::params() {
  static const ParamTable<GradientOptions> table = {
      {"well-trained-epoch", &GradientOptions::well_trained_epoch,
       "well-trained checkpoint; 0 = the one RUN/track.json chose", Bounds::closed(0, 1e6)},
      {"overfit-epoch", &GradientOptions::overfit_epoch, "overfit checkpoint; 0 = the one RUN/track.json chose",
       Bounds::closed(0, 1e6)},
  };
  return table;
}

SampleGradients per_sample_gradients(ProbedModel& model, const Dataset& samples, const InputTransform& transform) {
  SampleGradients out;
  const c10::Device device = model.device();
  // Parameters grouped by the module that owns them, in registration (forward) order.
  std::vector<std::vector<at::Tensor>> groups;
  for (const auto& [name, value] : model.named_parameters()) {
    const std::string owner = name.substr(0, name.rfind('.'));
    if (out.layers.empty() || out.layers.back() != owner) {
      out.layers.push_back(owner);
      out.parameters.push_back(0);
      groups.emplace_back();
    }
    groups.back().push_back(value);
    out.parameters.back() += value.numel();
  }
  FS_CHECK(!groups.empty(), model.description(), ": the model has no parameters to take gradients of");
  const int64_t n = samples.size(), layers = static_cast<int64_t>(out.layers.size());
  int64_t total = 0;
  for (int64_t p : out.parameters) total += p;
  out.per_layer = at::zeros({n, layers}, at::kDouble);
  out.overall = at::zeros({n}, at::kDouble);

  // A TorchScript file may have been saved with frozen parameters: gradients are wanted of all.
  std::vector<std::pair<at::Tensor, bool>> required;
  for (auto& group : groups)
    for (auto& p : group) {
      required.emplace_back(p, p.requires_grad());
      if (!p.requires_grad()) p.requires_grad_(true);
    }
  auto reset_grads = [&] {
    for (auto& group : groups)
      for (auto& p : group) p.mutable_grad() = at::Tensor();
  };
  const at::Tensor labels = samples.labels.to(device);
  auto per_layer = out.per_layer.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor x = make_input(samples, transform, at::full({1}, i, at::kLong)).to(device);
    reset_grads();
    const at::Tensor logits = model.forward_probes_with_grad(x, {}, true).logits;
    FS_CHECK(logits.defined(), model.description(), ": the model's output is not [N, classes] logits");
    const at::Tensor loss = torch::nn::functional::cross_entropy(logits, labels.narrow(0, i, 1));
    loss.backward();
    std::vector<at::Tensor> sums;
    for (const auto& group : groups) {
      at::Tensor s = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
      for (const auto& p : group)
        if (p.grad().defined()) s = s + p.grad().abs().sum().to(at::kDouble);
      sums.push_back(s);
    }
    const at::Tensor row = at::stack(sums).cpu();
    double all = 0;
    for (int64_t l = 0; l < layers; ++l) {
      const double sum = row[l].item<double>();
      per_layer[i][l] = sum / static_cast<double>(out.parameters[static_cast<size_t>(l)]);
      all += sum;
    }
    out.overall[i] = all / static_cast<double>(total);
  }
  reset_grads();
  for (auto& [p, was] : required)
    if (!was) p.requires_grad_(false);
  return out;
}

namespace {
GradientMeans group_means(const at::Tensor& values, const std::vector<bool>& outlier) {
  double sum_out = 0, sum_normal = 0;
  int64_t n_out = 0, n_normal = 0;
  const auto v = values.accessor<double, 1>();
  for (int64_t i = 0; i < values.size(0); ++i) {
    if (outlier[static_cast<size_t>(i)]) {
      sum_out += v[i];
      ++n_out;
    } else {
      sum_normal += v[i];
      ++n_normal;
    }
  }
  GradientMeans m;
  m.outlier_mean = n_out > 0 ? sum_out / static_cast<double>(n_out) : NAN;
  m.normal_mean = n_normal > 0 ? sum_normal / static_cast<double>(n_normal) : NAN;
  m.ratio = m.normal_mean > 0 ? m.outlier_mean / m.normal_mean : NAN;
  return m;
}
}  // namespace

GradientTable gradient_table(const SampleGradients& gradients, const std::vector<bool>& outlier) {
  FS_CHECK(static_cast<int64_t>(outlier.size()) == gradients.overall.size(0), "gradient_table: ", outlier.size(),
           " outlier flags for ", gradients.overall.size(0), " samples");
  GradientTable table;
  for (size_t l = 0; l < gradients.layers.size(); ++l) {
    GradientLayerRow row;
    static_cast<GradientMeans&>(row) =
        group_means(gradients.per_layer.select(1, static_cast<int64_t>(l)).contiguous(), outlier);
    row.name = gradients.layers[l];
    row.parameters = gradients.parameters[l];
    // Layers where outliers have the larger mean gradient.
    if (std::isfinite(row.ratio) && row.ratio > 1) ++table.layers_outliers_larger;
    table.layers.push_back(row);
  }
  table.overall = group_means(gradients.overall, outlier);
  std::vector<double> out_values, normal_values;
  for (int64_t i = 0; i < gradients.overall.size(0); ++i)
    (outlier[static_cast<size_t>(i)] ? out_values : normal_values).push_back(gradients.overall[i].item<double>());
  const RankSumTest test = mann_whitney_greater(out_values, normal_values);
  table.mann_whitney_u = test.u;
  table.mann_whitney_z = test.z;
  table.p_greater = test.p_greater;
  table.outlier_samples = static_cast<int64_t>(out_values.size());
  table.normal_samples = static_cast<int64_t>(normal_values.size());
  return table;
}

namespace {

// gradients.csv: one row per probe sample and model, the header taken from the first model's layers.
struct GradientCsv {
  std::ostringstream text;
  bool header = false;
  GradientCsv() { text.precision(10); }
};

// One model's Table 3 (and its csv rows) against the outliers of its analysis.
// `g`: the model's per-sample gradients on the probe set (per_sample_gradients), computed once per
// model even where two roles name the same epoch.
GradientTable model_table(const std::string& model_description, const SampleGradients& g, const ProbeSet& probe,
                           const AnalysisRecord& analysis, const std::string& role, int64_t epoch, bool reused,
                           GradientCsv& csv, const std::function<void(const std::string&)>& log) {
  std::vector<bool> outlier(static_cast<size_t>(probe.samples.size()), false);
  for (const auto& o : analysis.outliers) outlier[static_cast<size_t>(o.position)] = true;
  const int64_t outliers = static_cast<int64_t>(analysis.outliers.size());
  GradientTable table = gradient_table(g, outlier);
  table.role = role;
  table.epoch = epoch;
  table.analysis_reused = reused;
  const std::string what = role == "model" ? "the model" : detail::concat("epoch ", epoch);
  if (outliers == 0)
    table.note = detail::concat("no outlier samples at ", what,
                                " (its analysis found no anomaly filters): nothing to compare");
  log(detail::concat(role == "overfit" ? "overfit epoch " : role == "well_trained" ? "well-trained epoch " : "",
                     role == "model" ? model_description : std::to_string(epoch), ": ", probe.samples.size(),
                     " per-sample gradients, ", outliers, " outlier sample(s)",
                     outliers == 0 ? " - no outlier samples, nothing to compare" : ""));
  if (!csv.header) {
    csv.text << "epoch,role,position,dataset_index,label,outlier,label_replaced,overall";
    for (const auto& name : g.layers) csv.text << ',' << name;
    csv.text << '\n';
    csv.header = true;
  }
  for (int64_t i = 0; i < probe.samples.size(); ++i) {
    csv.text << epoch << ',' << role << ',' << i << ',' << probe.samples.indices[i].item<int64_t>() << ','
             << probe.samples.labels[i].item<int64_t>() << ',' << (outlier[static_cast<size_t>(i)] ? 1 : 0) << ','
             << (probe.noisy.defined() ? (probe.noisy[i].item<bool>() ? "1" : "0") : "") << ','
             << g.overall[i].item<double>();
    for (size_t l = 0; l < g.layers.size(); ++l) csv.text << ',' << g.per_layer[i][static_cast<int64_t>(l)].item<double>();
    csv.text << '\n';
  }
  return table;
}

const char* kGradientMeasure =
    "mean absolute gradient of the sample's cross-entropy loss with respect to the layer's parameters (weights and "
    "biases), eval mode";

}  // namespace

GradientsRecord gradient_study(RunAnalyses& analyses, const GradientOptions& options,
                              const std::function<void(const std::string&)>& log) {
  validate_params(options, GradientOptions::params());
  const fs::path& run_dir = analyses.run_dir();
  const StudyEpochs chosen = study_epochs(run_dir, options.well_trained_epoch, options.overfit_epoch);
  const std::vector<std::pair<std::string, int64_t>> epochs = {{"well_trained", chosen.well_trained},
                                                               {"overfit", chosen.overfit}};
  for (const auto& [role, epoch] : epochs) analyses.require_checkpoint(epoch);
  for (const auto& [role, epoch] : epochs) analyses.reusable(epoch);  // a settings mismatch stops before any work

  GradientsRecord out;
  out.run_dir = run_dir.string();
  out.request = analysis_request_json(analyses.analyze_options(), analyses.probe_options());
  out.measure = kGradientMeasure;
  GradientCsv csv;
  std::map<int64_t, SampleGradients> computed;  // the same epoch in both roles: its gradients once
  for (const auto& [role, epoch] : epochs) {
    bool reused = false;
    const AnalysisRecord analysis = analyses.analysis(epoch, &reused);
    auto g = computed.find(epoch);
    if (g == computed.end()) {
      ModelSource source = analyses.open_checkpoint(epoch);
      g = computed.emplace(epoch, per_sample_gradients(*source.model, analyses.probe().samples, analyses.run().transform)).first;
    } else {
      log(detail::concat("epoch ", epoch, " is both the well-trained and the overfit epoch: its gradients are reused"));
    }
    out.epochs.push_back(model_table("", g->second, analyses.probe(), analysis, role, epoch, reused, csv, log));
  }
  write_file_atomic(RunLayout(run_dir).gradients_csv(), csv.text.str());
  write_file_atomic(RunLayout(run_dir).gradients_json(), out.to_json().dump(1) + "\n");
  return out;
}

GradientsRecord model_gradients(ModelSource& source, ModelAnalysis& analysis, const fs::path& out_dir,
                                const std::function<void(const std::string&)>& log) {
  GradientsRecord out;
  out.model = source.record;
  out.request = analysis_request_json(analysis.options, analysis.probe_options);
  out.measure = kGradientMeasure;
  GradientCsv csv;
  const SampleGradients g = per_sample_gradients(*source.model, analysis.probe.samples, source.run.transform);
  out.epochs.push_back(model_table(source.model->description(), g, analysis.probe, analysis.record, "model", source.epoch,
                                   analysis.reused, csv, log));
  ensure_directory(out_dir);
  write_file_atomic(out_dir / RunLayout::kGradientsCsv, csv.text.str());
  write_file_atomic(out_dir / RunLayout::kGradientsJson, out.to_json().dump(1) + "\n");
  return out;
}

}  // namespace filterscope
