// Google Benchmark timings of the clustering kernels on seeded synthetic data (the end-to-end
// comparisons against scikit-learn are the scripts beside this file).
//   ./build/bench/bench_kernels [--benchmark_filter=...]
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>

#include "filterscope/cluster/calinski_harabasz.h"
#include "filterscope/cluster/engine.h"
#include "filterscope/cluster/pca.h"
#include "filterscope/core/runtime.h"

using namespace filterscope;

namespace {

// S sets of N heavy-tailed 2-D points, the shape of real projections.
at::Tensor point_sets(int64_t sets, int64_t n) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  at::Tensor z = at::randn({sets, n, 2}, gen, at::kDouble);
  at::Tensor scale = at::rand({sets, n, 1}, gen, at::kDouble).add_(0.05).pow_(-0.5);
  return z * scale * at::tensor({3.0, 1.0}, at::kDouble);
}

void BM_GmmFused(benchmark::State& state) {
  const at::Tensor x = point_sets(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(fit_gmm(x, GmmOptions{}, {}, GmmBackend::Fused));
  state.SetItemsProcessed(state.iterations() * state.range(0) * GmmOptions{}.num_k());  // fits
}
BENCHMARK(BM_GmmFused)->Args({64, 1000})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CalinskiHarabasz(benchmark::State& state) {
  const at::Tensor x = point_sets(state.range(0), state.range(1));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
  const at::Tensor labels = at::randint(10, {state.range(0), state.range(1)}, gen, at::kLong);
  for (auto _ : state) benchmark::DoNotOptimize(calinski_harabasz(x, labels, 10));
}
BENCHMARK(BM_CalinskiHarabasz)->Args({576, 1000})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Pca(benchmark::State& state) {
  // C = 64 filters, N = 1000 samples, D = H*W; D = 121 takes the exact route, 676 the iterative one.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const int64_t d = state.range(0);
  const at::Tensor maps =
      (at::randn({64, 1000, d}, gen, at::kFloat) * at::exp(-at::arange(d, at::kFloat) * 0.05)).contiguous();
  for (auto _ : state) benchmark::DoNotOptimize(pca_2d(maps));
}
BENCHMARK(BM_Pca)->Arg(121)->Arg(676)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  configure_threads(0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
