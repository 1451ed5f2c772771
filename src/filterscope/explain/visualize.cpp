#include "filterscope/explain/visualize.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "filterscope/core/error.h"

namespace filterscope {

const ParamTable<MaximiseOptions>& MaximiseOptions::params() {
  static const ParamTable<MaximiseOptions> table = {
      {"start", &MaximiseOptions::start, "start from noise with the dataset's mean and sd, or from the set's images",
       {}, {"noise", "images"}},
      {"optimizer", &MaximiseOptions::optimizer, "gradient steps on the input", {}, {"adam", "sgd"}},
      {"lr", &MaximiseOptions::lr, "learning rate (pixels are in [0, 1])", Bounds::above(0)},
      {"steps", &MaximiseOptions::steps, "gradient steps", Bounds::closed(1, 100000)},
      {"seed", &MaximiseOptions::seed, "seed of the noise starts and the gradient jitter", Bounds::at_least(0)},
      {"seeds", &MaximiseOptions::seeds, "starts per objective (seeds seed, seed + 1, ...)", Bounds::closed(1, 1000)},
      {"alpha-weight", &MaximiseOptions::alpha_weight,
       "weight of the alpha-norm of the mean-subtracted image (section 2.4); 0 = off", Bounds::at_least(0)},
      {"alpha", &MaximiseOptions::alpha, "the alpha of the alpha-norm", Bounds::at_least(1)},
      {"tv-weight", &MaximiseOptions::tv_weight, "weight of total variation (section 2.4); 0 = off", Bounds::at_least(0)},
      {"tv-beta", &MaximiseOptions::tv_beta, "the exponent beta of total variation", Bounds::at_least(1)},
      {"grad-blur", &MaximiseOptions::grad_blur,
       "the paper's trick: blur the gradient before each step by a Gaussian of sd drawn up to this (pixels); 0 = off",
       Bounds::at_least(0)},
      {"grad-translate", &MaximiseOptions::grad_translate,
       "... shift the gradient by up to this many pixels; 0 = off", Bounds::closed(0, 1000)},
      {"grad-rotate", &MaximiseOptions::grad_rotate, "... rotate the gradient by up to this many degrees; 0 = off",
       Bounds::closed(0, 180)},
      {"fourier", &MaximiseOptions::fourier,
       "optimise a decorrelated Fourier spectrum (scaled by 1 / frequency, through a sigmoid) instead of the pixels"},
  };
  return table;
}

const ParamTable<FoolOptions>& FoolOptions::params() {
  static const ParamTable<FoolOptions> table = {
      {"fool", &FoolOptions::pair,
       "pixel fooling: FROM:TO classes (numbers or names): images of FROM pushed towards TO's logit until the "
       "prediction flips; empty = none"},
      {"fool-images", &FoolOptions::images, "images of FROM to fool", Bounds::closed(1, 100000)},
      {"fool-lr", &FoolOptions::lr,
       "gradient ascent step on the pixels: the largest change of a pixel (in [0, 1]) per step", Bounds::above(0)},
      {"fool-steps", &FoolOptions::max_steps, "steps at most", Bounds::closed(1, 100000)},
  };
  return table;
}

at::Tensor pixels_to_input(const at::Tensor& pixels, const InputTransform& transform) {
  const int64_t c = pixels.size(1);
  const auto opts = pixels.options();
  const at::Tensor mean = at::tensor(transform.mean, at::kFloat).to(opts.device()).view({1, c, 1, 1});
  const at::Tensor sd = at::tensor(transform.std, at::kFloat).to(opts.device()).view({1, c, 1, 1});
  at::Tensor x = (pixels - mean) / sd;
  if (transform.resize > 0) x = at::upsample_bicubic2d(x, {transform.resize, transform.resize}, false);
  return x;
}

std::string last_map_layer(const ProbedModel& model) {
  std::string last;
  for (const auto& p : model.probe_points())
    if (p.is_map() && p.kind != ProbeKind::MaxPool && p.kind != ProbeKind::AvgPool) last = p.name;
  FS_CHECK(!last.empty(), model.description(), ": no convolutional probe point with maps");
  return last;
}

namespace {

at::Generator generator(int64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed)); }

