// The simulation must catch what a first GPU run would otherwise find: each test plants one bug
// of the kinds that make CUDA code wrong or hang (a missing barrier, a shuffle whose mask names
// absent or exited lanes, __syncthreads that not every thread reaches, an out-of-limit launch)
// and checks that the simulation reports it, and that the correct twin of the kernel passes.
// Suite names start with CudaSim: ctest label `cuda`, built only with SADANET_CUDA_SIM.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda_launch.h"
#include "sadanet/error.h"

namespace {

using cuda_sim::Order;

// Runs `fn` under each thread order and restores the settings.
template <class Fn> void with_order(Order o, Fn&& fn) {
  const auto saved = cuda_sim::settings();
  auto s = saved;
  s.order = o;
  cuda_sim::set_settings(s);
  fn();
  cuda_sim::set_settings(saved);
}

// Device memory of n values, copied back by host().
template <class T> struct DeviceArray {
  T* p = nullptr;
  size_t n;
  explicit DeviceArray(size_t count, T fill = T()) : n(count) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T)), cudaSuccess);
    std::vector<T> h(n, fill);
    EXPECT_EQ(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceArray() { cudaFree(p); }
  std::vector<T> host() const {
    std::vector<T> h(n);
    EXPECT_EQ(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
  }
};

// Launches through SADANET_LAUNCH and returns the error text ("" when it ran).
template <class Launch> std::string launch_error(Launch&& l) {
  try {
    l();
    return "";
  } catch (const sadanet::Error& e) {
    return e.what();
  }
}

// ---- a missing barrier ---------------------------------------------------------------------------------

// Block-wide sum in shared memory by halving; `with_barrier` false drops the barrier between the
// levels, the classic bug (each level reads partial sums other threads may not have written yet).
__global__ void tree_sum_kernel(const float* x, float* out, bool with_barrier) {
  __shared__ float s[256];
  const unsigned t = threadIdx.x;
  s[t] = x[blockIdx.x * blockDim.x + t];
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) s[t] += s[t + half];
    if (with_barrier) __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

std::vector<float> tree_sums(bool with_barrier) {
  const int blocks = 4, threads = 256;
  std::vector<float> h(blocks * threads);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>(i % 7);
  DeviceArray<float> x(h.size()), out(blocks);
  cudaMemcpy(x.p, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice);
  SADANET_LAUNCH((blocks, threads), tree_sum_kernel)(x.p, out.p, with_barrier);
  return out.host();
}

std::vector<float> tree_sums_expected() {
  std::vector<float> want(4, 0.0f);
  for (int i = 0; i < 4 * 256; ++i) want[i / 256] += static_cast<float>(i % 7);
  return want;
}

TEST(CudaSimPlantedBugs, MissingBarrierChangesTheResultInSomeThreadOrder) {
  const auto want = tree_sums_expected();
  bool caught = false;
  for (Order o : {Order::forward, Order::reverse, Order::random}) {
    with_order(o, [&] {
      EXPECT_EQ(tree_sums(true), want) << "the correct kernel must give the sum in every order";
      caught = caught || tree_sums(false) != want;
    });
  }
  EXPECT_TRUE(caught) << "without its barrier the reduction gave the right sums in every thread order";
}

TEST(CudaSimPlantedBugs, EachOrderShowsDifferentMissingBarriers) {
  // Without barriers, forward order runs thread 0 through every level before thread 64 has added
  // its pair; reverse order runs the high threads to completion first, which is exactly what this
  // reduction needs, so it hides this bug. Hence the CI runs both orders.
  with_order(Order::forward, [&] { EXPECT_NE(tree_sums(false), tree_sums_expected()); });
  with_order(Order::reverse, [&] { EXPECT_EQ(tree_sums(false), tree_sums_expected()); });
}

// ---- bad shuffle masks ------------------------------------------------------------------------------------

__global__ void warp_sum_kernel(const float* x, float* out) {
  float v = x[threadIdx.x];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if ((threadIdx.x & 31) == 0) out[threadIdx.x / 32] = v;
}

TEST(CudaSimPlantedBugs, FullMaskShuffleOnAPartialWarpIsReported) {
  DeviceArray<float> x(64, 1.0f), out(2);
  // 64 threads: two full warps, fine.
  EXPECT_EQ(launch_error([&] { SADANET_LAUNCH((1, 64), warp_sum_kernel)(x.p, out.p); }), "");
  EXPECT_EQ(out.host(), (std::vector<float>{32.0f, 32.0f}));
  // 48 threads: the second warp has 16 lanes, and the full mask names 16 that do not exist.
  const std::string e = launch_error([&] { SADANET_LAUNCH((1, 48), warp_sum_kernel)(x.p, out.p); });
  EXPECT_NE(e.find("warp_sum_kernel"), std::string::npos) << e;
  EXPECT_NE(e.find("cudaErrorIllegalInstruction"), std::string::npos) << e;
  EXPECT_NE(e.find("names lane 16, which does not exist"), std::string::npos) << e;
}

__global__ void shuffle_after_exit_kernel(const float* x, float* out, int n) {
  if (static_cast<int>(threadIdx.x) >= n) return;  // the bug: the rest of the warp still shuffles
  float v = x[threadIdx.x];
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  out[threadIdx.x] = v;
}

TEST(CudaSimPlantedBugs, ShuffleNamingAnExitedLaneIsReported) {
  DeviceArray<float> x(32, 2.0f), out(32);
  EXPECT_EQ(launch_error([&] { SADANET_LAUNCH((1, 32), shuffle_after_exit_kernel)(x.p, out.p, 32); }), "");
  const std::string e = launch_error([&] { SADANET_LAUNCH((1, 32), shuffle_after_exit_kernel)(x.p, out.p, 20); });
  EXPECT_NE(e.find("which has exited"), std::string::npos) << e;
}

// ---- __syncthreads that not every thread reaches ------------------------------------------------------------

__global__ void barrier_after_return_kernel(const float* x, float* out, int n) {
  __shared__ float s[128];
  const int t = static_cast<int>(threadIdx.x);
  if (t >= n) return;  // the bug: the threads that returned never reach the barrier below
  s[t] = x[t];
  __syncthreads();
  out[t] = s[n - 1 - t];
}

TEST(CudaSimPlantedBugs, SyncthreadsAfterAnEarlyReturnIsReported) {
  DeviceArray<float> x(128, 1.0f), out(128);
  EXPECT_EQ(launch_error([&] { SADANET_LAUNCH((1, 128), barrier_after_return_kernel)(x.p, out.p, 128); }), "");
  const std::string e = launch_error([&] { SADANET_LAUNCH((1, 128), barrier_after_return_kernel)(x.p, out.p, 100); });
  EXPECT_NE(e.find("divergent __syncthreads"), std::string::npos) << e;
  EXPECT_NE(e.find("exited without reaching it"), std::string::npos) << e;
}

__global__ void two_barriers_kernel(float* out) {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

TEST(CudaSimPlantedBugs, ThreadsAtTwoDifferentBarriersAreReported) {
  DeviceArray<float> out(64);
  const std::string e = launch_error([&] { SADANET_LAUNCH((1, 64), two_barriers_kernel)(out.p); });
  EXPECT_NE(e.find("divergent __syncthreads"), std::string::npos) << e;
  EXPECT_NE(e.find("test_sim_planted_bugs.cpp"), std::string::npos) << "the barriers' places are named: " << e;
}

__global__ void shuffle_against_barrier_kernel(float* out) {
  float v = 1.0f;
  if (threadIdx.x < 16) v = __shfl_down_sync(0xffffffffu, v, 1);  // lanes 16..31 never come
  __syncthreads();
  out[threadIdx.x] = v;
}

TEST(CudaSimPlantedBugs, DeadlockIsReportedNotHung) {
  DeviceArray<float> out(32);
  const std::string e = launch_error([&] { SADANET_LAUNCH((1, 32), shuffle_against_barrier_kernel)(out.p); });
  EXPECT_NE(e.find("deadlock"), std::string::npos) << e;
}

// ---- launches over sm_90's limits -------------------------------------------------------------------------------

__global__ void touch_kernel(int* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0 && blockIdx.y == 0) out[0] = 1;
}

TEST(CudaSimPlantedBugs, LaunchesOverTheLimitsFailAsOnSm90) {
  DeviceArray<int> out(1);
  struct Case {
    dim3 grid, block;
    const char* why;
  };
  const Case bad[] = {
      {dim3(1, 70000), dim3(32), "grid dimensions exceed"},
      {dim3(1, 1, 65536), dim3(32), "grid dimensions exceed"},
      {dim3(1), dim3(1025), "block dimensions exceed"},
      {dim3(1), dim3(32, 32, 2), "more than 1024 threads"},
      {dim3(1), dim3(1, 1, 65), "block dimensions exceed"},
      {dim3(0), dim3(32), "a dimension is 0"},
  };
  for (const auto& c : bad) {
    const std::string e = launch_error([&] { SADANET_LAUNCH((c.grid, c.block), touch_kernel)(out.p); });
    EXPECT_NE(e.find("touch_kernel"), std::string::npos) << e;
    EXPECT_NE(e.find("cudaErrorInvalidConfiguration"), std::string::npos) << e;
    EXPECT_NE(e.find(c.why), std::string::npos) << e;
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the launch check clears the error, as after a real launch";
  // The largest legal ones run.
  EXPECT_EQ(launch_error([&] { SADANET_LAUNCH((dim3(1, 65535), dim3(1024)), touch_kernel)(out.p); }), "");
  EXPECT_EQ(launch_error([&] { SADANET_LAUNCH((dim3(1), dim3(4, 4, 64)), touch_kernel)(out.p); }), "");
  // Dynamic shared memory over the 48 KiB a plain launch may ask for.
  const std::string e = launch_error([&] { SADANET_LAUNCH((1, 32, 64 << 10), touch_kernel)(out.p); });
  EXPECT_NE(e.find("cudaErrorInvalidValue"), std::string::npos) << e;
}

TEST(CudaSimPlantedBugs, LaunchErrorNamesTheKernelAndItsSizes) {
  DeviceArray<int> out(1);
  const std::string e = launch_error([&] { SADANET_LAUNCH((dim3(3, 70000), dim3(64, 2)), touch_kernel)(out.p); });
  EXPECT_NE(e.find("CUDA kernel touch_kernel (grid 3x70000x1, block 64x2x1) failed"), std::string::npos) << e;
}

// ---- a misaligned vector access ------------------------------------------------------------------------------------

#ifdef SADANET_SANITIZE_BUILD
// The float4 path of the element-wise kernels is only legal on 16-byte-aligned pointers; a GPU
// faults with cudaErrorMisalignedAddress on anything else. On the CPU the load works, so only
// UndefinedBehaviorSanitizer (the simulation's CI build) sees it: float4 is alignas(16), and
// loading one from a misaligned address is undefined behaviour it reports (and aborts on).
__global__ void float4_copy_kernel(const float* x, float* out) {
  reinterpret_cast<float4*>(out)[threadIdx.x] = reinterpret_cast<const float4*>(x)[threadIdx.x];
}

TEST(CudaSimPlantedBugsDeathTest, MisalignedFloat4IsReportedUnderUbsan) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  DeviceArray<float> x(64, 1.0f), out(64);
  SADANET_LAUNCH((1, 8), float4_copy_kernel)(x.p, out.p);  // aligned: fine
  EXPECT_EQ(out.host()[31], 1.0f);
  EXPECT_DEATH(SADANET_LAUNCH((1, 8), float4_copy_kernel)(x.p + 1, out.p), "misaligned address");
}
#endif

}  // namespace
