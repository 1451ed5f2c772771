// The Python package's native half (`filterscope._filterscope`): a thin layer over the same library
// the CLI calls. It turns tensors and a ScriptModule's `._c` (a torch::jit::Module sharing the
// user's parameters) into the library's inputs, keyword arguments into the options structs through
// their parameter tables (the CLI's flag names with _ for -), and results into strings, tensors
// and records the Python half (filterscope/__init__.py) makes into DataFrames. Errors cross as
// exceptions carrying the CLI's one-line message: a bad keyword or value (UsageError) as
// ValueError, any other (Error) as filterscope.Error, a RuntimeError.
//
// The only translation unit that includes <torch/extension.h> (Python.h, pybind11 and the torch
// casters): nothing else in the build pays for it.
#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/extension.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cli.h"
#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/text.h"
#include "filterscope/runs/layout.h"
#include "filterscope/core/params.h"
#include "filterscope/core/runtime.h"
#include "filterscope/activations/activations.h"
#include "filterscope/activations/ood.h"
#include "filterscope/experiments/confident_learning.h"
#include "filterscope/experiments/gradients.h"
#include "filterscope/experiments/label_noise.h"
#include "filterscope/experiments/mask.h"
#include "filterscope/explain/explain_runs.h"
#include "filterscope/models/torchscript.h"
#include "filterscope/runs/run_analysis.h"
#include "filterscope/signals/overfit.h"
#include "filterscope/train/monitor.h"

namespace py = pybind11;
using namespace filterscope;  // NOLINT: a binding file names the library's types throughout

namespace {

// ---- keyword arguments through the parameter tables --------------------------------------------

// Options structs that take keywords, by their tables. A keyword (flag name with _ for -) sets the
// field of the first table that declares it; `refused` names flags the call does not take, with why.
class Keywords {
 public:
  template <class O>
  Keywords& add(O& options, const std::vector<std::string>& only = {}) {
    for (const auto& p : O::params()) {
      if (!only.empty() && std::find(only.begin(), only.end(), p.name) == only.end()) continue;
      setters_.push_back({p.name, [&options, &p](const nlohmann::json& value) {
                            params_from_json(options, nlohmann::json{{p.name, value}}, O::params(), "--" + p.name);
                          }});
    }
    validators_.push_back([&options] { validate_params(options, O::params()); });
    return *this;
  }
  Keywords& refuse(const std::string& flag, const std::string& why) {
    refused_.emplace_back(flag, why);
    return *this;
  }

  /// Applies a JSON object of keywords (from Python's json.dumps of **kwargs), then validates.
  void apply(const std::string& json_text) {
    const nlohmann::json j = nlohmann::json::parse(json_text);
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string flag = it.key();
      std::replace(flag.begin(), flag.end(), '_', '-');
      for (const auto& [name, why] : refused_)
        FS_CHECK_USAGE(name != flag, printable(it.key()), ": ", why);
      const auto setter = std::find_if(setters_.begin(), setters_.end(), [&](const auto& s) { return s.first == flag; });
      if (setter == setters_.end()) {
        std::string known;
        for (const auto& s : setters_) {
          std::string kw = s.first;
          std::replace(kw.begin(), kw.end(), '-', '_');
          known += (known.empty() ? "" : ", ") + kw;
        }
        throw UsageError(filterscope::detail::concat("unknown keyword ", printable(it.key()), " (one of ", known, ")"));
      }
      try {
        setter->second(it.value());
      } catch (const UsageError&) {
        throw;
      } catch (const Error& e) {
        // params_from_json's "--name: setting ... has the wrong type" for a value of the wrong type.
        throw UsageError(filterscope::detail::concat(printable(it.key()), ": ", without_prefix(e.what(), "--" + flag)));
      }
    }
    for (const auto& v : validators_) v();
  }

