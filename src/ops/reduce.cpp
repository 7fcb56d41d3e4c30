// Reductions over a list of dims (empty = all; negative dims count from the end). The reduced
// dims become the middle axis of an [outer, r, inner] view: directly when they are adjacent,
// otherwise after permuting them last and copying (then inner = 1).
#include <algorithm>
#include <numeric>

#include "ops/math_internal.h"

namespace sadanet {
namespace {

using Grads = std::vector<Tensor>;

struct Plan {
  std::vector<int64_t> dims;   // sorted, unique, wrapped
  Shape keep_shape;            // x's shape with reduced dims set to 1
  Shape out_shape;             // keep_shape, or without the reduced dims
  int64_t outer = 1, r = 1, inner = 1;
  std::vector<int64_t> perm;   // kept dims then reduced dims; empty when not permuted
};

Plan make_plan(const char* op, const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  math::check_floating(op, x, "x");
  Plan p;
  const int64_t nd = x.dim();
  const Shape& s = x.shape();
  for (int64_t d : dims_in) {
    const int64_t w = math::wrap_dim(op, d, nd);
    SADANET_CHECK(std::find(p.dims.begin(), p.dims.end(), w) == p.dims.end(), op, ": dimension ", w,
                  " appears more than once in the reduced dims");
    p.dims.push_back(w);
  }
  if (nd == 0) p.dims.clear();  // a 0-d tensor has nothing to reduce over, whatever was asked
  if (dims_in.empty()) {
    p.dims.resize(nd);
    std::iota(p.dims.begin(), p.dims.end(), 0);
  }
  std::sort(p.dims.begin(), p.dims.end());
  auto reduced = [&](int64_t d) { return std::binary_search(p.dims.begin(), p.dims.end(), d); };

  for (int64_t d = 0; d < nd; ++d) {
    p.keep_shape.push_back(reduced(d) ? 1 : s[d]);
    if (!reduced(d) || keepdim) p.out_shape.push_back(reduced(d) ? 1 : s[d]);
  }
  if (p.dims.empty()) return p;  // 0-d: outer = r = inner = 1
  const bool adjacent = p.dims.back() - p.dims.front() + 1 == static_cast<int64_t>(p.dims.size());
  if (adjacent) {
    p.outer = math::prod(s, 0, p.dims.front());
    p.r = math::prod(s, p.dims.front(), p.dims.back() + 1);
    p.inner = math::prod(s, p.dims.back() + 1, nd);
  } else {
    for (int64_t d = 0; d < nd; ++d)
      if (!reduced(d)) { p.perm.push_back(d); p.outer *= s[d]; }
    for (int64_t d : p.dims) { p.perm.push_back(d); p.r *= s[d]; }
  }
  return p;
}

// x's data laid out as the plan's [outer, r, inner], contiguous, without recording.
Tensor canonical(const Tensor& x, const Plan& p) {
  Tensor xd = x.detach();
  return p.perm.empty() ? xd.contiguous() : xd.permute(p.perm).contiguous();
}

Tensor run_reduce(ReduceOp op, const Tensor& x, const Plan& p, Tensor& indices, int64_t correction) {
  Tensor out = empty({p.outer, p.inner}, x.options());
  kernels::reduce().get(x.device())(op, canonical(x, p), p.outer, p.r, p.inner, out, indices, correction);
  return out.reshape(p.out_shape);
}

// g of the output, spread back over x's shape (contiguous, so consumers need not handle stride 0).
Tensor spread(const Tensor& g, const Plan& p, const Shape& x_shape) {
  return g.reshape(p.keep_shape).expand(x_shape).contiguous();
}

Tensor max_impl(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, Tensor* idx_out) {
  Plan p = make_plan(op, x, dims, keepdim);
  SADANET_CHECK(p.r > 0 || p.outer * p.inner == 0, op, ": cannot reduce over an empty dimension (shape ",
                shape_str(x.shape()), ")");
  Tensor indices = empty({p.outer, p.inner}, x.options().with_dtype(DType::i64));
  Tensor out = run_reduce(ReduceOp::max, x, p, indices, 0);
  if (idx_out) *idx_out = indices.reshape(p.out_shape);
  const Shape xs = x.shape();
  return record(op, out, {x}, [p, indices, xs](const Tensor& g) {
    // The gradient lands on the first maximum of each group, in the canonical layout ...
    Tensor gc = math::scatter_add_raw(g.reshape({p.outer, 1, p.inner}), indices.reshape({p.outer, 1, p.inner}),
                                      p.outer, p.r, 1, p.inner);
    if (p.perm.empty()) return Grads{gc.reshape(xs)};
    // ... then goes back through the permutation.
    Shape permuted;
    for (int64_t d : p.perm) permuted.push_back(xs[d]);
    std::vector<int64_t> inv(p.perm.size());
    for (size_t i = 0; i < p.perm.size(); ++i) inv[p.perm[i]] = static_cast<int64_t>(i);
    return Grads{gc.reshape(permuted).permute(inv).contiguous()};
  });
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  Plan p = make_plan("sum", x, dims, keepdim);
  Tensor none;
  Tensor out = run_reduce(ReduceOp::sum, x, p, none, 0);
  const Shape xs = x.shape();
  return record("sum", out, {x}, [p, xs](const Tensor& g) { return Grads{spread(g, p, xs)}; });
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  Plan p = make_plan("mean", x, dims, keepdim);
  Tensor none;
  Tensor out = run_reduce(ReduceOp::mean, x, p, none, 0);
  const Shape xs = x.shape();
  return record("mean", out, {x}, [p, xs](const Tensor& g) {
    return Grads{spread(mul(g, 1.0 / static_cast<double>(p.r)), p, xs)};
  });
}

Tensor max(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return max_impl("max", x, dims, keepdim, nullptr);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  Tensor idx;
  NoGradGuard no_grad;  // indices only: nothing to record
  max_impl("argmax", x, {dim}, keepdim, &idx);
  return idx;
}

Tensor var(const Tensor& x, std::vector<int64_t> dims, int64_t correction, bool keepdim) {
  Plan p = make_plan("var", x, dims, keepdim);
  SADANET_CHECK(correction >= 0, "var: expected a non-negative correction, got ", correction);
  Tensor none;
  Tensor out = run_reduce(ReduceOp::var, x, p, none, correction);
  Tensor xd = x.detach();
  return record("var", out, {x}, [p, xd, dims, correction](const Tensor& g) {
    // d var / dx = 2 (x - mean) / (r - correction)
    const double scale = 2.0 / static_cast<double>(std::max<int64_t>(0, p.r - correction));
    Tensor centered = sub(xd, mean(xd, dims, true));
    return Grads{mul(centered, mul(g.reshape(p.keep_shape), scale))};
  });
}

}  // namespace sadanet
