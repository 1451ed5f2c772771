// The fused CPU backend: each fit runs k-means++, Lloyd and EM in plain loops over its points,
// one pass per EM iteration (E-step and the M-step's sufficient statistics together), points in
// blocks of 8 so that the compiler vectorises the inner loops. Threads take whole fits.
//
// This file is compiled with the machine's vector instructions (see CMakeLists.txt); it must
// compute exactly the algorithm of gmm_tensor.cpp, which tests compare it against.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif
#include <limits>
#include <vector>

#include "filterscope/cluster/gmm.h"
#include "filterscope/core/error.h"

namespace filterscope::detail {

namespace {

constexpr int kLanes = 8;
constexpr double kLog2Pi = 1.8378770664093453;
constexpr double kEps = std::numeric_limits<double>::epsilon();

// exp(x) for x <= 0 to ~1e-15 relative error, in arithmetic the compiler can vectorise (std::exp
// is a library call it cannot): x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series.
inline double exp_nonpositive(double x) {
  x = x < -708.0 ? -708.0 : x;
  constexpr double kShift = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double t = x * 1.4426950408889634 + kShift;
  const double n = t - kShift;
  const double r = (x - n * 0.693147180369123816490) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // Unsigned: shifting a signed value's bits out of range is undefined (UBSan found it under
  // scripts/sanitize.sh); the unsigned shift gives the same bits, defined.
  uint64_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  bits = (bits + 1023u) << 52;  // the low bits of t hold n; this builds 2^n
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// log(x) for finite x >= 1 (the sum of exp(lp - max) over components lies in [1, K]), in
// vectorisable arithmetic: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m by the atanh series.
inline double log_at_least_one(double x) {
  int64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int64_t e = ((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL;
  double m;
  std::memcpy(&m, &bits, sizeof m);
  const bool high = m > 1.4142135623730951;
  m = high ? m * 0.5 : m;
  e = high ? e + 1 : e;
  const double t = (m - 1.0) / (m + 1.0);
  const double t2 = t * t;
  double p = 1.0 / 23;
  p = p * t2 + 1.0 / 21;
  p = p * t2 + 1.0 / 19;
  p = p * t2 + 1.0 / 17;
  p = p * t2 + 1.0 / 15;
  p = p * t2 + 1.0 / 13;
  p = p * t2 + 1.0 / 11;
  p = p * t2 + 1.0 / 9;
  p = p * t2 + 1.0 / 7;
  p = p * t2 + 1.0 / 5;
  p = p * t2 + 1.0 / 3;
  p = p * t2 + 1.0;
  return static_cast<double>(e) * 0.6931471805599453 + 2.0 * t * p;
}

struct Fit {
  // Inputs.
  const double* xs;  // [n_pad], padded lanes hold 0
  const double* ys;
  const double* valid;  // [n_pad]: 1 for real points, 0 for padding
  int64_t n;
  int64_t n_pad;
  int k;
  int64_t first;
  const double* u_cand;  // [kmax - 1][trials]
  int64_t trials_stride;
  double kmeans_tol;
  const GmmOptions* o;
  // Outputs.
  double* weights;  // [kmax]
  double* means;    // [kmax][2]
  double* covs;     // [kmax][3]
  int64_t* labels;  // [n]
  double* lower_bound;
  double* log_likelihood;
  int64_t* iterations;
  bool* converged;
};

// Index of the nearest centre (the first on ties) for one block of points.
inline void nearest_centres(const double* x, const double* y, const double* cx, const double* cy,
                            int k, int64_t* lab) {
  alignas(64) double dmin[kLanes];
#pragma omp simd
  for (int l = 0; l < kLanes; ++l) {
    dmin[l] = std::numeric_limits<double>::infinity();
    lab[l] = 0;
  }
  for (int c = 0; c < k; ++c) {
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) {
      const double dx = x[l] - cx[c], dy = y[l] - cy[c];
      const double d = dx * dx + dy * dy;
      const bool closer = d < dmin[l];
      dmin[l] = closer ? d : dmin[l];
      lab[l] = closer ? c : lab[l];
    }
  }
}

void kmeans_init(const Fit& f, std::vector<double>& cx, std::vector<double>& cy,
                 std::vector<int>& label) {
  const int64_t n = f.n;
  const int k = f.k;
  std::vector<double> closest(static_cast<size_t>(n)), candidate(static_cast<size_t>(n)),
      best(static_cast<size_t>(n));
  // k-means++ with scikit-learn's greedy candidate trials.
  const int64_t first = f.first;
  cx[0] = f.xs[first];
  cy[0] = f.ys[first];
  double pot = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double dx = f.xs[i] - cx[0], dy = f.ys[i] - cy[0];
    closest[static_cast<size_t>(i)] = dx * dx + dy * dy;
    pot += closest[static_cast<size_t>(i)];
  }
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  std::vector<double> running(static_cast<size_t>(n));
  for (int c = 1; c < k; ++c) {
    double best_pot = std::numeric_limits<double>::infinity();
    int64_t best_id = 0;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) running[static_cast<size_t>(i)] = sum += closest[static_cast<size_t>(i)];
    for (int t = 0; t < trials; ++t) {
      const double target = f.u_cand[(c - 1) * f.trials_stride + t] * pot;
      // First index whose running sum reaches the target (numpy's searchsorted, side="left").
      const auto at = std::lower_bound(running.begin(), running.end(), target);
      const int64_t id = at == running.end() ? n - 1 : static_cast<int64_t>(at - running.begin());
      double cand_pot = 0;
#pragma omp simd reduction(+ : cand_pot)
      for (int64_t i = 0; i < n; ++i) {
        const double dx = f.xs[i] - f.xs[id], dy = f.ys[i] - f.ys[id];
        candidate[static_cast<size_t>(i)] = std::min(closest[static_cast<size_t>(i)], dx * dx + dy * dy);
        cand_pot += candidate[static_cast<size_t>(i)];
      }
      if (cand_pot < best_pot) {
        best_pot = cand_pot;
        best_id = id;
        best.swap(candidate);
      }
    }
    cx[static_cast<size_t>(c)] = f.xs[best_id];
    cy[static_cast<size_t>(c)] = f.ys[best_id];
    closest.swap(best);
    pot = best_pot;
  }

  // Lloyd, with scikit-learn's two stopping rules: labels unchanged, or total squared centre
  // shift at most the tolerance. An empty cluster keeps its centre.
  std::vector<double> sx(static_cast<size_t>(k)), sy(static_cast<size_t>(k)), cnt(static_cast<size_t>(k));
  std::fill(label.begin(), label.end(), -1);
  bool strict = false;
  for (int64_t it = 0; it < f.o->kmeans_max_iter; ++it) {
    std::fill(sx.begin(), sx.end(), 0.0);
    std::fill(sy.begin(), sy.end(), 0.0);
    std::fill(cnt.begin(), cnt.end(), 0.0);
    bool changed = false;
    for (int64_t base = 0; base < n; base += kLanes) {
      alignas(64) int64_t lab[kLanes];
      nearest_centres(f.xs + base, f.ys + base, cx.data(), cy.data(), k, lab);
      const int64_t lanes = std::min<int64_t>(kLanes, n - base);
      for (int64_t l = 0; l < lanes; ++l) {
        const size_t i = static_cast<size_t>(base + l);
        const int arg = static_cast<int>(lab[l]);
        changed = changed || label[i] != arg;
        label[i] = arg;
        sx[static_cast<size_t>(arg)] += f.xs[i];
        sy[static_cast<size_t>(arg)] += f.ys[i];
        cnt[static_cast<size_t>(arg)] += 1;
      }
    }
    double shift = 0;
    for (int c = 0; c < k; ++c) {
      const size_t cc = static_cast<size_t>(c);
      if (cnt[cc] == 0) continue;
      const double nx = sx[cc] / cnt[cc], ny = sy[cc] / cnt[cc];
      shift += (nx - cx[cc]) * (nx - cx[cc]) + (ny - cy[cc]) * (ny - cy[cc]);
      cx[cc] = nx;
      cy[cc] = ny;
    }
    if (!changed) {
      strict = true;
      break;
    }
    if (shift <= f.kmeans_tol) break;
  }
  if (!strict) {
    for (int64_t base = 0; base < n; base += kLanes) {
      alignas(64) int64_t lab[kLanes];
      nearest_centres(f.xs + base, f.ys + base, cx.data(), cy.data(), k, lab);
      const int64_t lanes = std::min<int64_t>(kLanes, n - base);
      for (int64_t l = 0; l < lanes; ++l) label[static_cast<size_t>(base + l)] = static_cast<int>(lab[l]);
    }
  }
}

// Per-component constants of the E-step: log N(x) = c - 0.5 (ia dx^2 + 2 ib dx dy + ic dy^2).
struct Prepared {
  double mx[16], my[16], ia[16], ib[16], ic[16], c[16];
};

void prepare(const Fit& f, Prepared& p) {
  for (int c = 0; c < f.k; ++c) {
    double a = f.covs[3 * c], b = f.covs[3 * c + 1], d = f.covs[3 * c + 2];
    double det = a * d - b * b;
    if (!(det > 0)) {  // only reachable through rounding: drop the correlation
      b = 0;
      det = a * d;
    }
    p.mx[c] = f.means[2 * c];
    p.my[c] = f.means[2 * c + 1];
    p.ia[c] = d / det;
    p.ib[c] = -b / det;
    p.ic[c] = a / det;
    p.c[c] = std::log(f.weights[c]) - kLog2Pi - 0.5 * std::log(det);
  }
}

// One pass: returns the summed log-likelihood; fills the statistics (r, r x, r y, r xx, r xy,
// r yy per component) when `stats` is given, the labels when `labels` is given.
double e_pass(const Fit& f, const Prepared& p, double* stats, int64_t* labels) {
  const int k = f.k;
  alignas(64) double acc[16][6][kLanes];
  if (stats) std::memset(acc, 0, sizeof acc);
  alignas(64) double total[kLanes] = {0};
  for (int64_t base = 0; base < f.n_pad; base += kLanes) {
    const double* x = f.xs + base;
    const double* y = f.ys + base;
    alignas(64) double lp[16][kLanes];
    alignas(64) double m[kLanes];
    for (int l = 0; l < kLanes; ++l) m[l] = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < k; ++c) {
#pragma omp simd
      for (int l = 0; l < kLanes; ++l) {
        const double dx = x[l] - p.mx[c], dy = y[l] - p.my[c];
        const double v = p.c[c] - 0.5 * (p.ia[c] * dx * dx + 2.0 * p.ib[c] * dx * dy + p.ic[c] * dy * dy);
        lp[c][l] = v;
        m[l] = v > m[l] ? v : m[l];
      }
    }
    alignas(64) double s[kLanes] = {0};
    for (int c = 0; c < k; ++c) {
#pragma omp simd
      for (int l = 0; l < kLanes; ++l) {
        const double e = exp_nonpositive(lp[c][l] - m[l]);
        lp[c][l] = e;
        s[l] += e;
      }
    }
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) total[l] += f.valid[base + l] * (m[l] + log_at_least_one(s[l]));
    if (stats) {
      alignas(64) double inv[kLanes];
#pragma omp simd
      for (int l = 0; l < kLanes; ++l) inv[l] = f.valid[base + l] / s[l];
      for (int c = 0; c < k; ++c) {
#pragma omp simd
        for (int l = 0; l < kLanes; ++l) {
          const double r = lp[c][l] * inv[l];
          const double rx = r * x[l], ry = r * y[l];
          acc[c][0][l] += r;
          acc[c][1][l] += rx;
          acc[c][2][l] += ry;
          acc[c][3][l] += rx * x[l];
          acc[c][4][l] += rx * y[l];
          acc[c][5][l] += ry * y[l];
        }
      }
    }
    if (labels) {
      // lp now holds exp(lp - max): the largest is the most probable component (first on ties).
      for (int l = 0; l < kLanes && base + l < f.n; ++l) {
        int arg = 0;
        for (int c = 1; c < k; ++c)
          if (lp[c][l] > lp[arg][l]) arg = c;
        labels[base + l] = arg;
      }
    }
  }
  if (stats) {
    for (int c = 0; c < k; ++c)
      for (int j = 0; j < 6; ++j) {
        double sum = 0;
        for (int l = 0; l < kLanes; ++l) sum += acc[c][j][l];
        stats[6 * c + j] = sum;
      }
  }
  double sum = 0;
  for (int l = 0; l < kLanes; ++l) sum += total[l];
  return sum;
}

