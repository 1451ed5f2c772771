// Products with one filter's covariance for the iterative PCA on the CPU, on that filter's maps
// centred once into a contiguous float64 block. A thread holds one filter's block at a time, where
// copying a whole chunk of filters to float64 doubled the PCA's memory (and fresh memory is slow to
// touch on the VMs we measured). Every sum runs in float64 in one fixed order, whatever the threads.
//
// Plain C++ (no LibTorch): this file's .cpp is compiled with the machine's vector instructions.
#pragma once
#include <cstdint>

namespace filterscope::pca_kernel {

/// One filter's float32 maps: `rows` samples of `cols` values, sample i at data + i * row_stride.
struct FilterMaps {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;
};

struct Moments {
  double scale = 0;    ///< sum of x^2
  double total = 0;    ///< sum of (x - mean)^2
  bool finite = true;  ///< no NaN or Inf among the maps; when false, centred is not written
};

/// The maps less their column means, into centred[rows][cols], and the sums above.
Moments centre(const FilterMaps& x, double* centred);

/// w[k][cols] = rows of (Xc^T Xc) v^T for the k rows v[k][cols], Xc = centred[rows][cols].
void covariance_product(const double* centred, int64_t rows, int64_t cols, const double* v, int64_t k, double* w);

/// p[rows][k] = Xc v^T.
void project(const double* centred, int64_t rows, int64_t cols, const double* v, int64_t k, double* p);

}  // namespace filterscope::pca_kernel
