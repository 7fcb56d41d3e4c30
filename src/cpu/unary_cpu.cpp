// Element-wise unary kernels: out = op(x), x possibly strided, out contiguous.
#include <cmath>
#include <limits>

#include "cpu/strided_loop.h"
#include "kernels/kernels.h"

namespace sadanet {
namespace {

// Runs f over every element; the stride-1 branch is a plain loop the compiler can vectorise.
template <class T, class F> void unary_loop(const Tensor& x, Tensor& out, F f) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  auto L = cpu::make_strided_loop<2>(x.shape(), {&x.strides(), &out.strides()});
  const int64_t sx = L.inner_stride(0);
  cpu::strided_loop_parallel(L, [&](const std::array<int64_t, 2>& off, int64_t n) {
    const T* s = xp + off[0];
    T* d = op + off[1];  // out is contiguous: its inner stride is 1
    if (sx == 1) {
      for (int64_t i = 0; i < n; ++i) d[i] = f(s[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) d[i] = f(s[i * sx]);
    }
  });
}

template <class T> void unary_floating(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) {
  const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
  switch (op) {
    case UnaryOp::neg: return unary_loop<T>(x, out, [](T v) { return -v; });
    case UnaryOp::exp: return unary_loop<T>(x, out, [](T v) { return std::exp(v); });
    case UnaryOp::log: return unary_loop<T>(x, out, [](T v) { return std::log(v); });
    case UnaryOp::sqrt: return unary_loop<T>(x, out, [](T v) { return std::sqrt(v); });
    case UnaryOp::rsqrt: return unary_loop<T>(x, out, [](T v) { return T(1) / std::sqrt(v); });
    case UnaryOp::abs: return unary_loop<T>(x, out, [](T v) { return std::abs(v); });
    // sign(0) = 0 (abs's gradient at 0, as PyTorch); NaN stays NaN.
    case UnaryOp::sign:
      return unary_loop<T>(x, out, [](T v) { return v > T(0) ? T(1) : (v < T(0) ? T(-1) : v); });
    case UnaryOp::square: return unary_loop<T>(x, out, [](T v) { return v * v; });
    // Written so NaN propagates, as torch.relu does.
    case UnaryOp::relu: return unary_loop<T>(x, out, [](T v) { return v < T(0) ? T(0) : v; });
    case UnaryOp::reciprocal: return unary_loop<T>(x, out, [](T v) { return T(1) / v; });
    case UnaryOp::pow_scalar:
      // Common exponents without the libm call (and bit-identical to the obvious formula).
      if (alpha == 2.0) return unary_loop<T>(x, out, [](T v) { return v * v; });
      if (alpha == 1.0) return unary_loop<T>(x, out, [](T v) { return v; });
      if (alpha == 3.0) return unary_loop<T>(x, out, [](T v) { return v * v * v; });
      if (alpha == 0.5) return unary_loop<T>(x, out, [](T v) { return std::sqrt(v); });
      if (alpha == -1.0) return unary_loop<T>(x, out, [](T v) { return T(1) / v; });
      return unary_loop<T>(x, out, [a](T v) { return std::pow(v, a); });
    case UnaryOp::affine: return unary_loop<T>(x, out, [a, b](T v) { return a * v + b; });
    // max then min, so lo > hi gives hi everywhere (torch.clamp) and NaN propagates.
    case UnaryOp::clamp:
      return unary_loop<T>(x, out, [a, b](T v) {
        T r = v < a ? a : v;
        return r > b ? b : r;
      });
    case UnaryOp::clamp_mask: return unary_loop<T>(x, out, [a, b](T v) { return T(a <= v && v <= b); });
    case UnaryOp::gt_scalar: return unary_loop<T>(x, out, [a](T v) { return T(v > a); });
    case UnaryOp::lt_scalar: return unary_loop<T>(x, out, [a](T v) { return T(v < a); });
  }
  throw Error(detail::concat("unary: unknown op ", static_cast<int>(op)));
}

// Comparisons also run on integer tensors (labels, argmax results); the threshold is compared
// as a double so `x > 0.5` on an i64 tensor means what it says.
template <class T> void unary_compare(UnaryOp op, const Tensor& x, Tensor& out, double alpha) {
  if (op == UnaryOp::gt_scalar)
    return unary_loop<T>(x, out, [alpha](T v) { return T(static_cast<double>(v) > alpha); });
  return unary_loop<T>(x, out, [alpha](T v) { return T(static_cast<double>(v) < alpha); });
}

void unary_cpu(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) {
  SADANET_CHECK(x.shape() == out.shape() && x.dtype() == out.dtype(), "unary: x ", shape_str(x.shape()), " ",
                dtype_name(x.dtype()), " and out ", shape_str(out.shape()), " ", dtype_name(out.dtype()), " differ");
  if (out.numel() == 0) return;
  if ((op == UnaryOp::gt_scalar || op == UnaryOp::lt_scalar) && !is_floating(x.dtype())) {
    cpu::dispatch_compare(x.dtype(), "unary", [&]<class T>() { unary_compare<T>(op, x, out, alpha); });
    return;
  }
  cpu::dispatch_floating(x.dtype(), "unary", [&]<class T>() { unary_floating<T>(op, x, out, alpha, beta); });
}

}  // namespace

SADANET_REGISTER_KERNEL(unary, DeviceType::cpu, unary_cpu);

}  // namespace sadanet
