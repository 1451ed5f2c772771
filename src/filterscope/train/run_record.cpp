#include "filterscope/train/run_record.h"

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"
#include "filterscope/io/json.h"
#include "filterscope/runs/layout.h"

namespace filterscope {

namespace fs = std::filesystem;

const ParamTable<TrainOptions>& TrainOptions::params() {
  static const ParamTable<TrainOptions> table = {
      {"model", &TrainOptions::model, "network to train", {}, {"simple-cnn", "lenet5", "alexnet"}},
      {"optimizer", &TrainOptions::optimizer, "optimizer", {}, {"adam", "sgd"}},
      {"lr", &TrainOptions::lr, "learning rate", Bounds::positive()},
      {"momentum", &TrainOptions::momentum, "SGD momentum (sgd only)", Bounds::closed(0, 1)},
      {"weight-decay", &TrainOptions::weight_decay, "L2 penalty on the weights", Bounds::at_least(0)},
      {"batch-size", &TrainOptions::batch_size, "images per optimisation step", Bounds::closed(1, 1e6)},
      {"epochs", &TrainOptions::epochs, "epochs in all; a resumed run goes on up to this",
       Bounds::closed(1, 100000)},
      {"seed", &TrainOptions::seed, "seed of initial weights, shuffling, dropout and label noise",
       Bounds::at_least(0)},
      {"label-noise", &TrainOptions::label_noise,
       "share of training labels replaced by a different class (seeded); the changed dataset "
       "indices go to run.json",
       {0.0, 1.0, false, true}},
      {"exclude", &TrainOptions::exclude,
       "file of dataset indices (one per line, e.g. from `filterscope clean`) to leave out of the training subset; "
       "drawn after the subset and the label noise, so the other samples keep theirs"},
      {"input-size", &TrainOptions::input_size,
       "side of the square network input (bicubic resize); 0 = the network's own (227 for "
       "alexnet, the image size otherwise)",
       Bounds::at_least(0)},
      {"threads", &TrainOptions::threads, "CPU threads; 0 = all cores", Bounds::at_least(0), {},
       false},
      {"device", &TrainOptions::device, "cpu, cuda or cuda:N", {}, {}, false},
  };
  return table;
}

nlohmann::json RunSettings::to_json() const {
  return {{"data", params_to_json(data, DataOptions::params())},
          {"split", params_to_json(split, SplitOptions::params())},
          {"train", params_to_json(train, TrainOptions::params())}};
}

RunSettings RunSettings::from_json(const nlohmann::json& json, const std::string& source) {
  RunSettings s;
  FS_CHECK(json.is_object() && json.contains("data") && json.contains("split") &&
               json.contains("train"),
           source, ": settings need \"data\", \"split\" and \"train\"");
  params_from_json(s.data, json.at("data"), DataOptions::params(), source);
  params_from_json(s.split, json.at("split"), SplitOptions::params(), source);
  params_from_json(s.train, json.at("train"), TrainOptions::params(), source);
  return s;
}

nlohmann::json RunRecord::to_json() const {
  nlohmann::json probes = nlohmann::json::array();
  for (const auto& p : network.probe_points)
    probes.push_back({{"name", p.name}, {"kind", p.kind}, {"channels", p.channels}, {"owner_conv", p.owner_conv}});
  return {{"format", "filterscope-run-1"},
          {"settings", settings.to_json()},
          {"dataset",
           {{"name", dataset.name},
            {"num_classes", dataset.num_classes},
            {"class_names", dataset.class_names},
            {"image_shape", dataset.image_shape},
            {"normalisation", dataset.normalisation.to_json()},
            {"train_split", dataset.train_split},
            {"val_split", dataset.val_split},
            {"train_indices", dataset.train_indices},
            {"val_indices", dataset.val_indices}}},
          {"label_noise",
           {{"share", label_noise.share},
            {"count", label_noise.count},
            {"dataset_indices", label_noise.dataset_indices},
            {"original_labels", label_noise.original_labels},
            {"new_labels", label_noise.new_labels}}},
          {"network",
           {{"name", network.name},
            {"in_channels", network.in_channels},
            {"num_classes", network.num_classes},
            {"input_size", network.input_size},
            {"parameters", network.parameters},
            {"probe_points", probes}}}};
}

RunRecord RunRecord::from_json(const nlohmann::json& j, const std::string& source) {
  FS_CHECK(json_format_of(j) == "filterscope-run-1", source,
           ": not a filterscope run (format filterscope-run-1)");
  RunRecord r;
  try {
    r.settings = RunSettings::from_json(j.at("settings"), source);
    const auto& d = j.at("dataset");
    r.dataset.name = d.at("name").get<std::string>();
    r.dataset.num_classes = json_whole(d.at("num_classes"));
    r.dataset.class_names = d.at("class_names").get<std::vector<std::string>>();
    r.dataset.image_shape = json_wholes(d.at("image_shape"));
    r.dataset.normalisation = InputTransform::from_json(d.at("normalisation"));
    r.dataset.train_split = d.at("train_split").get<std::string>();
    r.dataset.val_split = d.at("val_split").get<std::string>();
    r.dataset.train_indices = json_wholes(d.at("train_indices"));
    r.dataset.val_indices = json_wholes(d.at("val_indices"));
    const auto& n = j.at("label_noise");
    r.label_noise.share = n.at("share").get<double>();
    r.label_noise.count = json_whole(n.at("count"));
    r.label_noise.dataset_indices = json_wholes(n.at("dataset_indices"));
    r.label_noise.original_labels = json_wholes(n.at("original_labels"));
    r.label_noise.new_labels = json_wholes(n.at("new_labels"));
    const auto& net = j.at("network");
    r.network.name = net.at("name").get<std::string>();
    r.network.in_channels = json_whole(net.at("in_channels"));
    r.network.num_classes = json_whole(net.at("num_classes"));
    r.network.input_size = json_whole(net.at("input_size"));
    r.network.parameters = json_whole(net.at("parameters"));
    for (const auto& p : net.at("probe_points"))
      r.network.probe_points.push_back({p.at("name").get<std::string>(), p.at("kind").get<std::string>(),
                                        p.at("owner_conv").get<std::string>(), json_whole(p.at("channels"))});
  } catch (const Error& e) {
    throw Error(detail::concat(source, ": ", without_prefix(e.what(), source)));
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(source, ": a field is missing or of the wrong type (", json_error_text(e),
                               "); was it written by another version?"));
  }
  return r;
}

namespace {
// RUN/run.json parsed; Error naming the run when there is none, or the file when it is not JSON.
nlohmann::json read_run_json(const fs::path& run_dir) {
  const fs::path path = RunLayout(run_dir).run_json();
  FS_CHECK(fs::exists(path), run_dir.string(), ": not a run directory (no run.json)");
  return read_json_file(path);
}
}  // namespace

RunRecord read_run_record(const fs::path& run_dir) {
  return RunRecord::from_json(read_run_json(run_dir), RunLayout(run_dir).run_json().string());
}

RunSettings read_run_settings(const fs::path& run_dir) {
  const nlohmann::json json = read_run_json(run_dir);
  const std::string path = RunLayout(run_dir).run_json().string();
  FS_CHECK(json.contains("settings"), path, ": no \"settings\"");
  return RunSettings::from_json(json.at("settings"), path);
}

}  // namespace filterscope
