#include "filterscope/activations/activations.h"
#include "filterscope/runs/layout.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <array>
#include <map>

#include "filterscope/activations/patterns.h"
#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/data/shift.h"
#include "filterscope/runs/stats.h"
#include "filterscope/io/json.h"
#include "filterscope/io/npy.h"

namespace filterscope {

namespace fs = std::filesystem;

const ParamTable<PatternOptions>& PatternOptions::params() {
  static const ParamTable<PatternOptions> table = {
      {"layers", &PatternOptions::layers,
       "probe points to analyse, comma-separated (see `filterscope analyze --list-layers`); empty = every hidden "
       "activation (ReLU and the like)"},
      {"reduce", &PatternOptions::reduce, "how a convolution channel's map becomes one value per image", {},
       {"mean", "max"}},
      {"epsilon", &PatternOptions::epsilon,
       "S2 significance: a ratio above this between neighbouring sorted activations is a gap; the neurons above "
       "the lowest gap are significant",
       Bounds::above(1)},
      {"shift", &PatternOptions::shift, "covariate shift of the shifted set (same classes); none = no shifted set",
       {}, {"invert", "blur", "noise", "rotate", "contrast", "none"}},
      {"kl-layers", &PatternOptions::kl_layers, "divergences between classes on the last this-many layers analysed",
       Bounds::at_least(1)},
      {"kl-smoothing", &PatternOptions::kl_smoothing,
       "added to every neuron's frequency before a class pattern becomes a distribution (keeps KL finite)",
       Bounds::above(0)},
      {"interaction-layers", &PatternOptions::interaction_layers,
       "neuron-weight interactions (section 6) of the last this-many fully connected layers; 0 = none",
       Bounds::at_least(0)},
      {"max-interaction-values", &PatternOptions::max_interaction_values,
       "write a layer's interaction frequencies [classes, outputs, inputs] only up to this many values (the "
       "histograms are always written)",
       Bounds::at_least(0)},
  };
  return table;
}

namespace {

using Log = std::function<void(const std::string&)>;

const char* kSignificances[] = {"s1", "s2"};

std::string file_safe(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (c == '/' || c == '\\' || c == ' ' || c == ':') c = '_';
  return out;
}

/// A fully connected layer whose input is another probe point's output.
struct InteractionLayer {
  std::string layer, input;
  at::Tensor weight, bias;  // [O, I], [O] or undefined (CPU float32)
};

std::vector<InteractionLayer> interaction_layers(ProbedModel& model, int64_t count, std::vector<std::string>& notes) {
  std::vector<InteractionLayer> out;
  if (count == 0) return out;
  const auto& points = model.probe_points();
  std::map<std::string, at::Tensor> params;
  for (const auto& [name, t] : model.named_parameters()) params[name] = t;
  std::vector<size_t> linear;
  for (size_t i = 0; i < points.size(); ++i)
    if (points[i].kind == ProbeKind::Linear) linear.push_back(i);
  if (linear.empty()) {
    notes.push_back(model.description() + ": no fully connected layers; the neuron-weight interactions (section 6) "
                                          "are skipped");
    return out;
  }
  const size_t first = linear.size() > static_cast<size_t>(count) ? linear.size() - static_cast<size_t>(count) : 0;
  for (size_t j = first; j < linear.size(); ++j) {
    const ProbePoint& p = points[linear[j]];
    const auto w = params.find(p.name + ".weight");
    if (w == params.end() || w->second.dim() != 2 || linear[j] == 0) {
      notes.push_back(p.name + ": no weight matrix " + p.name + ".weight or no probe point before it; its "
                      "interactions are skipped");
      continue;
    }
    InteractionLayer l;
    l.layer = p.name;
    l.input = points[linear[j] - 1].name;
    l.weight = w->second.detach().to(at::kCPU).to(at::kFloat);
    const auto b = params.find(p.name + ".bias");
    if (b != params.end()) l.bias = b->second.detach().to(at::kCPU).to(at::kFloat);
    out.push_back(l);
  }
  return out;
}

struct SetImages {
  std::string name;
  Dataset data;
  ImageSetRecord record;
};

/// Everything counted for one model on one set.
struct SetCounts {
  std::map<std::string, std::array<ClassCounts, 2>> layers;  // layer -> s1, s2
  std::map<std::string, ClassCounts> interactions;           // fc layer -> counts [K, O, I]
};

SetCounts count_set(ProbedModel& model, const SetImages& set, const InputTransform& transform,
                    const std::vector<std::string>& layers, std::vector<InteractionLayer>& fcs,
                    const ActivationsRequest& request, int64_t num_classes, std::vector<std::string>& notes,
                    double& forward_seconds) {
  const MapReduce reduce = parse_map_reduce(request.patterns.reduce);
  std::vector<std::string> probes = layers;
  for (const auto& l : fcs) {
    probes.push_back(l.layer);
    probes.push_back(l.input);
  }
  std::vector<std::string> ordered;
  for (const auto& p : model.probe_points())
    if (std::find(probes.begin(), probes.end(), p.name) != probes.end()) ordered.push_back(p.name);
  SetCounts counts;
  std::vector<bool> verified(fcs.size(), false);
  for_each_batch(model, set.data, transform, ordered, false, request.set.batch_size,
                 [&](int64_t, const at::Tensor& labels, const ProbeOutputs& out) {
                   std::map<std::string, at::Tensor> by_name(out.outputs.begin(), out.outputs.end());
                   for (const auto& layer : layers) {
                     const at::Tensor values = neuron_values(by_name.at(layer), reduce);
                     auto& c = counts.layers[layer];
                     if (!c[0].defined()) {
                       c[0] = ClassCounts(num_classes, {values.size(1)});
                       c[1] = ClassCounts(num_classes, {values.size(1)});
                     }
                     c[0].add(significant_active(values), labels);
                     c[1].add(significant_above_gap(values, request.patterns.epsilon), labels);
                   }
                   for (size_t i = 0; i < fcs.size(); ++i) {
                     InteractionLayer& l = fcs[i];
                     if (l.weight.numel() == 0) continue;
                     const at::Tensor x = by_name.at(l.input).flatten(1).to(at::kFloat);
                     if (!verified[i]) {
                       // The probe before the layer must really be its input: W x + b reproduces the output.
                       const at::Tensor y = by_name.at(l.layer).flatten(1).to(at::kFloat);
                       bool ok = x.size(1) == l.weight.size(1) && y.size(1) == l.weight.size(0);
                       if (ok) {
                         at::Tensor again = at::matmul(x, l.weight.t());
                         if (l.bias.defined()) again = again + l.bias;
                         const double scale = 1 + y.abs().max().item<double>();
                         ok = (again - y).abs().max().item<double>() <= 1e-3 * scale;
                       }
                       if (!ok) {
                         notes.push_back(l.layer + ": the output of " + l.input + " is not its input (W x + b does "
                                         "not give its output); its interactions are skipped");
                         l.weight = at::Tensor(at::zeros({0}));
                         continue;
                       }
                       verified[i] = true;
                     }
                     auto& c = counts.interactions[l.layer];
                     if (!c.defined()) c = ClassCounts(num_classes, {l.weight.size(0), l.weight.size(1)});
                     // Chunks of about 4M terms (16 MB) stay near the cache.
                     const int64_t chunk = std::max<int64_t>(1, (4 << 20) / l.weight.numel());
                     for (int64_t s = 0; s < x.size(0); s += chunk) {
                       const int64_t n = std::min(chunk, x.size(0) - s);
                       c.add_interactions(x.narrow(0, s, n), l.weight, labels.narrow(0, s, n));
                     }
                   }
                 },
                 &forward_seconds);
  return counts;
}

double mean_of(const at::Tensor& t) {
  const at::Tensor finite = t.masked_select(t.isnan().logical_not());
  return finite.numel() ? finite.mean().item<double>() : NAN;
}

/// Mean of the diagonal and of the off-diagonal entries of a square matrix.
std::pair<double, double> diagonal_means(const at::Tensor& m) {
  const int64_t k = m.size(0);
  const at::Tensor eye = at::eye(k, at::kBool);
  return {mean_of(m.masked_select(eye)), k > 1 ? mean_of(m.masked_select(eye.logical_not())) : NAN};
}

ImageSetRecord describe_set(const std::string& name, const std::string& kind, const std::string& what,
                            const Dataset& data, bool labelled) {
  ImageSetRecord r;
  r.name = name;
  r.kind = kind;
  r.what = what;
  r.images = data.size();
  if (labelled) {
    const at::Tensor sizes = at::bincount(data.labels, {}, data.num_classes);
    for (int64_t c = 0; c < data.num_classes; ++c) r.class_sizes.push_back(sizes[c].item<int64_t>());
  }
  return r;
}

}  // namespace

ActivationsRecord run_activations(ModelSource& model, ModelSource* against, const ActivationsRequest& request,
                                  const fs::path& out, const Log& log) {
  validate_params(request.patterns, PatternOptions::params());
  validate_params(request.set, EvalSetOptions::params());
  const auto started = std::chrono::steady_clock::now();
  ActivationsRecord record;
  record.model = model.record;
  record.notes = model.notes;
  record.settings = {{"patterns", params_to_json(request.patterns, PatternOptions::params())},
                     {"set", params_to_json(request.set, EvalSetOptions::params())}};

  // The sets: in-distribution images and their covariate-shifted copy.
  std::vector<SetImages> sets;
  SetImages in;
  in.name = "in";
  in.data = in_distribution_images(model, request.set);
  FS_CHECK(in.data.size() > 0, "the model's in-distribution set is empty");
  in.record = describe_set("in", "in", in.data.name + ", " + std::to_string(in.data.size()) + " images", in.data, true);
  sets.push_back(in);
  if (request.patterns.shift != "none") {
    SetImages shifted;
    shifted.name = "shift";
    shifted.data = shifted_images(in.data, request.patterns.shift, request.set.set_seed);
    shifted.record = describe_set("shift", "covariate",
                                  "the in-distribution images, " + request.patterns.shift + " (seed " +
                                      std::to_string(request.set.set_seed) + ")",
                                  shifted.data, true);
    sets.push_back(shifted);
  }
  for (const auto& s : sets) record.sets.push_back(s.record);
  const int64_t num_classes = in.data.num_classes;
  record.class_names = in.data.class_names;
  if (num_classes < 2)
    record.notes.push_back("one class only: the divergences between classes need two; only the same-class "
                           "divergences between sets are computed");
  for (int64_t c = 0; c < num_classes; ++c)
    if (in.record.class_sizes[static_cast<size_t>(c)] == 0)
      record.notes.push_back("class " + record.class_names[static_cast<size_t>(c)] +
                             " has no images in the in-distribution set: its frequencies and divergences are NaN");

  const std::vector<std::string> layers =
      chosen_layers(*model.model, request.patterns.layers, "--layers", hidden_layers(*model.model));
  for (const auto& name : layers) {
    const ProbePoint& p = model.model->probe(name);
    record.layers.push_back({name, probe_kind_name(p.kind), p.channels, p.is_map()});
  }
  std::vector<std::string> kl_layers(layers.end() - std::min<int64_t>(static_cast<int64_t>(layers.size()),
                                                                       request.patterns.kl_layers),
                                     layers.end());

  std::vector<std::pair<std::string, ModelSource*>> models = {{"model", &model}};
  if (against != nullptr) {
    record.against = against->record;
    for (const auto& name : layers)
      try {
        against->model->probe(name);
      } catch (const Error&) {
        throw Error(detail::concat("--against: ", against->record.description, " has no probe point ", name,
                                   " (the two models must be the same network)"));
      }
    models.push_back({"against", against});
  }

  ensure_directory(out);
  for (const auto& [role, source] : models) {
    const std::string prefix = role == "model" ? "" : "against/";
    ProbedModel& m = *source->model;
    for (const auto& s : sets) check_input_shape(m, s.data, model.run.transform, "set " + s.name);
    std::vector<InteractionLayer> fcs = interaction_layers(m, request.patterns.interaction_layers, record.notes);
    std::map<std::string, std::map<std::string, std::array<at::Tensor, 2>>> freq;  // set -> layer -> s1/s2
    for (const auto& s : sets) {
      log(role + ": " + s.name + " (" + std::to_string(s.data.size()) + " images, " + std::to_string(layers.size()) +
          " layers)");
      SetCounts counts =
          count_set(m, s, model.run.transform, layers, fcs, request, num_classes, record.notes, record.forward_seconds);
      for (const auto& layer : layers) {
        for (int sig = 0; sig < 2; ++sig) {
          const at::Tensor f = counts.layers.at(layer)[static_cast<size_t>(sig)].frequencies();
          freq[s.name][layer][static_cast<size_t>(sig)] = f;
          const std::string suffix = (sig == 1 ? ".s2" : "") + std::string(s.name == "in" ? "" : "." + s.name);
          PatternSummary summary;
          summary.model = role;
          summary.set = s.name;
          summary.significance = kSignificances[sig];
          summary.layer = layer;
          summary.frequencies_file = activations_files::array(prefix, "frequencies", file_safe(layer), suffix);
          summary.histogram_file = activations_files::array(prefix, "histograms", file_safe(layer), suffix);
          write_npy(out / summary.frequencies_file, f);
          write_npy(out / summary.histogram_file, frequency_histograms(f));
          summary.mean_frequency = mean_of(f);
          const at::Tensor seen = counts.layers.at(layer)[static_cast<size_t>(sig)].class_sizes().gt(0);
          const at::Tensor valid_rows = f.index_select(0, seen.nonzero().view(-1));
          summary.share_never = valid_rows.numel() ? valid_rows.amax(0).eq(0).to(at::kDouble).mean().item<double>() : NAN;
          summary.share_rare = valid_rows.numel() ? valid_rows.lt(0.05).to(at::kDouble).mean().item<double>() : NAN;
          record.summaries.push_back(summary);
        }
      }
      for (const auto& l : fcs) {
        const auto it = counts.interactions.find(l.layer);
        if (it == counts.interactions.end()) continue;
        const at::Tensor f = it->second.frequencies();
        InteractionRecord r;
        r.model = role;
        r.set = s.name;
        r.layer = l.layer;
        r.input_layer = l.input;
        r.outputs = l.weight.size(0);
        r.inputs = l.weight.size(1);
        r.threshold = 1.0 / static_cast<double>(r.inputs);
        r.mean_frequency = mean_of(f);
        const std::string suffix = s.name == "in" ? "" : "." + s.name;
        r.histogram_file = activations_files::array(prefix, "interactions", file_safe(l.layer), suffix);
        write_npy(out / r.histogram_file, frequency_histograms(f));
        if (f.numel() <= request.patterns.max_interaction_values) {
          r.frequencies_file = activations_files::array(prefix, "interactions", file_safe(l.layer), suffix + ".frequencies");
          write_npy(out / *r.frequencies_file, f);
        }
        record.interactions.push_back(r);
      }
    }
    // Sparsity by depth.
    for (const auto& s : sets)
      for (int sig = 0; sig < 2; ++sig) {
        DepthTrend t;
        t.model = role;
        t.set = s.name;
        t.significance = kSignificances[sig];
        std::vector<double> depth;
        for (const auto& summary : record.summaries)
          if (summary.model == role && summary.set == s.name && summary.significance == t.significance) {
            depth.push_back(static_cast<double>(depth.size()));
            t.mean_frequency.push_back(summary.mean_frequency);
          }
        t.spearman = spearman(depth, t.mean_frequency);
        if (std::isfinite(t.spearman)) t.sparser_with_depth = t.spearman < 0;
        record.trends.push_back(t);
      }
    // Divergences between classes, within and across the sets.
    for (const auto& layer : kl_layers)
      for (int sig = 0; sig < 2; ++sig) {
        std::vector<std::pair<std::string, std::pair<std::string, std::string>>> pairs;
        if (num_classes >= 2) pairs.push_back({"in-in", {"in", "in"}});
        if (sets.size() > 1) {
          if (num_classes >= 2) pairs.push_back({"shift-shift", {"shift", "shift"}});
          pairs.push_back({"in-shift", {"in", "shift"}});
          pairs.push_back({"shift-in", {"shift", "in"}});
        }
        for (const auto& [pair, which] : pairs) {
          const at::Tensor kl = kl_divergences(freq[which.first][layer][static_cast<size_t>(sig)],
                                               freq[which.second][layer][static_cast<size_t>(sig)],
                                               request.patterns.kl_smoothing);
          DivergenceRecord d;
          d.model = role;
          d.significance = kSignificances[sig];
          d.layer = layer;
          d.pair = pair;
          d.file = activations_files::array(prefix, "kl", file_safe(layer),
                                            (pair == "in-in" ? "" : "." + pair) + (sig == 1 ? ".s2" : ""));
          write_npy(out / d.file, kl);
          const auto [same, between] = diagonal_means(kl);
          // Within one set the diagonal is a class against itself: nothing to report.
          d.mean_same_class = which.first == which.second ? NAN : same;
          d.mean_between_classes = between;
          record.divergences.push_back(d);
        }
      }
  }
  // The same note from both models or both sets once.
  std::vector<std::string> notes;
  for (const auto& n : record.notes)
    if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
  record.notes = notes;
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  write_file_atomic(out / activations_files::kJson, record.to_json().dump(2) + "\n");
  return record;
}

}  // namespace filterscope
