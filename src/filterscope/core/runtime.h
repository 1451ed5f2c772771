// Process-wide settings a command applies once: threads and device.
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace filterscope {

/// Sets LibTorch's intra-op thread count; 0 means every core (Debian's LibTorch starts with one).
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
