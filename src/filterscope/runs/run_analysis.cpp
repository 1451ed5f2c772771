#include "filterscope/runs/run_analysis.h"
#include "filterscope/runs/layout.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/text.h"
#include "filterscope/io/json.h"
#include "filterscope/runs/analysis_files.h"
#include "filterscope/train/checkpoint.h"

namespace filterscope {

const ParamTable<ProbeSetOptions>& ProbeSetOptions::params() {
  static const ParamTable<ProbeSetOptions> table = {
      {"split", &ProbeSetOptions::split, "where the probe set comes from: val, or train (training samples)", {},
       {"val", "train"}},
      {"probe-size", &ProbeSetOptions::size, "samples in the probe set (N)", Bounds::closed(3, 1e9)},
      {"probe-seed", &ProbeSetOptions::seed, "seed of the probe set's draw from the split", Bounds::closed(0, 1e12)},
  };
  return table;
}

ProbeSet draw_probe_set(const PreparedRun& run, const ProbeSetOptions& options) {
  validate_params(options, ProbeSetOptions::params());
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

namespace {
AnalysisContext context_of(const PreparedRun& run, const ProbeSet& probe, const ProbeSetOptions& probe_options,
                           const AnalyzeOptions& options, const ModelRecord& model_record) {
  AnalysisContext context;
  context.model = model_record;
  const nlohmann::json request = analysis_request_json(options, probe_options);
  context.data.dataset = run.settings.data.dataset;
  context.data.split = probe_options.split;
  context.data.split_name = probe.split_name;
  context.data.size = probe_options.size;
  context.data.seed = probe_options.seed;
  context.data.normalisation = run.transform;
  context.settings = request["settings"];
  context.probe_set = &probe.samples;
  context.noisy = probe.noisy;
  context.anomaly = options.anomaly;
  return context;
}
}  // namespace

AnalysisFiles analyze_in_memory(ProbedModel& model, const PreparedRun& run, const ProbeSet& probe,
                                const ProbeSetOptions& probe_options, const AnalyzeOptions& options,
                                const ModelRecord& model_record) {
  FS_ASSERT(!options.ranks.sharded(), "an analysis in memory runs alone");
  const Analysis analysis = analyze_model(model, probe.samples, run.transform, options);
  return render_analysis(analysis, context_of(run, probe, probe_options, options, model_record), options.keep_points);
}

AnalysisRecord analyze_and_write(ProbedModel& model, const PreparedRun& run, const ProbeSet& probe,
                                 const ProbeSetOptions& probe_options, const AnalyzeOptions& options,
                                 const ModelRecord& model_record, const std::filesystem::path& out) {
  const Analysis analysis = analyze_model(model, probe.samples, run.transform, options);
  // The other ranks of a sharded analysis sent their results to the root, which writes the files.
  if (!options.ranks.root()) return {};
  return write_analysis(out, analysis, context_of(run, probe, probe_options, options, model_record),
                        options.keep_points);
}

const ParamTable<ReuseOptions>& ReuseOptions::params() {
  static const ParamTable<ReuseOptions> table = {
      {"reanalyse", &ReuseOptions::reanalyse,
       "analyse again where an existing analysis was made with other settings (default: stop with an error)", {}, {},
       false},
  };
  return table;
}

bool analysis_reusable(const std::filesystem::path& file, const nlohmann::json& request, bool reanalyse) {
  if (!std::filesystem::exists(file)) return false;
  nlohmann::json recorded;
  try {
    recorded = read_analysis_record(file).request();
  } catch (const Error&) {
    FS_CHECK(reanalyse, file.string(), ": not a valid analysis.json (use --reanalyse to redo it)");
    return false;
  }
  if (recorded == request) return true;
  FS_CHECK(reanalyse, file.string(), " was made with other settings than requested: ", request_difference(recorded, request),
           "; use the same flags, or --reanalyse to analyse again");
  return false;
}

std::string request_difference(const nlohmann::json& recorded, const nlohmann::json& requested) {
  // Settings keys are the flags' names; the probe set's three are spelled as their flags here.
  static const std::map<std::string, std::string> probe_flags = {{"split", "split"}, {"size", "probe-size"}, {"seed", "probe-seed"}};
  std::vector<std::string> parts;
  const std::function<void(const nlohmann::json&, const nlohmann::json&, const std::string&, bool)> walk =
      [&](const nlohmann::json& a, const nlohmann::json& b, const std::string& key, bool probe) {
        if (a.is_object() && b.is_object()) {
          std::set<std::string> keys;
          for (const auto& [k, v] : a.items()) keys.insert(k);
          for (const auto& [k, v] : b.items()) keys.insert(k);
          for (const std::string& k : keys) {
            const bool in_probe = probe || k == "probe_set";
            walk(a.contains(k) ? a.at(k) : nlohmann::json(), b.contains(k) ? b.at(k) : nlohmann::json(), k, in_probe);
          }
          return;
        }
        if (a == b) return;
        const auto flag = probe_flags.find(key);
        const std::string name = probe && flag != probe_flags.end() ? flag->second : key;
        parts.push_back("--" + name + " " + (a.is_null() ? "(not set)" : printable(a.dump(), 40)) + " there, " +
                        (b.is_null() ? "(not set)" : printable(b.dump(), 40)) + " now");
      };
  walk(recorded, requested, "", false);
  if (parts.empty()) return "(no difference found)";
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

ModelAnalysis analyse_model_source(ModelSource& source, const ProbeSetOptions& probe, const AnalyzeOptions& options,
                                   const std::filesystem::path& dir, bool reanalyse) {
  ModelAnalysis a;
  a.probe_options = probe;
  a.options = options;
  a.dir = dir;
  a.probe = draw_probe_set(source.run, probe);
  const std::filesystem::path file = dir / RunLayout::kAnalysisJson;
  a.reused = analysis_reusable(file, analysis_request_json(options, probe), reanalyse);
  a.record = a.reused ? read_analysis_record(file)
                      : analyze_and_write(*source.model, source.run, a.probe, probe, options, source.record, dir);
  return a;
}

}  // namespace filterscope
