// CUDA element-wise kernels: unary out = op(x) (x strided) and binary out = op(a, b) (a and b
// expanded to out's shape, stride 0 on broadcast dims). Dims are merged first (StridedIndexer);
// a dense result takes the contiguous path, vectorised with float4 for f32, anything else the
// strided path with 32-bit index arithmetic where it fits. The arithmetic is the CPU backend's,
// op for op (src/cpu/unary_cpu.cpp, binary_cpu.cpp).
#include <cstdint>

#include "cuda_common.cuh"

namespace sadanet::cuda {
namespace {

// ---- math by element type ------------------------------------------------------------------------

__device__ __forceinline__ float d_exp(float v) { return ::expf(v); }
__device__ __forceinline__ double d_exp(double v) { return ::exp(v); }
__device__ __forceinline__ float d_log(float v) { return ::logf(v); }
__device__ __forceinline__ double d_log(double v) { return ::log(v); }
__device__ __forceinline__ float d_sqrt(float v) { return ::sqrtf(v); }
__device__ __forceinline__ double d_sqrt(double v) { return ::sqrt(v); }
__device__ __forceinline__ float d_abs(float v) { return ::fabsf(v); }
__device__ __forceinline__ double d_abs(double v) { return ::fabs(v); }
__device__ __forceinline__ float d_pow(float v, float a) { return ::powf(v, a); }
__device__ __forceinline__ double d_pow(double v, double a) { return ::pow(v, a); }
template <class T> __device__ __forceinline__ bool d_isnan(T v) { return v != v; }

// pow_scalar's exponents with a closed form on the CPU (and the same bits here).
enum PowKind : int { kPowGeneral, kPowSquare, kPowIdentity, kPowCube, kPowSqrt, kPowReciprocal };

template <class T> struct UnaryFn {
  UnaryOp op;
  T a, b;
  int pow_kind;
  __device__ __forceinline__ T operator()(T v) const {
    switch (op) {
      case UnaryOp::neg: return -v;
      case UnaryOp::exp: return d_exp(v);
      case UnaryOp::log: return d_log(v);
      case UnaryOp::sqrt: return d_sqrt(v);
      case UnaryOp::rsqrt: return T(1) / d_sqrt(v);
      case UnaryOp::abs: return d_abs(v);
      case UnaryOp::sign: return v > T(0) ? T(1) : (v < T(0) ? T(-1) : v);  // sign(0) = 0, NaN stays
      case UnaryOp::square: return v * v;
      case UnaryOp::relu: return v < T(0) ? T(0) : v;  // NaN propagates
      case UnaryOp::reciprocal: return T(1) / v;
      case UnaryOp::pow_scalar:
        switch (pow_kind) {
          case kPowSquare: return v * v;
          case kPowIdentity: return v;
          case kPowCube: return v * v * v;
          case kPowSqrt: return d_sqrt(v);
          case kPowReciprocal: return T(1) / v;
          default: return d_pow(v, a);
        }
      case UnaryOp::affine: return a * v + b;
      case UnaryOp::clamp: {  // max then min: lo > hi gives hi; NaN propagates
        const T r = v < a ? a : v;
        return r > b ? b : r;
      }
      case UnaryOp::clamp_mask: return T(a <= v && v <= b);
      case UnaryOp::gt_scalar: return T(v > a);
      case UnaryOp::lt_scalar: return T(v < a);
    }
    return v;
  }
};

// gt_scalar / lt_scalar on integer tensors: the threshold compares as a double.
template <class T> struct CompareScalarFn {
  bool gt;
  double alpha;
  __device__ __forceinline__ T operator()(T v) const {
    return gt ? T(static_cast<double>(v) > alpha) : T(static_cast<double>(v) < alpha);
  }
};

template <class T> struct BinaryFn {
  BinaryOp op;
  __device__ __forceinline__ T operator()(T x, T y) const {
    switch (op) {
      case BinaryOp::add: return x + y;
      case BinaryOp::sub: return x - y;
      case BinaryOp::mul: return x * y;
      case BinaryOp::div: return x / y;
      case BinaryOp::maximum: return (x > y || d_isnan(x)) ? x : y;  // NaN in either propagates
      case BinaryOp::minimum: return (x < y || d_isnan(x)) ? x : y;
      case BinaryOp::gt: return T(x > y);
      case BinaryOp::eq: return T(x == y);
      case BinaryOp::ge_mask: return T(x >= y);
      case BinaryOp::relu_backward: return y > T(0) ? x : T(0);
    }
    return x;
  }
};

// gt / eq on any comparable dtype (labels, argmax results).
template <class T> struct CompareFn {
  bool gt;
  __device__ __forceinline__ T operator()(T x, T y) const { return gt ? T(x > y) : T(x == y); }
};

// ---- kernels -------------------------------------------------------------------------------------

template <class T, class F> __global__ void unary_contig_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, F f) {
  SADANET_GRID_STRIDE(int64_t, i, n) out[i] = f(x[i]);
}

// f32, both pointers 16-byte aligned: four elements per load/store; the < 4 leftover elements
// go to the first threads of the grid.
template <class F> __global__ void unary_vec4_kernel(const float* __restrict__ x, float* __restrict__ out, int64_t n, F f) {
  const int64_t n4 = n / 4;
  const float4* x4 = reinterpret_cast<const float4*>(x);
  float4* o4 = reinterpret_cast<float4*>(out);
  SADANET_GRID_STRIDE(int64_t, i, n4) {
    float4 v = x4[i];
    v.x = f(v.x);
    v.y = f(v.y);
    v.z = f(v.z);
    v.w = f(v.w);
    o4[i] = v;
  }
  const int64_t t = 4 * n4 + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) out[t] = f(x[t]);
}

