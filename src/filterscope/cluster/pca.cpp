#include "filterscope/cluster/pca.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <functional>
#include <tuple>
#include <vector>

#include "filterscope/cluster/pca_kernel.h"
#include "filterscope/core/error.h"

namespace filterscope {

const ParamTable<PcaOptions>& PcaOptions::params() {
  static const ParamTable<PcaOptions> table = {
      {"pca-exact-max-dim", &PcaOptions::exact_max_dim,
       "min(N, H*W) up to which PCA eigendecomposes exactly; above, restarted block Krylov",
       Bounds::closed(2, 1e6)},
      {"pca-max-iter", &PcaOptions::max_iter, "products with the covariance at most (each reads the maps twice)",
       Bounds::closed(1, 1e6)},
      {"pca-tol", &PcaOptions::tol, "iterative PCA stops when both residuals |A v - l v| are below this x the top eigenvalue",
       Bounds::positive()},
      {"pca-oversample", &PcaOptions::oversample, "extra vectors in each Krylov block (block size 2 + this)",
       Bounds::closed(0, 100)},
      {"pca-krylov-steps", &PcaOptions::krylov_steps, "blocks in the Krylov basis before a restart",
       Bounds::closed(1, 1000)},
      {"pca-seed", &PcaOptions::seed, "seed of the iterative PCA's random start", Bounds::at_least(0)},
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

// Top `count` eigenpairs of symmetric [c, m, m] matrices, largest first. The matrices are small
// (m <= exact_max_dim, or the Krylov basis), so they are solved on the CPU whatever the device:
// that keeps CUDA builds off cuSOLVER, and LibTorch runs a batch of CPU eigendecompositions on one
// thread, so the batch is split across threads here.
std::pair<at::Tensor, at::Tensor> top_eigh(const at::Tensor& a_any, int64_t count) {
  const at::Tensor a = a_any.cpu();
  const int64_t c = a.size(0), m = a.size(1);
  at::Tensor values = at::empty({c, count}, a.options());
  at::Tensor vectors = at::empty({c, m, count}, a.options());
  at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
    auto [w, v] = at::linalg_eigh(a.narrow(0, begin, end - begin));
    values.narrow(0, begin, end - begin).copy_(w.narrow(1, m - count, count).flip(1));
    vectors.narrow(0, begin, end - begin).copy_(v.narrow(2, m - count, count).flip(2));
  });
  return {values.to(a_any.device()), vectors.to(a_any.device())};
}

// A direction whose part outside the basis is below this fraction of its norm before the basis
// was taken out is numerically in the basis already: normalising what is left would blow rounding
// error up into a vector that is not orthogonal to the basis, and the Rayleigh-Ritz step would then
// give wrong eigenvalues (maps of rank below the block size did: 1,000 products and a wrong top
// eigenvalue). Such a direction is dropped (left zero). A few hundred times the float64 epsilon:
// two Gram-Schmidt passes keep anything larger orthogonal to working precision.
constexpr double kDependent = 1e-13;

// Orthonormal rows spanning y [c, p, D]: classical Gram-Schmidt done twice, in plain tensor
// arithmetic (no LAPACK), which runs on any device. reference [c, p]: the norms each row is judged
// against (the rows' own norms when undefined); a row left with less than kDependent of it is zero.
at::Tensor orthonormalize_rows(const at::Tensor& y, const at::Tensor& reference = {}) {
  std::vector<at::Tensor> rows;
  const at::Tensor norms = reference.defined() ? reference : y.norm(2, 2);
  for (int64_t j = 0; j < y.size(1); ++j) {
    at::Tensor v = y.select(1, j);
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& q : rows) v = v - q * (q * v).sum(1, true);
    }
    const at::Tensor norm = v.norm(2, 1, true);
    const at::Tensor kept = norm.gt(kDependent * norms.select(1, j).unsqueeze(1));
    rows.push_back(at::where(kept, v / norm.clamp_min(1e-300), at::zeros_like(v)));
  }
  return at::stack(rows, 1);
}

