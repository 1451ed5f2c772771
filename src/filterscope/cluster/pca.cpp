#include "filterscope/cluster/pca.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include "filterscope/core/error.h"

namespace filterscope {

const ParamTable<PcaOptions>& PcaOptions::params() {
  static const ParamTable<PcaOptions> table = {
      {"pca-exact-max-dim", &PcaOptions::exact_max_dim,
       "min(N, H*W) up to which PCA eigendecomposes exactly; above, subspace iteration",
       Bounds::closed(2, 1e6)},
      {"pca-max-iter", &PcaOptions::max_iter, "subspace iterations at most", Bounds::closed(1, 1e6)},
      {"pca-tol", &PcaOptions::tol, "subspace iteration residual tolerance (relative)",
       Bounds::positive()},
      {"pca-oversample", &PcaOptions::oversample, "extra subspace vectors", Bounds::closed(0, 100)},
      {"pca-seed", &PcaOptions::seed, "seed of the subspace iteration's start", Bounds::at_least(0)},
      {"pca-max-batch-mb", &PcaOptions::max_batch_mb, "float64 working memory per chunk of filters",
       Bounds::closed(16, 1e7)},
  };
  return table;
}

const char* pca_status_text(PcaStatus status) {
  switch (status) {
    case PcaStatus::Ok: return "ok";
    case PcaStatus::Constant: return "constant feature maps";
    case PcaStatus::Rank1: return "feature maps vary along one direction only (rank 1)";
    case PcaStatus::NonFinite: return "feature maps contain NaN or Inf";
  }
  return "?";
}

namespace {

// Top two eigenpairs of symmetric [c, m, m] matrices, largest first. The matrices are small
// (m <= exact_max_dim, or the subspace size), so they are solved on the CPU whatever the device:
// that keeps CUDA builds off cuSOLVER, and LibTorch runs a batch of CPU eigendecompositions on one
// thread, so the batch is split across threads here.
std::pair<at::Tensor, at::Tensor> top2_eigh(const at::Tensor& a_any) {
  const at::Tensor a = a_any.cpu();
  const int64_t c = a.size(0), m = a.size(1);
  at::Tensor values = at::empty({c, 2}, a.options());
  at::Tensor vectors = at::empty({c, m, 2}, a.options());
  at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
    auto [w, v] = at::linalg_eigh(a.narrow(0, begin, end - begin));
    values.narrow(0, begin, end - begin).copy_(w.narrow(1, m - 2, 2).flip(1));
    vectors.narrow(0, begin, end - begin).copy_(v.narrow(2, m - 2, 2).flip(2));
  });
  return {values.to(a_any.device()), vectors.to(a_any.device())};
}

// Orthonormal rows spanning y [c, p, D]: classical Gram-Schmidt done twice, in plain tensor
// arithmetic (no LAPACK), which runs on any device.
at::Tensor orthonormalize_rows(const at::Tensor& y) {
  std::vector<at::Tensor> rows;
  for (int64_t j = 0; j < y.size(1); ++j) {
    at::Tensor v = y.select(1, j);
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& q : rows) v = v - q * (q * v).sum(1, true);
    }
    rows.push_back(v / v.norm(2, 1, true).clamp_min(1e-300));
  }
  return at::stack(rows, 1);
}

// Projections [c, N, 2] and eigenvalues [c, 2] of one chunk of centred maps xc [c, N, D].
std::tuple<at::Tensor, at::Tensor, at::Tensor> project_chunk(const at::Tensor& xc,
                                                            const PcaOptions& o, uint64_t seed) {
  const int64_t c = xc.size(0), n = xc.size(1), d = xc.size(2);
  const int64_t m = std::min(n, d);
  at::Tensor iterations = at::zeros({c}, at::kLong);
  if (m <= o.exact_max_dim || m <= 2 + o.oversample) {
    if (d <= n) {
      auto [values, vectors] = top2_eigh(at::bmm(xc.transpose(1, 2), xc));
      return {at::bmm(xc, vectors), values.clamp_min(0), iterations};
    }
    auto [values, vectors] = top2_eigh(at::bmm(xc, xc.transpose(1, 2)));
    values = values.clamp_min(0);
    return {vectors * values.sqrt().unsqueeze(1), values, iterations};
  }
  // Subspace iteration on A = xc^T xc without forming A: two thin products per step. The basis
  // is kept as rows (qt [c, p, D]) so that every product reads xc as it lies in memory; a
  // transposed xc would be copied whole at each step.
  const int64_t p = 2 + o.oversample;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor qt = orthonormalize_rows(at::randn({c, p, d}, gen, at::TensorOptions().dtype(at::kDouble)).to(xc.device()));
  // A v for row vectors v [c, k, D]: (xc v^T)^T xc.
  auto apply = [&](const at::Tensor& rows) {
    return at::bmm(at::bmm(xc, rows.transpose(1, 2).contiguous()).transpose(1, 2).contiguous(), xc);
  };
  at::Tensor vectors, values;  // vectors as rows [c, 2, D]
  at::Tensor done = at::zeros({c}, at::TensorOptions().dtype(at::kBool).device(xc.device()));
  for (int64_t it = 1; it <= o.max_iter; ++it) {
    qt = orthonormalize_rows(apply(qt));
    if (it % 2 != 0 && it != o.max_iter) continue;
    // Rayleigh-Ritz on the subspace, then the residuals of the top two Ritz pairs.
    at::Tensor b = at::bmm(xc, qt.transpose(1, 2).contiguous());  // [c, N, p]
    auto [theta, w] = top2_eigh(at::bmm(b.transpose(1, 2).contiguous(), b));
    vectors = at::bmm(w.transpose(1, 2).contiguous(), qt);          // [c, 2, D]
    values = theta.clamp_min(0);
    at::Tensor residual = (apply(vectors) - vectors * theta.unsqueeze(2)).norm(2, 2).amax(1);  // [c]
    at::Tensor ok = residual.le(o.tol * values.select(1, 0).clamp_min(1e-300));
    iterations.masked_fill_(ok.cpu().logical_and(done.cpu().logical_not()), it);
    done = done.logical_or(ok);
    if (done.all().item<bool>()) break;
  }
  iterations.masked_fill_(done.cpu().logical_not(), o.max_iter);
  return {at::bmm(xc, vectors.transpose(1, 2).contiguous()), values, iterations};
}

}  // namespace

