// Element-wise ops with NumPy broadcasting, their gradients, and sum_to (the adjoint of
// broadcasting). Inputs must share device and dtype: scalars are doubles, tensors never promote.
#include <cmath>
#include <limits>

#include "ops/math_internal.h"

namespace sadanet {
namespace {

using math::binary_raw;
using math::unary_raw;
using Grads = std::vector<Tensor>;

// The gradient of a broadcast input, or nothing when that input does not need one.
Tensor reduce_grad(bool needed, const Tensor& g, const Shape& shape) {
  return needed ? sum_to(g, shape) : Tensor();
}

struct BinaryInfo {
  Shape sa, sb;
  bool ga, gb;  // which inputs want a gradient
};

BinaryInfo check_binary(const char* op, const Tensor& a, const Tensor& b) {
  math::check_compatible(op, a, "a", b, "b");
  SADANET_CHECK(is_floating(a.dtype()), op, ": expected floating tensors, got ", dtype_name(a.dtype()));
  math::broadcast_shapes(op, a.shape(), b.shape());  // throws naming the op
  return {a.shape(), b.shape(), a.requires_grad(), b.requires_grad()};
}

Tensor unary_op(const char* op, UnaryOp kind, const Tensor& x, double alpha = 0.0, double beta = 0.0) {
  math::check_floating(op, x, "x");
  return unary_raw(kind, x, alpha, beta);
}

}  // namespace

// ---- binary --------------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  auto i = check_binary("add", a, b);
  return record("add", binary_raw(BinaryOp::add, a, b), {a, b}, [i](const Tensor& g) {
    return Grads{reduce_grad(i.ga, g, i.sa), reduce_grad(i.gb, g, i.sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  auto i = check_binary("sub", a, b);
  return record("sub", binary_raw(BinaryOp::sub, a, b), {a, b}, [i](const Tensor& g) {
    return Grads{reduce_grad(i.ga, g, i.sa), i.gb ? neg(sum_to(g, i.sb)) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  auto i = check_binary("mul", a, b);
  // Save only what the other input's gradient needs.
  Tensor sa = i.gb ? a.detach() : Tensor(), sb = i.ga ? b.detach() : Tensor();
  return record("mul", binary_raw(BinaryOp::mul, a, b), {a, b}, [i, sa, sb](const Tensor& g) {
    return Grads{reduce_grad(i.ga, i.ga ? mul(g, sb) : Tensor(), i.sa),
                 reduce_grad(i.gb, i.gb ? mul(g, sa) : Tensor(), i.sb)};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  auto i = check_binary("div", a, b);
  Tensor sa = i.gb ? a.detach() : Tensor(), sb = b.detach();
  return record("div", binary_raw(BinaryOp::div, a, b), {a, b}, [i, sa, sb](const Tensor& g) {
    // d(a/b)/db = -a / b^2 (PyTorch's formula, finite where a/b is)
    return Grads{reduce_grad(i.ga, i.ga ? div(g, sb) : Tensor(), i.sa),
                 reduce_grad(i.gb, i.gb ? neg(div(mul(g, sa), mul(sb, sb))) : Tensor(), i.sb)};
  });
}

// maximum/minimum: the whole gradient goes to the selected input; on ties to a (ops.h contract;
// PyTorch 1.13 would split a tie's gradient half and half).
static Tensor select_binary(const char* name, BinaryOp kind, const Tensor& a, const Tensor& b, bool take_max) {
  auto i = check_binary(name, a, b);
  Tensor out = binary_raw(kind, a, b);
  Tensor ad = a.detach(), bd = b.detach();
  return record(name, out, {a, b}, [i, ad, bd, take_max](const Tensor& g) {
    // mask = 1 where a is the one selected (a >= b for max, b >= a for min), broadcast shape.
    Tensor mask = take_max ? binary_raw(BinaryOp::ge_mask, ad, bd) : binary_raw(BinaryOp::ge_mask, bd, ad);
    Tensor ga = i.ga ? sum_to(mul(g, mask), i.sa) : Tensor();
    Tensor gb = i.gb ? sum_to(sub(g, mul(g, mask)), i.sb) : Tensor();
    return Grads{ga, gb};
  });
}
Tensor maximum(const Tensor& a, const Tensor& b) { return select_binary("maximum", BinaryOp::maximum, a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return select_binary("minimum", BinaryOp::minimum, a, b, false); }

// ---- with a scalar -------------------------------------------------------------------------------

Tensor add(const Tensor& a, double s) {
  Tensor out = unary_op("add", UnaryOp::affine, a, 1.0, s);
  return record("add_scalar", out, {a}, [](const Tensor& g) { return Grads{g}; });
}

Tensor mul(const Tensor& a, double s) {
  Tensor out = unary_op("mul", UnaryOp::affine, a, s, 0.0);
  return record("mul_scalar", out, {a}, [s](const Tensor& g) { return Grads{mul(g, s)}; });
}

// ---- unary ---------------------------------------------------------------------------------------

Tensor neg(const Tensor& x) {
  return record("neg", unary_op("neg", UnaryOp::neg, x), {x}, [](const Tensor& g) { return Grads{neg(g)}; });
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_op("exp", UnaryOp::exp, x);
  return record("exp", out, {x}, [y = out.detach()](const Tensor& g) { return Grads{mul(g, y)}; });
}

Tensor log(const Tensor& x) {
  Tensor out = unary_op("log", UnaryOp::log, x);
  return record("log", out, {x}, [xd = x.detach()](const Tensor& g) { return Grads{div(g, xd)}; });
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_op("sqrt", UnaryOp::sqrt, x);
  return record("sqrt", out, {x}, [y = out.detach()](const Tensor& g) { return Grads{div(g, mul(y, 2.0))}; });
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = unary_op("rsqrt", UnaryOp::rsqrt, x);
  // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 y^3
  return record("rsqrt", out, {x}, [y = out.detach()](const Tensor& g) {
    return Grads{mul(mul(g, unary_raw(UnaryOp::pow_scalar, y, 3.0)), -0.5)};
  });
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_op("abs", UnaryOp::abs, x);
  return record("abs", out, {x}, [xd = x.detach()](const Tensor& g) {
    return Grads{mul(g, unary_raw(UnaryOp::sign, xd))};  // sign(0) = 0
  });
}

Tensor square(const Tensor& x) {
  Tensor out = unary_op("square", UnaryOp::square, x);
  return record("square", out, {x}, [xd = x.detach()](const Tensor& g) { return Grads{mul(mul(g, xd), 2.0)}; });
}

Tensor pow(const Tensor& x, double e) {
  Tensor out = unary_op("pow", UnaryOp::pow_scalar, x, e);
  return record("pow", out, {x}, [xd = x.detach(), e](const Tensor& g) {
    // x^0 is constant: a zero gradient even at x = 0, where e * x^(e-1) would be 0 * inf.
    if (e == 0.0) return Grads{zeros(g.shape(), g.options())};
    if (e == 1.0) return Grads{g};
    return Grads{mul(mul(g, unary_raw(UnaryOp::pow_scalar, xd, e - 1.0)), e)};
  });
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  SADANET_CHECK(lo || hi, "clamp: expected at least one of lo and hi");
  SADANET_CHECK(!(lo && std::isnan(*lo)) && !(hi && std::isnan(*hi)), "clamp: bounds must not be NaN");
  const double inf = std::numeric_limits<double>::infinity();
  const double a = lo.value_or(-inf), b = hi.value_or(inf);
  Tensor out = unary_op("clamp", UnaryOp::clamp, x, a, b);
  return record("clamp", out, {x}, [xd = x.detach(), a, b](const Tensor& g) {
    return Grads{mul(g, unary_raw(UnaryOp::clamp_mask, xd, a, b))};  // 1 inside [lo, hi], bounds included
  });
}

Tensor relu(const Tensor& x) {
  Tensor out = unary_op("relu", UnaryOp::relu, x);
  return record("relu", out, {x}, [y = out.detach()](const Tensor& g) {
    return Grads{binary_raw(BinaryOp::relu_backward, g, y)};
  });
}

// ---- comparisons: 0/1 in the input dtype, never recorded -----------------------------------------

Tensor gt(const Tensor& a, const Tensor& b) {
  math::check_compatible("gt", a, "a", b, "b");
  math::broadcast_shapes("gt", a.shape(), b.shape());
  return binary_raw(BinaryOp::gt, a, b);
}
Tensor eq(const Tensor& a, const Tensor& b) {
  math::check_compatible("eq", a, "a", b, "b");
  math::broadcast_shapes("eq", a.shape(), b.shape());
  return binary_raw(BinaryOp::eq, a, b);
}
Tensor gt(const Tensor& x, double s) {
  math::check_defined("gt", x, "x");
  return unary_raw(UnaryOp::gt_scalar, x, s);
}
Tensor lt(const Tensor& x, double s) {
  math::check_defined("lt", x, "x");
  return unary_raw(UnaryOp::lt_scalar, x, s);
}

// ---- sum_to --------------------------------------------------------------------------------------

Tensor sum_to(const Tensor& x, const Shape& shape) {
  math::check_defined("sum_to", x, "x");
  const Shape& xs = x.shape();
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  SADANET_CHECK(lead >= 0, "sum_to: cannot sum shape ", shape_str(xs), " to more dimensions ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < lead; ++d) dims.push_back(d);
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t xd = xs[lead + i];
    SADANET_CHECK(shape[i] == xd || shape[i] == 1, "sum_to: shape ", shape_str(xs), " does not broadcast from ",
                  shape_str(shape), " (dimension ", lead + i, ": ", xd, " vs ", shape[i], ")");
    if (shape[i] == 1 && xd != 1) dims.push_back(lead + static_cast<int64_t>(i));
  }
  if (dims.empty()) return xs == shape ? x : x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace sadanet
