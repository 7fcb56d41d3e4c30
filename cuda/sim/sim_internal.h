// Shared between the simulation's runtime (sim_runtime.cpp) and its launcher (sim_launch.cpp).
#pragma once
#include <cuda_runtime.h>

#include <string>

namespace cuda_sim {

// sm_90's per-block limits, as the launcher enforces them and the device properties report them.
constexpr int kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxStaticShared = 48 << 10;

namespace detail {
// Sets the host thread's last error to `e` and remembers `what` for cudaGetErrorString; returns e.
cudaError_t fail(cudaError_t e, const std::string& what);
bool valid_stream(cudaStream_t s);
// The sticky error set by set_sticky_error, reported for `call` (cudaSuccess when none).
cudaError_t sticky(const char* call);
}  // namespace detail

}  // namespace cuda_sim
