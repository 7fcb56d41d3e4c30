// Caching device allocator: freed blocks are kept per device in size classes and handed out
// again, so a training step's allocations stop reaching cudaMalloc after the first step. A freed
// block is reused at once, which is right only because all device work runs on one stream (see
// current_stream() in cuda_common.cuh).
// Statistics (allocated, reserved, peak) feed memory reports; an out-of-memory error says what
// was asked for and what is held.
#include <map>
#include <mutex>
#include <vector>

#include "cuda_allocator.h"
#include "cuda_check.h"
#include "sadanet/allocator.h"

namespace sadanet::cuda {
namespace {

size_t size_class(size_t n) {
  if (n <= (1u << 20)) return (n + 511) / 512 * 512;      // small: 512-byte steps
  return (n + (2u << 20) - 1) / (2u << 20) * (2u << 20);   // large: 2 MiB steps
}

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes, int dev) override {
    const size_t n = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto& st = per_device(dev);
    // Reuse the smallest cached block that fits without wasting more than half of it.
    auto it = st.free.lower_bound(n);
    if (it != st.free.end() && it->first <= 2 * n) {
      void* p = it->second;
      st.live[p] = it->first;
      st.stats.allocated += it->first;
      st.stats.peak = std::max(st.stats.peak, st.stats.allocated);
      st.free.erase(it);
      return p;
    }
    int prev = 0;
    SADANET_CUDA_CHECK(cudaGetDevice(&prev));
    SADANET_CUDA_CHECK(cudaSetDevice(dev));
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, n);
    if (err == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      (void)cudaGetLastError();
      release_cached(st);
      err = cudaMalloc(&p, n);
    }
    cudaSetDevice(prev);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      if (err != cudaErrorMemoryAllocation)  // e.g. the sticky error of a kernel that faulted earlier
        throw Error(detail::concat("cuda allocator: cudaMalloc of ", n, " bytes on cuda:", dev, " failed with ",
                                   cudaGetErrorName(err), ": ", cudaGetErrorString(err),
                                   " (not a shortage of memory: an earlier kernel or call probably failed; run with "
                                   "SADANET_CUDA_SYNC=1 to report a fault at the kernel that caused it)"));
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      throw Error(detail::concat("cuda allocator: out of memory asking for ", nbytes, " bytes on cuda:", dev,
                                 " (allocated by sadanet ", st.stats.allocated, ", reserved ", st.stats.reserved,
                                 ", device free ", free_b, " of ", total_b, "): ", cudaGetErrorString(err)));
    }
    st.live[p] = n;
    st.stats.allocated += n;
    st.stats.reserved += n;
    st.stats.peak = std::max(st.stats.peak, st.stats.allocated);
    return p;
  }

  void deallocate(void* p, size_t, int dev) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto& st = per_device(dev);
    auto it = st.live.find(p);
    if (it == st.live.end()) return;  // not ours: never free what we did not allocate
    st.stats.allocated -= it->second;
    st.free.emplace(it->second, p);
    st.live.erase(it);
  }

  MemoryStats stats(int dev) {
    std::lock_guard<std::mutex> lock(mu_);
    return per_device(dev).stats;
  }
  void empty_cache(int dev) {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached(per_device(dev));
  }
  void reset_peak(int dev) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& st = per_device(dev);
    st.stats.peak = st.stats.allocated;
  }

 private:
  struct DeviceState {
    std::multimap<size_t, void*> free;
    std::map<void*, size_t> live;
    MemoryStats stats;
  };
  DeviceState& per_device(int dev) {
    if (dev >= static_cast<int>(devices_.size())) devices_.resize(dev + 1);
    return devices_[dev];
  }
  static void release_cached(DeviceState& st) {
    for (auto& [n, p] : st.free) {
      cudaFree(p);
      st.stats.reserved -= n;
    }
    st.free.clear();
  }
  std::mutex mu_;
  std::vector<DeviceState> devices_;
};

CachingAllocator& instance() {
  static CachingAllocator* a = new CachingAllocator();  // never destroyed: frees may come at exit
  return *a;
}
const bool g_registered = (register_allocator(DeviceType::cuda, &instance()), true);

}  // namespace

MemoryStats memory_stats(int device) { return instance().stats(device); }
void empty_cache(int device) { instance().empty_cache(device); }
void reset_peak_memory(int device) { instance().reset_peak(device); }

}  // namespace sadanet::cuda
