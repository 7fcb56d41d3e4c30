// CUDA softmax and log-softmax along the middle axis of a contiguous [outer, d, inner] view,
// forward and backward, with the CPU backend's formulas (src/cpu/softmax_cpu.cpp):
//   inner == 1: one block per row (threads along d, block reductions for the max and the sum);
//   inner > 1:  one thread per (outer, inner) column walking d (consecutive threads read
//               consecutive columns, so loads coalesce).
// The maximum is subtracted before exp; it propagates NaN. Sums accumulate in double.
#include <cmath>

#include "cuda_common.cuh"

namespace sadanet::cuda {
namespace {

__device__ __forceinline__ float d_exp(float v) { return ::expf(v); }
__device__ __forceinline__ double d_exp(double v) { return ::exp(v); }

struct NanMax {  // the larger, or NaN if either is NaN
  template <class T> __device__ __forceinline__ T operator()(T a, T b) const {
    return a != a ? a : (b != b ? b : (b > a ? b : a));
  }
};

template <class T> __device__ __forceinline__ T neg_inf() { return static_cast<T>(-INFINITY); }

// Block size for rows of length d: a multiple of 32, no more threads than d needs (up to 256).
int row_threads(int64_t d) { return d <= 32 ? 32 : d <= 64 ? 64 : d <= 128 ? 128 : 256; }

// ---- inner == 1 -------------------------------------------------------------------------------------

template <class T>
__global__ void softmax_rows_forward_kernel(const T* __restrict__ x, int64_t outer, int64_t d, bool log,
                                            T* __restrict__ y) {
  __shared__ T smax[32];
  __shared__ double ssum[32];
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* xr = x + o * d;
    T* yr = y + o * d;
    T m = neg_inf<T>();
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) m = NanMax{}(m, xr[j]);
    m = block_allreduce(m, NanMax{}, neg_inf<T>(), smax);
    double s = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) s += static_cast<double>(d_exp(xr[j] - m));
    s = block_sum(s, ssum);
    if (log) {
      const T lse = static_cast<T>(static_cast<double>(m) + ::log(s));
      for (int64_t j = threadIdx.x; j < d; j += blockDim.x) yr[j] = xr[j] - lse;
    } else {
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t j = threadIdx.x; j < d; j += blockDim.x) yr[j] = d_exp(xr[j] - m) * inv;
    }
  }
}

template <class T>
__global__ void softmax_rows_backward_kernel(const T* __restrict__ g, const T* __restrict__ y, int64_t outer, int64_t d,
                                             bool log, T* __restrict__ gx) {
  __shared__ double ssum[32];
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* gr = g + o * d;
    const T* yr = y + o * d;
    T* xr = gx + o * d;
    double acc = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
      acc += log ? static_cast<double>(gr[j]) : static_cast<double>(gr[j]) * static_cast<double>(yr[j]);
    const T s = static_cast<T>(block_sum(acc, ssum));
    if (log) {
      for (int64_t j = threadIdx.x; j < d; j += blockDim.x) xr[j] = gr[j] - d_exp(yr[j]) * s;
    } else {
      for (int64_t j = threadIdx.x; j < d; j += blockDim.x) xr[j] = yr[j] * (gr[j] - s);
    }
  }
}

// ---- inner > 1 --------------------------------------------------------------------------------------

template <class T>
__global__ void softmax_cols_forward_kernel(const T* __restrict__ x, int64_t outer, int64_t d, int64_t inner, bool log,
                                            T* __restrict__ y) {
  SADANET_GRID_STRIDE(int64_t, q, outer * inner) {
    const int64_t o = q / inner, i = q % inner;
    const int64_t base = o * d * inner + i;
    T mx = x[base];
    for (int64_t j = 1; j < d; ++j) {
      const T v = x[base + j * inner];
      if (!(v <= mx)) mx = mx != mx ? mx : v;  // NaN propagates
    }
    double sum = 0;
    for (int64_t j = 0; j < d; ++j) {
      const int64_t k = base + j * inner;
      const T e = d_exp(x[k] - mx);
      if (!log) y[k] = e;
      sum += static_cast<double>(e);
    }
    if (log) {
      const double lse = static_cast<double>(mx) + ::log(sum);
      for (int64_t j = 0; j < d; ++j) {
        const int64_t k = base + j * inner;
        y[k] = static_cast<T>(static_cast<double>(x[k]) - lse);
      }
    } else {
      const double inv = 1.0 / sum;
      for (int64_t j = 0; j < d; ++j) {
        const int64_t k = base + j * inner;
        y[k] = static_cast<T>(static_cast<double>(y[k]) * inv);
      }
    }
  }
}

