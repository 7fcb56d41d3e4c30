// softmax / log_softmax along one dim, through the fused kernels on an [outer, d, inner] view.
#include "ops/math_internal.h"

namespace sadanet {
namespace {

Tensor softmax_impl(const char* op, const Tensor& x, int64_t dim, bool log) {
  math::check_floating(op, x, "x");
  const int64_t d = math::wrap_dim(op, dim, x.dim());
  const Shape& s = x.shape();
  const int64_t outer = math::prod(s, 0, d), len = x.dim() ? s[d] : 1, inner = math::prod(s, d + 1, s.size());
  Tensor out = empty(s, x.options());
  kernels::softmax_forward().get(x.device())(x.detach().contiguous(), outer, len, inner, log, out);
  return record(op, out, {x}, [y = out.detach(), outer, len, inner, log](const Tensor& g) {
    Tensor gx = empty(y.shape(), y.options());
    kernels::softmax_backward().get(y.device())(g.contiguous(), y, outer, len, inner, log, gx);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl("log_softmax", x, dim, true); }

}  // namespace sadanet