 private:
  std::vector<std::pair<std::string, std::function<void(const nlohmann::json&)>>> setters_;
  std::vector<std::function<void()>> validators_;
  std::vector<std::pair<std::string, std::string>> refused_;
};

// ---- data ------------------------------------------------------------------------------------

// A split from tensors: images [N, C, H, W] (float network input, or uint8 pixels), labels [N].
Dataset dataset_of(const at::Tensor& images, const at::Tensor& labels, const std::vector<std::string>& class_names,
                   const std::string& name) {
  FS_CHECK(images.defined() && images.dim() == 4, name, ": images must be a [N, C, H, W] tensor, got ",
           images.defined() ? images.dim() : 0, " dimensions");
  FS_CHECK(images.is_floating_point() || images.scalar_type() == at::kByte, name,
           ": images must be float (network input) or uint8 pixels");
  FS_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == images.size(0), name, ": ",
           images.size(0), " images need ", images.size(0), " labels (a 1-D integer tensor)");
  FS_CHECK(!labels.is_floating_point() && labels.scalar_type() != at::kBool, name, ": labels must be integers");
  FS_CHECK(images.size(0) > 0, name, ": no samples");
  Dataset d;
  d.name = name;
  d.images = images.is_floating_point() ? images.detach().to(at::kCPU, at::kFloat).contiguous()
                                        : images.detach().to(at::kCPU).contiguous();
  FS_CHECK(!d.images.is_floating_point() || at::isfinite(d.images).all().item<bool>(), name,
           ": images hold NaN or infinite values");
  d.labels = labels.detach().to(at::kCPU, at::kLong).contiguous();
  FS_CHECK(d.labels.min().item<int64_t>() >= 0, name, ": a label is negative");
  d.indices = at::arange(d.images.size(0), at::kLong);
  d.num_classes = std::max<int64_t>(static_cast<int64_t>(class_names.size()), d.labels.max().item<int64_t>() + 1);
  d.class_names = class_names;
  while (static_cast<int64_t>(d.class_names.size()) < d.num_classes) d.class_names.push_back(std::to_string(d.class_names.size()));
  return d;
}

c10::Device module_device(const torch::jit::Module& module, const std::string& asked) {
  if (!asked.empty() && asked != "auto") return parse_device(asked);
  for (const auto& p : module.parameters()) return p.device();
  return c10::kCPU;
}

std::vector<int64_t> shape_of(const Dataset& d) { return {d.channels(), d.height(), d.width()}; }

// ---- probe points (analyze --list-layers) ----------------------------------------------------

// The model's probe points in forward order: (name, kind, channels, the layer whose weights they are).
std::vector<std::tuple<std::string, std::string, int64_t, std::string>> probe_points_py(
    const torch::jit::Module& module, const std::string& name, const std::vector<int64_t>& input_shape) {
  FS_CHECK(input_shape.size() == 3, "example: expected one batch of images [N, C, H, W], got ", input_shape.size() + 1,
           " dimensions");
  std::unique_ptr<ProbedModel> model;
  {
    py::gil_scoped_release release;
    model = torchscript_model(module, name, input_shape, module_device(module, "auto"));
  }
  std::vector<std::tuple<std::string, std::string, int64_t, std::string>> out;
  for (const ProbePoint& p : model->probe_points())
    out.emplace_back(p.name, probe_kind_name(p.kind), p.channels, p.owner_conv);
  return out;
}

// ---- analyze ---------------------------------------------------------------------------------

