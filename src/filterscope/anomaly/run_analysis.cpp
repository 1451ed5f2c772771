#include "filterscope/anomaly/run_analysis.h"

#include <ATen/ATen.h>

#include <cstdio>

#include "filterscope/core/error.h"
#include "filterscope/report/analysis_files.h"
#include "filterscope/train/checkpoint.h"

namespace filterscope {

ProbeSet draw_probe_set(const PreparedRun& run, const ProbeSetOptions& options) {
  FS_CHECK(options.split == "val" || options.split == "train", "--split must be val or train, got ", options.split);
  FS_CHECK(options.size >= 3, "--probe-size must be at least 3, got ", options.size);
  FS_CHECK(options.seed >= 0, "--probe-seed must be >= 0, got ", options.seed);
  const bool from_train = options.split == "train";
  const Dataset& split = from_train ? run.data.train : run.data.val;
  FS_CHECK(options.size <= split.size(), "--probe-size ", options.size, " exceeds the ", split.size(), " samples of the ",
           from_train ? "training" : "validation", " set (", split.name, ")");
  ProbeSet probe;
  probe.positions = choose_positions(split.size(), options.size, options.seed);
  probe.samples = subset(split, probe.positions, split.name + " probe set");
  probe.split_name = split.name;
  if (from_train) {
    at::Tensor noisy = at::zeros({split.size()}, at::kBool);
    if (run.noisy_positions.defined() && run.noisy_positions.numel() > 0) noisy.index_fill_(0, run.noisy_positions, true);
    probe.noisy = noisy.index_select(0, probe.positions);
  }
  return probe;
}

nlohmann::json analysis_request_json(const AnalyzeOptions& options, const ProbeSetOptions& probe) {
  return {{"settings",
           {{"layers", options.layers},
            {"anomaly", params_to_json(options.anomaly, AnomalyOptions::params())},
            {"gmm", params_to_json(options.gmm, GmmOptions::params())},
            {"pca", params_to_json(options.pca, PcaOptions::params())},
            {"capture", params_to_json(options.capture, CaptureOptions::params())}}},
          {"probe_set", {{"split", probe.split}, {"size", probe.size}, {"seed", probe.seed}}}};
}

nlohmann::json recorded_request(const nlohmann::json& analysis) {
  const auto& p = analysis.at("probe_set");
  return {{"settings", analysis.at("settings")},
          {"probe_set", {{"split", p.at("split")}, {"size", p.at("size")}, {"seed", p.at("seed")}}}};
}

nlohmann::json analyze_and_write(ProbedModel& model, const PreparedRun& run, const ProbeSet& probe,
                                 const ProbeSetOptions& probe_options, const AnalyzeOptions& options,
                                 const nlohmann::json& model_json, const std::filesystem::path& out) {
  const Analysis analysis = analyze_model(model, probe.samples, run.transform, options);
  AnalysisContext context;
  context.model = model_json;
  const nlohmann::json request = analysis_request_json(options, probe_options);
  context.data = {{"dataset", run.settings.data.dataset},
                  {"split", probe_options.split},
                  {"split_name", probe.split_name},
                  {"size", probe_options.size},
                  {"seed", probe_options.seed},
                  {"normalisation", run.transform.to_json()}};
  context.settings = request["settings"];
  context.probe_set = &probe.samples;
  context.noisy = probe.noisy;
  context.anomaly = options.anomaly;
  return write_analysis(out, analysis, context, options.keep_points);
}

CheckpointModel open_checkpoint_model(const std::filesystem::path& run_dir, const std::filesystem::path& file,
                                      const RunSettings& settings, const c10::Device& device) {
  CheckpointInfo info;
  Network network = load_checkpoint(file, nullptr, settings.train.model, &info);
  CheckpointModel m;
  m.model = probed_network(network);
  m.model->to(device);
  m.epoch = info.epoch;
  m.model_json = {{"kind", "checkpoint"},        {"file", file.string()},
                  {"network", info.network},     {"epoch", info.epoch},
                  {"run_dir", run_dir.string()}, {"description", m.model->description()}};
  return m;
}

std::filesystem::path analysis_dir(const std::filesystem::path& run_dir, int64_t epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch-%03lld", static_cast<long long>(epoch));
  return run_dir / "analysis" / name;
}

}  // namespace filterscope
