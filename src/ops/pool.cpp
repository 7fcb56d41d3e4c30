// max_pool2d (forward saves the argmax indices; backward scatters through them) and
// global_avg_pool2d (a mean over H and W).
#include "kernels/kernels.h"
#include "ops/nn_checks.h"
#include "sadanet/ops.h"

namespace sadanet {

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p) {
  using namespace ops_detail;
  const char* op = "max_pool2d";
  check_defined(op, x, "x");
  check_floating(op, x, "x");
  check_dim(op, x, "x [N,C,H,W]", 4);
  SADANET_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride_h >= 1 && p.stride_w >= 1, op,
                ": expected kernel >= 1 and stride >= 1, got kernel (", p.kernel_h, ",", p.kernel_w, ") stride (",
                p.stride_h, ",", p.stride_w, ")");
  // As PyTorch: padding at most half the kernel, so every window sees at least one input.
  SADANET_CHECK(p.pad_h >= 0 && p.pad_w >= 0 && 2 * p.pad_h <= p.kernel_h && 2 * p.pad_w <= p.kernel_w, op,
                ": expected 0 <= padding <= kernel/2, got padding (", p.pad_h, ",", p.pad_w, ") for kernel (",
                p.kernel_h, ",", p.kernel_w, ")");
  const int64_t Ho = (x.size(2) + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1;
  const int64_t Wo = (x.size(3) + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1;
  SADANET_CHECK(x.size(2) + 2 * p.pad_h >= p.kernel_h && x.size(3) + 2 * p.pad_w >= p.kernel_w, op,
                ": expected the padded input ", shape_str(x.shape()), " to be at least the kernel (", p.kernel_h, ",",
                p.kernel_w, "), got output size ", Ho, "x", Wo);

  const Tensor xc = x.contiguous();
  Tensor y = empty({x.size(0), x.size(1), Ho, Wo}, x.options());
  Tensor indices = empty(y.shape(), x.options().with_dtype(DType::i64));
  kernels::max_pool2d_forward().get(x.device())(xc, p, y, indices);
  const Shape in_shape = x.shape();
  return record(op, y, {x}, [indices, in_shape](const Tensor& grad_y) {
    Tensor gx = zeros(in_shape, grad_y.options());
    kernels::max_pool2d_backward().get(grad_y.device())(grad_y.contiguous(), indices, gx);
    return std::vector<Tensor>{gx};
  });
}

Tensor global_avg_pool2d(const Tensor& x) {
  using namespace ops_detail;
  check_defined("global_avg_pool2d", x, "x");
  check_dim("global_avg_pool2d", x, "x [N,C,H,W]", 4);
  return mean(x, {2, 3});
}

}  // namespace sadanet
