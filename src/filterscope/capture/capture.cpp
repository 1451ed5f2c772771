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
       "MB for the feature maps held at once and the work on them (a quarter is kept for the forward pass's "
       "outputs and the PCA and clustering); layers are captured in passes, and a layer in pieces of filters, that fit",
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

int64_t capture_reserve_bytes(const CaptureOptions& options) {
  return options.max_memory_mb * (int64_t{1} << 20) / 4;
}

namespace {

std::string megabytes(int64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MB"; }

// Where `name` is in `names` (the caller's lists hold it).
size_t position_of(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

int64_t per_sample_floats(const std::vector<int64_t>& shape) {
  int64_t floats = 1;
  for (int64_t d : shape) floats *= d;
  return floats;
}

// The plan for probes whose full per-sample shapes are known, keeping filters `kept` of each.
CapturePlan plan_pieces(const std::vector<std::string>& probes, const std::vector<std::vector<int64_t>>& shapes,
                        const std::vector<ChannelRange>& kept, const std::vector<int64_t>& input_shape, int64_t n,
                        const CaptureOptions& options) {
  const int64_t reserve = capture_reserve_bytes(options);
  const int64_t budget = options.max_memory_mb * (int64_t{1} << 20) - reserve;
  CapturePlan plan;
  if (probes.empty()) return plan;
  int64_t used = 0;
  for (size_t i = 0; i < probes.size(); ++i) {
    const bool maps = shapes[i].size() == 3;
    const int64_t per_filter = n * 4 * (maps ? shapes[i][1] * shapes[i][2] : 1);
    // The smallest piece there is: one filter's maps, or the whole of a 2-D probe.
    const int64_t unit = maps ? per_filter : per_filter * kept[i].count;
    FS_CHECK(unit <= budget, "probe ", probes[i], maps ? ": one filter's maps need " : " needs ", megabytes(unit),
             " for ", n, " images, more than the ", megabytes(budget), " of --max-memory ", options.max_memory_mb,
             " MB left for maps (a quarter is kept for the forward pass and the analysis); raise --max-memory or "
             "lower the probe set size");
    int64_t first = kept[i].first, left = kept[i].count;
    while (left > 0) {
      int64_t fit = plan.passes.empty() ? 0 : std::min(left, (budget - used) / per_filter);
      if (!maps && fit < left) fit = 0;
      if (fit == 0) {
        plan.passes.emplace_back();
        used = 0;
        continue;
      }
      plan.passes.back().push_back({probes[i], first, fit});
      used += fit * per_filter;
      first += fit;
      left -= fit;
    }
  }
  // A batch's forward pass holds its input, the full outputs of the pass's probes and, at worst,
  // two of the largest outputs on the way (a layer's input and output).
  const int64_t input = 4 * per_sample_floats(input_shape);
  int64_t worst = 0;
  for (const auto& pass : plan.passes) {
    int64_t outputs = 0, largest = 0;
    const size_t deepest = position_of(probes, pass.back().probe);
    for (size_t i = 0; i <= deepest; ++i) largest = std::max(largest, 4 * per_sample_floats(shapes[i]));
    for (const auto& piece : pass)  // a probe appears once in a pass: it is split only between passes
      outputs += 4 * per_sample_floats(shapes[position_of(probes, piece.probe)]);
    worst = std::max(worst, input + outputs + 2 * largest);
  }
  FS_CHECK(worst <= reserve, "one image's forward pass needs ", megabytes(worst), ", more than the ",
           megabytes(reserve), " kept for it out of --max-memory ", options.max_memory_mb, " MB; raise --max-memory");
  plan.batch_size = std::max<int64_t>(1, std::min(options.batch_size, reserve / std::max<int64_t>(1, worst)));
  return plan;
}

// Filters kept of each probe: all, or the given ranges, checked against the probes' shapes.
std::vector<ChannelRange> kept_filters(const std::vector<std::string>& probes,
                                       const std::vector<std::vector<int64_t>>& shapes,
                                       const std::vector<ChannelRange>& channels) {
  FS_CHECK(channels.empty() || channels.size() == probes.size(), "capture_probes: ", channels.size(),
           " channel ranges for ", probes.size(), " probes");
  std::vector<ChannelRange> kept(probes.size());
  for (size_t i = 0; i < probes.size(); ++i) {
    const int64_t total = shapes[i][0];
    if (!channels.empty()) kept[i] = channels[i];
    if (kept[i].count < 0) kept[i].count = total - kept[i].first;
    FS_CHECK(kept[i].first >= 0 && kept[i].count >= 0 && kept[i].first + kept[i].count <= total, "probe ", probes[i],
             " has ", total, " filters; filters ", kept[i].first, "..", kept[i].first + kept[i].count, " asked for");
  }
  return kept;
}

}  // namespace

CapturePlan plan_capture(ProbedModel& model, const std::vector<std::string>& probes, int64_t n,
                         const CaptureOptions& options, const std::vector<ChannelRange>& channels) {
  validate_params(options, CaptureOptions::params());
  FS_CHECK(!probes.empty(), "no probe points selected");
  const auto shapes = probe_shapes(model, probes);
  return plan_pieces(probes, shapes, kept_filters(probes, shapes, channels), model.input_shape(), n, options);
}

void capture_probes(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                    const at::Tensor& positions, const std::vector<std::string>& probes,
                    const CaptureOptions& options,
                    const std::function<void(const CapturePiece&, const at::Tensor&)>& consume,
                    at::Tensor* predictions, const std::vector<ChannelRange>& channels) {
  const int64_t n = positions.numel();
  FS_CHECK(n > 0, "the probe set is empty");
  const CapturePlan plan = plan_capture(model, probes, n, options, channels);
  torch::NoGradGuard no_grad;
  if (predictions) *predictions = plan.passes.empty() ? at::Tensor() : at::empty({n}, at::kLong);
  for (size_t k = 0; k < plan.passes.size(); ++k) {
    const auto& pass = plan.passes[k];
    std::vector<std::string> names;
    for (const auto& piece : pass)
      if (names.empty() || names.back() != piece.probe) names.push_back(piece.probe);
    std::vector<at::Tensor> maps;
    const bool logits = k + 1 == plan.passes.size() && predictions != nullptr;
    for (int64_t start = 0; start < n; start += plan.batch_size) {
      const int64_t count = std::min(plan.batch_size, n - start);
      const at::Tensor x = make_input(data, transform, positions.narrow(0, start, count)).to(model.device());
      const ProbeOutputs out = model.forward_probes(x, names, logits);
      for (size_t j = 0; j < pass.size(); ++j) {
        const at::Tensor& y = out.outputs[position_of(names, pass[j].probe)].second;
        const at::Tensor part = y.narrow(1, pass[j].first, pass[j].count);
        if (maps.size() <= j) {
          std::vector<int64_t> size = part.sizes().vec();
          size[0] = n;
          maps.push_back(at::empty(size, at::kFloat));
        }
        maps[j].narrow(0, start, count).copy_(part);
      }
      if (logits) {
        if (out.logits.defined() && predictions->defined())
          predictions->narrow(0, start, count).copy_(out.logits.argmax(1));
        else
          *predictions = at::Tensor();
      }
    }
    for (size_t j = 0; j < pass.size(); ++j) {
      consume(pass[j], maps[j]);
      maps[j] = at::Tensor();  // handed over: free it before the next piece's analysis
    }
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
