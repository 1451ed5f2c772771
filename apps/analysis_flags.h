// The flag groups of the commands that take a model and analyse it: the model argument with its
// dataset flags, the probe set, and the analysis settings (layers, clustering, PCA, criteria,
// capture).
#pragma once
#include <cstdio>

#include "cli_params.h"
#include "filterscope/runs/model_source.h"
#include "filterscope/runs/run_analysis.h"

namespace filterscope::cli {

/// MODEL (run directory, checkpoint or TorchScript file), --epoch (unless the command has its own
/// epoch flags), --input-size and the dataset and subset flags that say what a TorchScript model sees.
inline void add_model_flags(CLI::App* sub, std::string& model, ModelSourceOptions& source, bool with_epoch = true) {
  sub->add_option("model", model, "run directory of `filterscope train`, one of its checkpoint files, or a "
                                  "TorchScript file exported from PyTorch")
      ->required();
  add_params(sub, source, ModelSourceOptions::params(),
             with_epoch ? std::vector<std::string>{} : std::vector<std::string>{"input-size"});
  add_params(sub, source.data, DataOptions::params());
  add_params(sub, source.split, SplitOptions::params());
  // A run directory or checkpoint reads its data from run.json; these only feed a TorchScript file.
  const std::string heading = "TorchScript model only (a run directory or checkpoint uses its run.json)";
  group_params(sub, DataOptions::params(), heading);
  group_params(sub, SplitOptions::params(), heading);
  if (CLI::Option* size = sub->get_option_no_throw("--input-size")) size->group(heading);
}

/// Checks that the flags given fit what the model argument is; returns it.
inline ModelSourceKind check_model_flags(const CLI::App* sub, const std::string& model) {
  const ModelSourceKind kind = classify_model_path(model);
  if (kind != ModelSourceKind::TorchScript) {
    const std::string why = kind == ModelSourceKind::RunDirectory
                                ? "is for TorchScript models; a run directory has its own (run.json)"
                                : "is for TorchScript models; a checkpoint has its run's (run.json)";
    reject_given(sub, DataOptions::params(), {}, why);
    reject_given(sub, SplitOptions::params(), {}, why);
    FS_CHECK(sub->count("--input-size") == 0, "--input-size ", why);
  }
  FS_CHECK(kind == ModelSourceKind::RunDirectory || sub->get_option_no_throw("--epoch") == nullptr ||
               sub->count("--epoch") == 0,
           "--epoch needs a run directory; ", model, " is a file");
  return kind;
}

/// What a command that studies one model opens: the model (its flags checked against what the
/// argument is) on the device, and the folder of its results: --out, or `name` inside the model's
/// analysis folder.
struct CommandModel {
  ModelSource source;
  std::filesystem::path out;
};
inline CommandModel open_command_model(const CLI::App* sub, const std::string& model, const ModelSourceOptions& flags,
                                       const c10::Device& device, const std::string& out, const std::string& name) {
  check_model_flags(sub, model);
  ModelSourceOptions options = flags;
  options.path = model;
  CommandModel m{open_model_source(options, device), {}};
  m.out = out.empty() ? command_folder(m.source.default_analysis_dir(), name) : std::filesystem::path(out);
  return m;
}

/// The probe set and every analysis setting.
inline void add_analysis_flags(CLI::App* sub, AnalyzeOptions& analyze, ProbeSetOptions& probe) {
  add_params(sub, probe, ProbeSetOptions::params());
  add_params(sub, analyze, AnalyzeOptions::params());
  add_params(sub, analyze.anomaly, AnomalyOptions::params());
  add_params(sub, analyze.gmm, GmmOptions::params());
  add_params(sub, analyze.pca, PcaOptions::params());
  add_params(sub, analyze.capture, CaptureOptions::params());
}

inline void validate_analysis_flags(const AnalyzeOptions& analyze, const ProbeSetOptions& probe) {
  validate_params(probe, ProbeSetOptions::params());
  validate_params(analyze, AnalyzeOptions::params());
  validate_params(analyze.anomaly, AnomalyOptions::params());
  validate_params(analyze.gmm, GmmOptions::params());
  validate_params(analyze.pca, PcaOptions::params());
  validate_params(analyze.capture, CaptureOptions::params());
}

}  // namespace filterscope::cli

