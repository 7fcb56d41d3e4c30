// CUDA reductions over the middle axis of a contiguous [outer, r, inner] view: sum, mean, max
// (with first-max indices; NaN wins and propagates) and var (two passes, divisor
// max(0, r - correction)). Sums accumulate in double, as the CPU backend's do.
//
// Two stages. Stage 1 writes partial results [outer, splits, inner]: r is cut into `splits`
// segments when there are too few outputs to fill the GPU (a full reduction, a per-channel sum).
//   inner == 1: one 1-D block per (row, segment), threads along r, warp-shuffle block reduction;
//   inner > 1:  one 32x8 block per (32 columns, segment): threadIdx.x along inner (coalesced),
//               threadIdx.y along r, combined through shared memory.
// Short rows (r <= 1024, inner == 1) take one warp per row instead of a block.
// Stage 2 combines each output's segments in order and writes the result (or, for var, the mean
// that the second pass over x needs). Max keeps the first maximum whatever the order in which
// partial results meet: ties go to the smaller index, and a NaN beats any number (the first NaN
// beats later NaNs), which is what the CPU's sequential scan gives.
#include <algorithm>

#include "cuda_common.cuh"

namespace sadanet::cuda {
namespace {

constexpr int kColsX = 32, kColsY = 8;  // the inner > 1 block shape

template <class T> struct MaxPair {
  T v;
  int64_t i;  // < 0: empty (no element seen)
};

// Joins the scalar overloads of cuda_common.cuh (which this one would otherwise hide).
using ::sadanet::cuda::shfl_down;
template <class T> __device__ __forceinline__ MaxPair<T> shfl_down(MaxPair<T> p, int o) {
  return {shfl_down(p.v, o), static_cast<int64_t>(shfl_down(static_cast<long long>(p.i), o))};
}

struct MaxCombine {
  template <class T> __device__ __forceinline__ MaxPair<T> operator()(MaxPair<T> a, MaxPair<T> b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool an = a.v != a.v, bn = b.v != b.v;
    if (an || bn) {
      if (an && bn) return a.i < b.i ? a : b;
      return an ? a : b;
    }
    if (a.v > b.v) return a;
    if (b.v > a.v) return b;
    return a.i < b.i ? a : b;
  }
};

// ---- stage 1: inner == 1 ---------------------------------------------------------------------------

// kSqDev: sum of (x - mean[o])^2 instead of sum of x.
template <class T, bool kSqDev>
__global__ void rows_sum_partial_kernel(const T* __restrict__ x, int64_t outer, int64_t r, int64_t seg, int splits,
                                        const double* __restrict__ mean, double* __restrict__ partial) {
  __shared__ double smem[32];
  const int s = blockIdx.y;
  const int64_t j0 = s * seg, j1 = min(r, j0 + seg);
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * r;
    const double mu = kSqDev ? mean[o] : 0.0;
    double acc = 0;
    for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
      const double v = static_cast<double>(row[j]);
      if (kSqDev) {
        const double d = v - mu;
        acc += d * d;
      } else {
        acc += v;
      }
    }
    acc = block_sum(acc, smem);
    if (threadIdx.x == 0) partial[o * splits + s] = acc;
  }
}

template <class T>
__global__ void rows_max_partial_kernel(const T* __restrict__ x, int64_t outer, int64_t r, int64_t seg, int splits,
                                        MaxPair<T>* __restrict__ partial) {
  __shared__ MaxPair<T> smem[32];
  const int s = blockIdx.y;
  const int64_t j0 = s * seg, j1 = min(r, j0 + seg);
  const MaxPair<T> empty{T(0), -1};
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * r;
    MaxPair<T> acc = empty;
    for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) acc = MaxCombine{}(acc, MaxPair<T>{row[j], j});
    acc = block_allreduce(acc, MaxCombine{}, empty, smem);
    if (threadIdx.x == 0) partial[o * splits + s] = acc;
  }
}

// Short rows (r <= kWarpRowMax): one warp per row, no segments (splits == 1).
constexpr int64_t kWarpRowMax = 1024;

template <class V, class Combine> __device__ __forceinline__ V warp_allreduce(V v, Combine combine) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = combine(v, shfl_down(v, o));
  return v;  // complete in lane 0
}

