// Helpers shared by the CUDA kernels: stream and launch configuration, the device guard,
// scratch memory from the caching allocator, f32/f64 dispatch, strided index arithmetic (up to
// kMaxDims dims after merging), block reductions with warp shuffles, and the index check that
// reports bad indices from the device.
#pragma once
#include <cuda_runtime.h>

#include <array>
#include <cstdint>

#include "cuda_check.h"
#include "cuda_launch.h"
#include "kernels/kernels.h"
#include "sadanet/allocator.h"

namespace sadanet::cuda {

constexpr int kThreads = 256;  // default block size (a multiple of 32 everywhere)
constexpr int kMaxDims = 8;    // strided kernels: dims left after merging

// Every kernel, copy and library call of the backend runs on this one stream (the legacy default
// stream). That is a contract, not a detail: the caching allocator hands a freed block out again at
// once and DeviceBuffer frees scratch right after queuing the kernels that use it, both safe only
// because all device work is ordered on one stream. Work on a second stream needs the allocator to
// learn about streams first (per-stream free lists, or an event recorded at each free that a reuse
// on another stream waits for, as PyTorch's record_stream), not just another value here.
inline cudaStream_t current_stream() { return nullptr; }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Grid-stride loop over [0, n) with index variable `i` of type I (uint32_t or int64_t).
#define SADANET_GRID_STRIDE(I, i, n)                                                    \
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x))

// Multiprocessors of the current device (queried once per device).
int sm_count();
// Blocks for a grid-stride loop over n items: one per `threads` items, at most enough to fill
// the device a few times over, at least one.
unsigned grid_for(int64_t n, int threads = kThreads);

// Makes `d` the current device for the scope (kernels of a cuda:1 tensor run on GPU 1).
class DeviceGuard {
 public:
  explicit DeviceGuard(const Device& d);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool changed_ = false;
};

// Scratch device memory from sadanet's caching allocator, returned on destruction. Freeing right
// after queuing the kernels that use it is safe only under current_stream()'s one-stream contract:
// whatever the allocator hands the block to next is ordered after them.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t nbytes, int device);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }
  template <class T> T* as() const { return static_cast<T*>(p_); }
  size_t size() const { return n_; }

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
  int dev_ = 0;
};

// Calls fn.template operator()<T>() for T = float or double; throws naming the kernel otherwise.
template <class Fn> void dispatch_floating(DType t, const char* kernel, Fn&& fn) {
  switch (t) {
    case DType::f32: fn.template operator()<float>(); return;
    case DType::f64: fn.template operator()<double>(); return;
    default:
      throw Error(detail::concat(kernel, ": CUDA kernel supports f32 and f64, got ", dtype_name(t)));
  }
}

// Contiguous, counting a tensor without elements as contiguous whatever its strides say (as the
// CPU backend's cpu::dense).
inline bool dense(const Tensor& t) { return t.numel() == 0 || t.is_contiguous(); }

// Checks that `t` lives on a CUDA device (kernels are only ever handed such tensors; this
// catches a misrouted call before it dereferences host memory on the device).
void check_on_cuda(const char* kernel, const Tensor& t, const char* what);

// ---- strided index arithmetic --------------------------------------------------------------------