AnalysisFiles analyze(const torch::jit::Module& module, const std::string& name, const at::Tensor& images,
                      const at::Tensor& labels, const std::vector<std::string>& class_names, const std::string& kwargs) {
  ProbeSetOptions probe;
  AnalyzeOptions options;
  RuntimeOptions runtime;
  runtime.device = "auto";
  Keywords k;
  k.add(probe, {"probe-size", "probe-seed"})
      .add(options)
      .add(options.anomaly)
      .add(options.gmm)
      .add(options.pca)
      .add(options.capture)
      .add(runtime, {"threads", "device"})
      .refuse("split", "the data given is the probe set's pool (pass the images to analyse)");
  k.apply(kwargs);
  options.progress = false;
  Dataset data = dataset_of(images, labels, class_names, "data");
  configure_threads(runtime.threads);
  const c10::Device device = module_device(module, runtime.device);
  PreparedRun run;
  run.settings.data.dataset = "python";
  run.data.train = data;
  run.data.val = data;
  run.transform = fit_normalisation(data);
  probe.split = "val";
  std::unique_ptr<ProbedModel> model;
  {
    py::gil_scoped_release release;
    model = torchscript_model(module, name, shape_of(data), device);
  }
  const ProbeSet set = draw_probe_set(run, probe);
  ModelRecord record;
  record.kind = "torchscript";
  record.file = name;
  record.description = model->description();
  record.input_shape = shape_of(data);
  py::gil_scoped_release release;  // the result is a C++ object: pybind11 wraps it after, with the GIL back
  return analyze_in_memory(*model, run, set, probe, options, record);
}

// ---- the commands on one model: ood, activations, visualize, hierarchy, gradients, mask --------

// A model given from Python as the CLI's commands see a TorchScript file: the module (shared), its
// training and evaluation images, and the normalisation that makes pixels its input.
struct PySource {
  ModelSource source;
  std::filesystem::path out;
};

PySource py_source(const torch::jit::Module& module, const std::string& name, const at::Tensor& train_images,
                   const at::Tensor& train_labels, const at::Tensor& test_images, const at::Tensor& test_labels,
                   const std::vector<std::string>& class_names, const std::vector<double>& mean,
                   const std::vector<double>& std, const std::string& out, const std::string& device_name,
                   bool pixels_needed, const std::string& command) {
  PySource p;
  ModelSource& s = p.source;
  s.kind = ModelSourceKind::TorchScript;
  s.run.settings.data.dataset = "python";
  s.run.data.train = dataset_of(train_images, train_labels, class_names, "train");
  s.run.data.val = dataset_of(test_images, test_labels, class_names, "test");
  FS_CHECK_USAGE(!pixels_needed || !s.run.data.train.images.is_floating_point(), command,
                 ": images must be uint8 pixels [N, C, H, W] with mean and std (the normalisation the model expects): "
                 "its shifted copies, noise images and pictures are made in pixel space");
  FS_CHECK_USAGE(s.run.data.train.images.sizes().slice(1) == s.run.data.val.images.sizes().slice(1), command,
                 ": train and test images differ in shape");
  FS_CHECK_USAGE(mean.size() == std.size(), command, ": mean and std need one value per channel each");
  const int64_t classes = std::max(s.run.data.train.num_classes, s.run.data.val.num_classes);
  s.run.data.train.num_classes = s.run.data.val.num_classes = classes;
  s.run.data.val.class_names = s.run.data.train.class_names;
  while (static_cast<int64_t>(s.run.data.train.class_names.size()) < classes)
    s.run.data.train.class_names.push_back(std::to_string(s.run.data.train.class_names.size()));
  s.run.data.val.class_names = s.run.data.train.class_names;
  if (mean.empty()) {
    s.run.transform = fit_normalisation(s.run.data.train);
  } else {
    FS_CHECK_USAGE(static_cast<int64_t>(mean.size()) == s.run.data.train.channels(), command, ": mean and std give ",
                   mean.size(), " channel(s), the images have ", s.run.data.train.channels());
    for (double v : std) FS_CHECK_USAGE(v > 0, command, ": std must be positive, got ", v);
    s.run.transform.mean = mean;
    s.run.transform.std = std;
  }
  s.run.noisy_positions = at::empty({0}, at::kLong);
  s.run.original_labels = at::empty({0}, at::kLong);
  const Dataset& train = s.run.data.train;
  s.model = torchscript_model(module, name, shape_of(train), module_device(module, device_name));
  s.file = name;
  s.record.kind = "torchscript";
  s.record.file = name;
  s.record.description = s.model->description();
  s.record.input_shape = shape_of(train);
  FS_CHECK_USAGE(!out.empty(), command, ": out (the folder of its files) is required");
  p.out = out;
  return p;
}

