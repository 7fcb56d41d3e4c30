// batch_norm in three modes (see ops.h). Running statistics are buffers: updated in place in
// train mode only, never inputs of the graph.
#include "kernels/kernels.h"
#include "ops/nn_checks.h"
#include "sadanet/ops.h"

namespace sadanet {

const char* batch_norm_mode_name(BatchNormMode m) {
  switch (m) {
    case BatchNormMode::train: return "train";
    case BatchNormMode::eval: return "eval";
    case BatchNormMode::frozen: return "frozen";
  }
  return "unknown";
}

BatchNormMode batch_norm_mode_from_name(const std::string& s) {
  if (s == "train") return BatchNormMode::train;
  if (s == "eval") return BatchNormMode::eval;
  if (s == "frozen") return BatchNormMode::frozen;
  throw Error(detail::concat("batch_norm: expected mode train, eval or frozen, got '", s, "'"));
}

namespace {
void check_vec(const char* op, const Tensor& t, const char* name, int64_t c) {
  if (!t.defined()) return;
  SADANET_CHECK(t.dim() == 1 && t.size(0) == c, op, ": expected ", name, " of shape [", c, "] (x's channels), got ",
                shape_str(t.shape()));
}
Tensor contig(const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); }
}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, BatchNormMode mode, double momentum, double eps) {
  using namespace ops_detail;
  const char* op = "batch_norm";
  check_defined(op, x, "x");
  check_floating(op, x, "x");
  check_same(op, {{&x, "x"}, {&weight, "weight"}, {&bias, "bias"}, {&running_mean, "running_mean"},
                  {&running_var, "running_var"}});
  SADANET_CHECK(x.dim() == 2 || x.dim() == 4, op, ": expected x of shape [N,C] or [N,C,H,W], got ",
                shape_str(x.shape()));
  const int64_t C = x.size(1);
  check_vec(op, weight, "weight", C);
  check_vec(op, bias, "bias", C);
  check_vec(op, running_mean, "running_mean", C);
  check_vec(op, running_var, "running_var", C);
  SADANET_CHECK(eps >= 0, op, ": expected eps >= 0, got ", eps);

  const Tensor xc = x.contiguous(), wc = contig(weight), bc = contig(bias);
  Tensor y = empty(x.shape(), x.options());
  const bool need_x = x.requires_grad(), need_w = weight.defined() && weight.requires_grad(),
             need_b = bias.defined() && bias.requires_grad();
  Tensor mean, invstd;  // the statistics the backward treats as given
  const bool train = mode == BatchNormMode::train;
  if (train) {
    SADANET_CHECK(x.numel() == 0 || x.numel() / C > 1, op, ": expected more than one value per channel in train mode, got x ",
                  shape_str(x.shape()));
    SADANET_CHECK(running_mean.defined() == running_var.defined(), op,
                  ": expected running_mean and running_var both given or both undefined in train mode");
    if (running_mean.defined())
      SADANET_CHECK(!running_mean.requires_grad() && !running_var.requires_grad(), op,
                    ": expected running statistics that do not require grad (they are updated in place), got ones that do");
    // The kernel updates contiguous buffers; other layouts are updated through a copy.
    Tensor rm = contig(running_mean), rv = contig(running_var);
    mean = empty({C}, x.options());
    invstd = empty({C}, x.options());
    kernels::batch_norm_train().get(x.device())(xc, wc, bc, rm, rv, momentum, eps, y, mean, invstd);
    NoGradGuard no_grad;
    if (rm.defined() && rm.impl() != running_mean.impl()) running_mean.copy_(rm);
    if (rv.defined() && rv.impl() != running_var.impl()) running_var.copy_(rv);
  } else {
    SADANET_CHECK(running_mean.defined() && running_var.defined(), op, ": expected running_mean and running_var in ",
                  batch_norm_mode_name(mode), " mode, got undefined ones");
    const Tensor rv = running_var.contiguous();
    kernels::batch_norm_eval().get(x.device())(xc, wc, bc, running_mean.contiguous(), rv, eps, y);
    if (need_x || need_w || need_b) {
      // Snapshots: a later train step must not change what this backward sees.
      NoGradGuard no_grad;
      mean = running_mean.clone();
      invstd = rsqrt(add(rv, eps));
    }
  }
  return record(op, y, {x, weight, bias}, [xc, wc, mean, invstd, train, need_w, need_b](const Tensor& grad_y) {
    const Tensor gy = grad_y.contiguous();
    Tensor gx = empty(xc.shape(), xc.options());
    Tensor gw = need_w ? empty(wc.shape(), wc.options()) : Tensor();
    Tensor gb = need_b ? empty(wc.defined() ? wc.shape() : mean.shape(), xc.options()) : Tensor();
    kernels::batch_norm_backward().get(gy.device())(gy, xc, wc, mean, invstd, train, gx, gw, gb);
    return std::vector<Tensor>{gx, gw, gb};
  });
}

}  // namespace sadanet
