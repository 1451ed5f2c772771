#include "filterscope/experiments/gradients.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>

#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/experiments/stats.h"
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

SampleGradients per_sample_gradients(Network& network, const Dataset& samples, const InputTransform& transform,
                                     const c10::Device& device) {
  SampleGradients out;
  // Parameters grouped by the module that owns them, in registration (forward) order.
  std::vector<std::vector<at::Tensor>> groups;
  for (const auto& item : network->named_parameters()) {
    const std::string& name = item.key();
    const std::string owner = name.substr(0, name.rfind('.'));
    if (out.layers.empty() || out.layers.back() != owner) {
      out.layers.push_back(owner);
      out.parameters.push_back(0);
      groups.emplace_back();
    }
    groups.back().push_back(item.value());
    out.parameters.back() += item.value().numel();
  }
  const int64_t n = samples.size(), layers = static_cast<int64_t>(out.layers.size());
  int64_t total = 0;
  for (int64_t p : out.parameters) total += p;
  out.per_layer = at::zeros({n, layers}, at::kDouble);
  out.overall = at::zeros({n}, at::kDouble);

  const bool was_training = network->is_training();
  network->eval();
  at::AutoGradMode grad_mode(true);
  const at::Tensor labels = samples.labels.to(device);
  auto per_layer = out.per_layer.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor x = make_input(samples, transform, at::full({1}, i, at::kLong)).to(device);
    network->zero_grad();
    const at::Tensor loss = torch::nn::functional::cross_entropy(network->forward(x), labels.narrow(0, i, 1));
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
  network->zero_grad();
  network->train(was_training);
  return out;
}

namespace {
nlohmann::json group_means(const at::Tensor& values, const std::vector<bool>& outlier) {
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
  const double out_mean = n_out > 0 ? sum_out / static_cast<double>(n_out) : NAN;
  const double normal_mean = n_normal > 0 ? sum_normal / static_cast<double>(n_normal) : NAN;
  return {{"outlier_mean", json_number(out_mean)},
          {"normal_mean", json_number(normal_mean)},
          {"ratio", json_number(normal_mean > 0 ? out_mean / normal_mean : NAN)}};
}
}  // namespace

nlohmann::json gradient_table(const SampleGradients& gradients, const std::vector<bool>& outlier) {
  FS_CHECK(static_cast<int64_t>(outlier.size()) == gradients.overall.size(0), "gradient_table: ", outlier.size(),
           " outlier flags for ", gradients.overall.size(0), " samples");
  nlohmann::json layers = nlohmann::json::array();
  for (size_t l = 0; l < gradients.layers.size(); ++l) {
    nlohmann::json row = group_means(gradients.per_layer.select(1, static_cast<int64_t>(l)).contiguous(), outlier);
    row["name"] = gradients.layers[l];
    row["parameters"] = gradients.parameters[l];
    layers.push_back(row);
  }
  nlohmann::json overall = group_means(gradients.overall, outlier);
  std::vector<double> out_values, normal_values;
  for (int64_t i = 0; i < gradients.overall.size(0); ++i)
    (outlier[static_cast<size_t>(i)] ? out_values : normal_values).push_back(gradients.overall[i].item<double>());
  const RankSumTest test = mann_whitney_greater(out_values, normal_values);
  overall["mann_whitney"] = {{"u", json_number(test.u)}, {"z", json_number(test.z)},
                             {"p_greater", json_number(test.p_greater)}};
  int64_t larger = 0;  // layers where outliers have the larger mean gradient
  for (const auto& row : layers)
    if (!row["ratio"].is_null() && row["ratio"].get<double>() > 1) ++larger;
  return {{"outlier_samples", static_cast<int64_t>(out_values.size())},
          {"normal_samples", static_cast<int64_t>(normal_values.size())},
          {"layers", layers},
          {"layers_outliers_larger", larger},
          {"overall", overall}};
}

nlohmann::json gradient_study(RunAnalyses& analyses, const GradientOptions& options,
                              const std::function<void(const std::string&)>& log) {
  validate_params(options, GradientOptions::params());
  const fs::path& run_dir = analyses.run_dir();
  const StudyEpochs chosen = study_epochs(run_dir, options.well_trained_epoch, options.overfit_epoch);
  const std::vector<std::pair<std::string, int64_t>> epochs = {{"well_trained", chosen.well_trained},
                                                               {"overfit", chosen.overfit}};
  for (const auto& [role, epoch] : epochs) analyses.require_checkpoint(epoch);
  for (const auto& [role, epoch] : epochs) analyses.reusable(epoch);  // a settings mismatch stops before any work

  nlohmann::json results = nlohmann::json::array();
  std::ostringstream csv;
  csv.precision(10);
  bool header = false;
  for (const auto& [role, epoch] : epochs) {
    bool reused = false;
    const nlohmann::json analysis = analyses.analysis(epoch, &reused);
    const ProbeSet& probe = analyses.probe();
    std::vector<bool> outlier(static_cast<size_t>(probe.samples.size()), false);
    for (const auto& o : analysis.at("outliers")) outlier[o.at("position").get<size_t>()] = true;
    const int64_t outliers = static_cast<int64_t>(analysis.at("outliers").size());

    Network network = load_checkpoint(checkpoint_path(run_dir, epoch), nullptr, analyses.settings().train.model);
    network->to(analyses.device());
    const SampleGradients g = per_sample_gradients(network, probe.samples, analyses.run().transform, analyses.device());
    nlohmann::json table = gradient_table(g, outlier);
    table["role"] = role;
    table["epoch"] = epoch;
    table["analysis_reused"] = reused;
    if (outliers == 0)
      table["note"] = detail::concat("no outlier samples at epoch ", epoch,
                                     " (its analysis found no anomaly filters): nothing to compare");
    results.push_back(table);
    log(detail::concat(role == "overfit" ? "overfit" : "well-trained", " epoch ", epoch, ": ", probe.samples.size(),
                       " per-sample gradients, ", outliers, " outlier sample(s)",
                       outliers == 0 ? " - no outlier samples, nothing to compare" : ""));

    if (!header) {
      csv << "epoch,role,position,dataset_index,label,outlier,label_replaced,overall";
      for (const auto& name : g.layers) csv << ',' << name;
      csv << '\n';
      header = true;
    }
    for (int64_t i = 0; i < probe.samples.size(); ++i) {
      csv << epoch << ',' << role << ',' << i << ',' << probe.samples.indices[i].item<int64_t>() << ','
          << probe.samples.labels[i].item<int64_t>() << ',' << (outlier[static_cast<size_t>(i)] ? 1 : 0) << ','
          << (probe.noisy.defined() ? (probe.noisy[i].item<bool>() ? "1" : "0") : "") << ','
          << g.overall[i].item<double>();
      for (size_t l = 0; l < g.layers.size(); ++l) csv << ',' << g.per_layer[i][static_cast<int64_t>(l)].item<double>();
      csv << '\n';
    }
  }
  const nlohmann::json out = {{"format", "filterscope-gradients-1"},
                              {"run_dir", run_dir.string()},
                              {"request", analysis_request_json(analyses.analyze_options(), analyses.probe_options())},
                              {"measure", "mean absolute gradient of the sample's cross-entropy loss with respect to "
                                          "the layer's parameters (weights and biases), eval mode"},
                              {"epochs", results}};
  write_file_atomic(run_dir / "gradients.csv", csv.str());
  write_file_atomic(run_dir / "gradients.json", out.dump(1) + "\n");
  return out;
}

}  // namespace filterscope