template <class T, bool kSqDev>
__global__ void rows_warp_sum_kernel(const T* __restrict__ x, int64_t outer, int64_t r, const double* __restrict__ mean,
                                     double* __restrict__ partial) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); o < outer; o += warps) {
    const T* row = x + o * r;
    const double mu = kSqDev ? mean[o] : 0.0;
    double acc = 0;
    for (int64_t j = lane; j < r; j += 32) {
      const double v = static_cast<double>(row[j]);
      if (kSqDev) {
        const double d = v - mu;
        acc += d * d;
      } else {
        acc += v;
      }
    }
    acc = warp_allreduce(acc, SumOp{});
    if (lane == 0) partial[o] = acc;
  }
}

template <class T>
__global__ void rows_warp_max_kernel(const T* __restrict__ x, int64_t outer, int64_t r, MaxPair<T>* __restrict__ partial) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); o < outer; o += warps) {
    const T* row = x + o * r;
    MaxPair<T> acc{T(0), -1};
    for (int64_t j = lane; j < r; j += 32) acc = MaxCombine{}(acc, MaxPair<T>{row[j], j});
    acc = warp_allreduce(acc, MaxCombine{});
    if (lane == 0) partial[o] = acc;
  }
}

// ---- stage 1: inner > 1 ----------------------------------------------------------------------------

template <class T, bool kSqDev>
__global__ void cols_sum_partial_kernel(const T* __restrict__ x, int64_t outer, int64_t r, int64_t inner,
                                        int64_t tiles_per_row, int64_t seg, int splits, const double* __restrict__ mean,
                                        double* __restrict__ partial) {
  __shared__ double smem[kColsY][kColsX + 1];
  const int tx = threadIdx.x, ty = threadIdx.y, s = blockIdx.y;
  const int64_t j0 = s * seg, j1 = min(r, j0 + seg);
  const int64_t ntiles = outer * tiles_per_row;
  for (int64_t t = blockIdx.x; t < ntiles; t += gridDim.x) {
    const int64_t o = t / tiles_per_row, i = (t % tiles_per_row) * kColsX + tx;
    const bool valid = i < inner;
    double acc = 0;
    if (valid) {
      const double mu = kSqDev ? mean[o * inner + i] : 0.0;
      const T* col = x + o * r * inner + i;
      for (int64_t j = j0 + ty; j < j1; j += kColsY) {
        const double v = static_cast<double>(col[j * inner]);
        if (kSqDev) {
          const double d = v - mu;
          acc += d * d;
        } else {
          acc += v;
        }
      }
    }
    smem[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && valid) {
      double sum = smem[0][tx];
      for (int k = 1; k < kColsY; ++k) sum += smem[k][tx];
      partial[(o * splits + s) * inner + i] = sum;
    }
    __syncthreads();
  }
}

template <class T>
__global__ void cols_max_partial_kernel(const T* __restrict__ x, int64_t outer, int64_t r, int64_t inner,
                                        int64_t tiles_per_row, int64_t seg, int splits, MaxPair<T>* __restrict__ partial) {
  __shared__ MaxPair<T> smem[kColsY][kColsX];
  const int tx = threadIdx.x, ty = threadIdx.y, s = blockIdx.y;
  const int64_t j0 = s * seg, j1 = min(r, j0 + seg);
  const int64_t ntiles = outer * tiles_per_row;
  const MaxPair<T> empty{T(0), -1};
  for (int64_t t = blockIdx.x; t < ntiles; t += gridDim.x) {
    const int64_t o = t / tiles_per_row, i = (t % tiles_per_row) * kColsX + tx;
    const bool valid = i < inner;
    MaxPair<T> acc = empty;
    if (valid) {
      const T* col = x + o * r * inner + i;
      for (int64_t j = j0 + ty; j < j1; j += kColsY) acc = MaxCombine{}(acc, MaxPair<T>{col[j * inner], j});
    }
    smem[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && valid) {
      MaxPair<T> m = smem[0][tx];
      for (int k = 1; k < kColsY; ++k) m = MaxCombine{}(m, smem[k][tx]);
      partial[(o * splits + s) * inner + i] = m;
    }
    __syncthreads();
  }
}

// ---- stage 2 -------------------------------------------------------------------------------------------

enum Finish : int { kWriteSum, kWriteMean, kMeanToBuffer, kWriteVar };