template <class T>
__global__ void softmax_cols_backward_kernel(const T* __restrict__ g, const T* __restrict__ y, int64_t outer, int64_t d,
                                             int64_t inner, bool log, T* __restrict__ gx) {
  SADANET_GRID_STRIDE(int64_t, q, outer * inner) {
    const int64_t o = q / inner, i = q % inner;
    const int64_t base = o * d * inner + i;
    double acc = 0;  // softmax: sum_j g*y; log_softmax: sum_j g
    for (int64_t j = 0; j < d; ++j) {
      const int64_t k = base + j * inner;
      acc += log ? static_cast<double>(g[k]) : static_cast<double>(g[k]) * static_cast<double>(y[k]);
    }
    for (int64_t j = 0; j < d; ++j) {
      const int64_t k = base + j * inner;
      const double gk = g[k], yk = y[k];
      gx[k] = static_cast<T>(log ? gk - ::exp(yk) * acc : yk * (gk - acc));
    }
  }
}

// ---- host side --------------------------------------------------------------------------------------

void check_view(const char* kernel, const Tensor& t, int64_t outer, int64_t d, int64_t inner) {
  SADANET_CHECK(dense(t) && t.numel() == outer * d * inner, kernel, ": expected a contiguous tensor of ",
                outer, "x", d, "x", inner, " elements, got shape ", shape_str(t.shape()));
  check_on_cuda(kernel, t, "every tensor");
}

unsigned row_grid(int64_t outer) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(outer, static_cast<int64_t>(sm_count()) * 16)));
}

void softmax_forward_cuda(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log, Tensor& out) {
  check_view("softmax_forward", x, outer, d, inner);
  check_view("softmax_forward", out, outer, d, inner);
  SADANET_CHECK(x.dtype() == out.dtype(), "softmax_forward: x and out dtypes differ");
  if (x.numel() == 0) return;
  dispatch_floating(x.dtype(), "softmax_forward", [&]<class T>() {
    DeviceGuard guard(x.device());
    const T* xp = static_cast<const T*>(x.raw_data());
    T* yp = static_cast<T*>(out.raw_data());
    if (inner == 1) {
      SADANET_LAUNCH((row_grid(outer), row_threads(d), 0, current_stream()), softmax_rows_forward_kernel<T>)(xp, outer, d, log, yp);
    } else {
      SADANET_LAUNCH((grid_for(outer * inner), kThreads, 0, current_stream()), softmax_cols_forward_kernel<T>)(xp, outer, d, inner, log, yp);
    }
  });
}

void softmax_backward_cuda(const Tensor& grad_out, const Tensor& out, int64_t outer, int64_t d, int64_t inner, bool log,
                           Tensor& grad_in) {
  check_view("softmax_backward", grad_out, outer, d, inner);
  check_view("softmax_backward", out, outer, d, inner);
  check_view("softmax_backward", grad_in, outer, d, inner);
  SADANET_CHECK(grad_out.dtype() == out.dtype() && grad_in.dtype() == out.dtype(),
                "softmax_backward: grad_out, out and grad_in dtypes differ");
  if (out.numel() == 0) return;
  dispatch_floating(out.dtype(), "softmax_backward", [&]<class T>() {
    DeviceGuard guard(out.device());
    const T* gp = static_cast<const T*>(grad_out.raw_data());
    const T* yp = static_cast<const T*>(out.raw_data());
    T* gx = static_cast<T*>(grad_in.raw_data());
    if (inner == 1) {
      SADANET_LAUNCH((row_grid(outer), row_threads(d), 0, current_stream()), softmax_rows_backward_kernel<T>)(gp, yp, outer, d, log, gx);
    } else {
      SADANET_LAUNCH((grid_for(outer * inner), kThreads, 0, current_stream()), softmax_cols_backward_kernel<T>)(gp, yp, outer, d, inner, log, gx);
    }
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(softmax_forward, DeviceType::cuda, &cuda::softmax_forward_cuda);
SADANET_REGISTER_KERNEL(softmax_backward, DeviceType::cuda, &cuda::softmax_backward_cuda);
}  // namespace sadanet
