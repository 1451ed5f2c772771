#include "filterscope/signals/gradient_stats.h"

#include <torch/torch.h>

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/models/probed_model.h"

namespace filterscope {

GradientSubsample draw_gradient_subsample(const Dataset& train, const InputTransform& transform, int64_t count,
                                          int64_t seed) {
  FS_CHECK(train.size() > 0, "the training set is empty: no per-sample gradients");
  const int64_t m = std::min(count, train.size());
  GradientSubsample s;
  const at::Tensor positions = choose_positions(train.size(), m, seed);
  s.positions.assign(positions.data_ptr<int64_t>(), positions.data_ptr<int64_t>() + positions.numel());
  s.inputs = make_input(train, transform, positions);
  s.labels = train.labels.index_select(0, positions).contiguous();
  return s;
}

GradientStats gradient_stats(ProbedModel& model, const GradientSubsample& subsample, int64_t disparity_batch) {
  FS_CHECK(disparity_batch >= 1, "--disparity-batch must be >= 1, got ", disparity_batch);
  const auto named = model.named_parameters();
  std::vector<at::Tensor> params;
  int64_t total = 0;
  for (const auto& [name, p] : named) {
    if (!p.requires_grad()) continue;
    params.push_back(p);
    total += p.numel();
  }
  FS_CHECK(!params.empty(), model.description(), ": the model has no trainable parameters");
  const int64_t m = static_cast<int64_t>(subsample.positions.size());
  GradientStats out;
  out.samples = m;
  out.mean.assign(static_cast<size_t>(total), 0.0);
  std::vector<double> m2(static_cast<size_t>(total), 0.0);
  std::vector<double> batch_sum(static_cast<size_t>(total), 0.0), first_of_pair;
  const c10::Device device = model.device();
  std::vector<double> flat(static_cast<size_t>(total));
  for (int64_t i = 0; i < m; ++i) {
    const at::Tensor x = subsample.inputs.narrow(0, i, 1).to(device);
    const at::Tensor y = subsample.labels.narrow(0, i, 1).to(device);
    const at::Tensor logits = model.forward_probes_with_grad(x, {}, true).logits;
    FS_CHECK(logits.defined(), model.description(), ": the model's output is not [N, classes] logits");
    const at::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
    const auto grads = torch::autograd::grad({loss}, params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                             /*allow_unused=*/true);
    size_t at = 0;
    for (size_t k = 0; k < params.size(); ++k) {
      const int64_t n = params[k].numel();
      if (grads[k].defined()) {
        const at::Tensor g = grads[k].detach().to(at::kCPU, at::kDouble).contiguous();
        const double* v = g.data_ptr<double>();
        std::copy(v, v + n, flat.begin() + static_cast<std::ptrdiff_t>(at));
      } else {
        std::fill(flat.begin() + static_cast<std::ptrdiff_t>(at), flat.begin() + static_cast<std::ptrdiff_t>(at + n), 0.0);
      }
      at += static_cast<size_t>(n);
    }
    // Welford: one fixed order, stable where the variance is tiny beside the mean.
    const double count = static_cast<double>(i + 1);
    for (size_t j = 0; j < flat.size(); ++j) {
      const double delta = flat[j] - out.mean[j];
      out.mean[j] += delta / count;
      m2[j] += delta * (flat[j] - out.mean[j]);
      batch_sum[j] += flat[j];
    }
    // Gradient disparity: the mean gradients of two consecutive batches, one pair at a time.
    if ((i + 1) % disparity_batch == 0) {
      const double b = static_cast<double>(disparity_batch);
      if (first_of_pair.empty()) {
        first_of_pair.resize(batch_sum.size());
        for (size_t j = 0; j < batch_sum.size(); ++j) first_of_pair[j] = batch_sum[j] / b;
      } else {
        double sq = 0;
        for (size_t j = 0; j < batch_sum.size(); ++j) {
          const double d = first_of_pair[j] - batch_sum[j] / b;
          sq += d * d;
        }
        out.disparities.push_back(std::sqrt(sq));
        first_of_pair.clear();
      }
      std::fill(batch_sum.begin(), batch_sum.end(), 0.0);
    }
  }
  out.variance.assign(m2.size(), NAN);
  if (m >= 2)
    for (size_t j = 0; j < m2.size(); ++j) out.variance[j] = m2[j] / static_cast<double>(m - 1);
  return out;
}

}  // namespace filterscope
