#include "filterscope/data/shift.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "filterscope/core/error.h"

namespace filterscope {

namespace {

at::Generator generator(int64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed)); }

at::Tensor to_bytes(const at::Tensor& x) { return x.round().clamp(0, 255).to(at::kByte).contiguous(); }

at::Tensor blur(const at::Tensor& images) {
  constexpr double sigma = 1.5;
  constexpr int64_t radius = 3;
  at::Tensor t = at::arange(-radius, radius + 1, at::kDouble);
  at::Tensor k = at::exp(-t * t / (2 * sigma * sigma));
  k = (k / k.sum()).to(at::kFloat);
  const int64_t c = images.size(1);
  at::Tensor x = images.to(at::kFloat);
  // Separable: rows, then columns, each channel on its own (groups = C).
  at::Tensor kh = k.view({1, 1, 1, -1}).expand({c, 1, 1, 2 * radius + 1}).contiguous();
  at::Tensor kv = k.view({1, 1, -1, 1}).expand({c, 1, 2 * radius + 1, 1}).contiguous();
  const at::Tensor no_bias;
  const std::vector<int64_t> one = {1, 1}, zero = {0, 0};
  x = at::conv2d(at::replication_pad2d(x, {radius, radius, 0, 0}), kh, no_bias, one, zero, one, c);
  x = at::conv2d(at::replication_pad2d(x, {0, 0, radius, radius}), kv, no_bias, one, zero, one, c);
  return to_bytes(x);
}

}  // namespace

const std::vector<std::string>& covariate_shift_names() {
  static const std::vector<std::string> names = {"invert", "blur", "noise", "rotate", "contrast"};
  return names;
}

const std::vector<std::string>& noise_set_names() {
  static const std::vector<std::string> names = {"uniform", "gaussian"};
  return names;
}

Dataset shifted_images(const Dataset& data, const std::string& shift, int64_t seed) {
  FS_CHECK(data.size() > 0, data.name, ": no images to shift");
  Dataset out = data;
  out.name = data.name + "+" + shift;
  const at::Tensor& x = data.images;
  if (shift == "invert") {
    out.images = (255 - x.to(at::kShort)).to(at::kByte).contiguous();
  } else if (shift == "blur") {
    out.images = blur(x);
  } else if (shift == "noise") {
    at::Generator gen = generator(seed);
    out.images = to_bytes(x.to(at::kFloat) + at::normal(0.0, 0.25 * 255.0, x.sizes(), gen));
  } else if (shift == "rotate") {
    FS_CHECK(data.height() == data.width(), "--shift rotate needs square images; ", data.name, " has ", data.height(),
             "x", data.width());
    at::Generator gen = generator(seed);
    const at::Tensor turns = at::randint(1, 4, {data.size()}, gen, at::kLong);
    const auto* t = turns.data_ptr<int64_t>();
    std::vector<at::Tensor> rotated;
    rotated.reserve(static_cast<size_t>(data.size()));
    for (int64_t i = 0; i < data.size(); ++i) rotated.push_back(at::rot90(x[i], t[i], {1, 2}));
    out.images = at::stack(rotated).contiguous();
  } else if (shift == "contrast") {
    at::Tensor f = x.to(at::kFloat);
    at::Tensor mean = f.mean({1, 2, 3}, true);
    out.images = to_bytes(mean + 0.3 * (f - mean));
  } else {
    std::string known;
    for (const auto& n : covariate_shift_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error(detail::concat("unknown shift \"", shift, "\" (known: ", known, ")"));
  }
  return out;
}

Dataset noise_images(const Dataset& like, const std::string& kind, int64_t count, int64_t seed) {
  FS_CHECK(like.size() > 0, like.name, ": no images to take the shape of");
  FS_CHECK(count > 0, "noise set \"", kind, "\": needs at least one image");
  at::Generator gen = generator(seed);
  const std::vector<int64_t> shape = {count, like.channels(), like.height(), like.width()};
  Dataset out;
  out.name = kind + "-noise";
  if (kind == "uniform") {
    out.images = at::randint(0, 256, shape, gen, at::kLong).to(at::kByte).contiguous();
  } else if (kind == "gaussian") {
    at::Tensor pixels = like.images.to(at::kDouble);
    at::Tensor mean = pixels.mean({0, 2, 3}).view({1, -1, 1, 1});
    at::Tensor sd = pixels.std({0, 2, 3}).view({1, -1, 1, 1});
    out.images = to_bytes(at::normal(0.0, 1.0, shape, gen, at::kDouble) * sd + mean);
  } else {
    throw Error(detail::concat("unknown noise set \"", kind, "\" (known: uniform, gaussian)"));
  }
  out.labels = at::zeros({count}, at::kLong);
  out.indices = at::arange(count, at::kLong);
  out.num_classes = like.num_classes;
  out.class_names = like.class_names;
  return out;
}

}  // namespace filterscope