// Top two eigenpairs of A = xc^T xc for centred maps xc [c, N, D], without forming A: restarted
// block Krylov. Each cycle grows an orthonormal basis [V, AV, A^2 V, ...] (block rows, so every
// product reads xc as it lies in memory), solves the small projected problem (Rayleigh-Ritz) and
// restarts from the best Ritz vectors until both residuals |A v - l v| are below tol x l1. A
// Krylov basis reaches a given accuracy in far fewer products with A than subspace iteration (the
// square root of them, roughly), and each product carries only a few vectors.
// apply: rows v [c, k, D] -> A v [c, k, D]; project: vectors [c, 2, D] -> xc v^T [c, N, 2].
// start: [c, b, D] random rows. Returns projections [c, N, 2], eigenvalues [c, 2], products used [c].
using RowsMap = std::function<at::Tensor(const at::Tensor&)>;
std::tuple<at::Tensor, at::Tensor, at::Tensor> krylov_top2(const RowsMap& apply, const RowsMap& project,
                                                          const at::Tensor& start, const PcaOptions& o) {
  const int64_t c = start.size(0), d = start.size(2);
  const int64_t b = start.size(1);
  const int64_t steps = std::max<int64_t>(1, std::min(o.krylov_steps, d / b - 1));
  at::Tensor v = orthonormalize_rows(start);
  at::Tensor vectors, values;
  at::Tensor products = at::zeros({c}, at::kLong);
  at::Tensor done = at::zeros({c}, at::kBool);
  int64_t used = 0;
  while (true) {
    std::vector<at::Tensor> blocks = {v}, images;
    for (int64_t j = 0; j <= steps; ++j) {
      at::Tensor w = apply(blocks.back());
      images.push_back(w);
      ++used;
      if (j == steps) break;
      const at::Tensor basis = at::cat(blocks, 1);
      const at::Tensor before = w.norm(2, 2);
      for (int pass = 0; pass < 2; ++pass) w = w - at::bmm(at::bmm(w, basis.transpose(1, 2)), basis);
      blocks.push_back(orthonormalize_rows(w, before));
    }
    const at::Tensor basis = at::cat(blocks, 1), images_all = at::cat(images, 1);  // [c, m, D]
    at::Tensor t = at::bmm(basis, images_all.transpose(1, 2));
    t = (t + t.transpose(1, 2)) * 0.5;
    auto [theta, w] = top_eigh(t, b);
    const at::Tensor wt = w.transpose(1, 2).contiguous();  // [c, b, m]
    const at::Tensor ritz = at::bmm(wt, basis), ritz_images = at::bmm(wt, images_all);
    vectors = ritz.narrow(1, 0, 2);
    values = theta.narrow(1, 0, 2).clamp_min(0);
    const at::Tensor residual =
        (ritz_images.narrow(1, 0, 2) - vectors * theta.narrow(1, 0, 2).unsqueeze(2)).norm(2, 2).amax(1);
    const at::Tensor ok = residual.le(o.tol * values.select(1, 0).clamp_min(1e-300)).cpu();
    products.masked_fill_(ok.logical_and(done.logical_not()), used);
    done = done.logical_or(ok);
    if (done.all().item<bool>() || used >= o.max_iter) break;
    v = ritz;  // restart from the best b Ritz vectors
  }
  products.masked_fill_(done.logical_not(), used);
  return {project(vectors.contiguous()), values, products};
}

// The random start of filter `index` (its index in its layer): [b, D] float64.
at::Tensor krylov_start(const PcaOptions& o, int64_t index, int64_t b, int64_t d) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed) + static_cast<uint64_t>(index));
  return at::randn({b, d}, gen, at::TensorOptions().dtype(at::kDouble));
}