at::Tensor gaussian_blur(const at::Tensor& x, double sigma) {
  if (sigma < 0.3) return x;
  const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(2 * sigma)));
  at::Tensor t = at::arange(-radius, radius + 1, x.options());
  at::Tensor k = at::exp(-t * t / (2 * sigma * sigma));
  k = k / k.sum();
  const int64_t c = x.size(1);
  const at::Tensor kh = k.view({1, 1, 1, -1}).expand({c, 1, 1, 2 * radius + 1}).contiguous();
  const at::Tensor kv = k.view({1, 1, -1, 1}).expand({c, 1, 2 * radius + 1, 1}).contiguous();
  const at::Tensor no_bias;
  const std::vector<int64_t> one = {1, 1}, zero = {0, 0};
  at::Tensor y = at::conv2d(at::replication_pad2d(x, {radius, radius, 0, 0}), kh, no_bias, one, zero, one, c);
  return at::conv2d(at::replication_pad2d(y, {0, 0, radius, radius}), kv, no_bias, one, zero, one, c);
}

at::Tensor rotate(const at::Tensor& x, double degrees) {
  if (degrees == 0) return x;
  const double a = degrees * M_PI / 180.0;
  const at::Tensor theta = at::tensor({std::cos(a), -std::sin(a), 0.0, std::sin(a), std::cos(a), 0.0}, x.options())
                               .view({1, 2, 3})
                               .expand({x.size(0), 2, 3});
  const at::Tensor grid = at::affine_grid_generator(theta, x.sizes(), false);
  return at::grid_sampler(x, grid, 0, 0, false);
}

/// The decorrelated Fourier parameterisation: spectrum [M, C, H, W/2+1, 2] -> pixels in (0, 1).
struct Fourier {
  at::Tensor scale;  // [H, W/2+1]
  int64_t h = 0, w = 0;
  Fourier(int64_t h_, int64_t w_, const at::TensorOptions& opts) : h(h_), w(w_) {
    const at::Tensor fy = at::fft_fftfreq(h, 1.0, opts).view({-1, 1});
    const at::Tensor fx = at::fft_rfftfreq(w, 1.0, opts).view({1, -1});
    const at::Tensor freq = (fy * fy + fx * fx).sqrt();
    scale = 1.0 / freq.clamp_min(1.0 / static_cast<double>(std::max(h, w)));
  }
  at::Tensor pixels(const at::Tensor& spectrum) const {
    const at::Tensor complex = at::view_as_complex(spectrum) * scale;
    return at::sigmoid(at::fft_irfft2(complex, std::vector<int64_t>{h, w}, {-2, -1}));
  }
  at::Tensor spectrum_of(const at::Tensor& pixels) const {
    const at::Tensor logit = at::logit(pixels.clamp(0.01, 0.99));
    return at::view_as_real(at::fft_rfft2(logit, std::vector<int64_t>{h, w}, {-2, -1}) / scale).contiguous();
  }
};

}  // namespace