template <class T>
__global__ void finalize_sum_kernel(const double* __restrict__ partial, int64_t outer, int splits, int64_t inner,
                                    int finish, double r, double var_div, T* __restrict__ out,
                                    double* __restrict__ mean_out) {
  SADANET_GRID_STRIDE(int64_t, q, outer * inner) {
    const int64_t o = q / inner, i = q % inner;
    double s = 0;
    for (int k = 0; k < splits; ++k) s += partial[(o * splits + k) * inner + i];
    switch (finish) {
      case kWriteSum: out[q] = static_cast<T>(s); break;
      case kWriteMean: out[q] = static_cast<T>(s / r); break;
      case kMeanToBuffer: mean_out[q] = s / r; break;
      default: out[q] = static_cast<T>(s / var_div); break;
    }
  }
}

template <class T>
__global__ void finalize_max_kernel(const MaxPair<T>* __restrict__ partial, int64_t outer, int splits, int64_t inner,
                                    T* __restrict__ out, int64_t* __restrict__ idx) {
  SADANET_GRID_STRIDE(int64_t, q, outer * inner) {
    const int64_t o = q / inner, i = q % inner;
    MaxPair<T> m = partial[o * splits * inner + i];
    for (int k = 1; k < splits; ++k) m = MaxCombine{}(m, partial[(o * splits + k) * inner + i]);
    out[q] = m.v;
    if (idx) idx[q] = m.i;
  }
}

// ---- host side -----------------------------------------------------------------------------------------

struct Plan {
  bool rows;              // inner == 1
  bool warp_rows;         // inner == 1 and short rows: a warp per row (then splits == 1)
  int64_t tiles_per_row;  // inner > 1: column tiles per outer row
  int64_t seg;            // elements of r per segment
  int splits;             // segments
  dim3 grid, block;
};

Plan make_plan(int64_t outer, int64_t r, int64_t inner) {
  Plan p{};
  p.rows = inner == 1;
  const int64_t cap = static_cast<int64_t>(sm_count()) * 16;  // blocks in x (grid-stride beyond)
  const int64_t want = static_cast<int64_t>(sm_count()) * 4;  // blocks that fill the GPU
  int64_t base, min_seg;
  if (p.rows && r <= kWarpRowMax) {
    p.warp_rows = true;
    p.seg = r;
    p.splits = 1;
    p.block = dim3(kThreads);
    p.grid = dim3(static_cast<unsigned>(std::clamp<int64_t>(ceil_div(outer, kThreads / 32), 1, cap)));
    return p;
  }
  if (p.rows) {
    base = std::min(outer, cap);
    min_seg = 4096;  // >= 16 elements per thread of a 256-thread block
    p.block = dim3(kThreads);
  } else {
    p.tiles_per_row = ceil_div(inner, kColsX);
    base = std::min(outer * p.tiles_per_row, cap);
    min_seg = 64;  // >= 8 rows per thread
    p.block = dim3(kColsX, kColsY);
  }
  int64_t splits = 1;
  if (base < want && r > min_seg) splits = std::min(ceil_div(want, base), ceil_div(r, min_seg));
  splits = std::clamp<int64_t>(splits, 1, 1024);
  p.seg = r > 0 ? ceil_div(r, splits) : 0;
  p.splits = r > 0 ? static_cast<int>(ceil_div(r, p.seg)) : 1;  // no empty segment
  p.grid = dim3(static_cast<unsigned>(std::max<int64_t>(base, 1)), static_cast<unsigned>(p.splits));
  return p;
}

