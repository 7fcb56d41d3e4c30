// Element-wise binary kernels: out = op(a, b). a and b come expanded to out's shape (stride 0 on
// broadcast dims); after dimension merging the inner run of each operand has stride 1 (dense),
// 0 (a scalar for that run: column or scalar broadcast) or something else (a permuted view), and
// the three common combinations get their own loops so the compiler can vectorise them.
#include <cmath>

#include "cpu/strided_loop.h"
#include "kernels/kernels.h"

namespace sadanet {
namespace {

template <class T, class F> void binary_loop(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const T* ap = static_cast<const T*>(a.raw_data());
  const T* bp = static_cast<const T*>(b.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  auto L = cpu::make_strided_loop<3>(out.shape(), {&a.strides(), &b.strides(), &out.strides()});
  const int64_t sa = L.inner_stride(0), sb = L.inner_stride(1);
  cpu::strided_loop_parallel(L, [&](const std::array<int64_t, 3>& off, int64_t n) {
    const T* x = ap + off[0];
    const T* y = bp + off[1];
    T* d = op + off[2];  // out is contiguous: inner stride 1
    if (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) d[i] = f(x[i], y[i]);
    } else if (sa == 1 && sb == 0) {
      const T yv = *y;
      for (int64_t i = 0; i < n; ++i) d[i] = f(x[i], yv);
    } else if (sa == 0 && sb == 1) {
      const T xv = *x;
      for (int64_t i = 0; i < n; ++i) d[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) d[i] = f(x[i * sa], y[i * sb]);
    }
  });
}

template <class T> void binary_floating(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  switch (op) {
    case BinaryOp::add: return binary_loop<T>(a, b, out, [](T x, T y) { return x + y; });
    case BinaryOp::sub: return binary_loop<T>(a, b, out, [](T x, T y) { return x - y; });
    case BinaryOp::mul: return binary_loop<T>(a, b, out, [](T x, T y) { return x * y; });
    case BinaryOp::div: return binary_loop<T>(a, b, out, [](T x, T y) { return x / y; });
    // NaN in either input propagates (torch.maximum/minimum), unlike std::max.
    case BinaryOp::maximum:
      return binary_loop<T>(a, b, out, [](T x, T y) { return (x > y || std::isnan(x)) ? x : y; });
    case BinaryOp::minimum:
      return binary_loop<T>(a, b, out, [](T x, T y) { return (x < y || std::isnan(x)) ? x : y; });
    case BinaryOp::gt: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x > y); });
    case BinaryOp::eq: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x == y); });
    case BinaryOp::ge_mask: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x >= y); });
    case BinaryOp::relu_backward: return binary_loop<T>(a, b, out, [](T g, T y) { return y > T(0) ? g : T(0); });
  }
  throw Error(detail::concat("binary: unknown op ", static_cast<int>(op)));
}

void binary_cpu(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  SADANET_CHECK(a.shape() == out.shape() && b.shape() == out.shape(), "binary: expected operands expanded to ",
                shape_str(out.shape()), ", got ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  SADANET_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype(), "binary: dtypes differ: ",
                dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " -> ", dtype_name(out.dtype()));
  if (out.numel() == 0) return;
  if ((op == BinaryOp::gt || op == BinaryOp::eq) && !is_floating(a.dtype())) {
    // Integer comparisons, e.g. eq(argmax(logits, 1), labels) for accuracy.
    cpu::dispatch_compare(a.dtype(), "binary", [&]<class T>() {
      if (op == BinaryOp::gt) binary_loop<T>(a, b, out, [](T x, T y) { return T(x > y); });
      else binary_loop<T>(a, b, out, [](T x, T y) { return T(x == y); });
    });
    return;
  }
  cpu::dispatch_floating(a.dtype(), "binary", [&]<class T>() { binary_floating<T>(op, a, b, out); });
}

}  // namespace

SADANET_REGISTER_KERNEL(binary, DeviceType::cpu, binary_cpu);

}  // namespace sadanet