MaximiseResult maximise(ProbedModel& model, const std::vector<Objective>& objectives, const InputTransform& transform,
                        const Dataset& start_images, const MaximiseOptions& o) {
  validate_params(o, MaximiseOptions::params());
  FS_CHECK(!objectives.empty(), "activation maximisation needs at least one objective");
  const std::vector<int64_t> shape = {start_images.channels(), start_images.height(), start_images.width()};
  const int64_t n_obj = static_cast<int64_t>(objectives.size());
  const int64_t m = n_obj * o.seeds;
  const c10::Device device = model.device();
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  MaximiseResult r;
  // Starts: per seed, noise with the dataset's mean and sd (or the set's images).
  std::vector<at::Tensor> starts;
  if (o.start == "images") {
    FS_CHECK(start_images.size() >= m, "--start images: ", m, " starts need as many images, the set has ",
             start_images.size());
    starts.push_back(start_images.images.narrow(0, 0, m).to(at::kFloat).div(255));
  } else {
    const at::Tensor mean = at::tensor(transform.mean, f32).view({1, -1, 1, 1});
    const at::Tensor sd = at::tensor(transform.std, f32).view({1, -1, 1, 1});
    for (int64_t s = 0; s < o.seeds; ++s) {
      at::Generator gen = generator(o.seed + s);
      starts.push_back((at::randn({n_obj, shape[0], shape[1], shape[2]}, gen, f32) * sd + mean).clamp(0, 1));
    }
  }
  const at::Tensor start = at::cat(starts).to(device);
  for (int64_t s = 0; s < o.seeds; ++s)
    for (int64_t j = 0; j < n_obj; ++j) {
      r.objective.push_back(j);
      r.seed.push_back(o.seed + s);
    }
  const at::Tensor objective_of = at::tensor(r.objective, at::kLong).to(device);
  std::vector<std::string> probes;
  bool logits = true;  // predictions before and after
  for (const auto& obj : objectives)
    for (const auto& p : obj.probes())
      if (std::find(probes.begin(), probes.end(), p) == probes.end()) probes.push_back(p);
  std::vector<std::string> ordered;
  for (const auto& p : model.probe_points())
    if (std::find(probes.begin(), probes.end(), p.name) != probes.end()) ordered.push_back(p.name);

  // The objective of each image of the batch: every objective on the batch, one row picked per image.
  auto phi = [&](const ProbeOutputs& out) {
    std::vector<at::Tensor> rows;
    for (const auto& obj : objectives) rows.push_back(evaluate_objective(obj, out));
    return at::stack(rows).gather(0, objective_of.unsqueeze(0)).squeeze(0);
  };
  auto measure = [&](const at::Tensor& pixels, std::vector<double>& values, std::vector<int64_t>& predictions) {
    at::NoGradGuard no_grad;
    const ProbeOutputs out = model.forward_probes(pixels_to_input(pixels, transform), ordered, logits);
    const at::Tensor v = phi(out).to(at::kCPU).to(at::kDouble);
    const at::Tensor p = out.logits.argmax(1).to(at::kCPU);
    for (int64_t i = 0; i < m; ++i) {
      values.push_back(v[i].item<double>());
      predictions.push_back(p[i].item<int64_t>());
    }
  };
  measure(start, r.before, r.prediction_before);

  const Fourier fourier(shape[1], shape[2], f32.device(device));
  at::Tensor param = (o.fourier ? fourier.spectrum_of(start) : start.clone()).requires_grad_(true);
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (o.optimizer == "adam") opt = std::make_unique<torch::optim::Adam>(std::vector<at::Tensor>{param}, torch::optim::AdamOptions(o.lr));
  else opt = std::make_unique<torch::optim::SGD>(std::vector<at::Tensor>{param}, torch::optim::SGDOptions(o.lr));
  at::Generator jitter = generator(o.seed + 7919);
  const bool jittered = !o.fourier && (o.grad_blur > 0 || o.grad_translate > 0 || o.grad_rotate > 0);
  for (int64_t step = 0; step < o.steps; ++step) {
    const at::Tensor pixels = o.fourier ? fourier.pixels(param) : param;
    const ProbeOutputs out = model.forward_probes_with_grad(pixels_to_input(pixels, transform), ordered, logits);
    at::Tensor loss = -phi(out).sum();
    if (o.alpha_weight > 0) {
      const at::Tensor centred = pixels - pixels.mean({1, 2, 3}, true);
      loss = loss + o.alpha_weight * centred.abs().pow(o.alpha).mean({1, 2, 3}).sum();
    }
    if (o.tv_weight > 0) {
      const at::Tensor dx = pixels.narrow(3, 1, shape[2] - 1) - pixels.narrow(3, 0, shape[2] - 1);
      const at::Tensor dy = pixels.narrow(2, 1, shape[1] - 1) - pixels.narrow(2, 0, shape[1] - 1);
      const at::Tensor tv = (dx.narrow(2, 0, shape[1] - 1).pow(2) + dy.narrow(3, 0, shape[2] - 1).pow(2)).pow(o.tv_beta / 2);
      loss = loss + o.tv_weight * tv.mean({1, 2, 3}).sum();
    }
    at::Tensor grad = torch::autograd::grad({loss}, {param})[0];
    if (jittered) {
      at::NoGradGuard no_grad;
      const at::Tensor u = at::rand({3}, jitter, at::kDouble);
      if (o.grad_blur > 0) grad = gaussian_blur(grad, u[0].item<double>() * o.grad_blur);
      if (o.grad_translate > 0) {
        const at::Tensor shifts = at::randint(-o.grad_translate, o.grad_translate + 1, {2}, jitter, at::kLong);
        grad = at::roll(grad, {shifts[0].item<int64_t>(), shifts[1].item<int64_t>()}, {2, 3});
      }
      if (o.grad_rotate > 0) grad = rotate(grad, (2 * u[2].item<double>() - 1) * o.grad_rotate);
    }
    param.mutable_grad() = grad;
    opt->step();
    if (!o.fourier) {
      at::NoGradGuard no_grad;
      param.clamp_(0, 1);  // pixels stay valid
    }
  }
  {
    at::NoGradGuard no_grad;
    r.images = (o.fourier ? fourier.pixels(param) : param).detach().to(at::kCPU);
  }
  r.start = start.to(at::kCPU);
  measure(r.images.to(device), r.after, r.prediction_after);
  return r;
}

