// The CPU allocator's cache of freed large blocks (src/cpu/cpu_allocator.cpp): a block of 1 MiB
// or more is handed to the next allocation of the same size, and whatever the previous tensor
// left in it never leaks into a tensor that promises its contents.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "op_table.h"
#include "sadanet/allocator.h"
#include "sadanet/tensor.h"

namespace sadanet::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheOn = false;  // sanitizer builds never cache
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCacheOn = false;
#else
constexpr bool kCacheOn = true;
#endif
#else
constexpr bool kCacheOn = true;
#endif

TEST(CpuAllocator, AFreedLargeBlockIsReusedForTheSameSize) {
  if (!kCacheOn || std::getenv("SADANET_CPU_CACHE_MB")) GTEST_SKIP() << "the block cache is off in this build or run";
  Allocator* a = get_allocator(DeviceType::cpu);
  const size_t big = (size_t{3} << 20) + 4096 + 64 * (std::random_device{}() % 512);  // a size no other test uses
  void* p = a->allocate(big, 0);
  a->deallocate(p, big, 0);
  void* q = a->allocate(big, 0);
  EXPECT_EQ(p, q) << "a freed block of " << big << " bytes was not reused";
  void* r = a->allocate(big, 0);  // the cache held one block: this one is fresh
  EXPECT_NE(q, r);
  a->deallocate(q, big, 0);
  a->deallocate(r, big, 0);
  // Small blocks are not cached (malloc's own free lists serve them).
  void* s = a->allocate(1000, 0);
  a->deallocate(s, 1000, 0);
}

TEST(CpuAllocator, ReusedMemoryNeverShowsThroughZerosOrFull) {
  Generator gen(run_seed());
  const int64_t n = (int64_t{1} << 20) + 17;  // 4 MiB of f32
  for (int round = 0; round < 3; ++round) {
    { Tensor junk = randn({n}, TensorOptions(DType::f32), &gen); }  // freed: its block goes to the cache
    Tensor z = zeros({n});
    const float* pz = z.data<float>();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(pz[i], 0.0f) << "zeros() at " << i << " after a freed block";
    { Tensor junk = randn({n}, TensorOptions(DType::f32), &gen); }
    Tensor f = full({n}, 2.5);
    const float* pf = f.data<float>();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(pf[i], 2.5f) << "full() at " << i << " after a freed block";
  }
}

}  // namespace
}  // namespace sadanet::test