// The M-step from sufficient statistics, with scikit-learn's 10 eps on the component masses.
void m_step(const Fit& f, const double* stats) {
  const int k = f.k;
  double mass = 0;
  for (int c = 0; c < k; ++c) mass += stats[6 * c] + 10 * kEps;
  for (int c = 0; c < k; ++c) {
    const double* s = stats + 6 * c;
    const double nk = s[0] + 10 * kEps;
    const double mx = s[1] / nk, my = s[2] / nk;
    f.weights[c] = nk / mass;
    f.means[2 * c] = mx;
    f.means[2 * c + 1] = my;
    // sum r (x - m)(x - m)^T expanded, so one pass over the points suffices.
    f.covs[3 * c] = (s[3] - 2 * mx * s[1] + mx * mx * s[0]) / nk + f.o->reg_covar;
    f.covs[3 * c + 1] = (s[4] - mx * s[2] - my * s[1] + mx * my * s[0]) / nk;
    f.covs[3 * c + 2] = (s[5] - 2 * my * s[2] + my * my * s[0]) / nk + f.o->reg_covar;
  }
}

// Far components give responsibilities of 1e-300 and below; their products underflow to
// subnormal numbers, which x86 handles about 100 times slower. They weigh nothing next to the
// 10 eps added to every component mass, so a fit runs with subnormals flushed to zero.
class FlushSubnormals {
 public:
#if defined(__SSE2__)
  FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }  // FTZ | DAZ
  ~FlushSubnormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

