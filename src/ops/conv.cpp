// conv2d: forward and backward through the conv2d_* kernel slots; the bias gradient is a sum.
#include "kernels/kernels.h"
#include "ops/nn_checks.h"
#include "sadanet/ops.h"

namespace sadanet {

namespace {
int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) {
  using namespace ops_detail;
  const char* op = "conv2d";
  check_defined(op, x, "x");
  check_defined(op, weight, "weight");
  check_same(op, {{&x, "x"}, {&weight, "weight"}, {&bias, "bias"}});
  check_floating(op, x, "x");
  check_dim(op, x, "x [N,C,H,W]", 4);
  check_dim(op, weight, "weight [O,C,kh,kw]", 4);
  SADANET_CHECK(weight.size(1) == x.size(1), op, ": expected weight [O,C,kh,kw] with C = x's channels ", x.size(1),
                " (groups = 1), got weight ", shape_str(weight.shape()), " for x ", shape_str(x.shape()));
  if (bias.defined())
    SADANET_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), op, ": expected bias of shape [",
                  weight.size(0), "], got ", shape_str(bias.shape()));
  SADANET_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 && p.pad_h >= 0 &&
                    p.pad_w >= 0,
                op, ": expected stride >= 1, dilation >= 1 and padding >= 0, got stride (", p.stride_h, ",",
                p.stride_w, ") padding (", p.pad_h, ",", p.pad_w, ") dilation (", p.dilation_h, ",", p.dilation_w, ")");
  const int64_t Ho = conv_out_size(x.size(2), weight.size(2), p.stride_h, p.pad_h, p.dilation_h);
  const int64_t Wo = conv_out_size(x.size(3), weight.size(3), p.stride_w, p.pad_w, p.dilation_w);
  SADANET_CHECK(Ho >= 1 && Wo >= 1, op, ": expected the (padded) input ", shape_str(x.shape()),
                " to be at least as large as the (dilated) kernel ", shape_str(weight.shape()), ", got output size ",
                Ho, "x", Wo);

  const Tensor xc = x.contiguous(), wc = weight.contiguous();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = empty({x.size(0), weight.size(0), Ho, Wo}, x.options());
  kernels::conv2d_forward().get(x.device())(xc, wc, bc, p, y);

  const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
  const bool has_bias = bias.defined(), need_b = has_bias && bias.requires_grad();
  std::vector<Tensor> inputs{x, weight};
  if (has_bias) inputs.push_back(bias);
  return record(op, y, inputs, [xc, wc, p, need_x, need_w, has_bias, need_b](const Tensor& grad_y) {
    const Tensor gy = grad_y.contiguous();
    std::vector<Tensor> g(has_bias ? 3 : 2);
    if (need_x) {
      g[0] = empty(xc.shape(), xc.options());
      kernels::conv2d_backward_input().get(gy.device())(gy, wc, p, g[0]);
    }
    if (need_w) {
      g[1] = empty(wc.shape(), wc.options());
      kernels::conv2d_backward_weight().get(gy.device())(gy, xc, p, g[1]);
    }
    if (need_b) g[2] = sum(gy, {0, 2, 3});
    return g;
  });
}

}  // namespace sadanet
