// The launch check of cuda_launch.h and its SADANET_CUDA_SYNC switch.
#include "cuda_launch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "sadanet/error.h"

namespace sadanet::cuda {
namespace {

std::atomic<int> g_sync{-1};  // -1: environment not read yet

std::string describe(const char* kernel, const LaunchConfig& c) {
  return detail::concat("CUDA kernel ", kernel, " (grid ", c.grid.x, "x", c.grid.y, "x", c.grid.z, ", block ", c.block.x,
                        "x", c.block.y, "x", c.block.z, c.smem ? detail::concat(", ", c.smem, " B shared") : "", ")");
}

}  // namespace

void set_sync_launches(bool on) { g_sync.store(on ? 1 : 0); }

bool sync_launches() {
  int v = g_sync.load();
  if (v < 0) {
    const char* e = std::getenv("SADANET_CUDA_SYNC");
    int expected = -1;
    g_sync.compare_exchange_strong(expected, e && (std::strcmp(e, "1") == 0 || std::strcmp(e, "on") == 0) ? 1 : 0);
    v = g_sync.load();
  }
  return v == 1;
}

void check_launch(const char* kernel, const LaunchConfig& c) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw Error(detail::concat(describe(kernel, c), " failed: ", cudaGetErrorName(err), ": ",
                               cudaGetErrorString(err)));
  if (!sync_launches()) return;
  err = cudaStreamSynchronize(c.stream);
  if (err != cudaSuccess) {
    const std::string msg = detail::concat(describe(kernel, c), " failed while running (SADANET_CUDA_SYNC=1): ",
                                           cudaGetErrorName(err), ": ", cudaGetErrorString(err));
    (void)cudaGetLastError();  // reported here, not again by the next launch
    throw Error(msg);
  }
}

}  // namespace sadanet::cuda
