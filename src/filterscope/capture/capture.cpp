#include "filterscope/capture/capture.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdio>

#include "filterscope/core/error.h"

namespace filterscope {

const ParamTable<CaptureOptions>& CaptureOptions::params() {
  static const ParamTable<CaptureOptions> table = {
      {"batch-size", &CaptureOptions::batch_size, "images per forward pass while capturing",
       Bounds::closed(1, 1e6)},
      {"max-memory", &CaptureOptions::max_memory_mb,
       "MB of feature maps held at once; layers are captured in passes that fit",
       Bounds::closed(1, 1e8)},
  };
  return table;
}

std::vector<std::vector<int64_t>> probe_shapes(ProbedModel& model, const std::vector<std::string>& probes) {
  std::vector<int64_t> shape = {1};
  for (int64_t d : model.input_shape()) shape.push_back(d);
  const at::Tensor x = at::zeros(shape, at::TensorOptions().device(model.device()));
  const ProbeOutputs out = model.forward_probes(x, probes, false);
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& name : probes) {
    for (const auto& [got, t] : out.outputs)
      if (got == name) shapes.push_back(t.sizes().slice(1).vec());
  }
  FS_ASSERT(shapes.size() == probes.size(), "probe outputs missing");
  return shapes;
}

namespace {
// Passes over probes whose per-sample shapes ([C, H, W] or [units]) are known.
std::vector<std::vector<std::string>> plan_passes(const std::vector<std::string>& probes,
                                                  const std::vector<std::vector<int64_t>>& shapes,
                                                  int64_t n, const CaptureOptions& options) {
  const int64_t budget = options.max_memory_mb * (int64_t{1} << 20);
  std::vector<std::vector<std::string>> passes;
  int64_t used = 0;
  for (size_t i = 0; i < probes.size(); ++i) {
    int64_t bytes = n * 4;
    for (int64_t d : shapes[i]) bytes *= d;
    std::string each;
    for (int64_t d : shapes[i]) each += (each.empty() ? "" : "x") + std::to_string(d);
    FS_CHECK(bytes <= budget, "probe ", probes[i], " needs ", (bytes + (1 << 20) - 1) >> 20, " MB for ", n,
             " images (", each, " floats each), more than --max-memory ", options.max_memory_mb,
             " MB; raise --max-memory or lower the probe set size");
    if (passes.empty() || used + bytes > budget) {
      passes.emplace_back();
      used = 0;
    }
    passes.back().push_back(probes[i]);
    used += bytes;
  }
  return passes;
}
}  // namespace

std::vector<std::vector<std::string>> plan_capture(ProbedModel& model, const std::vector<std::string>& probes,
                                                   int64_t n, const CaptureOptions& options) {
  validate_params(options, CaptureOptions::params());
  FS_CHECK(!probes.empty(), "no probe points selected");
  return plan_passes(probes, probe_shapes(model, probes), n, options);
}

void capture_probes(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                    const at::Tensor& positions, const std::vector<std::string>& probes,
                    const CaptureOptions& options,
                    const std::function<void(const std::string&, const at::Tensor&)>& consume,
                    at::Tensor* predictions, const std::vector<ChannelRange>& channels) {
  const int64_t n = positions.numel();
  FS_CHECK(n > 0, "the probe set is empty");
  validate_params(options, CaptureOptions::params());
  FS_CHECK(!probes.empty(), "no probe points selected");
  FS_CHECK(channels.empty() || channels.size() == probes.size(), "capture_probes: ", channels.size(),
           " channel ranges for ", probes.size(), " probes");
  auto shapes = probe_shapes(model, probes);
  std::vector<ChannelRange> kept(probes.size());
  for (size_t i = 0; i < probes.size(); ++i) {
    const int64_t total = shapes[i][0];
    if (!channels.empty()) kept[i] = channels[i];
    if (kept[i].count < 0) kept[i].count = total - kept[i].first;
    FS_CHECK(kept[i].first >= 0 && kept[i].count >= 0 && kept[i].first + kept[i].count <= total, "probe ", probes[i],
             " has ", total, " filters; filters ", kept[i].first, "..", kept[i].first + kept[i].count, " asked for");
    shapes[i][0] = kept[i].count;
  }
  const auto passes = plan_passes(probes, shapes, n, options);
  torch::NoGradGuard no_grad;
  bool first_pass = true;
  if (predictions) *predictions = at::empty({n}, at::kLong);
  for (const auto& pass : passes) {
    std::vector<at::Tensor> maps;
    for (const auto& name : pass) {
      const size_t i = static_cast<size_t>(std::find(probes.begin(), probes.end(), name) - probes.begin());
      std::vector<int64_t> size = {n};
      size.insert(size.end(), shapes[i].begin(), shapes[i].end());
      maps.push_back(at::empty(size, at::kFloat));
    }
    const bool logits = first_pass && predictions != nullptr;
    for (int64_t start = 0; start < n; start += options.batch_size) {
      const int64_t count = std::min(options.batch_size, n - start);
      const at::Tensor x = make_input(data, transform, positions.narrow(0, start, count)).to(model.device());
      const ProbeOutputs out = model.forward_probes(x, pass, logits);
      for (size_t j = 0; j < pass.size(); ++j) {
        const size_t i = static_cast<size_t>(std::find(probes.begin(), probes.end(), pass[j]) - probes.begin());
        maps[j].narrow(0, start, count).copy_(out.outputs[j].second.narrow(1, kept[i].first, kept[i].count));
      }
      if (logits) {
        if (out.logits.defined() && predictions->defined())
          predictions->narrow(0, start, count).copy_(out.logits.argmax(1));
        else
          *predictions = at::Tensor();
      }
    }
    first_pass = false;
    for (size_t j = 0; j < pass.size(); ++j) consume(pass[j], maps[j]);
  }
}

at::Tensor mean_abs_activation(const at::Tensor& maps) {
  FS_CHECK(maps.dim() == 4, "feature maps must have shape [N, C, H, W], got ", maps.sizes());
  const at::Tensor x = maps.to(at::kCPU, at::kFloat).contiguous();
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  at::Tensor mean = at::zeros({c}, at::kDouble);
  if (n * hw == 0) return mean.fill_(NAN);
  const float* data = x.data_ptr<float>();
  double* out = mean.data_ptr<double>();
  // One filter per task, summed sample by sample: the same order for any split of the filters.
  at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t f = begin; f < end; ++f) {
      double total = 0;
      for (int64_t s = 0; s < n; ++s) {
        const float* map = data + (s * c + f) * hw;
        // Four running sums: independent additions the CPU overlaps (a fixed order all the same).
        double lane[4] = {0, 0, 0, 0};
        int64_t p = 0;
        for (; p + 4 <= hw; p += 4)
          for (int k = 0; k < 4; ++k) lane[k] += std::fabs(static_cast<double>(map[p + k]));
        for (; p < hw; ++p) lane[0] += std::fabs(static_cast<double>(map[p]));
        total += (lane[0] + lane[1]) + (lane[2] + lane[3]);
      }
      out[f] = total / static_cast<double>(n * hw);
    }
  });
  return mean;
}

}  // namespace filterscope
