// Host memory, 64-byte aligned so vector loads never straddle cache lines.
#include <cstdlib>
#include <new>

#include "sadanet/allocator.h"
#include "sadanet/error.h"

namespace sadanet {
namespace {
class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes, int) override {
    size_t rounded = (nbytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    SADANET_CHECK(p, "cpu allocator: out of memory allocating ", nbytes, " bytes");
    return p;
  }
  void deallocate(void* p, size_t, int) override { std::free(p); }
};
CpuAllocator g_cpu_allocator;
const bool g_registered = (register_allocator(DeviceType::cpu, &g_cpu_allocator), true);
}  // namespace
}  // namespace sadanet
