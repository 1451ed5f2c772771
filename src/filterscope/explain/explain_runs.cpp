#include "filterscope/explain/explain_runs.h"
#include "filterscope/runs/layout.h"

#include <ATen/ATen.h>

#include <chrono>
#include <sstream>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"
#include "filterscope/core/files.h"
#include "filterscope/data/shift.h"
#include "filterscope/io/json.h"
#include "filterscope/io/npy.h"
#include "filterscope/io/png.h"

namespace filterscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

const ParamTable<VisualizeOptions>& VisualizeOptions::params() {
  static const ParamTable<VisualizeOptions> table = {
      {"parts", &VisualizeOptions::parts,
       "what to compute, comma-separated: am (activation maximisation), fool, gradcam, top (top images per "
       "channel), oos (out-of-sample predictions); fool is added when --fool is given"},
      {"gradcam-images", &VisualizeOptions::gradcam_images, "images for Grad-CAM (the set's first)",
       Bounds::closed(1, 1000000)},
      {"gradcam-layer", &VisualizeOptions::gradcam_layer,
       "probe point with maps for Grad-CAM; empty = the last convolutional one"},
      {"gradcam-class", &VisualizeOptions::gradcam_class, "Grad-CAM's target class; -1 = each image's prediction",
       Bounds::at_least(-1)},
      {"top-layer", &VisualizeOptions::top_layer, "probe point of the top images; empty = the last convolutional one"},
      {"top-channels", &VisualizeOptions::top_channels, "channels of the top images, comma-separated; empty = the first 8"},
      {"top-k", &VisualizeOptions::top_k, "top images per channel", Bounds::closed(1, 1000)},
      {"noise-images", &VisualizeOptions::noise_images, "out-of-sample: uniform noise images", Bounds::closed(1, 1000000)},
  };
  return table;
}

const ParamTable<HierarchyOptions>& HierarchyOptions::params() {
  static const ParamTable<HierarchyOptions> table = {
      {"layer", &HierarchyOptions::layer,
       "probe point whose mean output per class is the class's representative vector; empty = the last "
       "convolutional one"},
      {"noise-class", &HierarchyOptions::noise_class,
       "add this many uniform noise images as a category \"noise\" (the paper's Fig. 8); 0 = none",
       Bounds::at_least(0)},
      {"tree-class", &HierarchyOptions::tree_class, "class of the filter prediction tree (number or name); empty = 0"},
      {"tree-layer", &HierarchyOptions::tree_layer, "probe point of the prediction tree; empty = --layer's"},
      {"tree-images", &HierarchyOptions::tree_images, "images of the class in the tree (the set's first)",
       Bounds::closed(2, 100000)},
      {"top-k", &HierarchyOptions::top_k, "images shown per critical filter", Bounds::closed(1, 100)},
  };
  return table;
}

namespace {

using Log = std::function<void(const std::string&)>;

constexpr int64_t kPagePictures = 64;
constexpr int64_t kPngPictures = 64;

int64_t class_of(const std::string& text, const std::vector<std::string>& names, const std::string& flag) {
  const auto named = std::find(names.begin(), names.end(), text);
  if (named != names.end()) return named - names.begin();
  std::string known;
  for (size_t c = 0; c < names.size(); ++c) known += (c ? ", " : "") + std::to_string(c) + " " + names[c];
  FS_CHECK(!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() < 10 &&
               std::stoll(text) < static_cast<int64_t>(names.size()),
           flag, ": no class \"", text, "\" (the classes: ", known, ")");
  return std::stoll(text);
}

at::Tensor pixels_of(const Dataset& data, const at::Tensor& positions) {
  return data.images.index_select(0, positions).to(at::kFloat).div(255);
}

/// A heat map [N, H, W] in [0, 1] over grey images [N, C, H, W]: RGB [N, 3, H, W].
at::Tensor overlay(const at::Tensor& images, const at::Tensor& heat) {
  const at::Tensor grey = images.mean(1, true).expand({-1, 3, -1, -1});
  const at::Tensor h = heat.unsqueeze(1).to(at::kFloat);
  auto band = [&](double centre) { return (1.5 - (4 * h - centre).abs()).clamp(0, 1); };
  const at::Tensor colour = at::cat({band(3), band(2), band(1)}, 1);
  return 0.55 * grey + 0.45 * colour;
}

json ints(const std::vector<int64_t>& v) { return json(v); }

}  // namespace