FoolResult fool(ProbedModel& model, const Dataset& data, const InputTransform& transform, int64_t from, int64_t to,
                const FoolOptions& o) {
  validate_params(o, FoolOptions::params());
  FS_CHECK(from != to, "--fool ", o.pair, ": FROM and TO are the same class");
  const at::Tensor positions = data.labels.eq(from).nonzero().view(-1);
  FS_CHECK(positions.numel() > 0, "--fool ", o.pair, ": ", data.name, " has no images of class ", from);
  const at::Tensor chosen = positions.narrow(0, 0, std::min<int64_t>(o.images, positions.numel()));
  const int64_t n = chosen.numel();
  const c10::Device device = model.device();
  FoolResult r;
  r.from = from;
  r.to = to;
  const at::Tensor idx = data.indices.index_select(0, chosen);
  for (int64_t i = 0; i < n; ++i) r.dataset_index.push_back(idx[i].item<int64_t>());
  r.start = data.images.index_select(0, chosen).to(at::kFloat).div(255);
  at::Tensor x = r.start.to(device).clone();
  at::Tensor fooled = x.clone();
  std::vector<int64_t> steps(static_cast<size_t>(n), -1);
  for (int64_t step = 0; step <= o.max_steps; ++step) {
    at::Tensor pixels = x.detach().requires_grad_(true);
    const ProbeOutputs out = model.forward_probes_with_grad(pixels_to_input(pixels, transform), {}, true);
    const at::Tensor pred = out.logits.argmax(1).to(at::kCPU);
    bool all = true;
    for (int64_t i = 0; i < n; ++i) {
      if (steps[static_cast<size_t>(i)] < 0 && pred[i].item<int64_t>() == to) {
        steps[static_cast<size_t>(i)] = step;
        fooled[i].copy_(x[i].detach());
      }
      all = all && steps[static_cast<size_t>(i)] >= 0;
    }
    if (all || step == o.max_steps) break;
    const at::Tensor grad = torch::autograd::grad({out.logits.select(1, to).sum()}, {pixels})[0];
    at::NoGradGuard no_grad;
    // Images already fooled stay where they flipped.
    const at::Tensor active = at::tensor(steps, at::kLong).lt(0).to(device).to(at::kFloat).view({n, 1, 1, 1});
    // The step is scaled per image so that its largest pixel change is lr: the learning rate is in
    // pixel units, whatever the size of the logit's gradient.
    const at::Tensor scale = grad.flatten(1).abs().amax(1).clamp_min(1e-12).view({n, 1, 1, 1});
    x = (x + o.lr * grad / scale * active).clamp(0, 1);
  }
  for (int64_t i = 0; i < n; ++i)
    if (steps[static_cast<size_t>(i)] < 0) fooled[i].copy_(x[i].detach());
  r.fooled = fooled.detach().to(at::kCPU);
  r.steps = steps;
  const at::Tensor diff = r.fooled - r.start;
  r.difference = diff.pow(2).sum(1).sqrt();
  const at::Tensor dist = diff.flatten(1).norm(2, {1});
  for (int64_t i = 0; i < n; ++i) r.distance.push_back(dist[i].item<double>());
  return r;
}

GradCamResult grad_cam(ProbedModel& model, const Dataset& data, const InputTransform& transform, const std::string& layer,
                       int64_t target, int64_t batch_size) {
  const ProbePoint& p = model.probe(layer);
  FS_CHECK(p.is_map(), "--gradcam-layer ", layer, ": Grad-CAM needs spatial maps, and ", layer,
           "'s output is [N, units]; choose a convolutional probe point");
  FS_CHECK(data.size() > 0, "Grad-CAM: no images");
  GradCamResult r;
  r.layer = layer;
  std::vector<at::Tensor> cams, targets, preds;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t count = std::min(batch_size, data.size() - start);
    const at::Tensor x = make_input(data, transform, at::arange(start, start + count, at::kLong))
                             .to(model.device())
                             .requires_grad_(true);
    const ProbeOutputs out = model.forward_probes_with_grad(x, {layer}, true);
    const at::Tensor& a = out.outputs.at(0).second;
    const at::Tensor pred = out.logits.argmax(1);
    FS_CHECK(target < out.logits.size(1), "--gradcam-class ", target, ": the model has ", out.logits.size(1), " classes");
    const at::Tensor t = target >= 0 ? at::full_like(pred, target) : pred;
    const at::Tensor y = out.logits.gather(1, t.unsqueeze(1)).sum();
    const at::Tensor g = torch::autograd::grad({y}, {a})[0];
    at::NoGradGuard no_grad;
    const at::Tensor alpha = g.mean({2, 3}, true);
    cams.push_back(at::relu((alpha * a).sum(1)).detach().to(at::kCPU).to(at::kDouble));
    targets.push_back(t.to(at::kCPU));
    preds.push_back(pred.to(at::kCPU));
  }
  r.cam = at::cat(cams);
  r.targets = at::cat(targets);
  r.predictions = at::cat(preds);
  at::Tensor up = at::upsample_bilinear2d(r.cam.unsqueeze(1), {data.height(), data.width()}, false).squeeze(1);
  const at::Tensor top = up.flatten(1).amax(1).view({-1, 1, 1});
  r.upsampled = at::where(top.gt(0), up / top.clamp_min(1e-300), at::zeros_like(up));
  return r;
}

