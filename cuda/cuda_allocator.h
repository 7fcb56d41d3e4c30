#pragma once
#include <cstddef>

namespace sadanet::cuda {

struct MemoryStats {
  size_t allocated = 0;  // bytes in live tensors (rounded to size classes)
  size_t reserved = 0;   // bytes held from cudaMalloc, live or cached
  size_t peak = 0;       // highest `allocated` since start or the last reset
};
MemoryStats memory_stats(int device);
void empty_cache(int device);
void reset_peak_memory(int device);

}  // namespace sadanet::cuda