// Operand 0 is x, operand 1 out.
template <class T, class F, class I>
__global__ void unary_strided_kernel(const T* __restrict__ x, T* __restrict__ out, I n, StridedIndexer<2> ix, F f) {
  SADANET_GRID_STRIDE(I, i, n) {
    int64_t off[2];
    ix.offsets(i, off);
    out[off[1]] = f(x[off[0]]);
  }
}

template <class T, class F>
__global__ void binary_contig_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, int64_t n, F f) {
  SADANET_GRID_STRIDE(int64_t, i, n) out[i] = f(a[i], b[i]);
}

template <class F>
__global__ void binary_vec4_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                                   int64_t n, F f) {
  const int64_t n4 = n / 4;
  const float4* a4 = reinterpret_cast<const float4*>(a);
  const float4* b4 = reinterpret_cast<const float4*>(b);
  float4* o4 = reinterpret_cast<float4*>(out);
  SADANET_GRID_STRIDE(int64_t, i, n4) {
    const float4 x = a4[i], y = b4[i];
    o4[i] = make_float4(f(x.x, y.x), f(x.y, y.y), f(x.z, y.z), f(x.w, y.w));
  }
  const int64_t t = 4 * n4 + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) out[t] = f(a[t], b[t]);
}

// Operands 0, 1, 2: a, b, out.
template <class T, class F, class I>
__global__ void binary_strided_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, I n,
                                      StridedIndexer<3> ix, F f) {
  SADANET_GRID_STRIDE(I, i, n) {
    int64_t off[3];
    ix.offsets(i, off);
    out[off[2]] = f(a[off[0]], b[off[1]]);
  }
}

// ---- launchers -----------------------------------------------------------------------------------

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <class T, class F> void launch_unary(const Tensor& x, Tensor& out, F f) {
  const int64_t n = out.numel();
  const auto ix = make_indexer<2>("unary", out.shape(), {&x.strides(), &out.strides()});
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  cudaStream_t stream = current_stream();
  if (ix.contiguous()) {
    if constexpr (std::is_same_v<T, float>) {
      if (aligned16(xp) && aligned16(op)) {
        SADANET_LAUNCH((grid_for(n / 4 + 1), kThreads, 0, stream), unary_vec4_kernel)(xp, op, n, f);
        return;
      }
    }
    SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), unary_contig_kernel<T>)(xp, op, n, f);
  } else if (use_32bit_index(n)) {
    SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), unary_strided_kernel<T, F, uint32_t>)(xp, op, static_cast<uint32_t>(n), ix, f);
  } else {
    SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), unary_strided_kernel<T, F, int64_t>)(xp, op, n, ix, f);
  }
}

