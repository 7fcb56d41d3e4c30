// CUDA simulation build (SADANET_CUDA_SIM): the part of the CUDA runtime and of CUDA C++ that
// sadanet's cuda/ uses, so that every kernel there compiles as plain C++20 and runs on the CPU.
//
// Host side: device memory is host memory handed out by a simulated device (allocations are
// tracked, so copies and library calls can check that a "device" pointer really is one), copies
// are memcpy, every launch runs to completion before it returns (as CUDA_LAUNCH_BLOCKING=1).
// Device side: a launch runs its blocks on a few host threads; the threads of one block run as
// fibers on one host thread, so __syncthreads and warp shuffles are real rendezvous points (see
// cuda/sim/README.md). Device memory and pointers are ordinary C++ objects, so ASan sees an
// out-of-bounds access and UBSan a misaligned float4.
//
// Nothing here is shipped: it exists for the tests (cuda/sim/README.md says what it cannot show).
#pragma once

#include <math.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "library_types.h"

#define SADANET_CUDA_SIM_RUNTIME 1

// ---- CUDA C++ keywords -----------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
// One copy per running block: a block runs all its threads on one host thread, and one host
// thread runs one block at a time, so a thread_local static is exactly a block's shared memory.
#define __shared__ static thread_local
#define __constant__ static

// ---- runtime types (CUDA's values) ---------------------------------------------------------------------
typedef enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorIllegalInstruction = 715,
  cudaErrorMisalignedAddress = 716,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorUnknown = 999,
} cudaError_t;

typedef enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
} cudaMemcpyKind;

typedef enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrL2CacheSize = 38,
  cudaDevAttrMaxThreadsPerMultiProcessor = 39,
} cudaDeviceAttr;

struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;
struct CUevent_st;
typedef struct CUevent_st* cudaEvent_t;

#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamPerThread ((cudaStream_t)0x2)
#define cudaStreamNonBlocking 0x01
#define cudaHostAllocDefault 0x00

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  int multiProcessorCount;
  int major;
  int minor;
  int l2CacheSize;
  int maxThreadsPerMultiProcessor;
  size_t sharedMemPerMultiprocessor;
  int memoryBusWidth;
};

struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

// Vector types with CUDA's sizes and alignments (a misaligned float4 access is UB, and UBSan says so).
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

// ---- runtime API (the subset sadanet calls) ------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);

cudaError_t cudaMalloc(void** ptr, size_t size);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t size);
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int flags);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemGetInfo(size_t* free, size_t* total);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemset(void* ptr, int value, size_t count);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream = 0);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

// ---- simulation controls and queries (not CUDA API) ------------------------------------------------------
namespace cuda_sim {

// True when [p, p + bytes) lies inside one live device allocation (bytes == 0: p is inside one or
// is null). The fake cuBLAS/cuDNN and the copies use it to check that they were given device memory.
bool device_range(const void* p, size_t bytes);
// Makes cudaGetDeviceCount fail with `e` (cudaSuccess: normal again), so that tests can show
// what sadanet reports for a machine whose driver is too old or has no device.
void set_device_count_error(cudaError_t e);
// Puts the device in the state a faulted kernel leaves a real one in: every later allocation, copy,
// memset, launch and synchronisation fails with `e` until cudaDeviceReset (or cudaSuccess here).
// The simulation's own faults are not sticky (a test goes on after a planted bug); this is for
// testing how sadanet reports the state.
void set_sticky_error(cudaError_t e);
// Settings, read from the environment at first use (cuda/sim/README.md), overridable by tests.
enum class Order { forward, reverse, random };
struct Settings {
  int sm_count;           // SADANET_CUDA_SIM_SMS (default 132, the H200's)
  int host_threads;       // SADANET_CUDA_SIM_THREADS: host threads that run blocks (default 2)
  Order order;            // SADANET_CUDA_SIM_ORDER=forward|reverse|random (default forward)
  uint64_t seed;          // SADANET_CUDA_SIM_SEED: the random order's seed
  size_t memory_bytes;    // SADANET_CUDA_SIM_MEMORY_MB: the device's memory (default 16 GiB)
  bool poison;            // fresh allocations filled with 0xff bytes (NaN) unless SADANET_CUDA_SIM_POISON=0
};
Settings settings();
void set_settings(const Settings& s);
// Kernel launches since start, for tests that check what ran.
uint64_t launches();

// ---- the launcher ----------------------------------------------------------------------------------------
struct LaunchConfig {
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
};
using ThreadBody = void (*)(void* closure);
// Runs body(closure) once per thread of the grid and returns when all have finished; reports
// configuration errors and faults as CUDA would (the last error is set as well).
cudaError_t launch(const LaunchConfig& cfg, const char* kernel_name, ThreadBody body, void* closure);

// ---- what device code sees ---------------------------------------------------------------------------------
namespace detail {
struct ThreadState;
struct BlockState;
extern thread_local ThreadState* tl_thread;  // the fiber running now
extern thread_local uint3 tl_block_idx;
extern thread_local dim3 tl_block_dim, tl_grid_dim;
const uint3& thread_idx();  // of tl_thread
void syncthreads(const char* file, int line);
// Warp rendezvous: every lane named in `mask` must arrive with the same op and mask; returns the
// value of the lane the op selects. kind: 0 idx, 1 up, 2 down, 3 xor, 4 syncwarp, 5 ballot.
uint64_t warp_op(int kind, unsigned mask, uint64_t value, int arg, int width, const char* file, int line);
}  // namespace detail
}  // namespace cuda_sim