json VisualizeRecord::to_json() const {
  json j;
  j["format"] = "filterscope-visualize/1";
  j["model"] = model.to_json();
  j["settings"] = settings;
  j["class_names"] = class_names;
  if (maximisation) {
    const MaximiseResult& m = *maximisation;
    json images = json::array();
    for (size_t i = 0; i < m.before.size(); ++i)
      images.push_back({{"objective", objectives[static_cast<size_t>(m.objective[i])]}, {"seed", m.seed[i]},
                        {"before", json_number(m.before[i])}, {"after", json_number(m.after[i])},
                        {"prediction_before", m.prediction_before[i]}, {"prediction_after", m.prediction_after[i]}});
    j["maximisation"] = {{"objectives", objectives},
                         {"images", images},
                         {"class_success_rate", class_success_rate ? json_number(*class_success_rate) : json(nullptr)},
                         {"files", {visualize_files::kAmImages, visualize_files::kAmStart, visualize_files::kAmGrid}}};
  }
  if (fooling) {
    const FoolResult& f = *fooling;
    json images = json::array();
    int64_t flipped = 0;
    for (size_t i = 0; i < f.steps.size(); ++i) {
      images.push_back({{"dataset_index", f.dataset_index[i]}, {"steps", f.steps[i]},
                        {"distance", json_number(f.distance[i])}});
      flipped += f.steps[i] >= 0;
    }
    j["fooling"] = {{"from", f.from}, {"to", f.to}, {"images", images}, {"flipped", flipped},
                    {"files", {visualize_files::kFoolStart, visualize_files::kFoolImages, visualize_files::kFoolDifference, visualize_files::kFoolGrid}}};
  }
  if (gradcam) {
    json images = json::array();
    for (size_t i = 0; i < gradcam_dataset_index.size(); ++i)
      images.push_back({{"dataset_index", gradcam_dataset_index[i]}, {"label", gradcam_labels[i]},
                        {"target", gradcam->targets[static_cast<int64_t>(i)].item<int64_t>()},
                        {"prediction", gradcam->predictions[static_cast<int64_t>(i)].item<int64_t>()}});
    j["gradcam"] = {{"layer", gradcam->layer}, {"images", images}, {"files", {visualize_files::kGradcam, visualize_files::kGradcamGrid}}};
  }
  if (top) {
    json channels = json::array();
    for (size_t c = 0; c < top->channels.size(); ++c)
      channels.push_back({{"channel", top->channels[c]}, {"dataset_index", ints(top_dataset_index[c])},
                          {"values", top->top_values[c]}, {"histogram", ints(top->histogram[c])},
                          {"low", json_number(top->low[c])}, {"high", json_number(top->high[c])}});
    j["top"] = {{"layer", top->layer}, {"channels", channels}, {"files", {visualize_files::kTopGrid}}};
  }
  if (out_of_sample) {
    json rows = json::array();
    for (size_t r = 0; r < out_of_sample->rows.size(); ++r)
      rows.push_back({{"name", out_of_sample->rows[r]}, {"images", out_of_sample->images[r]},
                      {"shares", out_of_sample->shares[r]}});
    j["out_of_sample"] = {{"columns", class_names}, {"rows", rows}};
  }
  j["notes"] = notes;
  j["seconds"] = seconds;
  return j;
}