// Each of these runs the CLI's library call and returns the record it wrote (JSON text); the
// Python half reads the tables it wrote beside it into DataFrames.
std::string ood_py(const torch::jit::Module& module, const std::string& name, const at::Tensor& x, const at::Tensor& y,
                   const at::Tensor& tx, const at::Tensor& ty, const std::vector<std::string>& classes,
                   const std::vector<double>& mean, const std::vector<double>& std, const std::string& out,
                   const std::string& kwargs) {
  OodRequest request;
  RuntimeOptions runtime;
  runtime.device = "auto";
  Keywords k;
  k.add(request.ood).add(request.set).add(runtime, {"threads", "device"});
  k.apply(kwargs);
  configure_threads(runtime.threads);
  PySource p = py_source(module, name, x, y, tx, ty, classes, mean, std, out, runtime.device, true, "ood");
  py::gil_scoped_release release;
  return run_ood(p.source, request, p.out, [](const std::string&) {}).to_json().dump();
}

std::string activations_py(const torch::jit::Module& module, const std::string& name, const at::Tensor& x,
                           const at::Tensor& y, const at::Tensor& tx, const at::Tensor& ty,
                           const std::vector<std::string>& classes, const std::vector<double>& mean,
                           const std::vector<double>& std, const std::string& out, const std::string& kwargs) {
  ActivationsRequest request;
  RuntimeOptions runtime;
  runtime.device = "auto";
  Keywords k;
  k.add(request.patterns).add(request.set).add(runtime, {"threads", "device"});
  k.apply(kwargs);
  configure_threads(runtime.threads);
  PySource p = py_source(module, name, x, y, tx, ty, classes, mean, std, out, runtime.device, true, "activations");
  py::gil_scoped_release release;
  return run_activations(p.source, nullptr, request, p.out, [](const std::string&) {}).to_json().dump();
}

std::string visualize_py(const torch::jit::Module& module, const std::string& name, const at::Tensor& x,
                         const at::Tensor& y, const at::Tensor& tx, const at::Tensor& ty,
                         const std::vector<std::string>& classes, const std::vector<double>& mean,
                         const std::vector<double>& std, const std::string& out,
                         const std::vector<std::string>& objectives, const std::string& kwargs) {
  VisualizeRequest request;
  request.objectives = objectives;
  RuntimeOptions runtime;
  runtime.device = "auto";
  Keywords k;
  k.add(request.maximise).add(request.fool).add(request.visualize).add(request.set).add(runtime, {"threads", "device"});
  k.apply(kwargs);
  configure_threads(runtime.threads);
  PySource p = py_source(module, name, x, y, tx, ty, classes, mean, std, out, runtime.device, true, "visualize");
  py::gil_scoped_release release;
  return run_visualize(p.source, request, p.out, [](const std::string&) {}).to_json().dump();
}

std::string hierarchy_py(const torch::jit::Module& module, const std::string& name, const at::Tensor& x,
                         const at::Tensor& y, const at::Tensor& tx, const at::Tensor& ty,
                         const std::vector<std::string>& classes, const std::vector<double>& mean,
                         const std::vector<double>& std, const std::string& out, const std::string& kwargs) {
  HierarchyRequest request;
  RuntimeOptions runtime;
  runtime.device = "auto";
  Keywords k;
  k.add(request.hierarchy).add(request.set).add(runtime, {"threads", "device"});
  k.apply(kwargs);
  configure_threads(runtime.threads);
  PySource p = py_source(module, name, x, y, tx, ty, classes, mean, std, out, runtime.device, true, "hierarchy");
  py::gil_scoped_release release;
  return run_hierarchy(p.source, request, p.out, [](const std::string&) {}).hierarchy_json().dump();
}