// Projections [c, N, 2] and eigenvalues [c, 2] of one chunk of centred maps xc [c, N, D]; the
// random start of filter i comes from seed + first + i, so chunking does not change results.
std::tuple<at::Tensor, at::Tensor, at::Tensor> project_chunk(const at::Tensor& xc, const PcaOptions& o,
                                                            int64_t first) {
  const int64_t c = xc.size(0), n = xc.size(1), d = xc.size(2);
  const int64_t m = std::min(n, d);
  const int64_t b = 2 + o.oversample;
  if (m <= o.exact_max_dim || m < 2 * b) {
    at::Tensor iterations = at::zeros({c}, at::kLong);
    if (d <= n) {
      auto [values, vectors] = top_eigh(at::bmm(xc.transpose(1, 2), xc), 2);
      return {at::bmm(xc, vectors), values.clamp_min(0), iterations};
    }
    auto [values, vectors] = top_eigh(at::bmm(xc, xc.transpose(1, 2)), 2);
    values = values.clamp_min(0);
    return {vectors * values.sqrt().unsqueeze(1), values, iterations};
  }
  auto solve = [&](const at::Tensor& x, const at::Tensor& start) {
    const RowsMap apply = [&](const at::Tensor& rows) {  // (x v^T)^T x
      return at::bmm(at::bmm(x, rows.transpose(1, 2).contiguous()).transpose(1, 2).contiguous(), x);
    };
    const RowsMap project = [&](const at::Tensor& vectors) { return at::bmm(x, vectors.transpose(1, 2)); };
    return krylov_top2(apply, project, start, o);
  };
  if (!xc.device().is_cpu()) {
    std::vector<at::Tensor> starts;
    for (int64_t i = 0; i < c; ++i) starts.push_back(krylov_start(o, first + i, b, d));
    return solve(xc, at::stack(starts).to(xc.device()));
  }
  // On the CPU each thread takes whole filters: one filter's maps stay in cache through all its
  // products, where a batch over filters would stream every filter from memory at each product.
  at::Tensor points = at::empty({c, n, 2}, xc.options());
  at::Tensor values = at::empty({c, 2}, xc.options());
  at::Tensor products = at::empty({c}, at::kLong);
  at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      auto [p, v, k] = solve(xc.narrow(0, i, 1), krylov_start(o, first + i, b, d).unsqueeze(0));
      points.narrow(0, i, 1).copy_(p);
      values.narrow(0, i, 1).copy_(v);
      products.narrow(0, i, 1).copy_(k);
    }
  });
  return {points, values, products};
}

// What pca_2d computes for a run of filters before the signs and the degenerate cases are settled.
struct RawProjection {
  at::Tensor points, values, iterations;  // [c, N, 2], [c, 2], [c]
  at::Tensor scale, total, finite;        // [c] float64 sum x^2, sum (x - mean)^2; [c] bool
};

// The iterative route on the CPU for float32 maps [c, N, D] whose rows are contiguous: each thread
// takes whole filters, centres one at a time into float64 and multiplies by its covariance there
// (pca_kernel), so nothing larger than one filter's float64 maps per thread is allocated.
RawProjection project_float_maps(const at::Tensor& maps, const PcaOptions& o, int64_t first_filter) {
  const int64_t c = maps.size(0), n = maps.size(1), d = maps.size(2);
  const int64_t b = 2 + o.oversample;
  FS_CHECK(b <= 64, "--pca-oversample ", o.oversample, ": at most 62 on the CPU");
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  RawProjection r;
  r.points = at::zeros({c, n, 2}, f64);
  r.values = at::zeros({c, 2}, f64);
  r.iterations = at::zeros({c}, at::kLong);
  r.scale = at::zeros({c}, f64);
  r.total = at::zeros({c}, f64);
  r.finite = at::ones({c}, at::kBool);
  const float* base = maps.data_ptr<float>();
  double* scale = r.scale.data_ptr<double>();
  double* total = r.total.data_ptr<double>();
  bool* finite = r.finite.data_ptr<bool>();
  at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
    // One filter's centred float64 maps at a time per thread: a contiguous block that every product
    // reads from cache, where the filter's rows lie one layer apart in the maps ([N, C, H, W]).
    std::vector<double> centred(static_cast<size_t>(n * d));
    for (int64_t i = begin; i < end; ++i) {
      const pca_kernel::FilterMaps x{base + i * maps.stride(0), n, d, maps.stride(1)};
      const pca_kernel::Moments moments = pca_kernel::centre(x, centred.data());
      scale[i] = moments.scale;
      total[i] = moments.total;
      finite[i] = moments.finite;
      if (!moments.finite) continue;
      const RowsMap apply = [&](const at::Tensor& rows) {
        const at::Tensor v = rows.contiguous();
        at::Tensor w = at::empty_like(v);
        pca_kernel::covariance_product(centred.data(), n, d, v.data_ptr<double>(), v.size(1), w.data_ptr<double>());
        return w;
      };
      const RowsMap project = [&](const at::Tensor& vectors) {
        const at::Tensor v = vectors.contiguous();
        at::Tensor p = at::empty({1, n, v.size(1)}, f64);
        pca_kernel::project(centred.data(), n, d, v.data_ptr<double>(), v.size(1), p.data_ptr<double>());
        return p;
      };
      auto [points, values, products] =
          krylov_top2(apply, project, krylov_start(o, first_filter + i, b, d).unsqueeze(0), o);
      r.points.narrow(0, i, 1).copy_(points);
      r.values.narrow(0, i, 1).copy_(values);
      r.iterations.narrow(0, i, 1).copy_(products);
    }
  });
  return r;
}