VisualizeRecord run_visualize(ModelSource& source, const VisualizeRequest& request, const fs::path& out, const Log& log) {
  const VisualizeOptions& o = request.visualize;
  validate_params(o, VisualizeOptions::params());
  validate_params(request.set, EvalSetOptions::params());
  const auto started = std::chrono::steady_clock::now();
  ProbedModel& model = *source.model;
  const InputTransform& transform = source.run.transform;
  VisualizeRecord r;
  r.notes = source.notes;
  r.model = source.record;
  const Dataset set = in_distribution_images(source, request.set);
  FS_CHECK(set.size() > 0, "no images to visualize");
  check_input_shape(model, set, transform, "the images");
  r.class_names = set.class_names;
  std::vector<std::string> parts = split_list(o.parts);
  for (const auto& p : parts)
    FS_CHECK(p == "am" || p == "fool" || p == "gradcam" || p == "top" || p == "oos", "--parts: unknown part \"", p,
             "\" (am, fool, gradcam, top, oos)");
  if (!request.fool.pair.empty() && std::find(parts.begin(), parts.end(), "fool") == parts.end()) parts.push_back("fool");
  auto wanted = [&](const char* p) { return std::find(parts.begin(), parts.end(), p) != parts.end(); };
  r.settings = {{"visualize", params_to_json(o, VisualizeOptions::params())},
                {"maximise", params_to_json(request.maximise, MaximiseOptions::params())},
                {"fool", params_to_json(request.fool, FoolOptions::params())},
                {"set", params_to_json(request.set, EvalSetOptions::params())}};
  ensure_directory(out);
  const int64_t cols_default = 8;

  if (wanted("am")) {
    std::vector<Objective> objectives;
    std::vector<std::string> texts = request.objectives;
    if (texts.empty())
      for (size_t c = 0; c < r.class_names.size(); ++c) texts.push_back("logit:" + std::to_string(c));
    for (const auto& t : texts) objectives.push_back(parse_objective(t, model, r.class_names));
    r.objectives = texts;
    log("activation maximisation: " + std::to_string(texts.size()) + " objective(s) x " +
        std::to_string(request.maximise.seeds) + " start(s), " + std::to_string(request.maximise.steps) + " steps");
    MaximiseResult m = maximise(model, objectives, transform, set, request.maximise);
    int64_t hits = 0, total = 0;
    for (size_t i = 0; i < m.after.size(); ++i) {
      const auto target = objectives[static_cast<size_t>(m.objective[i])].target_class();
      if (!target) continue;
      ++total;
      hits += m.prediction_after[i] == *target;
    }
    if (total > 0) r.class_success_rate = static_cast<double>(hits) / static_cast<double>(total);
    write_npy(out / visualize_files::kAmImages, m.images);
    write_npy(out / visualize_files::kAmStart, m.start);
    write_png(out / visualize_files::kAmGrid, image_grid(m.images, static_cast<int64_t>(texts.size())), 3);
    r.pictures.push_back({"am_start", m.start});
    r.pictures.push_back({"am_images", m.images});
    r.maximisation = std::move(m);
  }
  if (wanted("fool")) {
    FS_CHECK(!request.fool.pair.empty(), "--parts fool needs --fool FROM:TO");
    const size_t colon = request.fool.pair.find(':');
    FS_CHECK(colon != std::string::npos, "--fool \"", request.fool.pair, "\": write FROM:TO");
    const int64_t from = class_of(request.fool.pair.substr(0, colon), r.class_names, "--fool");
    const int64_t to = class_of(request.fool.pair.substr(colon + 1), r.class_names, "--fool");
    log("pixel fooling: " + r.class_names[static_cast<size_t>(from)] + " -> " + r.class_names[static_cast<size_t>(to)]);
    FoolResult f = fool(model, set, transform, from, to, request.fool);
    write_npy(out / visualize_files::kFoolStart, f.start);
    write_npy(out / visualize_files::kFoolImages, f.fooled);
    write_npy(out / visualize_files::kFoolDifference, f.difference);
    const at::Tensor top = f.difference.flatten(1).amax(1).clamp_min(1e-12).view({-1, 1, 1});
    const at::Tensor diff = (f.difference / top).unsqueeze(1).expand({-1, f.start.size(1), -1, -1});
    write_png(out / visualize_files::kFoolGrid, image_grid(at::stack({f.start, f.fooled, diff}, 1).flatten(0, 1), 3), 3);
    r.pictures.push_back({"fool_start", f.start});
    r.pictures.push_back({"fool_images", f.fooled});
    r.pictures.push_back({"fool_difference", (f.difference / top).unsqueeze(1)});
    r.fooling = std::move(f);
  }
  if (wanted("gradcam")) {
    const std::string layer = o.gradcam_layer.empty() ? last_map_layer(model) : o.gradcam_layer;
    const Dataset images = subset(set, at::arange(std::min(o.gradcam_images, set.size()), at::kLong), set.name);
    log("Grad-CAM at " + layer + " on " + std::to_string(images.size()) + " images");
    GradCamResult g = grad_cam(model, images, transform, layer, o.gradcam_class, request.set.batch_size);
    write_npy(out / visualize_files::kGradcam, g.cam);
    const at::Tensor pixels = images.images.to(at::kFloat).div(255);
    const at::Tensor over = overlay(pixels, g.upsampled);
    // The picture holds the first kPngPictures images (a PNG of thousands is slow to write and to look at).
    const int64_t shown = std::min<int64_t>(kPngPictures, pixels.size(0));
    write_png(out / visualize_files::kGradcamGrid,
              image_grid(at::stack({pixels.narrow(0, 0, shown).expand({-1, 3, -1, -1}), over.narrow(0, 0, shown)}, 1)
                             .flatten(0, 1),
                         2 * cols_default),
              3);
    for (int64_t i = 0; i < images.size(); ++i) {
      r.gradcam_dataset_index.push_back(images.indices[i].item<int64_t>());
      r.gradcam_labels.push_back(images.labels[i].item<int64_t>());
    }
    // The page shows the first kPagePictures; the .npy and PNG files hold them all.
    r.pictures.push_back({"gradcam_images", pixels.narrow(0, 0, std::min<int64_t>(kPagePictures, pixels.size(0)))});
    r.pictures.push_back({"gradcam_overlays", over.narrow(0, 0, std::min<int64_t>(kPagePictures, over.size(0)))});
    r.gradcam = std::move(g);
  }
  if (wanted("top")) {
    const std::string layer = o.top_layer.empty() ? last_map_layer(model) : o.top_layer;
    std::vector<int64_t> channels;
    for (const auto& c : split_list(o.top_channels)) {
      FS_CHECK(c.find_first_not_of("0123456789") == std::string::npos && c.size() < 10, "--top-channels: \"", c,
               "\" is not a channel number");
      channels.push_back(std::stoll(c));
    }
    log("top images of " + layer + " over " + std::to_string(set.size()) + " images");
    TopImagesResult t = top_images(model, set, transform, layer, channels, o.top_k, 30, request.set.batch_size);
    std::vector<at::Tensor> grid;
    for (const auto& positions : t.top) {
      const at::Tensor pos = at::tensor(positions, at::kLong);
      grid.push_back(pixels_of(set, pos));
      const at::Tensor idx = set.indices.index_select(0, pos);
      r.top_dataset_index.emplace_back(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
    }
    const at::Tensor all = at::cat(grid);
    write_png(out / visualize_files::kTopGrid, image_grid(all, static_cast<int64_t>(t.top.at(0).size())), 3);
    r.pictures.push_back({"top_images", all});
    r.top = std::move(t);
  }
  if (wanted("oos")) {
    std::vector<std::pair<std::string, Dataset>> sets;
    const DataOptions& data = source.run.settings.data;
    if (!data.classes.empty()) {
      DataOptions all = data;
      all.classes = "";
      const DatasetSplits splits = load_dataset(all);
      const Dataset& from = splits.test.size() > 0 ? splits.test : splits.train;
      for (int64_t c : other_classes(parse_class_list(data.classes, from.num_classes, data.dataset), from.num_classes))
        sets.push_back({from.class_names[static_cast<size_t>(c)] + " (not trained on)", select_classes(from, {c})});
    } else {
      r.notes.push_back("out-of-sample: the model was trained on every class of its dataset (no --classes), so only "
                        "noise images are out of sample");
    }
    sets.push_back({"uniform noise", noise_images(set, "uniform", o.noise_images, request.set.set_seed + 1)});
    log("out-of-sample predictions on " + std::to_string(sets.size()) + " set(s)");
    r.out_of_sample = prediction_shares(model, sets, transform, static_cast<int64_t>(r.class_names.size()),
                                        request.set.batch_size);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  write_file_atomic(out / visualize_files::kJson, r.to_json().dump(2) + "\n");
  return r;
}

json HierarchyRecord::hierarchy_json() const {
  json nodes = json::array();
  for (const auto& n : hierarchy.nodes)
    nodes.push_back({{"id", n.id}, {"label", n.label}, {"children", n.children}, {"height", json_number(n.height)},
                     {"leaves", n.leaves}});
  json mst = json::array();
  for (const auto& e : hierarchy.mst)
    mst.push_back({{"a", e.a}, {"b", e.b}, {"weight", json_number(e.weight)}});
  return {{"format", "filterscope-hierarchy/1"},
          {"model", model.to_json()},
          {"settings", settings},
          {"layer", layer},
          {"labels", labels},
          {"nodes", nodes},
          {"root", hierarchy.nodes.back().id},
          {"mst", mst},
          {"mst_weight", json_number(hierarchy.mst_weight)},
          {"files", {hierarchy_files::kRepresentatives, hierarchy_files::kDistances}},
          {"notes", notes},
          {"seconds", seconds}};
}

json HierarchyRecord::tree_json() const {
  json nodes = json::array();
  for (const auto& n : tree.nodes)
    nodes.push_back({{"id", n.id},
                     {"children", n.children},
                     {"filters", n.filters},
                     {"critical", n.critical ? json(*n.critical) : json(nullptr)},
                     {"distance", json_number(n.distance)},
                     {"image", n.image ? json(tree_images[static_cast<size_t>(*n.image)]) : json(nullptr)}});
  json critical = json::object();
  for (const auto& [f, images] : critical_top_images) critical[std::to_string(f)] = images;
  return {{"format", "filterscope-prediction-tree/1"},
          {"model", model.to_json()},
          {"class", tree_class},
          {"class_name", labels.at(static_cast<size_t>(tree_class))},
          {"layer", tree_layer},
          {"nodes", nodes},
          {"root", tree.root},
          {"critical_top_images", critical}};
}

HierarchyRecord run_hierarchy(ModelSource& source, const HierarchyRequest& request, const fs::path& out, const Log& log) {
  const HierarchyOptions& o = request.hierarchy;
  validate_params(o, HierarchyOptions::params());
  validate_params(request.set, EvalSetOptions::params());
  const auto started = std::chrono::steady_clock::now();
  ProbedModel& model = *source.model;
  const InputTransform& transform = source.run.transform;
  HierarchyRecord r;
  r.notes = source.notes;
  r.model = source.record;
  r.settings = {{"hierarchy", params_to_json(o, HierarchyOptions::params())},
                {"set", params_to_json(request.set, EvalSetOptions::params())}};
  const Dataset set = in_distribution_images(source, request.set);
  check_input_shape(model, set, transform, "the images");
  FS_CHECK(set.num_classes >= 2 || o.noise_class > 0, "the hierarchy needs at least 2 classes; ", set.name, " has ",
           set.num_classes, " (add --noise-class N for a noise category)");
  r.layer = o.layer.empty() ? last_map_layer(model) : o.layer;
  model.probe(r.layer);
  r.tree_layer = o.tree_layer.empty() ? r.layer : o.tree_layer;
  FS_CHECK(model.probe(r.tree_layer).is_map(), "--tree-layer ", r.tree_layer,
           ": the prediction tree needs a layer of filters with maps");
  log("representative vectors of " + std::to_string(set.num_classes) + " classes at " + r.layer + " over " +
      std::to_string(set.size()) + " images");
  // One pass: the class representatives, and every image's channel means at the tree's layer
  // (what the critical filters' top images are chosen by).
  at::Tensor channel_means;
  at::Tensor reps = class_representatives(model, set, transform, r.layer, request.set.batch_size, r.tree_layer,
                                          &channel_means);
  r.labels = set.class_names;
  if (o.noise_class > 0) {
    Dataset noise = noise_images(set, "uniform", o.noise_class, request.set.set_seed + 1);
    noise.num_classes = 1;
    noise.class_names = {"noise"};
    reps = at::cat({reps, class_representatives(model, noise, transform, r.layer, request.set.batch_size)});
    r.labels.push_back("noise");
  }
  const at::Tensor distances = cosine_distances(reps);
  r.hierarchy = build_hierarchy(distances, r.labels);
  ensure_directory(out);
  write_npy(out / hierarchy_files::kRepresentatives, reps);
  write_npy(out / hierarchy_files::kDistances, distances);

  // The filter prediction tree of one class.
  r.tree_class = o.tree_class.empty() ? 0 : class_of(o.tree_class, set.class_names, "--tree-class");
  const at::Tensor members = set.labels.eq(r.tree_class).nonzero().view(-1);
  FS_CHECK(members.numel() >= 2, "--tree-class ", r.tree_class, ": ", set.name, " has ", members.numel(),
           " image(s) of it; the tree needs at least 2");
  const Dataset images = subset(set, members.narrow(0, 0, std::min<int64_t>(o.tree_images, members.numel())), set.name);
  log("prediction tree of " + set.class_names[static_cast<size_t>(r.tree_class)] + " at " + r.tree_layer + " over " +
      std::to_string(images.size()) + " images");
  at::Tensor maps;
  {
    at::NoGradGuard no_grad;
    maps = model.forward_probes(make_input(images, transform).to(model.device()), {r.tree_layer}, false)
               .outputs.at(0)
               .second.to(at::kCPU);
  }
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < images.size(); ++i) {
    ids.push_back(i);
    r.tree_images.push_back(images.indices[i].item<int64_t>());
  }
  r.tree = build_prediction_tree(maps, ids);
  std::vector<int64_t> critical;
  for (const auto& n : r.tree.nodes)
    if (n.critical && std::find(critical.begin(), critical.end(), *n.critical) == critical.end())
      critical.push_back(*n.critical);
  std::sort(critical.begin(), critical.end());
  if (!critical.empty()) {
    std::vector<at::Tensor> thumbs;
    const int64_t k = std::min<int64_t>(o.top_k, set.size());
    for (size_t c = 0; c < critical.size(); ++c) {
      const at::Tensor pos = std::get<1>(channel_means.select(1, critical[c]).topk(k));
      const at::Tensor idx = set.indices.index_select(0, pos);
      r.critical_top_images.push_back({critical[c], std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel())});
      thumbs.push_back(pixels_of(set, pos));
    }
    r.pictures.push_back({"critical_top_images", at::cat(thumbs)});
  }
  r.pictures.push_back({"tree_images", images.images.to(at::kFloat).div(255)});
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  write_file_atomic(out / hierarchy_files::kJson, r.hierarchy_json().dump(2) + "\n");
  write_file_atomic(out / hierarchy_files::tree(r.tree_class), r.tree_json().dump(2) + "\n");
  return r;
}

}  // namespace filterscope