void fit_one(const Fit& f) {
  const FlushSubnormals flush;
  const int k = f.k;
  std::vector<double> cx(static_cast<size_t>(k)), cy(static_cast<size_t>(k));
  std::vector<int> label(static_cast<size_t>(f.n));
  kmeans_init(f, cx, cy, label);

  // Initial parameters from the hard k-means assignment (two passes: means, then spreads).
  double stats[16 * 6] = {0};
  for (int64_t i = 0; i < f.n; ++i) {
    double* s = stats + 6 * label[static_cast<size_t>(i)];
    s[0] += 1;
    s[1] += f.xs[i];
    s[2] += f.ys[i];
  }
  double mass = 0;
  for (int c = 0; c < k; ++c) mass += stats[6 * c] + 10 * kEps;
  std::vector<double> spread(static_cast<size_t>(3 * k), 0.0);
  for (int c = 0; c < k; ++c) {
    const double nk = stats[6 * c] + 10 * kEps;
    f.means[2 * c] = stats[6 * c + 1] / nk;
    f.means[2 * c + 1] = stats[6 * c + 2] / nk;
    f.weights[c] = nk / mass;
  }
  for (int64_t i = 0; i < f.n; ++i) {
    const int c = label[static_cast<size_t>(i)];
    const double dx = f.xs[i] - f.means[2 * c], dy = f.ys[i] - f.means[2 * c + 1];
    spread[static_cast<size_t>(3 * c)] += dx * dx;
    spread[static_cast<size_t>(3 * c + 1)] += dx * dy;
    spread[static_cast<size_t>(3 * c + 2)] += dy * dy;
  }
  for (int c = 0; c < k; ++c) {
    const double nk = stats[6 * c] + 10 * kEps;
    f.covs[3 * c] = spread[static_cast<size_t>(3 * c)] / nk + f.o->reg_covar;
    f.covs[3 * c + 1] = spread[static_cast<size_t>(3 * c + 1)] / nk;
    f.covs[3 * c + 2] = spread[static_cast<size_t>(3 * c + 2)] / nk + f.o->reg_covar;
  }

  Prepared p;
  double lower = -std::numeric_limits<double>::infinity();
  *f.converged = false;
  *f.iterations = 0;
  for (int64_t it = 1; it <= f.o->max_iter; ++it) {
    const double previous = lower;
    prepare(f, p);
    lower = e_pass(f, p, stats, nullptr) / static_cast<double>(f.n);
    m_step(f, stats);
    *f.iterations = it;
    if (std::abs(lower - previous) < f.o->tol) {
      *f.converged = true;
      break;
    }
  }
  *f.lower_bound = lower;
  prepare(f, p);
  *f.log_likelihood = e_pass(f, p, nullptr, f.labels) / static_cast<double>(f.n);
}

}  // namespace