// Any other maps, a chunk at a time: a float64 copy, centred in place, and tensor products (which
// also run on CUDA).
RawProjection project_copied_maps(const at::Tensor& maps, const PcaOptions& o, int64_t first) {
  const int64_t count = maps.size(0), d = maps.size(2);
  // A copy even when the maps are float64 already: the centring below is in place, and the
  // caller's maps must not change.
  at::Tensor x = maps.to(at::kDouble, /*non_blocking=*/false, /*copy=*/true).contiguous();
  // 1x1 maps (the last stage of a ResNet on small images) have one coordinate: a zero second
  // one makes them rank 1 rather than an error.
  if (d == 1) x = at::cat({x, at::zeros_like(x)}, 2);
  RawProjection r;
  // NaN and Inf survive a sum: one reduction finds the affected filters.
  r.finite = at::isfinite(x.sum({1, 2}));
  if (!r.finite.all().item<bool>()) x = x.masked_fill(r.finite.logical_not().view({count, 1, 1}), 0.0);
  // Norms instead of (x * x).sum(): no temporary the size of the maps (fresh memory is slow to
  // touch), and the centring is done in place for the same reason.
  r.scale = at::linalg_vector_norm(x, 2, at::IntArrayRef{1, 2}).square();
  x.sub_(x.mean(1, true));
  r.total = at::linalg_vector_norm(x, 2, at::IntArrayRef{1, 2}).square();
  std::tie(r.points, r.values, r.iterations) = project_chunk(x, o, first);
  return r;
}

}  // namespace

bool pca_reads_maps_in_place(int64_t n, int64_t d, const PcaOptions& options) {
  const int64_t m = std::min(n, d);
  return !(m <= options.exact_max_dim || m < 2 * (2 + options.oversample));  // the iterative route
}

PcaResult pca_2d(const at::Tensor& maps, const PcaOptions& options, int64_t first_filter) {
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

  // Signs and degenerate filters of a run of filters [start, start + count).
  auto settle = [&](int64_t start, int64_t count, RawProjection& r) {
    at::Tensor points = r.points.to(maps.device()), values = r.values.to(maps.device());
    const at::Tensor finite = r.finite.to(maps.device());
    // Sign: the coordinate of largest magnitude is positive.
    const at::Tensor extreme = at::gather(points, 1, points.abs().argmax(1, true));  // [c, 1, 2]
    points = points * at::where(extreme.lt(0), -at::ones_like(extreme), at::ones_like(extreme));

    // Degenerate filters. Rounding in the centring leaves ~1e-32 of the scale behind.
    const at::Tensor total = r.total.to(maps.device()), scale = r.scale.to(maps.device());
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
    out.iterations.narrow(0, start, count).copy_(r.iterations);
  };

  if (maps.device().is_cpu() && maps.scalar_type() == at::kFloat && maps.stride(2) == 1 &&
      pca_reads_maps_in_place(n, d, options)) {
    RawProjection r = project_float_maps(maps, options, first_filter);
    settle(0, c, r);
    return out;
  }
  // A chunk holds the float64 maps and their products: about twice the maps' size.
  const int64_t per_filter = std::max<int64_t>(1, n * d * 8 * 2 + std::min(n, d) * std::min(n, d) * 8 * 2);
  const int64_t chunk = std::max<int64_t>(1, options.max_batch_mb * (int64_t{1} << 20) / per_filter);
  for (int64_t start = 0; start < c; start += chunk) {
    const int64_t count = std::min(chunk, c - start);
    RawProjection r = project_copied_maps(maps.narrow(0, start, count), options, first_filter + start);
    settle(start, count, r);
  }
  return out;
}

PcaResult pca_feature_maps(const at::Tensor& feature_maps, const PcaOptions& options, int64_t first_filter) {
  FS_CHECK(feature_maps.dim() == 4, "feature maps must have shape [N, C, H, W], got ",
           feature_maps.sizes());
  return pca_2d(feature_maps.flatten(2).transpose(0, 1), options, first_filter);
}

}  // namespace filterscope