// K operands of one shape, with dims merged wherever every operand allows it (as the CPU's
// strided_loop.h): a contiguous tensor becomes one dim, a row broadcast two, and so on.
// Passed by value to kernels; sizes[0] is the outermost dim.
template <int K> struct StridedIndexer {
  int ndim = 1;
  int64_t sizes[kMaxDims];
  int64_t strides[K][kMaxDims];

  // Element offsets (in elements) of row-major linear index `linear` in each operand.
  // I is the linear index type: uint32_t when the element count allows it (much cheaper
  // division), int64_t otherwise.
  template <class I> __device__ __forceinline__ void offsets(I linear, int64_t (&off)[K]) const {
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = ndim - 1; d > 0; --d) {
      const I s = static_cast<I>(sizes[d]);
      const I q = linear / s;
      const int64_t r = static_cast<int64_t>(linear - q * s);
      linear = q;
#pragma unroll
      for (int k = 0; k < K; ++k) off[k] += r * strides[k][d];
    }
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] += static_cast<int64_t>(linear) * strides[k][0];
  }
  // True when every operand is one dense run (the whole tensor contiguous in all of them).
  bool contiguous() const {
    if (ndim != 1) return false;
    for (int k = 0; k < K; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

template <int K>
StridedIndexer<K> make_indexer(const char* kernel, const Shape& shape, const std::array<const Shape*, K>& strides) {
  StridedIndexer<K> ix;
  ix.ndim = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims carry no iteration, whatever their stride
    bool merge = ix.ndim > 0;
    for (int k = 0; k < K && merge; ++k) merge = ix.strides[k][ix.ndim - 1] == (*strides[k])[d] * shape[d];
    if (merge) {
      ix.sizes[ix.ndim - 1] *= shape[d];
      for (int k = 0; k < K; ++k) ix.strides[k][ix.ndim - 1] = (*strides[k])[d];
      continue;
    }
    SADANET_CHECK(ix.ndim < kMaxDims, kernel, ": the CUDA backend handles at most ", kMaxDims,
                  " non-mergeable dimensions, got shape ", shape_str(shape));
    ix.sizes[ix.ndim] = shape[d];
    for (int k = 0; k < K; ++k) ix.strides[k][ix.ndim] = (*strides[k])[d];
    ++ix.ndim;
  }
  if (ix.ndim == 0) {  // a single element
    ix.ndim = 1;
    ix.sizes[0] = 1;
    for (int k = 0; k < K; ++k) ix.strides[k][0] = 1;
  }
  return ix;
}

// Linear indices fit a uint32_t grid-stride loop without overflow.
inline bool use_32bit_index(int64_t n) { return n <= INT32_MAX; }

// ---- block reductions (blockDim.x a multiple of 32, 1-D blocks) ---------------------------------

__device__ __forceinline__ double shfl_down(double v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }
__device__ __forceinline__ float shfl_down(float v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }
__device__ __forceinline__ long long shfl_down(long long v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }
__device__ __forceinline__ long shfl_down(long v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }

// Reduces v over the block with `combine` (lower lanes are the first argument) and returns the
// result to every thread. smem holds at least 32 values. Every thread of the block must call it.
template <class V, class Combine>
__device__ V block_allreduce(V v, Combine combine, V identity, V* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = combine(v, shfl_down(v, o));
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < nwarps ? smem[lane] : identity;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = combine(v, shfl_down(v, o));
    if (lane == 0) smem[0] = v;
  }
  __syncthreads();
  v = smem[0];
  __syncthreads();  // smem may be reused right after
  return v;
}

struct SumOp {
  template <class V> __device__ __forceinline__ V operator()(V a, V b) const { return a + b; }
};
__device__ __forceinline__ double block_sum(double v, double* smem) {
  return block_allreduce(v, SumOp{}, 0.0, smem);
}

// ---- bad-index reporting ---------------------------------------------------------------------------

// Validates an i64 index array on the device: every value must be in [0, size) (or equal
// `ignore` when has_ignore). The check kernel is queued at construction; the kernels that use
// the indices clamp (reads) or skip (writes) bad ones so memory is never corrupted, and
// first_bad() afterwards waits for the stream and returns the position and value of the first
// bad index, if any. Zero indices: no launch, no wait.
class IndexCheck {
 public:
  IndexCheck(const char* kernel, const int64_t* index, int64_t n, int64_t size, bool has_ignore = false,
             int64_t ignore = 0);
  // True when an index was bad; then pos/value name the first one.
  bool first_bad(int64_t& pos, int64_t& value) const;

 private:
  const int64_t* index_;
  int64_t n_;
  DeviceBuffer flag_;
};

}  // namespace sadanet::cuda