// gradients and mask need the model's analysis on a probe set first (written into out, as the CLI
// writes it beside a model).
std::string gradients_or_mask_py(const std::string& command, const torch::jit::Module& module, const std::string& name,
                                 const at::Tensor& x, const at::Tensor& y, const at::Tensor& tx, const at::Tensor& ty,
                                 const std::vector<std::string>& classes, const std::vector<double>& mean,
                                 const std::vector<double>& std, const std::string& out, const std::string& kwargs) {
  ProbeSetOptions probe;
  AnalyzeOptions analyze;
  MaskOptions mask;
  RuntimeOptions runtime;
  runtime.device = "auto";
  Keywords k;
  k.add(probe).add(analyze).add(analyze.anomaly).add(analyze.gmm).add(analyze.pca).add(analyze.capture);
  if (command == "mask") k.add(mask, {"baseline-seeds", "baseline-seed", "save", "paired-alpha"});
  k.add(runtime, {"threads", "device"});
  k.apply(kwargs);
  analyze.progress = false;
  configure_threads(runtime.threads);
  PySource p = py_source(module, name, x, y, tx, ty, classes, mean, std, out, runtime.device, false, command);
  py::gil_scoped_release release;
  ModelAnalysis analysis = analyse_model_source(p.source, probe, analyze, p.out, true);
  const auto quiet = [](const std::string&) {};
  if (command == "gradients") return model_gradients(p.source, analysis, p.out, quiet).to_json().dump();
  return model_mask(p.source, analysis, mask, p.out, quiet).to_json().dump();
}

// ---- the monitor -----------------------------------------------------------------------------

class PyMonitor {
 public:
  PyMonitor(const std::string& run_dir, const torch::jit::Module& module, const std::string& name,
            const at::Tensor& train_images, const at::Tensor& train_labels, const py::object& val_images,
            const py::object& val_labels, const std::vector<std::string>& class_names, const std::string& optimizer,
            double lr, double momentum, double weight_decay, int64_t batch_size, int64_t epochs, int64_t seed,
            int64_t log_every, bool sample_log, bool run_log, const std::vector<int64_t>& replaced,
            const std::vector<int64_t>& original, const std::string& signal_kwargs) {
    SignalOptions signals = live_alarm_defaults();
    Keywords k;
    k.add(signals);
    k.apply(signal_kwargs);
    // Before the monitor writes the run: a bad request leaves no directory behind.
    validate_live_signals(signals, sample_log);
    const Dataset train = dataset_of(train_images, train_labels, class_names, "train_set");
    std::optional<Dataset> val;
    if (!val_images.is_none())
      val = dataset_of(val_images.cast<at::Tensor>(), val_labels.cast<at::Tensor>(), class_names, "val_set");
    MonitorOptions o;
    o.model_name = name;
    o.optimizer = optimizer;
    o.lr = lr;
    o.momentum = momentum;
    o.weight_decay = weight_decay;
    o.batch_size = batch_size;
    o.epochs = epochs;
    o.seed = seed;
    o.log_every = log_every;
    o.sample_log = sample_log;
    o.run_log = run_log;
    o.replaced_positions = replaced;
    o.original_labels = original;
    const c10::Device device = module_device(module, "");
    monitor_ = std::make_unique<RunMonitor>(run_dir, torchscript_model(module, name, shape_of(train), device), train,
                                            val, o);
    alarm_off_ = live_alarm_off_reason(signals, sample_log);
    if (live_alarm_runs(signals, sample_log)) {
      SignalRunInfo info;
      info.optimizer = optimizer == "other" ? "" : optimizer;
      info.momentum = momentum;
      info.weight_decay = weight_decay;
      alarm_ = std::make_unique<LiveOverfitAlarm>(run_dir, signals, info, monitor_->run().data.train,
                                                  monitor_->run().transform, sample_log);
      monitor_->set_epoch_listener([this, device](const EpochEnd& end) {
        lines_ = alarm_->on_epoch_end(*end.metrics, end.samples, *end.model, device);
      });
    }
  }