template <class T, bool kSqDev>
void launch_sum_partial(const Plan& p, const T* x, int64_t outer, int64_t r, int64_t inner, const double* mean,
                        double* partial) {
  cudaStream_t stream = current_stream();
  if (p.warp_rows) {
    SADANET_LAUNCH((p.grid, p.block, 0, stream), rows_warp_sum_kernel<T, kSqDev>)(x, outer, r, mean, partial);
  } else if (p.rows) {
    SADANET_LAUNCH((p.grid, p.block, 0, stream), rows_sum_partial_kernel<T, kSqDev>)(x, outer, r, p.seg, p.splits, mean, partial);
  } else {
    SADANET_LAUNCH((p.grid, p.block, 0, stream), cols_sum_partial_kernel<T, kSqDev>)(x, outer, r, inner, p.tiles_per_row, p.seg, p.splits, mean, partial);
  }
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner, Tensor& out, int64_t* idx,
                  int64_t correction) {
  const int dev = x.device().index;
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op_ = static_cast<T*>(out.raw_data());
  const int64_t nout = outer * inner;
  const Plan p = make_plan(outer, r, inner);
  const int64_t npartial = outer * p.splits * inner;
  cudaStream_t stream = current_stream();

  if (op == ReduceOp::max) {
    DeviceBuffer partial(sizeof(MaxPair<T>) * npartial, dev);
    auto* pp = partial.as<MaxPair<T>>();
    if (p.warp_rows) {
      SADANET_LAUNCH((p.grid, p.block, 0, stream), rows_warp_max_kernel<T>)(xp, outer, r, pp);
    } else if (p.rows) {
      SADANET_LAUNCH((p.grid, p.block, 0, stream), rows_max_partial_kernel<T>)(xp, outer, r, p.seg, p.splits, pp);
    } else {
      SADANET_LAUNCH((p.grid, p.block, 0, stream), cols_max_partial_kernel<T>)(xp, outer, r, inner, p.tiles_per_row, p.seg, p.splits, pp);
    }
    SADANET_LAUNCH((grid_for(nout), kThreads, 0, stream), finalize_max_kernel<T>)(pp, outer, p.splits, inner, op_, idx);
    return;
  }

  DeviceBuffer partial(sizeof(double) * npartial, dev);
  auto* pp = partial.as<double>();
  const double rd = static_cast<double>(r);
  const double var_div = static_cast<double>(std::max<int64_t>(0, r - correction));
  launch_sum_partial<T, false>(p, xp, outer, r, inner, nullptr, pp);
  if (op == ReduceOp::sum || op == ReduceOp::mean) {
    SADANET_LAUNCH((grid_for(nout), kThreads, 0, stream), finalize_sum_kernel<T>)(
        pp, outer, p.splits, inner, op == ReduceOp::sum ? kWriteSum : kWriteMean, rd, var_div, op_, nullptr);
    return;
  }
  // var: the mean first, then the squared deviations from it.
  DeviceBuffer mean(sizeof(double) * nout, dev);
  SADANET_LAUNCH((grid_for(nout), kThreads, 0, stream), finalize_sum_kernel<T>)(pp, outer, p.splits, inner, kMeanToBuffer, rd,
                                                                   var_div, op_, mean.as<double>());
  launch_sum_partial<T, true>(p, xp, outer, r, inner, mean.as<double>(), pp);
  SADANET_LAUNCH((grid_for(nout), kThreads, 0, stream), finalize_sum_kernel<T>)(pp, outer, p.splits, inner, kWriteVar, rd, var_div,
                                                                   op_, nullptr);
}

void reduce_cuda(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner, Tensor& out, Tensor& indices,
                 int64_t correction) {
  SADANET_CHECK(dense(x) && x.numel() == outer * r * inner, "reduce: expected a contiguous input of ",
                outer, "x", r, "x", inner, " elements, got shape ", shape_str(x.shape()));
  SADANET_CHECK(out.numel() == outer * inner && dense(out) && out.dtype() == x.dtype(), "reduce: output has ",
                out.numel(), " elements, expected ", outer * inner, " contiguous of ", dtype_name(x.dtype()));
  SADANET_CHECK(op != ReduceOp::max || r > 0 || outer * inner == 0,
                "reduce: max over an empty dimension has no value");
  check_on_cuda("reduce", x, "x");
  check_on_cuda("reduce", out, "out");
  int64_t* idx = nullptr;
  if (indices.defined()) {
    SADANET_CHECK(op == ReduceOp::max && indices.dtype() == DType::i64 && indices.numel() == outer * inner &&
                      dense(indices),
                  "reduce: indices must be contiguous i64 with ", outer * inner, " elements, for max only");
    check_on_cuda("reduce", indices, "indices");
    idx = static_cast<int64_t*>(indices.raw_data());
  }
  if (outer * inner == 0) return;
  dispatch_floating(x.dtype(), "reduce", [&]<class T>() {
    DeviceGuard guard(x.device());
    reduce_typed<T>(op, x, outer, r, inner, out, idx, correction);
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(reduce, DeviceType::cuda, &cuda::reduce_cuda);
}  // namespace sadanet