GmmBatchResult fit_gmm_batch_fused(const GmmBatch& batch) {
  FS_ASSERT(batch.points.device().is_cpu() && batch.points.scalar_type() == at::kDouble);
  FS_ASSERT(batch.kmax <= 16, "kmax ", batch.kmax);
  const int64_t n_sets = batch.points.size(0);
  const int64_t n = batch.points.size(1);
  const int64_t n_pad = (n + kLanes - 1) / kLanes * kLanes;
  const int64_t fits = batch.set_of.size(0);
  const int64_t kmax = batch.kmax;

  // Structure-of-arrays copies of the points, padded to whole blocks.
  at::Tensor xs = at::zeros({n_sets, n_pad}, at::kDouble);
  at::Tensor ys = at::zeros({n_sets, n_pad}, at::kDouble);
  xs.narrow(1, 0, n).copy_(batch.points.select(2, 0));
  ys.narrow(1, 0, n).copy_(batch.points.select(2, 1));
  at::Tensor valid = at::zeros({n_pad}, at::kDouble);
  valid.narrow(0, 0, n).fill_(1.0);

  GmmBatchResult out;
  out.weights = at::zeros({fits, kmax}, at::kDouble);
  out.means = at::zeros({fits, kmax, 2}, at::kDouble);
  out.covariances = at::zeros({fits, kmax, 3}, at::kDouble);
  out.labels = at::zeros({fits, n}, at::kLong);
  out.lower_bound = at::zeros({fits}, at::kDouble);
  out.log_likelihood = at::zeros({fits}, at::kDouble);
  out.iterations = at::zeros({fits}, at::kLong);
  out.converged = at::zeros({fits}, at::kBool);

  const at::Tensor set_of = batch.set_of.contiguous();
  const at::Tensor k_of = batch.k_of.contiguous();
  const at::Tensor first = batch.first.contiguous();
  const at::Tensor u_cand = batch.u_cand.contiguous();
  const at::Tensor tol = batch.kmeans_tol.contiguous();
  const int64_t cand_stride = u_cand.size(1) * u_cand.size(2);
  const int64_t trials_stride = u_cand.size(2);

  at::parallel_for(0, fits, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t s = set_of.data_ptr<int64_t>()[b];
      Fit f;
      f.xs = xs.data_ptr<double>() + s * n_pad;
      f.ys = ys.data_ptr<double>() + s * n_pad;
      f.valid = valid.data_ptr<double>();
      f.n = n;
      f.n_pad = n_pad;
      f.k = static_cast<int>(k_of.data_ptr<int64_t>()[b]);
      f.first = first.data_ptr<int64_t>()[b];
      f.u_cand = u_cand.data_ptr<double>() + b * cand_stride;
      f.trials_stride = trials_stride;
      f.kmeans_tol = tol.data_ptr<double>()[s];
      f.o = &batch.options;
      f.weights = out.weights.data_ptr<double>() + b * kmax;
      f.means = out.means.data_ptr<double>() + b * kmax * 2;
      f.covs = out.covariances.data_ptr<double>() + b * kmax * 3;
      f.labels = out.labels.data_ptr<int64_t>() + b * n;
      f.lower_bound = out.lower_bound.data_ptr<double>() + b;
      f.log_likelihood = out.log_likelihood.data_ptr<double>() + b;
      f.iterations = out.iterations.data_ptr<int64_t>() + b;
      f.converged = out.converged.data_ptr<bool>() + b;
      fit_one(f);
    }
  });
  return out;
}

}  // namespace filterscope::detail