TopImagesResult top_images(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                           const std::string& layer, const std::vector<int64_t>& channels, int64_t k, int64_t bins,
                           int64_t batch_size) {
  const ProbePoint& p = model.probe(layer);
  TopImagesResult r;
  r.layer = layer;
  r.channels = channels;
  if (r.channels.empty())
    for (int64_t c = 0; c < std::min<int64_t>(8, p.channels); ++c) r.channels.push_back(c);
  for (int64_t c : r.channels)
    FS_CHECK(c >= 0 && c < p.channels, "--top-channels: ", layer, " has channels 0-", p.channels - 1, ", not ", c);
  FS_CHECK(data.size() > 0, "top images: no images");
  const at::Tensor which = at::tensor(r.channels, at::kLong);
  std::vector<at::Tensor> values;
  at::NoGradGuard no_grad;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t count = std::min(batch_size, data.size() - start);
    const at::Tensor x = make_input(data, transform, at::arange(start, start + count, at::kLong)).to(model.device());
    const at::Tensor a = model.forward_probes(x, {layer}, false).outputs.at(0).second.to(at::kCPU);
    const at::Tensor v = a.dim() == 4 ? a.flatten(2).mean(2) : a;
    values.push_back(v.index_select(1, which).to(at::kDouble));
  }
  const at::Tensor all = at::cat(values);  // [N, channels]
  const int64_t kk = std::min<int64_t>(k, all.size(0));
  for (size_t j = 0; j < r.channels.size(); ++j) {
    const at::Tensor v = all.select(1, static_cast<int64_t>(j)).contiguous();
    const auto [top, pos] = v.topk(kk);
    std::vector<int64_t> positions;
    std::vector<double> tv;
    for (int64_t i = 0; i < kk; ++i) {
      positions.push_back(pos[i].item<int64_t>());
      tv.push_back(top[i].item<double>());
    }
    r.top.push_back(positions);
    r.top_values.push_back(tv);
    const double lo = v.min().item<double>(), hi = v.max().item<double>();
    const double width = hi > lo ? (hi - lo) / static_cast<double>(bins) : 1.0;
    const at::Tensor bin = ((v - lo) / width).floor().clamp(0, bins - 1).to(at::kLong);
    const at::Tensor hist = at::bincount(bin, {}, bins);
    r.histogram.emplace_back(hist.data_ptr<int64_t>(), hist.data_ptr<int64_t>() + bins);
    r.low.push_back(lo);
    r.high.push_back(hi > lo ? hi : lo + 1.0);
  }
  return r;
}

PredictionShares prediction_shares(ProbedModel& model, const std::vector<std::pair<std::string, Dataset>>& sets,
                                   const InputTransform& transform, int64_t num_classes, int64_t batch_size) {
  PredictionShares r;
  at::NoGradGuard no_grad;
  for (const auto& [name, data] : sets) {
    at::Tensor counts = at::zeros({num_classes}, at::kLong);
    for (int64_t start = 0; start < data.size(); start += batch_size) {
      const int64_t count = std::min(batch_size, data.size() - start);
      const at::Tensor x = make_input(data, transform, at::arange(start, start + count, at::kLong)).to(model.device());
      const at::Tensor logits = model.forward_probes(x, {}, true).logits.to(at::kCPU);
      counts += at::bincount(logits.argmax(1), {}, num_classes).narrow(0, 0, num_classes);
    }
    r.rows.push_back(name);
    r.images.push_back(data.size());
    std::vector<double> shares;
    for (int64_t c = 0; c < num_classes; ++c)
      shares.push_back(data.size() ? static_cast<double>(counts[c].item<int64_t>()) / static_cast<double>(data.size()) : 0.0);
    r.shares.push_back(shares);
  }
  return r;
}

}  // namespace filterscope
