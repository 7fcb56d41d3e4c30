// The conv2d slots on CUDA: argument checks, then cuDNN or the implicit GEMM (see
// cuda_config.h, conv_backend(); cuDNN falls back to the implicit GEMM for a case it has no
// algorithm for).
#include "conv_cuda.h"
#include "cuda_common.cuh"
#include "cuda_config.h"

namespace sadanet::cuda {
namespace {

void check_floating(const char* kernel, DType t) {
  SADANET_CHECK(t == DType::f32 || t == DType::f64, kernel, ": CUDA kernel supports f32 and f64, got ", dtype_name(t));
}

void check_4d(const char* kernel, const Tensor& t, const char* what, DType dtype) {
  SADANET_CHECK(t.dim() == 4 && dense(t) && t.dtype() == dtype, kernel, ": expected ", what,
                " as a contiguous 4-D ", dtype_name(dtype), " tensor, got ", dtype_name(t.dtype()), " ",
                shape_str(t.shape()));
  check_on_cuda(kernel, t, what);
}

// x [N,C,H,W], w [O,C,kh,kw], y [N,O,Ho,Wo] with Ho, Wo the convolution's output size.
void check_geometry(const char* kernel, const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p) {
  auto out = [](int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d) { return (in + 2 * pad - d * (k - 1) - 1) / s + 1; };
  SADANET_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 && p.pad_h >= 0 &&
                    p.pad_w >= 0,
                kernel, ": expected stride >= 1, dilation >= 1, padding >= 0");
  SADANET_CHECK(xs[1] == ws[1] && ys[0] == xs[0] && ys[1] == ws[0] &&
                    ys[2] == out(xs[2], ws[2], p.stride_h, p.pad_h, p.dilation_h) &&
                    ys[3] == out(xs[3], ws[3], p.stride_w, p.pad_w, p.dilation_w),
                kernel, ": inconsistent shapes x ", shape_str(xs), ", weight ", shape_str(ws), ", y ", shape_str(ys));
}

bool use_cudnn() { return conv_backend() == ConvBackend::cudnn; }

void conv2d_forward_cuda(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  const char* k = "conv2d_forward";
  check_floating(k, x.dtype());
  check_4d(k, x, "x", x.dtype());
  check_4d(k, w, "weight", x.dtype());
  check_4d(k, y, "y", x.dtype());
  if (bias.defined()) {
    SADANET_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0) && dense(bias) && bias.dtype() == x.dtype(), k,
                  ": expected a contiguous bias of shape [", w.size(0), "], got ", shape_str(bias.shape()));
    check_on_cuda(k, bias, "bias");
  }
  check_geometry(k, x.shape(), w.shape(), y.shape(), p);
  if (y.numel() == 0) return;
  DeviceGuard guard(y.device());
  if (use_cudnn() && conv2d_forward_cudnn(x, w, bias, p, y)) return;
  conv2d_forward_igemm(x, w, bias, p, y);
}

void conv2d_backward_input_cuda(const Tensor& gy, const Tensor& w, const Conv2dParams& p, Tensor& gx) {
  const char* k = "conv2d_backward_input";
  check_floating(k, gy.dtype());
  check_4d(k, gy, "grad_y", gy.dtype());
  check_4d(k, w, "weight", gy.dtype());
  check_4d(k, gx, "grad_x", gy.dtype());
  check_geometry(k, gx.shape(), w.shape(), gy.shape(), p);
  if (gx.numel() == 0) return;
  DeviceGuard guard(gx.device());
  if (use_cudnn() && conv2d_backward_input_cudnn(gy, w, p, gx)) return;
  conv2d_backward_input_igemm(gy, w, p, gx);
}

void conv2d_backward_weight_cuda(const Tensor& gy, const Tensor& x, const Conv2dParams& p, Tensor& gw) {
  const char* k = "conv2d_backward_weight";
  check_floating(k, gy.dtype());
  check_4d(k, gy, "grad_y", gy.dtype());
  check_4d(k, x, "x", gy.dtype());
  check_4d(k, gw, "grad_weight", gy.dtype());
  check_geometry(k, x.shape(), gw.shape(), gy.shape(), p);
  if (gw.numel() == 0) return;
  DeviceGuard guard(gw.device());
  if (use_cudnn() && conv2d_backward_weight_cudnn(gy, x, p, gw)) return;
  conv2d_backward_weight_igemm(gy, x, p, gw);
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(conv2d_forward, DeviceType::cuda, &cuda::conv2d_forward_cuda);
SADANET_REGISTER_KERNEL(conv2d_backward_input, DeviceType::cuda, &cuda::conv2d_backward_input_cuda);
SADANET_REGISTER_KERNEL(conv2d_backward_weight, DeviceType::cuda, &cuda::conv2d_backward_weight_cuda);
}  // namespace sadanet
