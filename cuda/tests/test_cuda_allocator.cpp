// The CUDA caching allocator (cuda/cuda_allocator.cpp): reuse, splitting a cached segment,
// merging freed neighbours, the small pool, statistics and empty_cache. Suite CudaAllocator:
// label `cuda`; runs on a GPU and under the CUDA simulation. Each test starts from an emptied
// cache and checks what changes, so blocks other tests left live do not matter.
#include <gtest/gtest.h>

#include <vector>

#include "../cuda_allocator.h"
#include "cuda_gate.h"
#include "sadanet/allocator.h"

namespace sadanet {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

Allocator& device_allocator() { return *get_allocator(DeviceType::cuda); }
size_t reserved() { return cuda::memory_stats(0).reserved; }
size_t allocated() { return cuda::memory_stats(0).allocated; }

TEST(CudaAllocator, ReusesAFreedBlockWithoutAskingCudaAgain) {
  SADANET_REQUIRE_CUDA();
  cuda::empty_cache(0);
  Allocator& a = device_allocator();
  void* p = a.allocate(3 * kMiB + 100, 0);
  const size_t held = reserved();
  a.deallocate(p, 3 * kMiB + 100, 0);
  void* q = a.allocate(3 * kMiB + 100, 0);
  EXPECT_EQ(q, p);
  EXPECT_EQ(reserved(), held);
  a.deallocate(q, 3 * kMiB + 100, 0);
}

TEST(CudaAllocator, SplitsACachedSegmentAndMergesFreedNeighbours) {
  SADANET_REQUIRE_CUDA();
  cuda::empty_cache(0);
  Allocator& a = device_allocator();
  const size_t before = reserved();
  // Requests of 1-10 MiB share 20 MiB segments: the second block is the first one's tail.
  char* x = static_cast<char*>(a.allocate(4 * kMiB, 0));
  char* y = static_cast<char*>(a.allocate(4 * kMiB, 0));
  EXPECT_EQ(reserved(), before + 20 * kMiB);
  EXPECT_EQ(y, x + 4 * kMiB);
  a.deallocate(x, 4 * kMiB, 0);
  a.deallocate(y, 4 * kMiB, 0);
  // Both freed blocks and the free tail merged back into one 20 MiB block.
  char* z = static_cast<char*>(a.allocate(19 * kMiB, 0));
  EXPECT_EQ(z, x);
  EXPECT_EQ(reserved(), before + 20 * kMiB);
  a.deallocate(z, 19 * kMiB, 0);
  cuda::empty_cache(0);
  EXPECT_EQ(reserved(), before) << "a fully free segment goes back to CUDA";
}

TEST(CudaAllocator, SmallBlocksShareSegments) {
  SADANET_REQUIRE_CUDA();
  cuda::empty_cache(0);
  Allocator& a = device_allocator();
  const size_t before = reserved(), live = allocated();
  std::vector<void*> ps;
  for (int i = 0; i < 100; ++i) ps.push_back(a.allocate(10000, 0));  // 10,240 bytes each, rounded
  EXPECT_EQ(allocated(), live + 100 * 10240);
  EXPECT_EQ(reserved(), before + 2 * kMiB) << "100 blocks of 10 KiB fit one 2 MiB segment";
  for (void* p : ps) a.deallocate(p, 10000, 0);
  EXPECT_EQ(allocated(), live);
  cuda::empty_cache(0);
  EXPECT_EQ(reserved(), before);
}

TEST(CudaAllocator, LargeRequestsHoldLittleMoreThanTheyUse) {
  SADANET_REQUIRE_CUDA();
  cuda::empty_cache(0);
  Allocator& a = device_allocator();
  const size_t before = reserved();
  void* p = a.allocate(33 * kMiB + 1, 0);  // its own segment, rounded to 2 MiB: 34 MiB
  EXPECT_EQ(reserved(), before + 34 * kMiB);
  a.deallocate(p, 33 * kMiB + 1, 0);
  // A 12 MiB request takes the cached 34 MiB block's front and leaves the rest cached for later.
  void* q = a.allocate(12 * kMiB, 0);
  EXPECT_EQ(q, p);
  void* r = a.allocate(21 * kMiB, 0);
  EXPECT_EQ(static_cast<char*>(r), static_cast<char*>(p) + 12 * kMiB);
  EXPECT_EQ(reserved(), before + 34 * kMiB);
  a.deallocate(q, 12 * kMiB, 0);
  a.deallocate(r, 21 * kMiB, 0);
}

TEST(CudaAllocator, PeakFollowsLiveBytesAndResets) {
  SADANET_REQUIRE_CUDA();
  Allocator& a = device_allocator();
  cuda::reset_peak_memory(0);
  const size_t live = allocated();
  EXPECT_EQ(cuda::memory_stats(0).peak, live);
  void* p = a.allocate(5 * kMiB, 0);
  void* q = a.allocate(7 * kMiB, 0);
  a.deallocate(p, 5 * kMiB, 0);
  EXPECT_EQ(cuda::memory_stats(0).peak, live + 12 * kMiB);
  EXPECT_EQ(allocated(), live + 7 * kMiB);
  cuda::reset_peak_memory(0);
  EXPECT_EQ(cuda::memory_stats(0).peak, live + 7 * kMiB);
  a.deallocate(q, 7 * kMiB, 0);
}

}  // namespace
}  // namespace sadanet