  void on_batch(const at::Tensor& indices, const at::Tensor& logits, const at::Tensor& labels, double loss) {
    monitor_->on_batch(indices, logits, labels, loss);
  }

  py::tuple on_epoch_end(int64_t epoch) {
    lines_.clear();
    EpochMetrics m;
    {
      py::gil_scoped_release release;
      m = monitor_->on_epoch_end(epoch);
    }
    py::dict row;
    row["epoch"] = m.epoch;
    row["train_loss"] = m.train_loss;
    row["train_acc"] = m.train_acc;
    row["val_loss"] = m.val_loss;
    row["val_acc"] = m.val_acc;
    row["seconds"] = m.seconds;
    return py::make_tuple(row, lines_);
  }

  void close() { monitor_->close(); }
  std::string run_dir() const { return monitor_->run_dir().string(); }
  std::string alarm_off() const { return alarm_off_; }

 private:
  std::unique_ptr<RunMonitor> monitor_;
  std::unique_ptr<LiveOverfitAlarm> alarm_;
  std::string alarm_off_;  ///< why the default alarm does not run ("" when it does or was turned off)
  std::vector<std::string> lines_;
};

// ---- commands on a run -----------------------------------------------------------------------

py::tuple overfit(const std::string& run_dir, const std::string& kwargs) {
  OverfitRunOptions o;
  o.probe.split = "train";
  ReuseOptions reuse;
  RuntimeOptions runtime;
  Keywords k;
  k.add(o.signals).add(o.probe).add(o.analyze).add(o.analyze.anomaly).add(o.analyze.gmm).add(o.analyze.pca);
  k.add(o.analyze.capture).add(reuse).add(runtime, {"threads", "device"});
  k.apply(kwargs);
  o.analyze.progress = false;
  o.reanalyse = reuse.reanalyse;
  o.device = apply_runtime(runtime);
  std::string record, table;
  {
    py::gil_scoped_release release;  // the Python objects are made after, with the GIL back
    const OverfitRecord r = overfit_run(run_dir, o, [](const std::string&) {});
    record = r.to_json().dump();
    table = r.to_csv();
  }
  return py::make_tuple(record, table);
}

py::tuple clean(const std::string& run_dir, const std::string& kwargs) {
  CleanOptions options;
  Keywords k;
  k.add(options);
  k.apply(kwargs);
  std::string record, table;
  {
    py::gil_scoped_release release;
    record = clean_run(run_dir, options, [](const std::string&) {}).to_json().dump();
    table = read_file(RunLayout(run_dir).clean_csv());
  }
  return py::make_tuple(record, table);
}

py::dict confident_learning_py(const std::vector<int64_t>& labels, const at::Tensor& probabilities) {
  FS_CHECK(probabilities.dim() == 2, "probabilities must be [N, classes]");
  const at::Tensor p = probabilities.detach().to(at::kCPU, at::kDouble).contiguous();
  const ConfidentLearningResult r =
      confident_learning(labels, std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel()), p.size(1));
  py::dict out;
  out["thresholds"] = r.thresholds;
  out["confident_joint"] = r.confident_joint;
  out["calibrated_joint"] = r.calibrated_joint;
  out["label_issue"] = r.label_issue;
  out["self_confidence"] = r.self_confidence;
  return out;
}

int run_cli(const std::vector<std::string>& args) {
  py::gil_scoped_release release;
  return cli::run(args);
}

}  // namespace

