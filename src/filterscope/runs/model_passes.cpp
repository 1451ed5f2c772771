#include "filterscope/runs/model_passes.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"

namespace filterscope {

const ParamTable<EvalSetOptions>& EvalSetOptions::params() {
  static const ParamTable<EvalSetOptions> table = {
      {"images", &EvalSetOptions::images,
       "in-distribution images: a seeded subset of this many of the dataset's test split (its classes); 0 = the "
       "model's validation set",
       Bounds::at_least(0)},
      {"set-seed", &EvalSetOptions::set_seed, "seed of that subset and of every shifted or noise set made from it",
       Bounds::at_least(0)},
      {"batch-size", &EvalSetOptions::batch_size, "images per forward pass", Bounds::closed(1, 65536)},
  };
  return table;
}

Dataset in_distribution_images(const ModelSource& source, const EvalSetOptions& options) {
  if (options.images == 0) return source.run.data.val;
  const DatasetSplits splits = load_dataset(source.run.settings.data);
  const Dataset& from = splits.test.size() > 0 ? splits.test : splits.train;
  FS_CHECK(options.images <= from.size(), "--images ", options.images, " exceeds the ", from.size(), " images of ",
           from.name);
  return subset(from, choose_positions(from.size(), options.images, options.set_seed), from.name);
}

Dataset training_images(const ModelSource& source, int64_t count, int64_t seed) {
  const Dataset& train = source.run.data.train;
  if (count == 0 || count >= train.size()) return train;
  return subset(train, choose_positions(train.size(), count, seed), train.name);
}

void check_input_shape(const ProbedModel& model, const Dataset& data, const InputTransform& transform,
                       const std::string& what) {
  const std::vector<int64_t> want = model.input_shape();
  std::vector<int64_t> got = {data.channels(), data.height(), data.width()};
  if (transform.resize > 0) got[1] = got[2] = transform.resize;
  auto text = [](const std::vector<int64_t>& s) {
    std::string t;
    for (size_t i = 0; i < s.size(); ++i) t += (i ? "x" : "") + std::to_string(s[i]);
    return t;
  };
  FS_CHECK(got == want, what, ": images are ", text(got), " after the model's input transform, but the model takes ",
           text(want), " (C x H x W)");
}

namespace {
bool is_activation(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::ReLU: case ProbeKind::ReLU6: case ProbeKind::LeakyReLU: case ProbeKind::SiLU:
    case ProbeKind::GELU: case ProbeKind::Hardswish: case ProbeKind::Hardsigmoid: case ProbeKind::Sigmoid:
    case ProbeKind::Tanh:
      return true;
    default:
      return false;
  }
}
}  // namespace

std::vector<std::string> hidden_layers(const ProbedModel& model) {
  std::vector<std::string> out;
  for (const auto& p : model.probe_points())
    if (is_activation(p.kind)) out.push_back(p.name);
  if (!out.empty()) return out;
  const auto& points = model.probe_points();
  for (size_t i = 0; i < points.size(); ++i)
    if (!(i + 1 == points.size() && points[i].kind == ProbeKind::Linear)) out.push_back(points[i].name);
  return out;
}

std::string feature_layer(const ProbedModel& model) {
  const auto& points = model.probe_points();
  FS_CHECK(!points.empty(), model.description(), ": the model has no probe points");
  if (points.back().kind == ProbeKind::Linear && points.size() >= 2) return points[points.size() - 2].name;
  return points.back().name;
}

std::vector<std::string> chosen_layers(const ProbedModel& model, const std::string& text, const std::string& flag,
                                       const std::vector<std::string>& fallback) {
  if (text.empty()) return fallback;
  const std::vector<std::string> names = split_list(text);
  for (const auto& name : names) {
    try {
      model.probe(name);
    } catch (const Error& e) {
      throw Error(detail::concat(flag, ": ", e.what()));
    }
  }
  FS_CHECK(!names.empty(), flag, " \"", text, "\" names no probe point");
  // Forward order, whatever order they were given in.
  std::vector<std::string> ordered;
  for (const auto& p : model.probe_points())
    if (std::find(names.begin(), names.end(), p.name) != names.end()) ordered.push_back(p.name);
  return ordered;
}

void for_each_batch(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                    const std::vector<std::string>& probes, bool need_logits, int64_t batch_size,
                    const std::function<void(int64_t, const at::Tensor&, const ProbeOutputs&)>& visit,
                    double* forward_seconds) {
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t count = std::min(batch_size, data.size() - start);
    const at::Tensor positions = at::arange(start, start + count, at::kLong);
    const auto t0 = std::chrono::steady_clock::now();
    const at::Tensor x = make_input(data, transform, positions).to(model.device());
    ProbeOutputs out = model.forward_probes(x, probes, need_logits);
    for (auto& [name, t] : out.outputs) t = t.to(at::kCPU);
    if (out.logits.defined()) out.logits = out.logits.to(at::kCPU);
    if (forward_seconds != nullptr)
      *forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    FS_CHECK(!need_logits || out.logits.defined(), model.description(),
             ": the model's output is not [N, classes] logits");
    visit(start, data.labels.narrow(0, start, count), out);
  }
}

}  // namespace filterscope
