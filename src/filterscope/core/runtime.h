// Process-wide settings a command applies once: threads and device.
#pragma once
#include <c10/core/Device.h>

#include <string>

#include "filterscope/core/params.h"

namespace filterscope {

/// Where and how a command runs: every command takes these flags.
struct RuntimeOptions {
  std::string device = "cpu";  ///< cpu, cuda or cuda:N (cuda under MPI: one GPU per rank of a machine)
  int64_t threads = 0;         ///< CPU threads; 0 = all cores
  bool quiet = false;          ///< no progress output

  static const ParamTable<RuntimeOptions>& params();
};

/// Applies the thread count and parses the device (Error naming --device when it is not usable).
c10::Device apply_runtime(const RuntimeOptions& options);

/// What --threads 0 means: the cores this process may run on (its affinity mask), shared out among
/// the ranks of an MPI job on this machine when they are not bound to cores of their own.
int default_threads();

/// Sets LibTorch's intra-op thread count; 0 means default_threads() (Debian's LibTorch starts with one).
/// Returns the count in force.
int configure_threads(int64_t threads);

/// Keeps freed memory in the process for reuse instead of returning large blocks to the kernel.
/// Tensors of tens of MB are allocated and freed at every step of the analysis; with glibc's
/// defaults each one is a fresh mmap whose pages fault in one by one, which measured 10x slower
/// than the arithmetic on them. Called once by every front end.
void tune_allocator();

/// Parses "cpu", "cuda" or "cuda:N"; throws Error when CUDA is asked for and not available.
c10::Device parse_device(const std::string& name);

}  // namespace filterscope
