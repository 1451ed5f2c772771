#include "filterscope/core/runtime.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>

#include <thread>

#include "filterscope/core/error.h"
#include "filterscope/core/ranks.h"

namespace filterscope {

int default_threads() {
  // The cores this process may run on: mpirun binds each rank to its own, taskset and cgroups narrow them.
  cpu_set_t allowed;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) cores = std::max(1, CPU_COUNT(&allowed));
  // Ranks left unbound on one machine share its cores instead of each taking all of them.
  const int here = ranks_on_this_host();
  if (here > 1 && cores == static_cast<int>(std::thread::hardware_concurrency())) cores = std::max(1, cores / here);
  return cores;
}

int configure_threads(int64_t threads) {
  FS_CHECK(threads >= 0, "--threads must be >= 0 (0 = all cores), got ", threads);
  int n = static_cast<int>(threads);
  if (n == 0) n = default_threads();
  if (at::get_num_threads() != n) at::set_num_threads(n);
  return at::get_num_threads();
}

void tune_allocator() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 256 << 20);
    // The first use of that memory still faults in 4 KB pages (about 12 us each on the VMs we
    // measured: 0.5 s for the first layer's 170 MB of float64 maps). Growing the heap once and
    // marking it for transparent huge pages makes first touches fault 2 MB at a time. The block is
    // freed at once (below the trim threshold, so the heap keeps it); nothing is committed until used.
    const size_t reserve = size_t{768} << 20;
    if (void* block = std::malloc(reserve)) {
      const uintptr_t huge = uintptr_t{2} << 20;
      const uintptr_t begin = (reinterpret_cast<uintptr_t>(block) + huge - 1) & ~(huge - 1);
      const uintptr_t end = (reinterpret_cast<uintptr_t>(block) + reserve) & ~(huge - 1);
      if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
      std::free(block);
    }
    return true;
  }();
  (void)done;
}

const ParamTable<RuntimeOptions>& RuntimeOptions::params() {
  static const ParamTable<RuntimeOptions> table = {
      {"device", &RuntimeOptions::device, "where the model runs: cpu, cuda or cuda:N (under mpirun, cuda gives each rank of a machine its own GPU)", {}, {}, false},
      {"threads", &RuntimeOptions::threads, "CPU threads; 0 = the cores this process may use (shared among unbound MPI ranks of a machine). Idle threads sleep instead of spinning (OMP_WAIT_POLICY=passive unless set), so a machine busy with other work slows a run down without stalling it; there --threads 1 is fastest. Results depend on the thread count: give the same --threads to reproduce files byte for byte", Bounds::closed(0, 4096), {}, false},
      {"quiet", &RuntimeOptions::quiet, "no progress output", {}, {}, false},
  };
  return table;
}

c10::Device apply_runtime(const RuntimeOptions& options) {
  validate_params(options, RuntimeOptions::params());
  configure_threads(options.threads);
  return parse_device(options.device);
}

c10::Device parse_device(const std::string& name) {
  FS_CHECK_USAGE(name == "cpu" || name.rfind("cuda", 0) == 0, "--device must be cpu, cuda or cuda:N, got \"",
                 name, "\"");
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const std::exception&) {
    throw UsageError(detail::concat("--device: cannot parse \"", name, "\""));
  }
  if (device.is_cuda()) {
    FS_CHECK(torch::cuda::is_available(), "--device ", name,
             ": this LibTorch has no CUDA or no GPU is visible");
    FS_CHECK(!device.has_index() || device.index() < static_cast<int>(torch::cuda::device_count()),
             "--device ", name, ": only ", torch::cuda::device_count(), " GPU(s) visible");
    // Ranks of one machine take its GPUs in turn: "cuda" on local rank r is cuda:(r mod GPUs).
    if (!device.has_index() && ranks_on_this_host() > 1)
      device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank() % torch::cuda::device_count()));
  }
  return device;
}

}  // namespace filterscope