PYBIND11_MODULE(_filterscope, m) {
  m.doc() = "filterscope's native half: the library the `filterscope` command runs, for Python";
  m.attr("GLIBCXX_USE_CXX11_ABI") = static_cast<int>(_GLIBCXX_USE_CXX11_ABI);
  m.attr("PYBIND11_INTERNALS_ID") = PYBIND11_INTERNALS_ID;
  m.attr("PYBIND11_COMPILER_TYPE") = PYBIND11_COMPILER_TYPE;
  m.attr("PYBIND11_STDLIB") = PYBIND11_STDLIB;
  m.attr("PYBIND11_BUILD_ABI") = PYBIND11_BUILD_ABI;
  m.attr("TORCH_VERSION") = TORCH_VERSION;

  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const Error& e) {
      error(e.what());
    } catch (const c10::Error& e) {
      error(describe_exception(e).c_str());
    } catch (const std::logic_error& e) {
      error(e.what());
    }
  });

  py::class_<AnalysisFiles>(m, "AnalysisFiles")
      .def_readonly("analysis_json", &AnalysisFiles::analysis_json)
      .def_readonly("filters_csv", &AnalysisFiles::filters_csv)
      .def_readonly("outliers_csv", &AnalysisFiles::outliers_csv)
      .def_property_readonly("samples", [](const AnalysisFiles& f) { return f.samples; })
      .def_property_readonly("projections",
                             [](const AnalysisFiles& f) {
                               py::list out;
                               for (const auto& p : f.projections) out.append(py::make_tuple(p.stem, p.points, p.labels));
                               return out;
                             })
      .def("save", [](const AnalysisFiles& f, const std::string& dir) { write_analysis_files(dir, f); },
           py::arg("dir"), "writes the CLI's files (analysis.json, filters.csv, outliers.csv, projections/) into dir");

  m.def("analyze", &analyze, py::arg("module"), py::arg("name"), py::arg("images"), py::arg("labels"),
        py::arg("class_names"), py::arg("kwargs"));

  py::class_<PyMonitor>(m, "RunMonitor")
      .def(py::init<const std::string&, const torch::jit::Module&, const std::string&, const at::Tensor&,
                    const at::Tensor&, const py::object&, const py::object&, const std::vector<std::string>&,
                    const std::string&, double, double, double, int64_t, int64_t, int64_t, int64_t, bool, bool,
                    const std::vector<int64_t>&, const std::vector<int64_t>&, const std::string&>())
      .def("on_batch", &PyMonitor::on_batch)
      .def("on_epoch_end", &PyMonitor::on_epoch_end)
      .def("close", &PyMonitor::close)
      .def_property_readonly("run_dir", &PyMonitor::run_dir)
      .def_property_readonly("alarm_off", &PyMonitor::alarm_off);

  m.def("probe_points", &probe_points_py, py::arg("module"), py::arg("name"), py::arg("input_shape"));
  m.def("ood", &ood_py);
  m.def("activations", &activations_py);
  m.def("visualize", &visualize_py);
  m.def("hierarchy", &hierarchy_py);
  m.def("gradients_or_mask", &gradients_or_mask_py);
  m.def("overfit", &overfit, py::arg("run_dir"), py::arg("kwargs"));
  m.def("clean", &clean, py::arg("run_dir"), py::arg("kwargs"));
  m.def("confident_learning", &confident_learning_py, py::arg("labels"), py::arg("probabilities"));
  m.def("training_signals", [] {
    py::list out;
    for (const auto& s : training_signals()) {
      py::dict d;
      d["name"] = s.name;
      d["definition"] = s.definition;
      d["source"] = s.source;
      d["live"] = s.live;
      d["rule"] = describe_rule(s.rule(SignalOptions{}));
      out.append(d);
    }
    return out;
  });
  m.def("cli", &run_cli, py::arg("args"), "runs `filterscope ARGS...` in this process; returns the exit code");
}
