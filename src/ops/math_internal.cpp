// Shared checks and raw kernel calls for the math ops (see math_internal.h).
#include "ops/math_internal.h"

namespace sadanet::math {

void check_defined(const char* op, const Tensor& t, const char* what) {
  SADANET_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

void check_floating(const char* op, const Tensor& t, const char* what) {
  check_defined(op, t, what);
  SADANET_CHECK(is_floating(t.dtype()), op, ": expected ", what, " to be a floating tensor, got ",
                dtype_name(t.dtype()));
}

void check_compatible(const char* op, const Tensor& a, const char* a_name, const Tensor& b, const char* b_name) {
  check_defined(op, a, a_name);
  check_defined(op, b, b_name);
  SADANET_CHECK(a.device() == b.device(), op, ": expected ", a_name, " and ", b_name, " on one device, got ",
                a.device().str(), " and ", b.device().str());
  SADANET_CHECK(a.dtype() == b.dtype(), op, ": expected ", a_name, " and ", b_name, " of one dtype, got ",
                dtype_name(a.dtype()), " and ", dtype_name(b.dtype()), " (convert one with .to(dtype))");
}

int64_t wrap_dim(const char* op, int64_t d, int64_t rank) {
  // A 0-d tensor accepts dim 0 / -1, as PyTorch does.
  const int64_t r = std::max<int64_t>(rank, 1);
  SADANET_CHECK(d >= -r && d < r, op, ": dimension ", d, " is out of range for a tensor of rank ", rank,
                " (expected ", -r, "..", r - 1, ")");
  return d < 0 ? d + r : d;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    // Aligned from the right, as NumPy.
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    SADANET_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
                  " cannot be broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

Tensor unary_raw(UnaryOp op, const Tensor& x, double alpha, double beta) {
  Tensor out = empty(x.shape(), x.options());
  kernels::unary().get(x.device())(op, x.detach(), out, alpha, beta);
  return out;
}

Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b) {
  const Shape shape = broadcast_shapes("binary", a.shape(), b.shape());
  Tensor out = empty(shape, a.options());
  // Detached views: expanding here must not add nodes to the graph.
  kernels::binary().get(a.device())(op, a.detach().expand(shape), b.detach().expand(shape), out);
  return out;
}

Tensor scatter_add_raw(const Tensor& grad_out, const Tensor& index, int64_t outer, int64_t d, int64_t d_index,
                       int64_t inner) {
  Tensor gx = zeros({outer, d, inner}, grad_out.options());
  kernels::scatter_add().get(gx.device())(grad_out.detach().contiguous(), index.contiguous(), outer, d, d_index,
                                          inner, gx);
  return gx;
}

}  // namespace sadanet::math
