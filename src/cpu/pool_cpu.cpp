// max_pool2d on the CPU, one (n, c) plane per task. Padding counts as -inf; ties keep the first
// maximum in scan order and NaN wins (the last NaN), as PyTorch's CPU kernel. indices hold h*W + w in the input plane.
#include <cmath>
#include <limits>

#include "cpu/cpu_utils.h"
#include "kernels/kernels.h"

namespace sadanet::cpu {
namespace {

template <class T>
void max_pool_forward(const Tensor& x, const Pool2dParams& p, Tensor& y, Tensor& indices) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Ho = y.size(2), Wo = y.size(3);
  const T* X = x.data<T>();
  T* Y = y.data<T>();
  int64_t* I = indices.data<int64_t>();
  parallel_for(planes, 1, [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      const T* xp = X + pl * H * W;
      for (int64_t oh = 0; oh < Ho; ++oh) {
        const int64_t h0 = oh * p.stride_h - p.pad_h;
        const int64_t hs = std::max<int64_t>(h0, 0), he = std::min<int64_t>(h0 + p.kernel_h, H);
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const int64_t w0 = ow * p.stride_w - p.pad_w;
          const int64_t ws = std::max<int64_t>(w0, 0), we = std::min<int64_t>(w0 + p.kernel_w, W);
          T best = -std::numeric_limits<T>::infinity();
          int64_t arg = hs * W + ws;  // a window entirely in padding cannot occur (pad <= k/2)
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) {
              const T v = xp[h * W + w];
              if (v > best || std::isnan(v)) { best = v; arg = h * W + w; }
            }
          Y[(pl * Ho + oh) * Wo + ow] = best;
          I[(pl * Ho + oh) * Wo + ow] = arg;
        }
      }
    }
  });
}

template <class T>
void max_pool_backward(const Tensor& gy, const Tensor& indices, Tensor& gx) {
  const int64_t planes = gx.size(0) * gx.size(1), HW = gx.size(2) * gx.size(3);
  const int64_t HoWo = gy.size(2) * gy.size(3);
  const T* GY = gy.data<T>();
  const int64_t* I = indices.data<int64_t>();
  T* GX = gx.data<T>();
  // Windows overlap within a plane but never across planes: planes are independent tasks.
  parallel_for(planes, 1, [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl)
      for (int64_t i = 0; i < HoWo; ++i) GX[pl * HW + I[pl * HoWo + i]] += GY[pl * HoWo + i];
  });
}

void max_pool2d_forward_kernel(const Tensor& x, const Pool2dParams& p, Tensor& y, Tensor& indices) {
  dispatch_floating(x.dtype(), "max_pool2d_forward", [&]<class T>() { max_pool_forward<T>(x, p, y, indices); });
}
void max_pool2d_backward_kernel(const Tensor& gy, const Tensor& indices, Tensor& gx) {
  dispatch_floating(gy.dtype(), "max_pool2d_backward", [&]<class T>() { max_pool_backward<T>(gy, indices, gx); });
}

}  // namespace
}  // namespace sadanet::cpu

namespace sadanet {
SADANET_REGISTER_KERNEL(max_pool2d_forward, DeviceType::cpu, &cpu::max_pool2d_forward_kernel);
SADANET_REGISTER_KERNEL(max_pool2d_backward, DeviceType::cpu, &cpu::max_pool2d_backward_kernel);
}  // namespace sadanet
