// filterscope analyze: a trained model + a probe set -> anomaly filters and outlier samples.
#include <ATen/ATen.h>

#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/anomaly/run_analysis.h"
#include "filterscope/core/runtime.h"
#include "filterscope/models/torchscript.h"
#include "filterscope/report/analysis_files.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/trainer.h"

namespace filterscope::cli {

namespace {

struct AnalyzeArgs {
  std::string model;
  int64_t epoch = 0;
  std::string out;
  ProbeSetOptions probe;
  int64_t input_size = 0;
  DataOptions data;
  SplitOptions split_options;
  AnalyzeOptions analyze;
  bool save_projections = false;
  std::string device = "cpu";
  int64_t threads = 0;
  int64_t top = 10;
  bool quiet = false;
};

// What the model input is made of, wherever the model came from.
struct Source {
  std::unique_ptr<ProbedModel> model;
  PreparedRun run;
  nlohmann::json model_json;
  std::filesystem::path default_out;
};

Source open_run(const std::filesystem::path& run_dir, int64_t epoch, const std::filesystem::path& checkpoint_file,
                const c10::Device& device) {
  Source s;
  const RunSettings settings = read_run_settings(run_dir);
  std::filesystem::path file = checkpoint_file;
  if (file.empty()) {
    const auto epochs = list_checkpoint_epochs(run_dir);
    FS_CHECK(!epochs.empty(), run_dir.string(), ": the run has no checkpoints");
    if (epoch == 0) epoch = epochs.back();
    FS_CHECK(std::find(epochs.begin(), epochs.end(), epoch) != epochs.end(), run_dir.string(),
             ": no checkpoint for epoch ", epoch, " (there are epochs ", epochs.front(), " to ", epochs.back(), ")");
    file = checkpoint_path(run_dir, epoch);
  }
  CheckpointModel opened = open_checkpoint_model(run_dir, file, settings, device);
  s.run = prepare_run(settings);
  s.model = std::move(opened.model);
  s.model_json = opened.model_json;
  s.default_out = analysis_dir(run_dir, opened.epoch);
  return s;
}

Source open_torchscript(const std::filesystem::path& file, const AnalyzeArgs& args, const c10::Device& device) {
  Source s;
  RunSettings settings;
  settings.data = args.data;
  settings.split = args.split_options;
  validate_params(settings.data, DataOptions::params());
  validate_params(settings.split, SplitOptions::params());
  const TorchScriptInfo info = read_torchscript_info(file);
  s.run = prepare_run(settings);
  const Dataset& train = s.run.data.train;
  int64_t side = args.input_size;
  if (side == 0 && info.extra.contains("input_size")) side = info.extra["input_size"].get<int64_t>();
  if (info.extra.contains("mean") && info.extra.contains("std")) {
    s.run.transform.mean = info.extra["mean"].get<std::vector<double>>();
    s.run.transform.std = info.extra["std"].get<std::vector<double>>();
    FS_CHECK(static_cast<int64_t>(s.run.transform.mean.size()) == train.channels(), file.string(),
             ": filterscope.json gives normalisation for ", s.run.transform.mean.size(),
             " channel(s); the dataset has ", train.channels());
    s.run.transform.resize = side == train.height() && side == train.width() ? 0 : side;
  } else {
    s.run.transform = fit_normalisation(train, side == train.height() && side == train.width() ? 0 : side);
  }
  const std::vector<int64_t> shape = side > 0 ? std::vector<int64_t>{train.channels(), side, side}
                                              : std::vector<int64_t>{train.channels(), train.height(), train.width()};
  s.model = load_torchscript_model(file, shape, device);
  s.model_json = {{"kind", "torchscript"}, {"file", file.string()}, {"description", s.model->description()},
                  {"input_shape", shape}};
  s.default_out = file.stem().string() + "-analysis";
  return s;
}

void print_summary(const nlohmann::json& json, const AnalyzeArgs& args, const std::string& out) {
  const auto& summary = json["summary"];
  std::printf("analysed %s on %lld samples of %s: %zu probe points, %lld filters (capture %.1f s, PCA + clustering %.1f s)\n",
              json["model"]["description"].get<std::string>().c_str(),
              static_cast<long long>(json["probe_set"]["size"].get<int64_t>()),
              json["probe_set"]["split_name"].get<std::string>().c_str(), json["layers"].size(),
              static_cast<long long>(summary["filters"].get<int64_t>()), summary["capture_seconds"].get<double>(),
              summary["cluster_seconds"].get<double>());
  std::printf("\n%-22s %-8s %7s %9s %6s | %10s %7s %6s | %7s\n", "probe point", "kind", "filters", "mean CH", "lambda",
              "unbalanced", "high CH", "active", "anomaly");
  for (const auto& layer : json["layers"]) {
    const auto& p = layer["passing"];
    std::printf("%-22s %-8s %7lld %9.1f %6lld | %10lld %7lld %6lld | %7lld\n", layer["name"].get<std::string>().c_str(),
                layer["kind"].get<std::string>().c_str(),
                static_cast<long long>(layer["shape"][0].get<int64_t>()),
                layer["mean_ch"].is_null() ? NAN : layer["mean_ch"].get<double>(),
                static_cast<long long>(layer["lambda"].get<int64_t>()),
                static_cast<long long>(p["unbalanced"].get<int64_t>()), static_cast<long long>(p["high_ch"].get<int64_t>()),
                static_cast<long long>(p["active"].get<int64_t>()),
                static_cast<long long>(layer["anomaly_count"].get<int64_t>()));
  }
  const int64_t anomalies = summary["anomaly_filters"].get<int64_t>();
  if (anomalies == 0) {
    std::printf("\nno anomaly filter in any probe point. How close they come:\n");
    for (const auto& layer : json["layers"]) {
      for (const auto& miss : layer["closest_misses"])
        std::printf("  %s: %s\n", layer["name"].get<std::string>().c_str(), miss.get<std::string>().c_str());
      if (layer["closest_misses"].empty())
        std::printf("  %s: every criterion is met by some filter, but never all three by one (%lld unbalanced with high CH)\n",
                    layer["name"].get<std::string>().c_str(),
                    static_cast<long long>(layer["passing"]["unbalanced_and_high_ch"].get<int64_t>()));
    }
  } else {
    std::printf("\n%lld anomaly filter(s); %lld outlier sample(s). Top outliers:\n", static_cast<long long>(anomalies),
                static_cast<long long>(summary["outlier_samples"].get<int64_t>()));
    std::printf("  %-13s %-6s %-10s %s\n", "dataset index", "label", "prediction", "anomaly filters");
    int64_t shown = 0;
    for (const auto& o : json["outliers"]) {
      if (shown++ >= args.top) break;
      std::string filters;
      for (const auto& f : o["filters"]) filters += (filters.empty() ? "" : " ") + f.get<std::string>();
      if (filters.size() > 60) filters = filters.substr(0, 57) + "...";
      std::printf("  %-13lld %-6lld %-10s %s\n", static_cast<long long>(o["dataset_index"].get<int64_t>()),
                  static_cast<long long>(o["label"].get<int64_t>()),
                  o["prediction"].is_null() ? "-" : std::to_string(o["prediction"].get<int64_t>()).c_str(),
                  filters.c_str());
    }
  }
  std::printf("\nwrote %s (analysis.json, filters.csv, outliers.csv%s)\n", out.c_str(),
              args.save_projections ? ", projections/" : "");
}

}  // namespace

void register_analyze(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* sub = app.add_subcommand(
      "analyze",
      "Find the anomaly filters of a trained model and the samples behind them. MODEL is a run "
      "directory of `filterscope train` (its last checkpoint, or --epoch), one of its checkpoint "
      "files, or a TorchScript file exported from PyTorch (then the dataset flags say what to "
      "feed it). Writes analysis.json, filters.csv and outliers.csv.");
  sub->add_option("model", args->model, "run directory, checkpoint file or TorchScript file")->required();
  sub->add_option("--epoch", args->epoch, "run directory only: the checkpoint to analyse; default the last");
  sub->add_option("--out", args->out,
                  "output folder; default RUN/analysis/epoch-NNN, or <model stem>-analysis for TorchScript");
  add_analysis_flags(sub, args->analyze, args->probe);
  add_params(sub, args->data, DataOptions::params());
  add_params(sub, args->split_options, SplitOptions::params());
  sub->add_option("--input-size", args->input_size,
                  "TorchScript only: side of the square model input (images are resized bicubically); "
                  "default the file's filterscope.json, else the images' own size");
  sub->add_flag("--save-projections", args->save_projections,
                "also write projections/LAYER.points.npy [C,N,2] and LAYER.labels.npy [C,N]");
  sub->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--threads", args->threads, "CPU threads; 0 = all cores")->capture_default_str();
  sub->add_option("--top", args->top, "outlier samples listed in the summary")->capture_default_str();
  sub->add_flag("--quiet", args->quiet, "no progress output");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      configure_threads(args->threads);
      const c10::Device device = parse_device(args->device);
      FS_CHECK(args->top >= 0, "--top must be >= 0, got ", args->top);
      validate_analysis_flags(args->analyze);
      const std::filesystem::path path = args->model;
      FS_CHECK(std::filesystem::exists(path), path.string(), ": no such run directory or model file");
      Source source;
      const std::string run_only = "is for TorchScript models; a run directory has its own (run.json)";
      if (std::filesystem::is_directory(path)) {
        reject_given(sub, DataOptions::params(), {}, run_only);
        reject_given(sub, SplitOptions::params(), {}, run_only);
        FS_CHECK(sub->count("--input-size") == 0, "--input-size ", run_only);
        source = open_run(path, args->epoch, {}, device);
      } else {
        FS_CHECK(sub->count("--epoch") == 0, "--epoch needs a run directory; ", path.string(), " is a file");
        bool checkpoint = false;
        try {
          read_checkpoint_info(path);
          checkpoint = true;
        } catch (const Error&) {
        }
        if (checkpoint) {
          reject_given(sub, DataOptions::params(), {}, run_only);
          reject_given(sub, SplitOptions::params(), {}, run_only);
          source = open_run(path.parent_path().parent_path(), 0, path, device);
        } else {
          source = open_torchscript(path, *args, device);
        }
      }
      const ProbeSetOptions probe_options = args->probe;
      const ProbeSet probe = draw_probe_set(source.run, probe_options);
      AnalyzeOptions options = args->analyze;
      options.keep_points = args->save_projections;
      options.progress = !args->quiet;
      const std::string out = args->out.empty() ? source.default_out.string() : args->out;
      const nlohmann::json json = analyze_and_write(*source.model, source.run, probe, probe_options, options,
                                                    source.model_json, out);
      print_summary(json, *args, out);
    };
  });
}

}  // namespace filterscope::cli
