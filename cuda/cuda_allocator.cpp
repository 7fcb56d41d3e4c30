// Caching device allocator: memory is taken from cudaMalloc in segments and handed out as blocks
// of them; a freed block goes back to the cache, merges with free neighbours of its segment, and
// serves later requests, split to size. A training step's allocations stop reaching cudaMalloc
// after the first step, and what is held stays close to the peak in use.
//
// Two pools, as PyTorch's allocator (whose rules these follow):
//   small requests (<= 1 MiB) come from 2 MiB segments, rounded to 512 bytes;
//   large ones from 20 MiB segments (requests up to 10 MiB) or a segment of their own size
//   rounded to 2 MiB; a cached block is split when what is left is worth keeping (>= 512 B in
//   the small pool, > 1 MiB in the large one).
// Best fit: the smallest free block that holds the request. On cudaMalloc failing for memory,
// every fully free segment is returned (cudaFree synchronises the device, so nothing still uses
// them) and the allocation is tried once more.
//
// A freed block is reused at once, which is right only because all device work runs on one
// stream (see current_stream() in cuda_common.cuh).
//
// Statistics: allocated = bytes in live blocks (rounded sizes), reserved = bytes of segments held
// from cudaMalloc, peak = the highest `allocated`.
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "cuda_allocator.h"
#include "cuda_check.h"
#include "sadanet/allocator.h"

namespace sadanet::cuda {
namespace {

constexpr size_t kRound = 512;
constexpr size_t kSmallMax = size_t{1} << 20;     // requests up to this are "small"
constexpr size_t kSmallSegment = size_t{2} << 20;
constexpr size_t kMidMax = size_t{10} << 20;       // large requests up to this share 20 MiB segments
constexpr size_t kMidSegment = size_t{20} << 20;
constexpr size_t kLargeRound = size_t{2} << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

struct Block {
  char* ptr;
  size_t size;
  bool small;   // pool
  bool free = true;
  Block* prev = nullptr;  // neighbours within the segment, in address order
  Block* next = nullptr;
};

struct BySize {  // smallest first; ties by address, so every block is a distinct key
  bool operator()(const Block* a, const Block* b) const {
    return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
  }
};

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes, int dev) override {
    const size_t n = round_up(nbytes == 0 ? 1 : nbytes, kRound);
    const bool small = n <= kSmallMax;
    std::lock_guard<std::mutex> lock(mu_);
    auto& st = per_device(dev);
    Block* b = take_free(st, n, small);
    if (!b) b = new_segment(st, n, small, nbytes, dev);
    split(st, b, n);
    b->free = false;
    st.live[b->ptr] = b;
    st.stats.allocated += b->size;
    st.stats.peak = std::max(st.stats.peak, st.stats.allocated);
    return b->ptr;
  }

  void deallocate(void* p, size_t, int dev) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto& st = per_device(dev);
    auto it = st.live.find(p);
    if (it == st.live.end()) return;  // not ours: never free what we did not allocate
    Block* b = it->second;
    st.live.erase(it);
    st.stats.allocated -= b->size;
    b->free = true;
    // Merge with free neighbours, so that the segment can serve a larger request again.
    if (b->prev && b->prev->free) b = merge(st, b->prev, b);
    if (b->next && b->next->free) b = merge(st, b, b->next);
    pool(st, b->small).insert(b);
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
    std::set<Block*, BySize> free_small, free_large;
    std::unordered_map<void*, Block*> live;
    MemoryStats stats;
  };

  static std::set<Block*, BySize>& pool(DeviceState& st, bool small) { return small ? st.free_small : st.free_large; }

  static Block* take_free(DeviceState& st, size_t n, bool small) {
    auto& free = pool(st, small);
    Block key{nullptr, n, small};
    auto it = free.lower_bound(&key);
    if (it == free.end()) return nullptr;
    Block* b = *it;
    free.erase(it);
    return b;
  }

  // Cuts the tail off `b` when it is worth keeping as a free block of its own.
  static void split(DeviceState& st, Block* b, size_t n) {
    const size_t rest = b->size - n;
    if (b->small ? rest < kRound : rest <= kSmallMax) return;
    auto* tail = new Block{b->ptr + n, rest, b->small};
    tail->prev = b;
    tail->next = b->next;
    if (b->next) b->next->prev = tail;
    b->next = tail;
    b->size = n;
    pool(st, tail->small).insert(tail);
  }

  // a and b adjacent (a first), both free; b is in its pool's free set unless it is the block being
  // freed, a always is. Returns the merged block (a), out of the free set.
  static Block* merge(DeviceState& st, Block* a, Block* b) {
    auto& free = pool(st, a->small);
    free.erase(a);
    free.erase(b);
    a->size += b->size;
    a->next = b->next;
    if (b->next) b->next->prev = a;
    delete b;
    return a;
  }

  Block* new_segment(DeviceState& st, size_t n, bool small, size_t asked, int dev) {
    const size_t bytes = small ? kSmallSegment : n <= kMidMax ? kMidSegment : round_up(n, kLargeRound);
    int prev = 0;
    SADANET_CUDA_CHECK(cudaGetDevice(&prev));
    SADANET_CUDA_CHECK(cudaSetDevice(dev));
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      (void)cudaGetLastError();
      release_cached(st);
      err = cudaMalloc(&p, bytes);
    }
    cudaSetDevice(prev);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      if (err != cudaErrorMemoryAllocation)  // e.g. the sticky error of a kernel that faulted earlier
        throw Error(detail::concat("cuda allocator: cudaMalloc of ", bytes, " bytes on cuda:", dev, " failed with ",
                                   cudaGetErrorName(err), ": ", cudaGetErrorString(err),
                                   " (not a shortage of memory: an earlier kernel or call probably failed; run with "
                                   "SADANET_CUDA_SYNC=1 to report a fault at the kernel that caused it)"));
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      throw Error(detail::concat("cuda allocator: out of memory asking for ", asked, " bytes on cuda:", dev,
                                 " (allocated by sadanet ", st.stats.allocated, ", reserved ", st.stats.reserved,
                                 ", device free ", free_b, " of ", total_b, "): ", cudaGetErrorString(err)));
    }
    st.stats.reserved += bytes;
    return new Block{static_cast<char*>(p), bytes, small};
  }

  // Returns every segment that is one free block.
  static void release_cached(DeviceState& st) {
    for (auto* free : {&st.free_small, &st.free_large}) {
      for (auto it = free->begin(); it != free->end();) {
        Block* b = *it;
        if (b->prev || b->next) {
          ++it;
          continue;
        }
        cudaFree(b->ptr);
        st.stats.reserved -= b->size;
        it = free->erase(it);
        delete b;
      }
    }
  }

  DeviceState& per_device(int dev) {
    if (dev >= static_cast<int>(devices_.size())) devices_.resize(dev + 1);
    return devices_[dev];
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