#define threadIdx (::cuda_sim::detail::thread_idx())
#define blockIdx (::cuda_sim::detail::tl_block_idx)
#define blockDim (::cuda_sim::detail::tl_block_dim)
#define gridDim (::cuda_sim::detail::tl_grid_dim)
constexpr int warpSize = 32;

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::cuda_sim::detail::syncthreads(file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  (void)::cuda_sim::detail::warp_op(4, mask, 0, 0, 32, file, line);
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<unsigned>(::cuda_sim::detail::warp_op(5, mask, pred ? 1 : 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, !pred) == 0; }

namespace cuda_sim::detail {
template <class T> uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp shuffles move values of at most 8 bytes");
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T> T from_bits(uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}
}  // namespace cuda_sim::detail

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using namespace ::cuda_sim::detail;
  return from_bits<T>(warp_op(0, mask, to_bits(v), src, width, file, line));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) {
  using namespace ::cuda_sim::detail;
  return from_bits<T>(warp_op(1, mask, to_bits(v), static_cast<int>(d), width, file, line));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
  using namespace ::cuda_sim::detail;
  return from_bits<T>(warp_op(2, mask, to_bits(v), static_cast<int>(d), width, file, line));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  using namespace ::cuda_sim::detail;
  return from_bits<T>(warp_op(3, mask, to_bits(v), lane_mask, width, file, line));
}

// ---- atomics: std::atomic_ref on the (host) memory, relaxed as CUDA's plain atomics ----------------------------
template <class T> T atomicAdd(T* p, T v) { return std::atomic_ref<T>(*p).fetch_add(v, std::memory_order_relaxed); }
template <class T> T atomicSub(T* p, T v) { return std::atomic_ref<T>(*p).fetch_sub(v, std::memory_order_relaxed); }
template <class T> T atomicExch(T* p, T v) { return std::atomic_ref<T>(*p).exchange(v, std::memory_order_relaxed); }
template <class T> T atomicMin(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T old = a.load(std::memory_order_relaxed);
  while (v < old && !a.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
  }
  return old;
}
template <class T> T atomicMax(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T old = a.load(std::memory_order_relaxed);
  while (v > old && !a.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
  }
  return old;
}
template <class T> T atomicCAS(T* p, T compare, T v) {
  std::atomic_ref<T>(*p).compare_exchange_strong(compare, v, std::memory_order_relaxed);
  return compare;
}

// ---- device intrinsics ----------------------------------------------------------------------------------------
inline float __uint_as_float(unsigned u) { return ::cuda_sim::detail::from_bits<float>(u); }
inline unsigned __float_as_uint(float f) { return static_cast<unsigned>(::cuda_sim::detail::to_bits(f)); }
inline float __int_as_float(int u) { return ::cuda_sim::detail::from_bits<float>(static_cast<unsigned>(u)); }
inline int __float_as_int(float f) { return static_cast<int>(::cuda_sim::detail::to_bits(f)); }
inline double __longlong_as_double(long long u) { return ::cuda_sim::detail::from_bits<double>(static_cast<uint64_t>(u)); }
inline long long __double_as_longlong(double d) { return static_cast<long long>(::cuda_sim::detail::to_bits(d)); }
// The _rn forms are single IEEE operations; volatile keeps the compiler from contracting them
// (the build also passes -ffp-contract=off, the twin of nvcc's --fmad=false).
inline double __dadd_rn(double a, double b) { volatile double r = a + b; return r; }
inline double __dmul_rn(double a, double b) { volatile double r = a * b; return r; }
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fdiv_rn(float a, float b) { volatile float r = a / b; return r; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __expf(float v) { return ::expf(v); }
inline float __logf(float v) { return ::logf(v); }
inline float rsqrtf(float v) { return 1.0f / ::sqrtf(v); }
inline double rsqrt(double v) { return 1.0 / ::sqrt(v); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz(static_cast<unsigned>(v)); }
inline int __ffs(int v) { return __builtin_ffs(v); }
template <class T> inline T __ldg(const T* p) { return *p; }

// CUDA's global min/max overloads (device code calls them unqualified).
#define SADANET_SIM_MINMAX(T)                            \
  inline T min(T a, T b) { return b < a ? b : a; }      \
  inline T max(T a, T b) { return a < b ? b : a; }
SADANET_SIM_MINMAX(int)
SADANET_SIM_MINMAX(unsigned int)
SADANET_SIM_MINMAX(long)
SADANET_SIM_MINMAX(unsigned long)
SADANET_SIM_MINMAX(long long)
SADANET_SIM_MINMAX(unsigned long long)
#undef SADANET_SIM_MINMAX
inline float min(float a, float b) { return ::fminf(a, b); }
inline float max(float a, float b) { return ::fmaxf(a, b); }
inline double min(double a, double b) { return ::fmin(a, b); }
inline double max(double a, double b) { return ::fmax(a, b); }
