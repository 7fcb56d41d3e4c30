// CUDA max_pool2d, NCHW (src/cpu/pool_cpu.cpp). Forward: one thread per output element scanning
// its window in the CPU's order (padding counts as -inf; a later element wins only when strictly
// greater, or when it is NaN, so ties keep the first maximum and the last NaN wins); indices hold
// h*W + w in the input plane. Backward: grad_x (zeroed by the op) += grad_y through the indices
// with atomicAdd, since overlapping windows (kernel > stride) can pick the same input.
#include <cmath>

#include "cuda_common.cuh"

namespace sadanet::cuda {
namespace {

struct PoolGeom {
  int64_t H, W, Ho, Wo;
  int64_t kh, kw, sh, sw, ph, pw;
};

template <class T>
__global__ void max_pool_forward_kernel(const T* __restrict__ x, int64_t total, PoolGeom g, T* __restrict__ y,
                                        int64_t* __restrict__ indices) {
  SADANET_GRID_STRIDE(int64_t, q, total) {
    const int64_t ow = q % g.Wo, rest = q / g.Wo;
    const int64_t oh = rest % g.Ho, plane = rest / g.Ho;
    const T* xp = x + plane * g.H * g.W;
    const int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
    const int64_t hs = ::max(h0, int64_t{0}), he = ::min(h0 + g.kh, g.H);
    const int64_t ws = ::max(w0, int64_t{0}), we = ::min(w0 + g.kw, g.W);
    T best = static_cast<T>(-INFINITY);
    int64_t arg = hs * g.W + ws;  // a window entirely in padding cannot occur (pad <= k/2)
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) {
        const T v = xp[h * g.W + w];
        if (v > best || v != v) {
          best = v;
          arg = h * g.W + w;
        }
      }
    y[q] = best;
    indices[q] = arg;
  }
}

// Indices outside the plane (never produced by the forward) are skipped rather than written.
template <class T>
__global__ void max_pool_backward_kernel(const T* __restrict__ gy, const int64_t* __restrict__ indices, int64_t total,
                                         int64_t howo, int64_t hw, T* __restrict__ gx) {
  SADANET_GRID_STRIDE(int64_t, q, total) {
    const int64_t idx = indices[q];
    if (idx < 0 || idx >= hw) continue;
    atomicAdd(gx + (q / howo) * hw + idx, gy[q]);
  }
}

void max_pool2d_forward_cuda(const Tensor& x, const Pool2dParams& p, Tensor& y, Tensor& indices) {
  const char* k = "max_pool2d_forward";
  SADANET_CHECK(x.dim() == 4 && dense(x), k, ": expected a contiguous [N,C,H,W] x, got ", shape_str(x.shape()));
  SADANET_CHECK(y.dim() == 4 && dense(y) && y.dtype() == x.dtype() && y.size(0) == x.size(0) &&
                    y.size(1) == x.size(1),
                k, ": expected y [N,C,Ho,Wo] in x's dtype, got ", shape_str(y.shape()));
  SADANET_CHECK(indices.dtype() == DType::i64 && dense(indices) && indices.shape() == y.shape(), k,
                ": expected contiguous i64 indices shaped like y");
  check_on_cuda(k, x, "x");
  check_on_cuda(k, y, "y");
  check_on_cuda(k, indices, "indices");
  dispatch_floating(x.dtype(), k, [&]<class T>() {
    const int64_t total = y.numel();
    if (total == 0) return;
    DeviceGuard guard(x.device());
    const PoolGeom g{x.size(2), x.size(3), y.size(2), y.size(3), p.kernel_h, p.kernel_w,
                     p.stride_h, p.stride_w, p.pad_h, p.pad_w};
    SADANET_LAUNCH((grid_for(total), kThreads, 0, current_stream()), max_pool_forward_kernel<T>)(
        static_cast<const T*>(x.raw_data()), total, g, static_cast<T*>(y.raw_data()),
        static_cast<int64_t*>(indices.raw_data()));
  });
}

void max_pool2d_backward_cuda(const Tensor& gy, const Tensor& indices, Tensor& gx) {
  const char* k = "max_pool2d_backward";
  SADANET_CHECK(gy.dim() == 4 && dense(gy) && gx.dim() == 4 && dense(gx) && gx.dtype() == gy.dtype() &&
                    gy.size(0) == gx.size(0) && gy.size(1) == gx.size(1),
                k, ": expected contiguous grad_y [N,C,Ho,Wo] and grad_x [N,C,H,W] of one dtype, got ",
                shape_str(gy.shape()), " and ", shape_str(gx.shape()));
  SADANET_CHECK(indices.dtype() == DType::i64 && dense(indices) && indices.shape() == gy.shape(), k,
                ": expected contiguous i64 indices shaped like grad_y");
  check_on_cuda(k, gy, "grad_y");
  check_on_cuda(k, indices, "indices");
  check_on_cuda(k, gx, "grad_x");
  dispatch_floating(gy.dtype(), k, [&]<class T>() {
    const int64_t total = gy.numel();
    if (total == 0) return;
    DeviceGuard guard(gx.device());
    SADANET_LAUNCH((grid_for(total), kThreads, 0, current_stream()), max_pool_backward_kernel<T>)(
        static_cast<const T*>(gy.raw_data()), static_cast<const int64_t*>(indices.raw_data()), total,
        gy.size(2) * gy.size(3), gx.size(2) * gx.size(3), static_cast<T*>(gx.raw_data()));
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(max_pool2d_forward, DeviceType::cuda, &cuda::max_pool2d_forward_cuda);
SADANET_REGISTER_KERNEL(max_pool2d_backward, DeviceType::cuda, &cuda::max_pool2d_backward_cuda);
}  // namespace sadanet