template <class T, class F> void launch_binary(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const int64_t n = out.numel();
  const auto ix = make_indexer<3>("binary", out.shape(), {&a.strides(), &b.strides(), &out.strides()});
  const T* ap = static_cast<const T*>(a.raw_data());
  const T* bp = static_cast<const T*>(b.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  cudaStream_t stream = current_stream();
  if (ix.contiguous()) {
    if constexpr (std::is_same_v<T, float>) {
      if (aligned16(ap) && aligned16(bp) && aligned16(op)) {
        SADANET_LAUNCH((grid_for(n / 4 + 1), kThreads, 0, stream), binary_vec4_kernel)(ap, bp, op, n, f);
        return;
      }
    }
    SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), binary_contig_kernel<T>)(ap, bp, op, n, f);
  } else if (use_32bit_index(n)) {
    SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), binary_strided_kernel<T, F, uint32_t>)(ap, bp, op, static_cast<uint32_t>(n), ix, f);
  } else {
    SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), binary_strided_kernel<T, F, int64_t>)(ap, bp, op, n, ix, f);
  }
}

// f32, f64 and the integer types, for comparisons (as the CPU's dispatch_compare).
template <class Fn> void dispatch_compare(DType t, const char* kernel, Fn&& fn) {
  switch (t) {
    case DType::f32: fn.template operator()<float>(); return;
    case DType::f64: fn.template operator()<double>(); return;
    case DType::i32: fn.template operator()<int32_t>(); return;
    case DType::i64: fn.template operator()<int64_t>(); return;
    case DType::u8: fn.template operator()<uint8_t>(); return;
    default:
      throw Error(detail::concat(kernel, ": CUDA comparison supports f32, f64, i32, i64 and u8, got ", dtype_name(t)));
  }
}

int pow_kind(double alpha) {
  if (alpha == 2.0) return kPowSquare;
  if (alpha == 1.0) return kPowIdentity;
  if (alpha == 3.0) return kPowCube;
  if (alpha == 0.5) return kPowSqrt;
  if (alpha == -1.0) return kPowReciprocal;
  return kPowGeneral;
}

void unary_cuda(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) {
  SADANET_CHECK(x.shape() == out.shape() && x.dtype() == out.dtype(), "unary: x ", shape_str(x.shape()), " ",
                dtype_name(x.dtype()), " and out ", shape_str(out.shape()), " ", dtype_name(out.dtype()), " differ");
  check_on_cuda("unary", x, "x");
  check_on_cuda("unary", out, "out");
  if (out.numel() == 0) return;
  if ((op == UnaryOp::gt_scalar || op == UnaryOp::lt_scalar) && !is_floating(x.dtype())) {
    dispatch_compare(x.dtype(), "unary", [&]<class T>() {
      DeviceGuard guard(out.device());
      launch_unary<T>(x, out, CompareScalarFn<T>{op == UnaryOp::gt_scalar, alpha});
    });
    return;
  }
  dispatch_floating(x.dtype(), "unary", [&]<class T>() {
    DeviceGuard guard(out.device());
    launch_unary<T>(x, out, UnaryFn<T>{op, static_cast<T>(alpha), static_cast<T>(beta), pow_kind(alpha)});
  });
}

void binary_cuda(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  SADANET_CHECK(a.shape() == out.shape() && b.shape() == out.shape(), "binary: expected operands expanded to ",
                shape_str(out.shape()), ", got ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  SADANET_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype(), "binary: dtypes differ: ",
                dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " -> ", dtype_name(out.dtype()));
  check_on_cuda("binary", a, "a");
  check_on_cuda("binary", b, "b");
  check_on_cuda("binary", out, "out");
  if (out.numel() == 0) return;
  if ((op == BinaryOp::gt || op == BinaryOp::eq) && !is_floating(a.dtype())) {
    dispatch_compare(a.dtype(), "binary", [&]<class T>() {
      DeviceGuard guard(out.device());
      launch_binary<T>(a, b, out, CompareFn<T>{op == BinaryOp::gt});
    });
    return;
  }
  dispatch_floating(a.dtype(), "binary", [&]<class T>() {
    DeviceGuard guard(out.device());
    launch_binary<T>(a, b, out, BinaryFn<T>{op});
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(unary, DeviceType::cuda, &cuda::unary_cuda);
SADANET_REGISTER_KERNEL(binary, DeviceType::cuda, &cuda::binary_cuda);
}  // namespace sadanet