#include "filterscope/runs/run_analyses.h"
#include "filterscope/runs/layout.h"

namespace filterscope::cli {

/// What `gradients` and `mask` share: a model (a run directory, whose epochs are analysed or whose
/// analyses are reused, or one checkpoint or TorchScript file) and the analysis flags.
struct StudyArgs {
  std::string model;
  ModelSourceOptions source;
  ProbeSetOptions probe;
  AnalyzeOptions analyze;
  ReuseOptions reuse;
  RuntimeOptions runtime;
  std::string out;  ///< one model only: the folder of its analysis and tables
};

inline void add_study_flags(CLI::App* sub, StudyArgs& args) {
  add_model_flags(sub, args.model, args.source, false);
  add_analysis_flags(sub, args.analyze, args.probe);
  add_params(sub, args.reuse, ReuseOptions::params());
  sub->add_option("--out", args.out,
                  "one checkpoint or TorchScript file only: the folder of its analysis and tables; default "
                  "RUN/analysis/epoch-NNN for a run's checkpoint, <model stem>-analysis for other files");
  add_runtime_flags(sub, args.runtime);
}

/// A study on one model: the source opened on the device, its analysis made or reused.
struct OpenedModel {
  ModelSource source;
  ModelAnalysis analysis;
  std::filesystem::path out;
};

inline OpenedModel open_study_model(const StudyArgs& args, const c10::Device& device) {
  OpenedModel m;
  ModelSourceOptions options = args.source;
  options.path = args.model;
  m.source = open_model_source(options, device);
  for (const auto& n : m.source.notes) std::printf("note: %s\n", n.c_str());
  m.out = args.out.empty() ? m.source.default_analysis_dir() : std::filesystem::path(args.out);
  AnalyzeOptions analyze = args.analyze;
  analyze.progress = !args.runtime.quiet;
  m.analysis = analyse_model_source(m.source, args.probe, analyze, m.out, args.reuse.reanalyse);
  return m;
}

/// A study on a run directory: its analyses, reused or made on demand.
inline RunAnalyses open_run_study(const StudyArgs& args, const c10::Device& device) {
  AnalyzeOptions analyze = args.analyze;
  analyze.progress = false;
  return RunAnalyses(args.model, args.probe, analyze, device, args.reuse.reanalyse);
}

/// What `gradients` and `mask` do once their own flags are checked: the run study on a run
/// directory (on_run(analyses), which returns the file it wrote), or the study of one model
/// (on_model(opened), likewise). `run_only` names the command's flags that need a run directory.
template <class O>
void run_study_command(const CLI::App* sub, const StudyArgs& args, const ParamTable<O>& run_only,
                       const std::function<std::filesystem::path(RunAnalyses&)>& on_run,
                       const std::function<std::filesystem::path(OpenedModel&)>& on_model) {
  const c10::Device device = apply_runtime(args.runtime);
  validate_analysis_flags(args.analyze, args.probe);
  std::filesystem::path wrote;
  if (check_model_flags(sub, args.model) == ModelSourceKind::RunDirectory) {
    FS_CHECK(sub->count("--out") == 0, "--out is for one model; a run directory's tables go into it");
    RunAnalyses analyses = open_run_study(args, device);
    wrote = on_run(analyses);
  } else {
    reject_given(sub, run_only, {"baseline-seeds", "baseline-seed", "save"},
                 "needs a run directory; " + args.model + " is one model");
    OpenedModel opened = open_study_model(args, device);
    wrote = on_model(opened);
  }
  std::printf("\nwrote %s and its .csv\n", wrote.string().c_str());
}

}  // namespace filterscope::cli
