#include "filterscope/cluster/pca_kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace filterscope::pca_kernel {

namespace {

// Samples taken together: the vectors v and the result w are swept once per tile of samples
// instead of once per sample.
constexpr int64_t kTile = 8;
// Columns per block: a block of the tile's rows (8 x 256 doubles) stays in L1 while every vector
// is applied to it.
constexpr int64_t kBlock = 256;
// Four doubles: GCC's vector extension, one AVX register where the build has AVX (two SSE2
// registers otherwise). Written out by hand because the loops below keep several sums in
// registers at once, which the compiler does not do from plain loops.
typedef double Lanes __attribute__((vector_size(32)));
constexpr int64_t kLanes = 4;

inline Lanes load(const double* p) {
  Lanes v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(double* p, Lanes v) { __builtin_memcpy(p, &v, sizeof v); }
inline double lane_sum(Lanes v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// y[r][q] += sum_{j in [j0, j1)} c[r][j] v[q][j] for rows r, r + 1 and vectors q .. q + 3.
// Columns are taken kLanes at a time, the rest one by one: a fixed order for a given block.
void dots_2x4(const double* c0, const double* c1, const double* const* vq, int64_t j0, int64_t j1, double* y0,
              double* y1) {
  Lanes a00{}, a01{}, a02{}, a03{}, a10{}, a11{}, a12{}, a13{};
  int64_t j = j0;
  for (; j + kLanes <= j1; j += kLanes) {
    const Lanes x0 = load(c0 + j), x1 = load(c1 + j);
    const Lanes v0 = load(vq[0] + j), v1 = load(vq[1] + j), v2 = load(vq[2] + j), v3 = load(vq[3] + j);
    a00 += x0 * v0; a01 += x0 * v1; a02 += x0 * v2; a03 += x0 * v3;
    a10 += x1 * v0; a11 += x1 * v1; a12 += x1 * v2; a13 += x1 * v3;
  }
  double s00 = lane_sum(a00), s01 = lane_sum(a01), s02 = lane_sum(a02), s03 = lane_sum(a03);
  double s10 = lane_sum(a10), s11 = lane_sum(a11), s12 = lane_sum(a12), s13 = lane_sum(a13);
  for (; j < j1; ++j) {
    s00 += c0[j] * vq[0][j]; s01 += c0[j] * vq[1][j]; s02 += c0[j] * vq[2][j]; s03 += c0[j] * vq[3][j];
    s10 += c1[j] * vq[0][j]; s11 += c1[j] * vq[1][j]; s12 += c1[j] * vq[2][j]; s13 += c1[j] * vq[3][j];
  }
  y0[0] += s00; y0[1] += s01; y0[2] += s02; y0[3] += s03;
  y1[0] += s10; y1[1] += s11; y1[2] += s12; y1[3] += s13;
}

// y[r][q] += sum_{j in [j0, j1)} c[r][j] v[q][j] for one row and one vector.
double dot(const double* c, const double* v, int64_t j0, int64_t j1) {
  Lanes a{};
  int64_t j = j0;
  for (; j + kLanes <= j1; j += kLanes) a += load(c + j) * load(v + j);
  double s = lane_sum(a);
  for (; j < j1; ++j) s += c[j] * v[j];
  return s;
}

// y[r][q] = sum_j c[r][j] v[q][j] for `count` rows at c, summed block by block (the same order
// for every call).
void tile_dots(const double* c, int64_t count, int64_t cols, const double* v, int64_t k, double* y) {
  std::fill(y, y + count * k, 0.0);
  for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
    const int64_t j1 = std::min(cols, j0 + kBlock);
    int64_t q = 0;
    for (; q + 4 <= k; q += 4) {
      const double* vq[4] = {v + q * cols, v + (q + 1) * cols, v + (q + 2) * cols, v + (q + 3) * cols};
      int64_t r = 0;
      for (; r + 2 <= count; r += 2)
        dots_2x4(c + r * cols, c + (r + 1) * cols, vq, j0, j1, y + r * k + q, y + (r + 1) * k + q);
      for (; r < count; ++r)
        for (int64_t i = 0; i < 4; ++i) y[r * k + q + i] += dot(c + r * cols, vq[i], j0, j1);
    }
    for (; q < k; ++q)
      for (int64_t r = 0; r < count; ++r) y[r * k + q] += dot(c + r * cols, v + q * cols, j0, j1);
  }
}

// w[q][j] += sum_r y[r][q] c[r][j] over `count` rows, j in [j0, j1).
void tile_update(const double* c, int64_t count, int64_t cols, const double* y, int64_t k, int64_t j0, int64_t j1,
                 double* w) {
  for (int64_t q = 0; q < k; ++q) {
    double* wq = w + q * cols;
    if (count == kTile) {
      Lanes a[kTile];
      for (int64_t r = 0; r < kTile; ++r) a[r] = Lanes{} + y[r * k + q];
      int64_t j = j0;
      for (; j + kLanes <= j1; j += kLanes) {
        Lanes s = load(wq + j);
        for (int64_t r = 0; r < kTile; ++r) s += a[r] * load(c + r * cols + j);
        store(wq + j, s);
      }
      for (; j < j1; ++j) {
        double s = wq[j];
        for (int64_t r = 0; r < kTile; ++r) s += y[r * k + q] * c[r * cols + j];
        wq[j] = s;
      }
    } else {
      for (int64_t j = j0; j < j1; ++j) {
        double s = wq[j];
        for (int64_t r = 0; r < count; ++r) s += y[r * k + q] * c[r * cols + j];
        wq[j] = s;
      }
    }
  }
}

}  // namespace

Moments centre(const FilterMaps& x, double* centred) {
  Moments m;
  std::vector<double> mean(static_cast<size_t>(x.cols), 0.0);
  for (int64_t i = 0; i < x.rows; ++i) {
    const float* row = x.data + i * x.row_stride;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < x.cols; ++j) {
      const double v = row[j];
      mean[j] += v;
      s += v * v;
    }
    m.scale += s;
  }
  m.finite = std::isfinite(m.scale);
  if (!m.finite) return m;
  const double inv = 1.0 / static_cast<double>(x.rows);
  for (double& v : mean) v *= inv;
  for (int64_t i = 0; i < x.rows; ++i) {
    const float* row = x.data + i * x.row_stride;
    double* out = centred + i * x.cols;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < x.cols; ++j) {
      const double d = static_cast<double>(row[j]) - mean[j];
      out[j] = d;
      s += d * d;
    }
    m.total += s;
  }
  return m;
}

void covariance_product(const double* centred, int64_t rows, int64_t cols, const double* v, int64_t k, double* w) {
  std::fill(w, w + k * cols, 0.0);
  std::vector<double> y(static_cast<size_t>(kTile * k));
  for (int64_t first = 0; first < rows; first += kTile) {
    const int64_t count = std::min(kTile, rows - first);
    const double* c = centred + first * cols;
    tile_dots(c, count, cols, v, k, y.data());
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock)
      tile_update(c, count, cols, y.data(), k, j0, std::min(cols, j0 + kBlock), w);
  }
}

void project(const double* centred, int64_t rows, int64_t cols, const double* v, int64_t k, double* p) {
  for (int64_t first = 0; first < rows; first += kTile) {
    const int64_t count = std::min(kTile, rows - first);
    tile_dots(centred + first * cols, count, cols, v, k, p + first * k);
  }
}

}  // namespace filterscope::pca_kernel