PcaResult pca_2d(const at::Tensor& maps, const PcaOptions& options) {
  validate_params(options, PcaOptions::params());
  FS_CHECK(maps.dim() == 3, "maps must have shape [C, N, D], got ", maps.sizes());
  FS_CHECK(maps.scalar_type() == at::kFloat || maps.scalar_type() == at::kDouble,
           "maps must be float32 or float64, got ", maps.scalar_type());
  const int64_t c = maps.size(0), n = maps.size(1), d = maps.size(2);
  FS_CHECK(n >= 2, "PCA needs at least 2 samples, got ", n);
  FS_CHECK(d >= 1, "feature maps are empty");
  const auto f64 = maps.options().dtype(at::kDouble);

  PcaResult out;
  out.points = at::zeros({c, n, 2}, f64);
  out.explained_variance = at::zeros({c, 2}, f64);
  out.status = at::zeros({c}, at::kLong);
  out.iterations = at::zeros({c}, at::kLong);
  if (c == 0) return out;

  // A chunk holds the float64 maps and their products: about twice the maps' size.
  const int64_t per_filter = std::max<int64_t>(1, n * d * 8 * 2 + std::min(n, d) * std::min(n, d) * 8 * 2);
  const int64_t chunk = std::max<int64_t>(1, options.max_batch_mb * (int64_t{1} << 20) / per_filter);
  for (int64_t start = 0; start < c; start += chunk) {
    const int64_t count = std::min(chunk, c - start);
    at::Tensor x = maps.narrow(0, start, count).to(at::kDouble).contiguous();
    // 1x1 maps (the last stage of a ResNet on small images) have one coordinate: a zero second
    // one makes them rank 1 rather than an error.
    if (d == 1) x = at::cat({x, at::zeros_like(x)}, 2);
    // NaN and Inf survive a sum: one reduction finds the affected filters.
    const at::Tensor finite = at::isfinite(x.sum({1, 2}));
    if (!finite.all().item<bool>()) x = x.masked_fill(finite.logical_not().view({count, 1, 1}), 0.0);
    const at::Tensor scale = (x * x).sum({1, 2});
    x = x - x.mean(1, true);
    const at::Tensor total = (x * x).sum({1, 2});
    auto [points, values, iterations] =
        project_chunk(x, options, static_cast<uint64_t>(options.seed) + static_cast<uint64_t>(start));

    // Sign: the coordinate of largest magnitude is positive.
    const at::Tensor extreme = at::gather(points, 1, points.abs().argmax(1, true));  // [c, 1, 2]
    points = points * at::where(extreme.lt(0), -at::ones_like(extreme), at::ones_like(extreme));

    // Degenerate filters. Rounding in the centring leaves ~1e-32 of the scale behind.
    const at::Tensor constant = total.le(1e-24 * scale).logical_or(total.eq(0));
    const at::Tensor rank1 = values.select(1, 1).le(1e-12 * values.select(1, 0));
    at::Tensor status = at::zeros({count}, f64.dtype(at::kLong));
    status.masked_fill_(rank1, static_cast<int64_t>(PcaStatus::Rank1));
    status.masked_fill_(constant, static_cast<int64_t>(PcaStatus::Constant));
    status.masked_fill_(finite.logical_not(), static_cast<int64_t>(PcaStatus::NonFinite));
    const at::Tensor zero_all = status.eq(static_cast<int64_t>(PcaStatus::Constant))
                                    .logical_or(status.eq(static_cast<int64_t>(PcaStatus::NonFinite)));
    points = points.masked_fill(zero_all.view({count, 1, 1}), 0.0);
    points.select(2, 1).masked_fill_(status.ne(0).view({count, 1}), 0.0);
    values = values.masked_fill(zero_all.view({count, 1}), 0.0);
    values.select(1, 1).masked_fill_(status.ne(0), 0.0);

    out.points.narrow(0, start, count).copy_(points);
    out.explained_variance.narrow(0, start, count).copy_(values / static_cast<double>(n - 1));
    out.status.narrow(0, start, count).copy_(status.cpu());
    out.iterations.narrow(0, start, count).copy_(iterations);
  }
  return out;
}

PcaResult pca_feature_maps(const at::Tensor& feature_maps, const PcaOptions& options) {
  FS_CHECK(feature_maps.dim() == 4, "feature maps must have shape [N, C, H, W], got ",
           feature_maps.sizes());
  return pca_2d(feature_maps.flatten(2).transpose(0, 1), options);
}

}  // namespace filterscope
